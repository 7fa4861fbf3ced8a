/**
 * The mapping-profile pages in real Chromium against the demo world: an integrator edits the
 * HL7 practice's profile, sees an error at its line, fixes it, dry-runs a stored message,
 * activates and rolls back (issue 19); what a viewer and a key limited to the other practice see.
 */
import { beforeAll, expect, it } from '@jest/globals';
import type { Page } from 'playwright-core';

import { screenshot, seriousViolations } from '../../helpers/browser.js';
import { consolePage, type ConsoleSuite } from '../../helpers/console-suite.js';
import type { ConsoleWorld } from '../../helpers/console-world.js';
import { until } from '../../helpers/until.js';

const HL7_LINK = 'demo-cabinet-hl7-logiciel';

let world: ConsoleWorld;
let signedIn: ConsoleSuite['signedIn'];
let integratorKey: string;
let viewerKey: string;
/** The shipped profile's text, stored as the link's version 1 before the tests. */
let shipped: string;
let siuId: string;

interface MappingBody {
  active: { version: number | null; hash: string; yaml: string };
  history: { version: number; hash: string; active: boolean }[];
}

async function mapping(): Promise<MappingBody> {
  return (await (await world.api(`/api/v1/links/${HL7_LINK}/mapping`)).json()) as MappingBody;
}

/** The focused element's id and, for a text field, the 1-based line of its caret (no DOM lib in the tests' types). */
function focus(page: Page): Promise<{ id: string | undefined; line: number | undefined }> {
  return page.evaluate(() => {
    const el = (
      globalThis as unknown as {
        document: { activeElement: { id: string; value?: string; selectionStart?: number } | null };
      }
    ).document.activeElement;
    const line =
      el?.value === undefined ? undefined : el.value.slice(0, el.selectionStart ?? 0).split('\n').length;
    return { id: el?.id, line };
  });
}

/** This page's tests, in the shared console world of test/console/console.browser.test.ts. */
export const profilsPage = consolePage('console mapping-profile pages', (suite) => {
  beforeAll(async () => {
    ({ world, signedIn } = suite);
    integratorKey = await world.key({ role: 'integrator' });
    viewerKey = await world.key({ role: 'viewer' });
    shipped = (await mapping()).active.yaml;
    const put = await world.api(`/api/v1/links/${HL7_LINK}/mapping`, {
      method: 'PUT',
      json: { profile: shipped, comment: 'profil livré, point de départ' },
    });
    expect(put.status).toBe(200);
    siuId = await until(
      'an SIU message on the HL7 practice link',
      async () => {
        const r = await world.api(`/api/v1/links/${HL7_LINK}/messages?type=SIU%5E`);
        return ((await r.json()) as { items: { id: string }[] }).items[0]?.id;
      },
      60_000,
    );
  }, 120_000);

  it('lets an integrator edit a profile, see an error at its line, fix it, dry-run a stored message, activate and roll back', async () => {
    const page = await signedIn(integratorKey);
    await page.getByRole('link', { name: 'Profils de correspondance' }).click();
    await page.getByRole('heading', { level: 1, name: 'Profils de correspondance' }).waitFor();
    await page.locator(`tr[data-link="${HL7_LINK}"] td`).nth(3).getByText('hl7v2-ihe-pam-fr').waitFor();
    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, 'profils');
    await page.locator(`tr[data-link="${HL7_LINK}"] a`).click();

    const editor = page.getByLabel('Profil (YAML)', { exact: false });
    await until('the active profile in the editor', async () => (await editor.inputValue()) === shipped);
    await page.getByText('Profil valide').waitFor();

    // An unknown transform: the error is listed with its line and marked in the gutter.
    const lines = shipped.split('\n');
    const at = lines.findIndex((l) => l.includes('transform: hl7-datetime'));
    expect(at).toBeGreaterThan(0);
    const line = at + 1;
    const broken = lines.map((l, i) => (i === at ? l.replace('hl7-datetime', 'hl7-datetim') : l)).join('\n');
    await editor.fill(broken);
    const issue = page.locator(`li.issue-error[data-line="${line}"]`);
    await issue.waitFor();
    expect(await issue.textContent()).toContain('hl7-datetim');
    await page.locator(`.gutter-line.mark-error[data-line="${line}"]`).waitFor();
    expect(await page.getByRole('button', { name: 'Activer ce profil' }).isDisabled()).toBe(true);
    // Clicking the error puts the caret on its line.
    await issue.getByRole('button').click();
    expect(await focus(page)).toEqual({ id: 'profil-texte', line });
    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, 'profil-erreur');

    // Fixed, with a real change: a new description.
    const fixed = shipped.replace(/^description: (.*)$/m, 'description: $1 (modifié dans la console)');
    expect(fixed).not.toBe(shipped);
    await editor.fill(fixed);
    await page.locator('li.issue-error').first().waitFor({ state: 'detached' });
    await page.getByText('Profil valide').waitFor();

    // The draft on a message the link received.
    await page.getByLabel('Un message reçu').check();
    await page.getByLabel('Message reçu', { exact: true }).selectOption(siuId);
    await page.getByRole('button', { name: 'Lancer l’essai' }).click();
    const result = page.locator('section.test-result .mapping-result');
    await result.waitFor();
    expect(await result.getAttribute('data-ok')).toBe('true');
    expect(await result.textContent()).toContain('brouillon');
    await screenshot(page, 'profil-essai');

    // Activate, with a comment.
    await page.getByLabel('Commentaire de version').fill('Description modifiée depuis la console');
    await page.getByRole('button', { name: 'Activer ce profil' }).click();
    await page.getByRole('button', { name: 'Oui, activer' }).click();
    await page.getByRole('status').filter({ hasText: 'Version 2 active.' }).waitFor();
    await page.locator('tr[data-version="2"]').getByText('en service').waitFor();
    let now = await mapping();
    expect(now.active.version).toBe(2);
    expect(now.active.yaml).toBe(fixed);
    // The history's diff, version 1 → 2: the changed description.
    await page.locator('.line-diff tr.diff-added').getByText('modifié dans la console').waitFor();
    await page.locator('.line-diff tr.diff-removed').first().waitFor();
    await screenshot(page, 'profil-active');

    // Roll back to version 1: a new version 3 with version 1's text.
    await page
      .locator('tr[data-version="1"]')
      .getByRole('button', { name: /Revenir à cette version/ })
      .click();
    await page.getByRole('button', { name: 'Oui, revenir à la version 1' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: 'Version 1 remise en service (nouvelle version 3).' })
      .waitFor();
    now = await mapping();
    expect(now.active.version).toBe(3);
    expect(now.active.yaml).toBe(shipped);
    await until('the editor back on version 1’s text', async () => (await editor.inputValue()) === shipped);
    await page.locator('tr[data-version="3"]').getByText('en service').waitFor();
    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, 'profil-retour-arriere');
    await page.context().close();
    // The issue's whole task in one test, seven steps with three accessibility scans of a
    // 477-line profile: ≈ 55 s on a loaded 2-core machine, so more than the usual 60 s.
  }, 120_000);

  it('tries the draft on a pasted HL7 message, segments one per line as a person pastes them', async () => {
    const detail = (await (await world.api(`/api/v1/messages/${siuId}`)).json()) as { raw: { text: string } };
    const pasted = detail.raw.text.split('\r').filter(Boolean).join('\n');
    const page = await signedIn(integratorKey);
    await page.goto(`/console/profils/${HL7_LINK}`);
    await page.getByText('Profil valide').waitFor();
    await page.getByLabel('Un message collé').check();
    await page.getByLabel('Message (HL7 ou ressource FHIR en JSON)').fill(pasted);
    await page.getByRole('button', { name: 'Lancer l’essai' }).click();
    const result = page.locator('section.test-result .mapping-result');
    await result.waitFor();
    expect(await result.getAttribute('data-ok')).toBe('true');
    expect(await result.textContent()).toContain('SIU^');
    await screenshot(page, 'profil-essai-message-colle');
    await page.context().close();
  }, 60_000);

  it('shows a viewer the profile and its history but nothing that changes them', async () => {
    const page = await signedIn(viewerKey);
    await page.goto(`/console/profils/${HL7_LINK}`);
    await page.getByRole('heading', { level: 2, name: 'Historique des versions' }).waitFor();
    await page.locator('tr[data-version="1"]').waitFor();
    expect(await page.locator('textarea').count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Activer ce profil' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: /Revenir à cette version/ }).count()).toBe(0);
    await page.getByText('Texte du profil actif').click();
    expect(await page.getByLabel('Texte du profil actif').textContent()).toContain('hl7v2-ihe-pam-fr');
    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, 'profil-lecture-seule');
    await page.context().close();
  }, 60_000);

  it('never shows a key limited to the FHIR practice the HL7 practice’s profile, even at its address', async () => {
    const key = await world.key({ role: 'integrator', practiceId: world.practices.fhir.id });
    const page = await signedIn(key);
    await page.getByRole('link', { name: 'Profils de correspondance' }).click();
    await page.locator('table.profiles tbody tr').first().waitFor();
    const links = await page
      .locator('table.profiles tbody tr')
      .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-link') ?? ''));
    expect(links.length).toBeGreaterThan(0);
    expect(links.every((l) => l.startsWith(world.practices.fhir.id))).toBe(true);

    await page.goto(`/console/profils/${HL7_LINK}`);
    await page.getByRole('alert').filter({ hasText: 'ERR_AUTH_FORBIDDEN' }).first().waitFor();
    expect(await page.locator('textarea').count()).toBe(0);
    expect(await page.getByText('hl7v2-ihe-pam-fr').count()).toBe(0);
    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, 'profil-autre-cabinet-refuse');
    await page.context().close();
  }, 60_000);
});
