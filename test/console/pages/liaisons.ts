/**
 * The links pages in real Chromium against the demo world: create a link through the form
 * generated from its connector's config schema (an error shown at its field, fixed, saved),
 * test its connection, disable and enable it; a viewer sees no button that changes anything; a
 * key limited to one practice never sees another's links.
 */
import { beforeAll, expect, it } from '@jest/globals';

import { screenshot, seriousViolations } from '../../helpers/browser.js';
import { consolePage, type ConsoleSuite } from '../../helpers/console-suite.js';
import type { ConsoleWorld } from '../../helpers/console-world.js';

let world: ConsoleWorld;
let signedIn: ConsoleSuite['signedIn'];

interface LinkJson {
  readonly id: string;
  readonly practiceId: string;
  readonly connector: string;
  readonly config: Record<string, unknown>;
  readonly enabled: boolean;
  readonly hasSecrets: boolean;
  readonly isTest: boolean;
}

async function links(practiceId: string): Promise<LinkJson[]> {
  const res = await world.api(`/api/v1/links?practiceId=${practiceId}`);
  return ((await res.json()) as { items: LinkJson[] }).items;
}

const NEW_ID = 'essai-console-fhir';

/** This page's tests, in the shared console world of test/console/console.browser.test.ts. */
export const liaisonsPage = consolePage('console links pages', (suite) => {
  beforeAll(() => {
    ({ world, signedIn } = suite);
  });

  it('lists the links of every practice with their connector, role, state, enabled and test flag', async () => {
    const page = await signedIn(await world.key({ role: 'integrator' }));
    await page
      .getByRole('navigation', { name: 'Navigation principale' })
      .getByRole('link', { name: 'Liaisons' })
      .click();
    await page.getByRole('heading', { level: 1, name: 'Liaisons' }).waitFor();
    const all = [...(await links(world.practices.fhir.id)), ...(await links(world.practices.hl7.id))];
    for (const l of all) await page.locator(`tr[data-link="${l.id}"]`).waitFor();
    const row = page.locator(`tr[data-link="${all[0]?.id ?? ''}"]`);
    await expect(row.locator('.badge').first().textContent()).resolves.toMatch(
      /en marche|en échec|arrêtée|désactivée/,
    );
    await screenshot(page, 'liaisons');
    expect(await seriousViolations(page)).toEqual([]);
    await page.context().close();
  }, 60_000);

  it('creates a link through the form generated from the connector schema, showing a config error at its field until fixed', async () => {
    const page = await signedIn(await world.key({ role: 'integrator' }));
    await page.goto('/console/liaisons');
    await page.getByRole('button', { name: 'Nouvelle liaison' }).click();
    const form = page.locator('form.link-form');
    await form.locator('#nouvelle-nom').fill('Essai console FHIR');
    await form.locator('#nouvelle-id').fill(NEW_ID);
    await form.locator('#nouvelle-cabinet').selectOption(world.practices.fhir.id);
    await form.locator('#nouvelle-connecteur').selectOption('fhir');
    // The generated form: the config schema's fields, nested objects as fieldsets, secrets as passwords.
    const baseUrl = form.locator('#nouvelle-config-baseUrl');
    await baseUrl.waitFor();
    await expect(
      form.locator('fieldset.schema-object legend', { hasText: 'Nouvelles tentatives' }).count(),
    ).resolves.toBe(1);
    await expect(form.locator('#nouvelle-secrets-token').getAttribute('type')).resolves.toBe('password');
    await baseUrl.fill('pas une adresse');
    await form.locator('#nouvelle-config-auth-type').selectOption('bearer');
    await form.locator('#nouvelle-secrets-token').fill('jeton-de-test-fictif');
    await form.locator('#nouvelle-test').check();
    await form.locator('#nouvelle-active').uncheck();
    await form.getByRole('button', { name: 'Créer la liaison' }).click();
    // The API's issue body.config.baseUrl, beside the field.
    const fieldError = form.locator('#nouvelle-config-baseUrl-erreur');
    await fieldError.waitFor();
    expect(await fieldError.textContent()).toMatch(/URL/);
    await expect(baseUrl.getAttribute('aria-invalid')).resolves.toBe('true');
    await screenshot(page, 'liaisons-creation-erreur');
    expect(await seriousViolations(page)).toEqual([]);
    expect((await links(world.practices.fhir.id)).some((l) => l.id === NEW_ID)).toBe(false);

    const demoFhir = (await links(world.practices.fhir.id)).find((l) => l.connector === 'fhir');
    const peerUrl = String(demoFhir?.config['baseUrl']);
    await baseUrl.fill(peerUrl);
    await form.getByRole('button', { name: 'Créer la liaison' }).click();
    await page.waitForURL(`**/console/liaisons/${NEW_ID}?creee=1`);
    await page.getByRole('heading', { level: 1, name: 'Liaison « Essai console FHIR »' }).waitFor();
    const created = (await links(world.practices.fhir.id)).find((l) => l.id === NEW_ID);
    expect(created).toMatchObject({
      connector: 'fhir',
      isTest: true,
      enabled: false,
      hasSecrets: true,
      config: { baseUrl: peerUrl, auth: { type: 'bearer' } },
    });
    await page.context().close();
  }, 60_000);

  it('edits a link with its settings prefilled and its secrets never shown', async () => {
    const page = await signedIn(await world.key({ role: 'integrator' }));
    const peerUrl = String(
      (await links(world.practices.fhir.id)).find((l) => l.id === NEW_ID)?.config['baseUrl'],
    );
    await page.goto(`/console/liaisons/${NEW_ID}`);
    await page.getByRole('button', { name: 'Modifier' }).click();
    await expect(page.locator(`#modifier-${NEW_ID}-secrets-token`).inputValue()).resolves.toBe('');
    await expect(page.locator(`#modifier-${NEW_ID}-config-baseUrl`).inputValue()).resolves.toBe(peerUrl);
    await screenshot(page, 'liaison-modification');
    expect(await seriousViolations(page)).toEqual([]);
    // Saved with the secret left empty: the stored one is kept.
    await page.locator(`#modifier-${NEW_ID}-config-timeoutMs`).fill('5000');
    await page.getByRole('button', { name: 'Enregistrer' }).click();
    await page.getByRole('status').filter({ hasText: 'Modifications enregistrées.' }).waitFor();
    const saved = (await links(world.practices.fhir.id)).find((l) => l.id === NEW_ID);
    expect(saved).toMatchObject({ hasSecrets: true, config: { baseUrl: peerUrl, timeoutMs: 5000 } });
    await page.context().close();
  }, 60_000);

  it('refuses an edit made from a stale form after someone else changed the link, and says to reload', async () => {
    const page = await signedIn(await world.key({ role: 'integrator' }), {
      // No live updates in this page: the form stays as it was read, as on a slow or offline tab.
      beforeSignIn: (blank) => blank.route('**/api/v1/events**', (route) => route.abort()),
    });
    await page.goto(`/console/liaisons/${NEW_ID}`);
    await page.getByRole('button', { name: 'Modifier' }).click();
    await page.locator(`#modifier-${NEW_ID}-config-timeoutMs`).fill('7000');
    // Someone else saves the link meanwhile.
    const other = await world.api(`/api/v1/links/${NEW_ID}`, {
      method: 'PATCH',
      json: { name: 'Changé ailleurs' },
    });
    expect(other.status).toBe(200);
    await page.getByRole('button', { name: 'Enregistrer' }).click();
    await page.getByRole('alert').filter({ hasText: 'Quelqu’un d’autre a modifié ces réglages' }).waitFor();
    await screenshot(page, 'liaison-modification-concurrente');
    expect(await seriousViolations(page)).toEqual([]);
    const now = (await links(world.practices.fhir.id)).find((l) => l.id === NEW_ID);
    expect(now?.config['timeoutMs']).toBe(5000);
    await page.context().close();
  }, 60_000);

  it('tests the connection of a link and shows the checklist', async () => {
    const page = await signedIn(await world.key({ role: 'integrator' }));
    const demoFhir = (await links(world.practices.fhir.id)).find((l) => l.connector === 'fhir');
    await page.goto(`/console/liaisons/${demoFhir?.id ?? ''}`);
    await page.getByRole('button', { name: 'Tester la connexion' }).click();
    const result = page.locator('section.test-result');
    await result.waitFor({ timeout: 90_000 });
    await expect(result.locator('li.check-ok').count()).resolves.toBeGreaterThan(0);
    expect(await result.textContent()).toMatch(/conforme/);
    await screenshot(page, 'liaison-test-connexion');
    expect(await seriousViolations(page)).toEqual([]);
    await page.context().close();
  }, 120_000);

  it('disables and enables a link', async () => {
    const page = await signedIn(await world.key({ role: 'integrator' }));
    await page.goto(`/console/liaisons/${NEW_ID}`);
    await page.locator('dd[data-enabled="false"]').waitFor();
    await page.getByRole('button', { name: 'Activer' }).click();
    await page.locator('dd[data-enabled="true"]').waitFor();
    await page.getByRole('status').filter({ hasText: 'Liaison activée.' }).waitFor();
    expect((await links(world.practices.fhir.id)).find((l) => l.id === NEW_ID)?.enabled).toBe(true);
    await page.getByRole('button', { name: 'Désactiver' }).click();
    await page.locator('dd[data-enabled="false"]').waitFor();
    expect((await links(world.practices.fhir.id)).find((l) => l.id === NEW_ID)?.enabled).toBe(false);
    await screenshot(page, 'liaison-detail');
    expect(await seriousViolations(page)).toEqual([]);
    await page.context().close();
  }, 60_000);

  it('shows a viewer the links without any button that changes them', async () => {
    const page = await signedIn(await world.key({ role: 'viewer' }));
    await page.goto('/console/liaisons');
    await page.getByRole('heading', { level: 1, name: 'Liaisons' }).waitFor();
    await page.locator('table.links tbody tr').first().waitFor();
    await expect(page.getByRole('button', { name: 'Nouvelle liaison' }).count()).resolves.toBe(0);
    const demoFhir = (await links(world.practices.fhir.id)).find((l) => l.connector === 'fhir');
    await page.goto(`/console/liaisons/${demoFhir?.id ?? ''}`);
    await page.getByRole('heading', { level: 2, name: 'Paramètres' }).waitFor();
    for (const name of ['Tester la connexion', 'Désactiver', 'Activer', 'Modifier'])
      await expect(page.getByRole('button', { name }).count()).resolves.toBe(0);
    await expect(page.getByRole('heading', { name: 'Correspondance des praticiens' }).count()).resolves.toBe(
      0,
    );
    await screenshot(page, 'liaison-lecture-seule');
    expect(await seriousViolations(page)).toEqual([]);
    await page.context().close();
  }, 60_000);

  it('never shows a key limited to one practice the links of another', async () => {
    const page = await signedIn(await world.key({ role: 'integrator', practiceId: world.practices.fhir.id }));
    await page.goto('/console/liaisons');
    const mine = await links(world.practices.fhir.id);
    const theirs = await links(world.practices.hl7.id);
    expect(theirs.length).toBeGreaterThan(0);
    for (const l of mine) await page.locator(`tr[data-link="${l.id}"]`).waitFor();
    await expect(page.locator('table.links tbody tr').count()).resolves.toBe(mine.length);
    for (const l of theirs) await expect(page.locator(`tr[data-link="${l.id}"]`).count()).resolves.toBe(0);
    // Even by address: the API refuses, the page says so.
    await page.goto(`/console/liaisons/${theirs[0]?.id ?? ''}`);
    await page
      .getByRole('alert')
      .filter({ hasText: 'Cette ressource appartient à un autre cabinet.' })
      .waitFor();
    await expect(page.getByRole('heading', { level: 2, name: 'Paramètres' }).count()).resolves.toBe(0);
    expect(await seriousViolations(page)).toEqual([]);
    await page.context().close();
  }, 60_000);
});
