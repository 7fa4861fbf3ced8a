/**
 * The « Consignes et scripts » page in real Chromium against the shared demo world (issue 21):
 * an integrator edits the welcome script and saves it with If-Match — the secretariat simulator
 * holds the new version, the audit journal names its author, a stale save is refused — and a
 * viewer reads the consignes without edit buttons while a key of another practice is refused.
 */
import { randomUUID } from 'node:crypto';

import { beforeAll, expect, it } from '@jest/globals';

import { createApiKey } from '../../../src/security/api-keys.js';
import { screenshot, seriousViolations } from '../../helpers/browser.js';
import { consolePage, type ConsoleSuite } from '../../helpers/console-suite.js';
import type { ConsoleWorld } from '../../helpers/console-world.js';

let world: ConsoleWorld;
let signedIn: ConsoleSuite['signedIn'];

const consignes = {
  welcomeScript: 'Cabinet des Tilleuls, bonjour, que puis-je pour vous ?',
  profiles: [
    { code: 'enfant', label: 'Enfant de moins de 6 ans', instructions: 'Proposer le mercredi matin.' },
  ],
  practitioners: [],
  urgent: {
    criteria: ['douleur thoracique'],
    whomToCall: [{ label: 'Médecin de garde', phone: '+33 1 23 45 67 89', when: 'en semaine' }],
  },
};

/** This page's tests, in the shared console world of test/console/console.browser.test.ts. */
export const consignesPage = consolePage('console consignes page', (suite) => {
  let practiceId = '';
  const base = () => `/api/v1/practices/${practiceId}/consignes`;
  const inForce = async () => ((await (await world.api(base())).json()) as { version: number }).version;

  beforeAll(async () => {
    ({ world, signedIn } = suite);
    practiceId = world.practices.fhir.id;
    // A version in force to start from (the demo may already hold one: If-Match on what is there).
    const res = await world.api(base());
    const version = res.status === 404 ? 0 : ((await res.json()) as { version: number }).version;
    const put = await world.api(base(), {
      method: 'PUT',
      headers: { 'If-Match': `"${version}"` },
      json: consignes,
    });
    expect(put.status).toBe(200);
  }, 30_000);

  it('saves a consigne edited by an integrator, which reaches the platform and the audit journal with its author; a stale save is refused', async () => {
    const { key, record } = await createApiKey(world.demo.service.store, {
      role: 'integrator',
      practiceId,
      label: 'test consignes',
      createdBy: 'test',
      via: 'test',
    });
    const before = await inForce();
    const tag = randomUUID().slice(0, 8);
    const page = await signedIn(key);
    await page.goto('/console/consignes');
    await page.getByRole('heading', { level: 1, name: 'Consignes et scripts' }).waitFor();
    await page.getByText(`Version ${before} en vigueur`).waitFor();
    await page.getByRole('button', { name: 'Modifier les consignes' }).click();
    const script = `Cabinet des Tilleuls, bonjour (${tag}).`;
    await page.getByRole('textbox', { name: 'Script d’accueil' }).fill(script);
    await page.getByRole('button', { name: 'Enregistrer' }).click();
    await page.getByText(`Consignes enregistrées (version ${before + 1})`).waitFor();
    await page.getByText(`Version ${before + 1} en vigueur`).waitFor();
    // The history: the new version, its author, its line diff.
    const row = page.locator(`table[data-table="versions"] tr[data-version="${before + 1}"]`);
    await expect(row.locator('[data-field="author"]').textContent()).resolves.toBe(record.id);
    await row.locator('summary').click();
    await row.locator('.line-diff').getByText(tag).first().waitFor();
    await screenshot(page, 'consignes');
    expect(await seriousViolations(page)).toEqual([]);
    // The secretariat platform holds the new version.
    const sim = world.demo.world.secretariat.fhir;
    const platform = (await (
      await fetch(`${sim.url}/v1/practices/${sim.practiceId}/consignes`, {
        headers: { authorization: `Bearer ${sim.apiToken}` },
      })
    ).json()) as { version: number; document: { welcomeScript: string } };
    expect(platform.version).toBe(before + 1);
    expect(platform.document.welcomeScript).toBe(script);
    // The audit journal: the change, by the integrator who made it.
    const audit = (await (
      await world.api(`/api/v1/audit?practice=${practiceId}&action=consignes.update&limit=1000`)
    ).json()) as { items: { actor: string; resourceId: string; outcome: string }[] };
    expect(audit.items.filter((e) => e.resourceId === `${practiceId}/v${before + 1}`)).toEqual([
      expect.objectContaining({ actor: record.id, outcome: 'success' }),
    ]);
    // A change made elsewhere meanwhile: the page's version is stale, the save is refused.
    const other = await world.api(base(), {
      method: 'PUT',
      headers: { 'If-Match': `"${before + 1}"` },
      json: consignes,
    });
    expect(other.status).toBe(200);
    await page.getByRole('button', { name: 'Modifier les consignes' }).click();
    await page.getByRole('textbox', { name: 'Script d’accueil' }).fill(`${script} (périmé)`);
    await page.getByRole('button', { name: 'Enregistrer' }).click();
    await page
      .getByRole('alert')
      .getByText(/modifié ces réglages/)
      .waitFor();
    expect(await inForce()).toBe(before + 2);
    await page.context().close();
  }, 90_000);

  it('lets a viewer read the consignes without edit buttons, and refuses them to a key of another practice', async () => {
    const page = await signedIn(await world.key({ role: 'viewer', practiceId }));
    await page.goto('/console/consignes');
    await page.locator('[data-field="welcomeScript"]').getByText(consignes.welcomeScript).waitFor();
    await page.locator('table[data-table="versions"]').waitFor();
    await expect(page.getByRole('button', { name: 'Modifier les consignes' }).count()).resolves.toBe(0);
    await expect(page.getByRole('button', { name: /Envoyer de nouveau/ }).count()).resolves.toBe(0);
    await page.context().close();
    const otherKey = await world.key({ role: 'integrator', practiceId: world.practices.hl7.id });
    expect((await world.api(base(), { key: otherKey })).status).toBe(403);
    expect((await world.api(`${base()}/versions`, { key: otherKey })).status).toBe(403);
  }, 60_000);
});
