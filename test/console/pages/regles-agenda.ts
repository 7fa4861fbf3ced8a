/**
 * The « Règles d'agenda » page in real Chromium against the shared demo world: a practitioner's
 * rules, edited with If-Match (a stale version refused), the free-slot preview, a viewer who
 * reads without edit buttons. It runs near the end of the console suite: the rules it sets
 * refuse the demo's bookings outside them for one practitioner.
 */
import { beforeAll, expect, it } from '@jest/globals';

import { screenshot, seriousViolations } from '../../helpers/browser.js';
import { consolePage, type ConsoleSuite } from '../../helpers/console-suite.js';
import type { ConsoleWorld } from '../../helpers/console-world.js';

let world: ConsoleWorld;
let signedIn: ConsoleSuite['signedIn'];

async function practitioners(practiceId: string): Promise<{ id: string; displayName: string }[]> {
  const res = await world.api(`/api/v1/practitioners?practiceId=${practiceId}`);
  return ((await res.json()) as { items: { id: string; displayName: string }[] }).items;
}

/** This page's tests, in the shared console world of test/console/console.browser.test.ts. */
export const reglesAgendaPage = consolePage('console agenda rules page', (suite) => {
  beforeAll(() => {
    ({ world, signedIn } = suite);
  });

  const rules = {
    weekly: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], start: '08:00', end: '20:00' }],
    visitTypes: [{ code: 'CONS-ESSAI', label: 'Consultation d’essai', durationMinutes: 30 }],
    closedOnHolidays: false,
  };
  let practitioner = { id: '', displayName: '' };

  beforeAll(async () => {
    [practitioner] = (await practitioners(world.practices.hl7.id)) as [typeof practitioner];
    const res = await world.api(`/api/v1/practices/${world.practices.hl7.id}/agenda-rules`, {
      method: 'PUT',
      json: { practitionerId: practitioner.id, rules, expectedVersion: 0 },
    });
    expect(res.status).toBe(200);
  }, 30_000);

  it('shows a practitioner’s rules, saves an edit with the version shown and previews the free slots', async () => {
    const page = await signedIn(await world.key({ role: 'integrator', practiceId: world.practices.hl7.id }));
    await page.goto('/console/regles-agenda');
    await page.getByRole('heading', { level: 1, name: 'Règles d’agenda' }).waitFor();
    await page.getByLabel('Praticien').selectOption(practitioner.id);
    const block = page.locator(`[data-practitioner="${practitioner.id}"]`);
    await page.locator(`[data-practitioner="${practitioner.id}"][data-source="api"]`).waitFor();
    await expect(
      block.locator('table[data-table="horaires"] tbody tr td').nth(1).textContent(),
    ).resolves.toBe('08:00');
    await screenshot(page, 'regles-agenda');
    expect(await seriousViolations(page)).toEqual([]);
    // Edit: the afternoon closes at 18:00; saved with If-Match "1".
    await page.getByRole('button', { name: 'Modifier les règles' }).click();
    const field = page.getByLabel('Règles (JSON, voir la documentation docs/agenda.md)');
    await field.fill(JSON.stringify({ ...rules, weekly: [{ ...rules.weekly[0], end: '18:00' }] }));
    await page.getByRole('button', { name: 'Enregistrer' }).click();
    await page.getByText(/Règles enregistrées \(version 2\)/).waitFor();
    // The table shows the saved rules once they are read again.
    await block
      .locator('table[data-table="horaires"] tbody tr')
      .first()
      .locator('td', { hasText: /^18:00$/ })
      .waitFor();
    await expect(
      block.locator('table[data-table="horaires"] tbody tr td').nth(2).textContent(),
    ).resolves.toBe('18:00');
    // A change made elsewhere meanwhile: the page's version is stale, the save is refused.
    await world.api(`/api/v1/practices/${world.practices.hl7.id}/agenda-rules`, {
      method: 'PUT',
      json: { practitionerId: practitioner.id, rules },
    });
    await page.getByRole('button', { name: 'Modifier les règles' }).click();
    await page.getByRole('button', { name: 'Enregistrer' }).click();
    await page
      .getByRole('alert')
      .getByText(/modifié/)
      .waitFor();
    await page.getByRole('button', { name: 'Annuler' }).click();
    // The preview: next week's free 30-minute slots.
    await page.getByRole('button', { name: 'Voir les créneaux' }).click();
    await page.getByText(/créneau\(x\) libre\(s\)/).waitFor();
    expect(await page.locator('[data-list="creneaux"] li').count()).toBeGreaterThan(0);
    await page.context().close();
  }, 90_000);

  it('lets a viewer read the rules without any edit button', async () => {
    const page = await signedIn(await world.key({ role: 'viewer', practiceId: world.practices.hl7.id }));
    await page.goto('/console/regles-agenda');
    await page.getByLabel('Praticien').selectOption(practitioner.id);
    await page.locator(`[data-practitioner="${practitioner.id}"] table[data-table="horaires"]`).waitFor();
    await expect(page.getByRole('button', { name: 'Modifier les règles' }).count()).resolves.toBe(0);
    await page.context().close();
  }, 60_000);
});
