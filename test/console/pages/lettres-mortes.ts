/**
 * « Lettres mortes » in real Chromium against the demo world: dead letters made the way they
 * happen (the practice software books for a patient it never sent: passerelle parks the message,
 * ERR_SYNC_UNKNOWN_REFERENCE), then the practice software sends the patient and an integrator
 * replays in the page, one and a selection, with the current state, and discards one after a
 * confirmation; what a viewer and a practice-limited key see.
 */
import { randomUUID } from 'node:crypto';

import { beforeAll, expect, it } from '@jest/globals';
import type { Page } from 'playwright-core';

import { screenshot, seriousViolations } from '../../helpers/browser.js';
import { consolePage, type ConsoleSuite } from '../../helpers/console-suite.js';
import type { ConsoleWorld } from '../../helpers/console-world.js';
import { until } from '../../helpers/until.js';

let world: ConsoleWorld;
let signedIn: ConsoleSuite['signedIn'];

const practiceLink = () => `${world.practices.fhir.id}-logiciel`;
const UNKNOWN_REFERENCE = 'Fait référence à un patient ou un praticien inconnu sur cette liaison';

/** The practice software's users, on its own FHIR server. */
async function fhir(method: string, path: string, body: unknown): Promise<number> {
  const res = await fetch(`${world.demo.world.fhirPeer.url}/${path}`, {
    method,
    headers: { accept: 'application/fhir+json', 'content-type': 'application/fhir+json' },
    body: JSON.stringify(body),
  });
  await res.arrayBuffer();
  return res.status;
}

interface DeadLetterView {
  readonly id: string;
  readonly linkId: string | null;
  readonly reasonCode: string;
  readonly status: string;
}

async function deadLetters(query: string): Promise<DeadLetterView[]> {
  const res = await world.api(`/api/v1/dead-letters?${query}`);
  if (!res.ok) throw new Error(`GET /api/v1/dead-letters answered ${res.status}`);
  return ((await res.json()) as { items: DeadLetterView[] }).items;
}

interface Parked {
  readonly deadLetterId: string;
  readonly patientId: string;
  readonly family: string;
}

/**
 * The practice software books an appointment for a patient it has not sent yet: the message is
 * parked as a dead letter. One at a time, so that each dead letter is known to be its own.
 */
async function parkBooking(day: number): Promise<Parked> {
  const tag = randomUUID().slice(0, 8);
  const patientId = `pat-tardif-${tag}`;
  const before = new Set((await deadLetters(`linkId=${practiceLink()}&status=open`)).map((d) => d.id));
  const date = new Date(Date.now() + day * 86_400_000).toISOString().slice(0, 10);
  const status = await fhir('POST', 'Appointment', {
    resourceType: 'Appointment',
    status: 'booked',
    start: `${date}T07:00:00.000Z`,
    end: `${date}T07:20:00.000Z`,
    participant: [
      { actor: { reference: `Patient/${patientId}` }, status: 'accepted' },
      { actor: { reference: 'Practitioner/prat-medecin-1' }, status: 'accepted' },
    ],
  });
  expect(status).toBe(201);
  const parked = await until(
    'the booking parked as a dead letter',
    async () =>
      (await deadLetters(`linkId=${practiceLink()}&status=open&reasonCode=ERR_SYNC_UNKNOWN_REFERENCE`)).find(
        (d) => !before.has(d.id),
      ),
    30_000,
  );
  return { deadLetterId: parked.id, patientId, family: `FICTIF-TARDIF-${tag.toUpperCase()}` };
}

/** The practice software sends the patient after all; passerelle takes it and passes it on. */
async function sendPatient(p: Parked): Promise<void> {
  const status = await fhir('PUT', `Patient/${p.patientId}`, {
    resourceType: 'Patient',
    id: p.patientId,
    name: [{ use: 'official', family: p.family, given: ['Camille'] }],
    gender: 'female',
    birthDate: '1980-02-03',
  });
  expect(status).toBe(201);
  await until(
    'the patient on the secretariat platform',
    () => world.demo.world.secretariat.fhir.state.list('patient').some((x) => x.identity.family === p.family),
    30_000,
  );
}

async function openPage(key: string, path = '/console/lettres-mortes'): Promise<Page> {
  const page = await signedIn(key);
  await page.goto(path);
  await page.getByRole('heading', { level: 1, name: 'Lettres mortes' }).waitFor();
  return page;
}

const row = (page: Page, p: Parked) => page.locator(`tr[data-dead-letter="${p.deadLetterId}"]`);

/** This page's tests, in the shared console world of test/console/console.browser.test.ts. */
export const lettresMortesPage = consolePage('console « Lettres mortes »', (suite) => {
  beforeAll(() => {
    ({ world, signedIn } = suite);
  });

  let one: Parked;
  let two: Parked;
  let three: Parked;

  beforeAll(async () => {
    one = await parkBooking(10);
    two = await parkBooking(11);
    three = await parkBooking(12);
  }, 120_000);

  it('shows a viewer of the practice its dead letters with their reason, link, date and attempts, and no button that changes them', async () => {
    const key = await world.key({ role: 'viewer', practiceId: world.practices.fhir.id });
    const page = await openPage(key);
    for (const p of [one, two, three]) await row(page, p).waitFor();
    await row(page, one).getByRole('link', { name: 'Logiciel du cabinet (FHIR R4)' }).waitFor();
    const text = await row(page, one).innerText();
    expect(text).toContain(UNKNOWN_REFERENCE);
    expect(text).toContain('ERR_SYNC_UNKNOWN_REFERENCE');
    expect(text).toMatch(/\d{2}\/\d{2}\/\d{4} \d{2}:\d{2}/);
    expect(await page.getByRole('button', { name: /Rejouer|Écarter/ }).count()).toBe(0);
    expect(await page.getByRole('checkbox').count()).toBe(0);
    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, 'lettres-mortes-lecture');
    await page.context().close();
  }, 60_000);

  it('shows a key limited to another practice none of this practice’s dead letters', async () => {
    const key = await world.key({ role: 'integrator', practiceId: world.practices.hl7.id });
    const page = await openPage(key);
    await page.locator('table.dead-letters, p:has-text("Aucune lettre morte.")').first().waitFor();
    for (const p of [one, two, three]) expect(await row(page, p).count()).toBe(0);
    expect(await page.locator('#cabinet option').allInnerTexts()).toEqual([world.practices.hl7.name]);
    await page.context().close();
  }, 60_000);

  it('replays one dead letter, then a selection, with the current state once the patient has come: each leaves the list with its outcome shown', async () => {
    await sendPatient(one);
    await sendPatient(two);
    const key = await world.key({ role: 'integrator', practiceId: world.practices.fhir.id });
    const page = await openPage(key);
    await row(page, one).waitFor();
    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, 'lettres-mortes');

    await row(page, one)
      .getByRole('button', { name: `Rejouer ${one.deadLetterId} avec la correspondance actuelle` })
      .click();
    await page.locator(`li[data-dead-letter="${one.deadLetterId}"][data-outcome="applied"]`).waitFor();
    await row(page, one).waitFor({ state: 'detached' });

    await page.getByRole('checkbox', { name: `Sélectionner la lettre morte ${two.deadLetterId}` }).check();
    await page.getByText('1 sélectionnée(s)').waitFor();
    await page.getByRole('button', { name: 'Rejouer la sélection avec la correspondance actuelle' }).click();
    await page.locator(`li[data-dead-letter="${two.deadLetterId}"][data-outcome="applied"]`).waitFor();
    await row(page, two).waitFor({ state: 'detached' });
    expect(await page.locator('section.results').innerText()).toContain('appliquée');
    await screenshot(page, 'lettres-mortes-resultats');

    const replayed = await deadLetters(`linkId=${practiceLink()}&status=replayed`);
    expect(replayed.map((d) => d.id)).toEqual(expect.arrayContaining([one.deadLetterId, two.deadLetterId]));

    // The replayed ones are listed under « Rejouées », an address staff can share.
    await page.getByLabel('État').selectOption('replayed');
    expect(new URL(page.url()).searchParams.get('statut')).toBe('replayed');
    await row(page, one).waitFor();
    await row(page, two).waitFor();
    expect(await page.getByRole('button', { name: /Rejouer/ }).count()).toBe(0);
    await page.context().close();
  }, 90_000);

  it('discards a dead letter only after a confirmation', async () => {
    const key = await world.key({ role: 'integrator', practiceId: world.practices.fhir.id });
    const page = await openPage(key);
    const r = row(page, three);
    await r.waitFor();
    await r.getByRole('button', { name: `Écarter ${three.deadLetterId}` }).click();
    await r.getByText('Écarter définitivement cette lettre morte ?').waitFor();
    await r.getByRole('button', { name: 'Annuler' }).click();
    expect((await deadLetters(`linkId=${practiceLink()}&status=open`)).map((d) => d.id)).toContain(
      three.deadLetterId,
    );
    await r.getByRole('button', { name: `Écarter ${three.deadLetterId}` }).click();
    await r.getByRole('button', { name: 'Oui, écarter' }).click();
    await page.locator(`li[data-dead-letter="${three.deadLetterId}"][data-outcome="discarded"]`).waitFor();
    await r.waitFor({ state: 'detached' });
    const discarded = await deadLetters(`linkId=${practiceLink()}&status=discarded`);
    expect(discarded.map((d) => d.id)).toContain(three.deadLetterId);
    await page.context().close();
  }, 60_000);

  it('replays every open dead letter matching the filters, the reason filter kept in the address', async () => {
    const four = await parkBooking(13);
    await sendPatient(four);
    const key = await world.key({ role: 'integrator', practiceId: world.practices.fhir.id });
    const page = await openPage(key);
    await row(page, four).waitFor();
    await page.getByLabel('Raison').selectOption('ERR_SYNC_UNKNOWN_REFERENCE');
    expect(new URL(page.url()).searchParams.get('raison')).toBe('ERR_SYNC_UNKNOWN_REFERENCE');
    await page
      .getByRole('button', { name: 'Rejouer toutes celles affichées avec la correspondance actuelle' })
      .click();
    await page.locator(`li[data-dead-letter="${four.deadLetterId}"][data-outcome="applied"]`).waitFor();
    await row(page, four).waitFor({ state: 'detached' });
    expect((await deadLetters(`linkId=${practiceLink()}&status=replayed`)).map((d) => d.id)).toContain(
      four.deadLetterId,
    );
    await page.context().close();
  }, 90_000);
});
