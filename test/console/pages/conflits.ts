/**
 * « Conflits et revues » in real Chromium against the demo world: real conflicts made the way
 * they happen (the practice software and a secretariat agent change the same appointment's note
 * while passerelle cannot reach the practice software), resolved in the page by side, by a typed
 * value and in bulk, and both peers checked through their own APIs; a patient-match review and a
 * practitioner review decided in the page; what a viewer and a practice-limited key see.
 */
import { randomUUID } from 'node:crypto';

import { beforeAll, expect, it } from '@jest/globals';
import type { Page } from 'playwright-core';

import type { Slot as SimSlot } from '../../../connectors/secretariat/contract.js';
import { screenshot, seriousViolations } from '../../helpers/browser.js';
import { consolePage, type ConsoleSuite } from '../../helpers/console-suite.js';
import type { ConsoleWorld } from '../../helpers/console-world.js';
import { until } from '../../helpers/until.js';

let world: ConsoleWorld;
let signedIn: ConsoleSuite['signedIn'];

const practiceLink = () => `${world.practices.fhir.id}-logiciel`;
const sim = () => world.demo.world.secretariat.fhir;

interface FhirAppointment {
  readonly id: string;
  readonly start: string;
  readonly comment?: string;
  readonly identifier?: readonly { system?: string; value?: string }[];
  readonly [k: string]: unknown;
}

/** The practice software's users, on its own FHIR server. */
async function fhir<T>(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; etag: string | null; body: T }> {
  const res = await fetch(`${world.demo.world.fhirPeer.url}/${path}`, {
    method,
    headers: {
      accept: 'application/fhir+json',
      ...(body !== undefined && { 'content-type': 'application/fhir+json' }),
      ...headers,
    },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return {
    status: res.status,
    etag: res.headers.get('etag'),
    body: (text ? JSON.parse(text) : undefined) as T,
  };
}

class PlatformError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** A secretariat agent, on the platform's REST API. */
async function platform<T>(method: string, path: string, body?: unknown, ifMatch?: number): Promise<T> {
  const s = sim();
  const res = await fetch(`${s.url}/v1/practices/${s.practiceId}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${s.apiToken}`,
      'x-agent-id': 'agent-amelie',
      'content-type': 'application/json',
      'idempotency-key': randomUUID(),
      ...(ifMatch !== undefined && { 'if-match': `"${ifMatch}"` }),
    },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  if (!res.ok)
    throw new PlatformError(res.status, `the platform answered ${res.status} to ${method} ${path}`);
  return JSON.parse(text) as T;
}

async function api<T>(path: string, init: Parameters<ConsoleWorld['api']>[1] = {}): Promise<T> {
  const res = await world.api(path, init);
  if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${path} answered ${res.status}`);
  return (await res.json()) as T;
}

async function setEnabled(linkId: string, enabled: boolean): Promise<void> {
  const link = await api<{ version: number }>(`/api/v1/links/${linkId}`);
  await api(`/api/v1/links/${linkId}`, {
    method: 'PATCH',
    json: { enabled },
    headers: { 'if-match': `"${link.version}"` },
  });
  await until(
    `link ${linkId} ${enabled ? 'running' : 'disabled'}`,
    async () =>
      (await api<{ state: string }>(`/api/v1/links/${linkId}/status`)).state ===
      (enabled ? 'running' : 'disabled'),
    30_000,
  );
}

async function fhirAppointments(): Promise<FhirAppointment[]> {
  const { body } = await fhir<{ entry?: { resource: FhirAppointment }[] }>('GET', 'Appointment?_count=1000');
  return (body.entry ?? []).map((e) => e.resource);
}

/**
 * Books the latest free slot more than two days ahead for `patientId`. The demo's own traffic
 * (agents and the practice software) keeps taking slots meanwhile, so the slot is chosen right
 * before the request, and a slot taken in between (409 slot-unavailable) makes it choose again.
 */
async function bookLatestFreeSlot(patientId: string, note: string): Promise<{ id: string }> {
  for (let attempt = 1; ; attempt += 1) {
    const slot = await until(
      'a free slot on the platform',
      () =>
        sim()
          .state.list('slot')
          .filter((s: SimSlot) => s.status === 'free' && Date.parse(s.start) > Date.now() + 2 * 86_400_000)
          .sort((a, b) => Date.parse(b.start) - Date.parse(a.start))[0],
      60_000,
    );
    try {
      return await platform<{ id: string }>('POST', '/appointments', {
        practitionerId: slot.practitionerId,
        patientId,
        slotId: slot.id,
        appointmentTypeId: null,
        start: slot.start,
        end: slot.end,
        note,
        bookedBy: 'agent-amelie',
      });
    } catch (err) {
      if (!(err instanceof PlatformError) || err.status !== 409 || attempt >= 5) throw err;
    }
  }
}

interface Made {
  readonly practice: string;
  readonly secretariat: string;
  readonly simId: string;
  readonly fhirId: string;
  /** passerelle's id of the appointment (the FHIR business identifier it wrote). */
  readonly recordId: string;
  conflictId: string;
}

/**
 * Books one appointment per pair through an agent, waits until the practice software has each,
 * then, while passerelle cannot reach the practice software (its link disabled), has the practice
 * and the agent each write another note on each: when the link runs again, one open conflict per
 * appointment, on `comment`.
 */
async function makeConflicts(pairs: readonly { practice: string; secretariat: string }[]): Promise<Made[]> {
  const tag = randomUUID().slice(0, 8);
  const patient = await until('a patient on the platform', () => sim().state.list('patient')[0], 60_000);
  const made: Made[] = [];
  for (const [i, pair] of pairs.entries()) {
    const note = `Motif initial ${tag}-${i}`;
    const booked = await bookLatestFreeSlot(patient.id, note);
    const onFhir = await until(
      'the booking in the practice software',
      async () => (await fhirAppointments()).find((a) => a.comment === note),
      30_000,
    );
    const recordId = onFhir.identifier?.find((x) => x.value)?.value as string;
    made.push({ ...pair, simId: booked.id, fhirId: onFhir.id, recordId, conflictId: '' });
  }
  // Every write to the practice software answered and committed before the cut.
  await until(
    'the practice software up to date',
    async () => {
      const { outbox } = await api<{ outbox: Record<string, number> }>(
        `/api/v1/links/${practiceLink()}/status`,
      );
      return (outbox['pending'] ?? 0) + (outbox['leased'] ?? 0) === 0;
    },
    30_000,
  );
  await setEnabled(practiceLink(), false);
  for (const m of made) {
    const current = await fhir<FhirAppointment>('GET', `Appointment/${m.fhirId}`);
    const put = await fhir(
      'PUT',
      `Appointment/${m.fhirId}`,
      { ...current.body, comment: m.practice },
      { 'if-match': current.etag ?? '' },
    );
    expect(put.status).toBe(200);
    const a = sim().state.get('appointment', m.simId);
    if (!a) throw new Error('the booking is gone from the platform');
    await platform(
      'PUT',
      `/appointments/${m.simId}`,
      {
        practitionerId: a.practitionerId,
        patientId: a.patientId,
        slotId: a.slotId,
        appointmentTypeId: a.appointmentTypeId,
        start: a.start,
        end: a.end,
        note: m.secretariat,
        status: 'booked',
      },
      a.version,
    );
  }
  await sim().webhooksIdle();
  await setEnabled(practiceLink(), true);
  const open = await until(
    'one open conflict per appointment',
    async () => {
      const { items } = await api<{ items: { id: string; recordId: string }[] }>(
        `/api/v1/conflicts?practiceId=${world.practices.fhir.id}&status=open`,
      );
      const ours = items.filter((c) => made.some((m) => m.recordId === c.recordId));
      return ours.length === made.length ? ours : undefined;
    },
    60_000,
  );
  for (const m of made) m.conflictId = open.find((c) => c.recordId === m.recordId)?.id ?? '';
  return made;
}

/** Both peers hold `value` as the appointment's note, each read through its own API. */
async function bothSidesHold(m: Made, value: string): Promise<void> {
  await until(
    `the note « ${value} » in the practice software and on the platform`,
    async () => {
      const onFhir = (await fhir<FhirAppointment>('GET', `Appointment/${m.fhirId}`)).body.comment;
      const onPlatform = sim().state.get('appointment', m.simId)?.note;
      return onFhir === value && onPlatform === value;
    },
    45_000,
  );
}

async function openPage(key: string, path = '/console/conflits'): Promise<Page> {
  const page = await signedIn(key);
  await page.goto(path);
  await page.getByRole('heading', { level: 1, name: 'Conflits et revues' }).waitFor();
  return page;
}

const item = (page: Page, m: Made) => page.locator(`li[data-conflict="${m.conflictId}"]`);

/** This page's tests, in the shared console world of test/console/console.browser.test.ts. */
export const conflitsPage = consolePage('console « Conflits et revues »', (suite) => {
  beforeAll(() => {
    ({ world, signedIn } = suite);
  });

  let made: Made[] = [];
  const A = () => made[0] as Made;
  const B = () => made[1] as Made;
  const C = () => made[2] as Made;
  const D = () => made[3] as Made;

  beforeAll(async () => {
    made = await makeConflicts([
      { practice: 'Venir à jeun', secretariat: 'Apporter l’ordonnance' },
      { practice: 'Cabinet : prise de sang', secretariat: 'Secrétariat : prise de sang à 8 h' },
      { practice: 'Cabinet : vaccin', secretariat: 'Secrétariat : rappel vaccin' },
      { practice: 'Cabinet : certificat', secretariat: 'Secrétariat : certificat de sport' },
    ]);
  }, 180_000);

  it('shows a viewer of the practice its open conflicts with the base, practice and secretariat values side by side, and no button that changes them', async () => {
    const key = await world.key({ role: 'viewer', practiceId: world.practices.fhir.id });
    const page = await openPage(key);
    const a = item(page, A());
    await a.waitFor();
    await a.getByRole('button', { name: 'Afficher les valeurs' }).click();
    const row = a.locator('tr[data-path="comment"]');
    await row.waitFor();
    expect(await row.locator('th').innerText()).toContain('Commentaire');
    expect(await row.locator('[data-side="practice"]').innerText()).toBe('Venir à jeun');
    expect(await row.locator('[data-side="secretariat"]').innerText()).toBe('Apporter l’ordonnance');
    expect(await row.locator('[data-side="base"]').innerText()).toMatch(/^Motif initial /);
    expect(await page.getByRole('button', { name: /Garder/ }).count()).toBe(0);
    expect(
      await page.getByRole('button', { name: /Saisir|Même personne|Personnes différentes/ }).count(),
    ).toBe(0);
    expect(await page.getByRole('checkbox').count()).toBe(0);
    expect(await page.getByRole('heading', { name: /Praticiens à associer/ }).count()).toBe(0);
    // The values are on the page, never in its address.
    expect(page.url()).not.toContain('jeun');
    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, 'conflits-lecture');
    await page.context().close();
  }, 60_000);

  it('shows a key limited to another practice none of this practice’s conflicts', async () => {
    const key = await world.key({ role: 'integrator', practiceId: world.practices.hl7.id });
    const page = await openPage(key);
    await page.getByRole('heading', { level: 2, name: /Conflits \(\d+\)/ }).waitFor();
    for (const m of made) expect(await item(page, m).count()).toBe(0);
    // The practice picker fills once the practices are read: wait for its option, then count.
    await page
      .locator('#cabinet option', { hasText: world.practices.hl7.name })
      .waitFor({ state: 'attached' });
    const practices = await page.locator('#cabinet option').allInnerTexts();
    expect(practices).toEqual([world.practices.hl7.name]);
    await page.context().close();
  }, 60_000);

  it('resolves a conflict by the practice’s value: both sides end with it, and the resolved list says so', async () => {
    const key = await world.key({ role: 'integrator' });
    const page = await openPage(key);
    const a = item(page, A());
    await a.waitFor();
    await a.getByRole('button', { name: 'Afficher les valeurs' }).click();
    await a.locator('tr[data-path="comment"]').waitFor();
    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, 'conflits');
    await a.getByRole('button', { name: 'Garder la valeur du cabinet' }).click();
    await page.getByText('Résolu : valeur du cabinet gardée.').waitFor();
    await a.waitFor({ state: 'detached' });
    await bothSidesHold(A(), 'Venir à jeun');

    await page.getByRole('link', { name: 'Résolus' }).click();
    expect(new URL(page.url()).searchParams.get('statut')).toBe('resolus');
    const resolved = item(page, A());
    await resolved.waitFor();
    expect(await resolved.innerText()).toContain('valeur du cabinet');
    await page.context().close();
  }, 90_000);

  it('resolves a conflict by a typed value: both sides end with the typed value', async () => {
    const key = await world.key({ role: 'integrator', practiceId: world.practices.fhir.id });
    const page = await openPage(key);
    const b = item(page, B());
    await b.waitFor();
    await b.getByRole('button', { name: 'Saisir une autre valeur' }).click();
    const field = b.getByLabel('Commentaire');
    await field.waitFor();
    expect(await field.inputValue()).toBe('Cabinet : prise de sang');
    await field.fill('Prise de sang à jeun, 8 h 30');
    await screenshot(page, 'conflits-saisie');
    await b.getByRole('button', { name: 'Garder ces valeurs' }).click();
    await page.getByText('Résolu : valeurs saisies gardées.').waitFor();
    await bothSidesHold(B(), 'Prise de sang à jeun, 8 h 30');
    await page.context().close();
  }, 90_000);

  it('resolves several selected conflicts at once by the secretariat’s value: both sides end with each one', async () => {
    const key = await world.key({ role: 'integrator', practiceId: world.practices.fhir.id });
    const page = await openPage(key);
    for (const m of [C(), D()]) {
      await item(page, m).waitFor();
      await page.getByRole('checkbox', { name: `Sélectionner le conflit ${m.conflictId}` }).check();
    }
    await page.getByText('2 sélectionné(s)').first().waitFor();
    await page.getByRole('button', { name: 'Garder la valeur du secrétariat pour la sélection' }).click();
    await page.getByText('2 conflit(s) résolu(s), 0 en échec.').waitFor();
    await bothSidesHold(C(), 'Secrétariat : rappel vaccin');
    await bothSidesHold(D(), 'Secrétariat : certificat de sport');
    const { items } = await api<{ items: { id: string; status: string; resolution: unknown }[] }>(
      `/api/v1/conflicts?practiceId=${world.practices.fhir.id}&status=resolved`,
    );
    for (const m of [C(), D()])
      expect(items.find((c) => c.id === m.conflictId)).toMatchObject({
        status: 'resolved',
        resolution: { side: 'secretariat' },
      });
    await page.context().close();
  }, 90_000);

  it('decides a patient-match review (same person) and maps an unknown practitioner by RPPS', async () => {
    // An agent types in a caller who looks like a known patient: a review, never a merge.
    const known = await until('a patient with a birth date on the platform', () =>
      sim()
        .state.list('patient')
        .find((p) => p.identity.birthDate !== null && p.identity.sex !== null && !p.identity.proposal),
    );
    const proposed = await sim()
      .agent('agent-amelie')
      .proposePatient({
        identity: {
          family: known.identity.family,
          given: ['Homonyme'],
          usedFamily: null,
          birthDate: known.identity.birthDate,
          sex: known.identity.sex,
        },
        ins: null,
        contact: { phones: [], email: null, address: null },
      });
    const review = await until(
      'the patient-match review',
      async () =>
        (
          await api<{ items: { id: string; payload: { externalId?: string; candidates: string[] } }[] }>(
            `/api/v1/reviews?practiceId=${world.practices.fhir.id}&status=open`,
          )
        ).items.find((r) => r.payload.externalId === proposed.id),
      30_000,
    );
    // The practice software books with a practitioner id passerelle has never seen.
    const localId = `remplacant-${randomUUID().slice(0, 6)}`;
    const booked = await fhir('POST', 'Appointment', {
      resourceType: 'Appointment',
      status: 'booked',
      start: new Date(Date.now() + 9 * 86_400_000).toISOString().slice(0, 11) + '07:00:00.000Z',
      end: new Date(Date.now() + 9 * 86_400_000).toISOString().slice(0, 11) + '07:20:00.000Z',
      participant: [
        { actor: { reference: 'Patient/pat-000005' }, status: 'accepted' },
        { actor: { reference: `Practitioner/${localId}` }, status: 'accepted' },
      ],
    });
    expect(booked.status).toBe(201);
    await until(
      'the practitioner review',
      async () =>
        (
          await api<{ items: { localId: string }[] }>(
            `/api/v1/practitioner-mappings?practiceId=${world.practices.fhir.id}&status=open`,
          )
        ).items.some((m) => m.localId === localId),
      30_000,
    );
    const rpps = (
      await fhir<{ identifier?: { system?: string; value?: string }[] }>('GET', 'Practitioner/prat-medecin-1')
    ).body.identifier
      ?.find((i) => i.system === 'urn:oid:1.2.250.1.71.4.2.1')
      ?.value?.slice(1) as string;

    const key = await world.key({ role: 'integrator', practiceId: world.practices.fhir.id });
    const page = await openPage(key);
    const r = page.locator(`li[data-review="${review.id}"]`);
    await r.waitFor();
    const mapping = page.locator(`li[data-mapping="${practiceLink()}/${localId}"]`);
    await mapping.waitFor();
    expect(await mapping.innerText()).toContain('1 rendez-vous en attente');
    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, 'conflits-revues');

    const candidate = review.payload.candidates[0] as string;
    await r.getByRole('button', { name: `Même personne que ${candidate}` }).click();
    await page.getByText(`Rattaché au patient ${candidate}`).first().waitFor();
    await r.waitFor({ state: 'detached' });
    const closed = (
      await api<{ items: { id: string; resolution: unknown }[] }>(
        `/api/v1/reviews?practiceId=${world.practices.fhir.id}&status=resolved`,
      )
    ).items.find((x) => x.id === review.id);
    expect(closed?.resolution).toEqual({ action: 'link', patientId: candidate });

    // An existing practitioner is offered by name (GET /api/v1/practitioners), this practice's only.
    const names = (
      await api<{ items: { displayName: string }[] }>(
        `/api/v1/practitioners?practiceId=${world.practices.fhir.id}`,
      )
    ).items.map((p) => p.displayName);
    expect(names.length).toBeGreaterThan(0);
    await mapping.locator('select').waitFor();
    const offered = await mapping.locator('select option').allTextContents();
    for (const n of names) expect(offered.some((o) => o.includes(n))).toBe(true);
    expect(offered.length).toBe(names.length + 1);
    await mapping.getByLabel('Numéro RPPS (11 chiffres)').fill(rpps);
    await mapping.getByRole('button', { name: 'Associer par RPPS' }).click();
    await page.getByText('1 rendez-vous envoyé(s) à l’autre côté.').waitFor();
    await mapping.waitFor({ state: 'detached' });
    const mapped = (
      await api<{ items: { localId: string; resolution: string; practitionerId: string }[] }>(
        `/api/v1/practitioner-mappings?practiceId=${world.practices.fhir.id}&status=mapped`,
      )
    ).items.find((m) => m.localId === localId);
    expect(mapped).toMatchObject({ resolution: 'rpps' });
    await page.context().close();
  }, 90_000);
});
