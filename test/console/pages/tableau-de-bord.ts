/**
 * The dashboard in real Chromium against the real service and its simulators (the demo world):
 * both practices with their links, a link shown failing in red with its reason after its peer
 * stops (pushed by the event stream, no reload), and a practice-limited user who never sees the
 * other practice.
 */
import { beforeAll, expect, it } from '@jest/globals';

import { screenshot, seriousViolations } from '../../helpers/browser.js';
import { consolePage, type ConsoleSuite } from '../../helpers/console-suite.js';
import type { ConsoleWorld } from '../../helpers/console-world.js';
import { until } from '../../helpers/until.js';

let world: ConsoleWorld;
let signedIn: ConsoleSuite['signedIn'];

/**
 * This page's tests, in the shared console world of test/console/console.browser.test.ts. The
 * test that stops the FHIR practice software's server comes after every test that needs it.
 */
export const tableauDeBordPage = consolePage('console dashboard', (suite) => {
  beforeAll(() => {
    ({ world, signedIn } = suite);
  });

  it('shows every practice with its links to an administrator, without serious accessibility violations', async () => {
    const page = await signedIn(world.adminKey);
    await page.getByRole('heading', { level: 1, name: 'Tableau de bord' }).waitFor();
    for (const p of [world.practices.fhir, world.practices.hl7]) {
      await page.getByRole('heading', { level: 2, name: p.name }).waitFor();
      expect(await page.locator(`section[data-practice="${p.id}"] tbody tr`).count()).toBeGreaterThanOrEqual(
        2,
      );
    }
    await screenshot(page, 'tableau-de-bord');
    expect(await seriousViolations(page)).toEqual([]);
    await page.context().close();
  }, 60_000);

  it('lists an urgent message waiting for the practice, and « Accuser réception » acknowledges it', async () => {
    await world.demo.world.secretariat.fhir.agent('agent-test-urgent').leaveMessage({
      callerName: 'Appelant',
      text: 'Douleur, rappeler vite.',
      priority: 'urgent',
      takenAt: new Date().toISOString(),
    });
    // The urgent pass tracks messages that reached the practice once a minute: wait for one
    // to be tracked (this one or one of the demo's) before opening the page.
    await until(
      'an urgent message tracked and waiting',
      async () => {
        const res = await world.api(
          `/api/v1/practices/${world.practices.fhir.id}/urgent-messages?state=waiting`,
        );
        return ((await res.json()) as { items: unknown[] }).items.length > 0;
      },
      90_000,
    );
    const page = await signedIn(world.adminKey);
    const block = page.locator(`section[data-practice="${world.practices.fhir.id}"]`);
    const item = block.locator('li[data-urgent]').first();
    await item.waitFor({ timeout: 45_000 });
    const id = (await item.getAttribute('data-urgent')) as string;
    await item.getByRole('button', { name: 'Accuser réception' }).click();
    await block.getByRole('status').filter({ hasText: 'Réception accusée.' }).waitFor();
    await block.locator(`li[data-urgent="${id}"]`).waitFor({ state: 'detached' });
    const res = await world.api(`/api/v1/practices/${world.practices.fhir.id}/urgent-messages/${id}`);
    expect(((await res.json()) as { message: { state: string } }).message.state).toBe('acknowledged');
    await page.context().close();
  }, 180_000);

  it('turns a link red with its reason, without a reload, once the practice software stops answering', async () => {
    const page = await signedIn(world.adminKey);
    const block = page.locator(`section[data-practice="${world.practices.fhir.id}"]`);
    await block.waitFor();
    expect(await block.locator('tr[data-state="failing"]').count()).toBe(0);
    const navigations: string[] = [];
    page.on('framenavigated', (f) => navigations.push(f.url()));
    await world.demo.world.fhirPeer.close();
    // The FHIR link polls every few seconds; its failure reaches the page by the event stream.
    const failing = block.locator('tr[data-state="failing"]');
    await failing.first().waitFor({ timeout: 45_000 });
    expect(await failing.first().locator('.reason').textContent()).toMatch(/Raison : /);
    expect(await block.getAttribute('class')).toContain('needs-attention');
    expect(navigations).toEqual([]);
    await screenshot(page, 'tableau-de-bord-liaison-en-echec');
    await page.context().close();
  }, 90_000);

  it('shows a user limited to one practice only that practice, and the API refuses the other', async () => {
    const key = await world.key({ role: 'viewer', practiceId: world.practices.hl7.id });
    const page = await signedIn(key);
    await page.getByRole('heading', { level: 2, name: world.practices.hl7.name }).waitFor();
    expect(await page.locator(`section[data-practice="${world.practices.fhir.id}"]`).count()).toBe(0);
    expect(await page.getByText(world.practices.fhir.name).count()).toBe(0);
    expect(await page.locator('#cabinet').isDisabled()).toBe(true);
    // The same session asking the API for the other practice directly is refused.
    const status = await page.evaluate(
      async (other) => (await fetch(`/api/v1/dashboard?practiceId=${other}`)).status,
      world.practices.fhir.id,
    );
    expect(status).toBe(403);
    await page.context().close();
  }, 60_000);
});
