/**
 * The message browser in real Chromium against the demo world, whose HL7 practice sends real
 * MLLP messages: browse a link's messages with a filter kept in the address, open one and read
 * its segment tree, mapping and ACK, replay it, dry-run it with a draft; what a viewer and a key
 * limited to the other practice see.
 */
import { beforeAll, expect, it } from '@jest/globals';

import { screenshot, seriousViolations } from '../../helpers/browser.js';
import { consolePage, type ConsoleSuite } from '../../helpers/console-suite.js';
import type { ConsoleWorld } from '../../helpers/console-world.js';
import { until } from '../../helpers/until.js';

const HL7_LINK = 'demo-cabinet-hl7-logiciel';

let world: ConsoleWorld;
let signedIn: ConsoleSuite['signedIn'];
let integratorKey: string;
let viewerKey: string;
/** An HL7 message the demo's HL7 practice sent (SIU), for the direct-address checks. */
let siuId: string;
let siuControlId: string;

interface Summary {
  id: string;
  controlId: string;
  messageType: string;
  outcome: string;
}

/** This page's tests, in the shared console world of test/console/console.browser.test.ts. */
export const messagesPage = consolePage('console messages page', (suite) => {
  beforeAll(async () => {
    ({ world, signedIn } = suite);
    integratorKey = await world.key({ role: 'integrator' });
    viewerKey = await world.key({ role: 'viewer' });
    const siu = await until(
      'an applied SIU message on the HL7 practice link',
      async () => {
        const r = await world.api(`/api/v1/links/${HL7_LINK}/messages?type=SIU%5E`);
        const body = (await r.json()) as { items: Summary[] };
        return body.items.find((m) => m.outcome.startsWith('applied'));
      },
      60_000,
    );
    siuId = siu.id;
    siuControlId = siu.controlId;
  }, 120_000);

  it('lists a link’s messages, filters them by type in the address and opens one to read its segment tree, mapping and ACK', async () => {
    const page = await signedIn(integratorKey);
    await page.getByRole('link', { name: 'Messages' }).click();
    await page.getByRole('heading', { level: 1, name: 'Messages' }).waitFor();
    await page.getByLabel('Liaison').selectOption(HL7_LINK);
    await page.locator('table.messages tbody tr').first().waitFor();
    await page.getByLabel('Type').fill('SIU^');
    await page.getByRole('button', { name: 'Filtrer' }).click();
    await page.waitForURL(/type=SIU%5E/);
    expect(page.url()).toContain(`liaison=${HL7_LINK}`);
    await page.locator(`tr[data-message="${siuId}"]`).waitFor();
    const types = await page.locator('table.messages tbody tr td:nth-child(3)').allTextContents();
    expect(types.length).toBeGreaterThan(0);
    expect(types.every((ty) => ty.startsWith('SIU^'))).toBe(true);
    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, 'messages');

    // The address keeps the filters: a reload shows the same list.
    await page.reload();
    await page.locator(`tr[data-message="${siuId}"]`).waitFor();
    expect(await page.getByLabel('Type').inputValue()).toBe('SIU^');

    await page.getByRole('link', { name: `Ouvrir le message ${siuId}` }).click();
    await page.getByRole('heading', { level: 1, name: `Message ${siuId}` }).waitFor();
    const tree = page.locator('.hl7-tree');
    await tree.locator('details[data-segment="MSH"]').waitFor();
    await tree.locator('details[data-segment="SCH"]').waitFor();
    // Fields → components: MSH-9 opens on its three components.
    const msh9 = tree.locator('li[data-path="MSH-9"]');
    await msh9.locator('summary').click();
    await msh9.getByText('MSH-9[1].2').waitFor();
    expect(await msh9.textContent()).toContain('SIU');
    // A segment folds away.
    await tree.locator('details[data-segment="SCH"] > summary').click();
    expect(await tree.locator('details[data-segment="SCH"]').getAttribute('open')).toBeNull();
    // What the mapping made of it, what was written, the ACK.
    await page.getByRole('heading', { level: 2, name: 'Ce qu’en fait la correspondance' }).waitFor();
    await page.locator('.mapping-result[data-ok="true"]').first().waitFor();
    await page.getByRole('heading', { level: 2, name: 'Ce qui a été écrit' }).waitFor();
    await page.getByRole('table', { name: 'Enregistrements' }).waitFor();
    const ack = await page.locator('section[aria-labelledby="h-accuse"]').textContent();
    expect(ack).toMatch(/MSA-1 = (AA|CA)/);
    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, 'message-detail');
    await page.context().close();
    // Two pages, a reload and two accessibility scans of a message's whole tree: ≈ 45 s on a
    // loaded 2-core machine.
  }, 90_000);

  it('replays a message after confirmation and dry-runs it against a draft profile', async () => {
    const page = await signedIn(integratorKey);
    await page.goto(`/console/messages/${siuId}`);
    await page.getByRole('heading', { level: 1, name: `Message ${siuId}` }).waitFor();
    await page.getByRole('button', { name: 'Rejouer' }).click();
    await page.getByText(`Rejouer le message ${siuId} avec la correspondance actuelle ?`).waitFor();
    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, 'message-rejouer-confirmation');
    await page.getByRole('button', { name: 'Oui, rejouer' }).click();
    await page.getByRole('status').filter({ hasText: 'Message rejoué' }).waitFor();

    await page.getByText('Essai à blanc').click();
    const draft = page.getByLabel('Profil brouillon (YAML)');
    await until('the active profile in the draft', async () => (await draft.inputValue()).includes('name:'));
    await page.getByRole('button', { name: 'Lancer l’essai à blanc' }).click();
    await page.getByRole('heading', { level: 3, name: 'Résultat de l’essai à blanc' }).waitFor();
    const result = page.locator('section[aria-labelledby="resultat-essai"] .mapping-result');
    expect(await result.getAttribute('data-ok')).toBe('true');
    expect(await result.textContent()).toContain('brouillon');
    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, 'message-essai-a-blanc');
    await page.context().close();
  }, 60_000);

  it('shows a viewer the message and its tree but no replay or dry-run', async () => {
    const page = await signedIn(viewerKey);
    await page.goto(`/console/messages/${siuId}`);
    await page.getByRole('heading', { level: 1, name: `Message ${siuId}` }).waitFor();
    await page.locator('.hl7-tree details[data-segment="MSH"]').waitFor();
    expect(await page.getByRole('button', { name: 'Rejouer' }).count()).toBe(0);
    expect(await page.getByText('Essai à blanc').count()).toBe(0);
    expect(await page.getByText('Message brut').count()).toBe(0);
    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, 'message-lecture-seule');
    await page.context().close();
  }, 60_000);

  it('never shows a key limited to the FHIR practice the HL7 practice’s messages, even at their address', async () => {
    const key = await world.key({ role: 'integrator', practiceId: world.practices.fhir.id });
    const page = await signedIn(key);
    await page.getByRole('link', { name: 'Messages' }).click();
    await page.getByRole('heading', { level: 1, name: 'Messages' }).waitFor();
    // The links arrive after the heading (their own request): wait for the list, then read it.
    await page.getByLabel('Liaison').locator('option').first().waitFor({ state: 'attached' });
    const options = await page
      .getByLabel('Liaison')
      .locator('option')
      .evaluateAll((os) => os.map((o) => o.getAttribute('value') ?? ''));
    expect(options.length).toBeGreaterThan(0);
    expect(options.every((o) => o.startsWith(world.practices.fhir.id))).toBe(true);

    // The other practice's link and message typed into the address: the refusal, not the data.
    await page.goto(`/console/messages?liaison=${HL7_LINK}`);
    await page.getByRole('alert').filter({ hasText: 'ERR_AUTH_FORBIDDEN' }).waitFor();
    expect(await page.locator('table.messages').count()).toBe(0);
    await page.goto(`/console/messages/${siuId}`);
    await page.getByRole('alert').filter({ hasText: 'ERR_AUTH_FORBIDDEN' }).waitFor();
    expect(await page.locator('.hl7-tree').count()).toBe(0);
    expect(await page.locator('main').textContent()).not.toContain(siuControlId);
    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, 'message-autre-cabinet-refuse');
    await page.context().close();
  }, 60_000);
});
