/**
 * The Journal d'audit page in real Chromium against the demo world: search (the sign-in event,
 * by outcome, paging), export as a download, « Vérifier la chaîne » in French, and a key limited
 * to one practice that never sees another practice's events.
 */
import { readFileSync } from 'node:fs';

import { beforeAll, expect, it } from '@jest/globals';
import type { Page } from 'playwright-core';

import { screenshot, seriousViolations } from '../../helpers/browser.js';
import { consolePage, type ConsoleSuite } from '../../helpers/console-suite.js';
import type { ConsoleWorld } from '../../helpers/console-world.js';
import { until } from '../../helpers/until.js';

let world: ConsoleWorld;
let signedIn: ConsoleSuite['signedIn'];

const rows = (page: Page) => page.locator('table.audit tbody tr');

async function search(page: Page, fields: Readonly<Record<string, string>>): Promise<void> {
  for (const [label, value] of Object.entries(fields)) {
    const field = page.getByLabel(label, { exact: true });
    if ((await field.evaluate((e) => (e as { tagName: string }).tagName)) === 'SELECT')
      await field.selectOption({ label: value });
    else await field.fill(value);
  }
  await page.getByRole('button', { name: 'Rechercher' }).click();
}

/** This page's tests, in the shared console world of test/console/console.browser.test.ts. */
export const journalPage = consolePage('console Journal d’audit page', (suite) => {
  beforeAll(() => {
    ({ world, signedIn } = suite);
  });

  it('finds the sign-in event by its action, with the search in the address', async () => {
    const page = await signedIn(world.adminKey);
    await page.goto('/console/journal');
    await page.getByRole('heading', { level: 1, name: 'Journal d’audit' }).waitFor();
    await search(page, { Action: 'session.create' });
    await page.waitForURL((url) => url.searchParams.get('action') === 'session.create');
    const signIn = rows(page).filter({ hasText: 'Connexion à la console' }).first();
    await signIn.waitFor();
    expect(await signIn.getAttribute('data-action')).toBe('session.create');
    expect(await signIn.textContent()).toContain('réussi');
    for (const action of await rows(page).evaluateAll((r) =>
      r.map((e) => (e as { dataset: Record<string, string> }).dataset['action']),
    ))
      expect(action).toBe('session.create');
    await signIn.getByText('Détails').click();
    await screenshot(page, 'journal');
    expect(await seriousViolations(page)).toEqual([]);
    await page.context().close();
  }, 60_000);

  it('pages through many events, and filters by outcome', async () => {
    // Each read of the trail is itself an event: 80 reads make more than one page of them.
    for (let i = 0; i < 80; i++) await world.api('/api/v1/audit?limit=1&action=none');
    // And one refusal: a key of the HL7 practice asking for the FHIR practice's trail.
    const hl7Key = await world.key({ role: 'integrator', practiceId: world.practices.hl7.id });
    expect(
      (await world.api(`/api/v1/audit?practice=${world.practices.fhir.id}`, { key: hl7Key })).status,
    ).toBe(403);

    const page = await signedIn(world.adminKey);
    await page.goto('/console/journal?action=audit.read');
    await until('a first page of 50 reads', async () => (await rows(page).count()) === 50);
    await page.getByRole('button', { name: 'Afficher les événements suivants' }).click();
    await until('the next page', async () => (await rows(page).count()) > 80);

    await page.goto('/console/journal');
    await search(page, { Résultat: 'refusé' });
    await page.waitForURL((url) => url.searchParams.get('resultat') === 'denied');
    await rows(page).first().waitFor();
    for (const text of await rows(page).allTextContents()) expect(text).toContain('refusé');
    await page.context().close();
  }, 60_000);

  it('exports the events found as a CSV download', async () => {
    const page = await signedIn(world.adminKey);
    await page.goto('/console/journal?action=session.create');
    await rows(page).first().waitFor();
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'Exporter en CSV' }).click(),
    ]);
    expect(download.suggestedFilename()).toBe('passerelle-audit.csv');
    const lines = readFileSync(await download.path(), 'utf8')
      .slice(1)
      .trim()
      .split('\r\n');
    expect(lines[0]).toBe(
      'seq;at;actor;role;action;outcome;resourceType;resourceId;patientId;practiceId;via;requestId;details;hash',
    );
    expect(lines.length).toBeGreaterThan(1);
    for (const line of lines.slice(1)) expect(line.split(';')[4]).toBe('session.create');
    await page.context().close();
  }, 60_000);

  it('verifies the chain and says so in French', async () => {
    const page = await signedIn(world.adminKey);
    // A short list beside it keeps the page (and its accessibility check) small.
    await page.goto('/console/journal?action=session.create');
    await rows(page).first().waitFor();
    await page.getByRole('button', { name: 'Vérifier la chaîne' }).click();
    const result = page.locator('.verify-result');
    await result.waitFor();
    expect(await result.getAttribute('data-ok')).toBe('true');
    expect(await result.textContent()).toMatch(/OK.*Chaîne intègre : [\d\s\u202f]+ événements? vérifiés?\./);
    await screenshot(page, 'journal-verification');
    expect(await seriousViolations(page)).toEqual([]);
    await page.context().close();
  }, 60_000);

  it('shows a key limited to one practice only that practice’s events, and no chain verification', async () => {
    const fhir = world.practices.fhir;
    const key = await world.key({ role: 'integrator', practiceId: fhir.id });
    const page = await signedIn(key);
    const asked: string[] = [];
    page.on('request', (r) => {
      if (r.url().includes('/api/v1/audit')) asked.push(r.url());
    });
    await page.goto('/console/journal');
    await rows(page).first().waitFor();
    const practices = await rows(page).evaluateAll((r) =>
      r.map((e) => (e as { dataset: Record<string, string> }).dataset['practice']),
    );
    expect(practices.length).toBeGreaterThan(0);
    for (const p of practices) expect(p).toBe(fhir.id);
    expect(await page.locator('main').textContent()).not.toContain(world.practices.hl7.name);
    for (const url of asked) expect(new URL(url).searchParams.get('practice')).toBe(fhir.id);
    const csv = await page.getByRole('link', { name: 'Exporter en CSV' }).getAttribute('href');
    expect(new URL(csv ?? '', world.url).searchParams.get('practice')).toBe(fhir.id);
    expect(await page.getByRole('button', { name: 'Vérifier la chaîne' }).count()).toBe(0);
    // Its own sign-in is among its practice's events.
    await search(page, { Action: 'session.create' });
    await rows(page).filter({ hasText: 'Connexion à la console' }).first().waitFor();
    for (const p of await rows(page).evaluateAll((r) =>
      r.map((e) => (e as { dataset: Record<string, string> }).dataset['practice']),
    ))
      expect(p).toBe(fhir.id);
    await screenshot(page, 'journal-cabinet-limite');
    expect(await seriousViolations(page)).toEqual([]);
    await page.context().close();
  }, 60_000);
});
