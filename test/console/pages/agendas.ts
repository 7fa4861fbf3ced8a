/**
 * The iCal feeds page in real Chromium against the demo world: create a practitioner's feed and
 * fetch its URL (a calendar with the practitioner's appointments), copy it (Clipboard API, and
 * the selected field when there is none), rotate it (the old URL stops answering), revoke it; a
 * viewer does not get the page; a key limited to one practice never sees another's feeds.
 */
import { beforeAll, expect, it } from '@jest/globals';

import { screenshot, seriousViolations } from '../../helpers/browser.js';
import { consolePage, type ConsoleSuite } from '../../helpers/console-suite.js';
import type { ConsoleWorld } from '../../helpers/console-world.js';

let world: ConsoleWorld;
let signedIn: ConsoleSuite['signedIn'];

interface FeedJson {
  readonly id: string;
  readonly practiceId: string;
  readonly practitionerId: string | null;
  readonly label: string | null;
  readonly privacy: string;
  readonly status: string;
}

async function feeds(practiceId: string): Promise<FeedJson[]> {
  const res = await world.api(`/api/v1/ical/tokens?practiceId=${practiceId}`);
  return ((await res.json()) as { items: FeedJson[] }).items;
}

/** A practitioner of the practice with appointments in the feed's window, among those the demo's feeds name. */
async function busyPractitioner(practiceId: string): Promise<string> {
  const now = Date.now();
  for (const f of await feeds(practiceId)) {
    if (!f.practitionerId) continue;
    const appointments = await world.demo.service.store.resources.list({
      practiceId,
      practitionerId: f.practitionerId,
      kind: 'Appointment',
      from: new Date(now - 7 * 86_400_000).toISOString(),
      to: new Date(now + 60 * 86_400_000).toISOString(),
    });
    if (appointments.length > 0) return f.practitionerId;
  }
  throw new Error(`no practitioner of ${practiceId} has appointments`);
}

const LABEL = 'Téléphone — essai console';

/** The practice's practitioners with their names (GET /api/v1/practitioners). */
async function practitioners(practiceId: string): Promise<{ id: string; displayName: string }[]> {
  const res = await world.api(`/api/v1/practitioners?practiceId=${practiceId}`);
  return ((await res.json()) as { items: { id: string; displayName: string }[] }).items;
}

/** This page's tests, in the shared console world of test/console/console.browser.test.ts. */
export const agendasPage = consolePage('console iCal feeds page', (suite) => {
  beforeAll(() => {
    ({ world, signedIn } = suite);
  });

  let firstUrl = '';
  let feedId = '';

  it('creates a practitioner’s feed whose URL answers the calendar with the practitioner’s appointments', async () => {
    const practiceId = world.practices.fhir.id;
    const practitionerId = await busyPractitioner(practiceId);
    const page = await signedIn(await world.key({ role: 'integrator' }), {
      beforeSignIn: (blank) => blank.context().grantPermissions(['clipboard-read', 'clipboard-write']),
    });
    await page.locator('#cabinet').selectOption(practiceId);
    await page
      .getByRole('navigation', { name: 'Navigation principale' })
      .getByRole('link', { name: 'Agendas iCal' })
      .click();
    await page.getByRole('heading', { level: 1, name: 'Agendas iCal' }).waitFor();
    await page.locator('table.feeds tbody tr').first().waitFor();
    await page.locator('#flux-praticien').selectOption(practitionerId);
    // Offered by name, not by id.
    const name = (await practitioners(practiceId)).find((p) => p.id === practitionerId)?.displayName ?? '';
    expect(name).not.toBe('');
    expect(await page.locator('#flux-praticien option:checked').textContent()).toContain(name);
    await page.locator('#flux-libelle').fill(LABEL);
    await page.locator('#flux-confidentialite').selectOption('initials');
    await page.getByRole('button', { name: 'Créer le flux' }).click();
    const field = page.getByLabel('Adresse du flux', { exact: true });
    await field.waitFor();
    firstUrl = await field.inputValue();
    expect(firstUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/ical\/[^/]+\.ics$/);
    const created = (await feeds(practiceId)).find((f) => f.label === LABEL);
    expect(created).toMatchObject({ practitionerId, status: 'active' });
    feedId = created?.id ?? '';
    await page.locator(`tr[data-feed="${feedId}"]`).waitFor();
    expect(await page.locator(`tr[data-feed="${feedId}"]`).textContent()).toContain(name);

    const res = await fetch(firstUrl);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/calendar/);
    const ics = await res.text();
    expect(ics).toMatch(/^BEGIN:VCALENDAR/);
    expect(ics).toContain('BEGIN:VEVENT');

    // The QR code of the URL, for the practitioner's phone (qrSvg in the answer, from h/api).
    const openapi = await (await world.api('/api/v1/openapi.json')).text();
    if (openapi.includes('qrSvg')) {
      const qr = page.getByRole('img', { name: /Code QR de l’adresse/ });
      await qr.waitFor();
      expect(await qr.getAttribute('src')).toMatch(/^data:image\/svg\+xml/);
    }

    // « Copier l’adresse » puts it on the clipboard.
    await page.getByRole('button', { name: 'Copier l’adresse' }).click();
    await page.getByRole('status').filter({ hasText: 'Adresse copiée.' }).waitFor();
    expect(await page.evaluate('navigator.clipboard.readText()')).toBe(firstUrl);
    await screenshot(page, 'agendas-adresse');
    expect(await seriousViolations(page)).toEqual([]);
    await page.context().close();
  }, 60_000);

  it('selects the URL in its field for Ctrl+C when the browser offers no Clipboard API', async () => {
    const page = await signedIn(await world.key({ role: 'integrator', practiceId: world.practices.hl7.id }), {
      beforeSignIn: (blank) =>
        blank.context().addInitScript({
          content: "Object.defineProperty(navigator, 'clipboard', { value: undefined })",
        }),
    });
    await page.goto('/console/agendas');
    await page.locator('#flux-libelle').fill('Sans presse-papiers');
    await page.getByRole('button', { name: 'Créer le flux' }).click();
    const field = page.getByLabel('Adresse du flux', { exact: true });
    await field.waitFor();
    await page.getByRole('button', { name: 'Copier l’adresse' }).click();
    await page.getByRole('status').filter({ hasText: 'Copie automatique impossible' }).waitFor();
    await expect(
      page.evaluate('document.activeElement?.id + " " + document.activeElement?.tagName'),
    ).resolves.toBe('adresse-flux INPUT');
    await expect(
      field.evaluate((el) => {
        const input = el as unknown as { selectionStart: number; selectionEnd: number; value: string };
        return input.selectionEnd - input.selectionStart === input.value.length;
      }),
    ).resolves.toBe(true);
    expect(await field.getAttribute('readonly')).not.toBeNull();
    await screenshot(page, 'agendas-copie-secours');
    expect(await seriousViolations(page)).toEqual([]);
    await page.context().close();
  }, 60_000);

  it('changes a feed’s privacy, rotates it (the old URL stops answering) and revokes it', async () => {
    const page = await signedIn(await world.key({ role: 'integrator', practiceId: world.practices.fhir.id }));
    await page.goto('/console/agendas');
    const row = page.locator(`tr[data-feed="${feedId}"]`);
    // The privacy level, changed in place.
    await row.locator(`#confidentialite-${feedId}`).selectOption('busy');
    await row.getByRole('button', { name: 'Appliquer' }).click();
    await page.getByRole('status').filter({ hasText: 'Confidentialité du flux' }).waitFor();
    expect((await feeds(world.practices.fhir.id)).find((f) => f.id === feedId)?.privacy).toBe('busy');
    await row.getByRole('button', { name: /^Nouvelle adresse/ }).click();
    const field = page.getByLabel('Adresse du flux', { exact: true });
    await field.waitFor();
    const secondUrl = await field.inputValue();
    expect(secondUrl).not.toBe(firstUrl);
    expect([404, 410]).toContain((await fetch(firstUrl)).status);
    expect((await fetch(secondUrl)).status).toBe(200);
    await screenshot(page, 'agendas-rotation');

    await row.getByRole('button', { name: /^Révoquer/ }).click();
    await row.getByRole('button', { name: /^Confirmer la révocation/ }).click();
    await page.getByRole('status').filter({ hasText: 'Flux révoqué' }).waitFor();
    await expect(page.locator(`tr[data-feed="${feedId}"]`).count()).resolves.toBe(0);
    expect([404, 410]).toContain((await fetch(secondUrl)).status);
    expect(await seriousViolations(page)).toEqual([]);
    await page.context().close();
  }, 60_000);

  it('is not offered to a viewer, who may not read feeds', async () => {
    const page = await signedIn(await world.key({ role: 'viewer' }));
    const nav = page.getByRole('navigation', { name: 'Navigation principale' });
    await nav.getByRole('link', { name: 'Liaisons' }).waitFor();
    await expect(nav.getByRole('link', { name: 'Agendas iCal' }).count()).resolves.toBe(0);
    await page.goto('/console/agendas');
    await page.getByRole('heading', { level: 1, name: 'Page introuvable' }).waitFor();
    await expect(page.getByRole('button', { name: 'Créer le flux' }).count()).resolves.toBe(0);
    await page.context().close();
  }, 60_000);

  it('never shows a key limited to one practice the feeds of another', async () => {
    const page = await signedIn(await world.key({ role: 'integrator', practiceId: world.practices.hl7.id }));
    await page.goto('/console/agendas');
    const mine = await feeds(world.practices.hl7.id);
    const theirs = await feeds(world.practices.fhir.id);
    expect(theirs.length).toBeGreaterThan(0);
    for (const f of mine) await page.locator(`tr[data-feed="${f.id}"]`).waitFor();
    await expect(page.locator('table.feeds tbody tr').count()).resolves.toBe(mine.length);
    for (const f of theirs) await expect(page.locator(`tr[data-feed="${f.id}"]`).count()).resolves.toBe(0);
    // The practitioners offered are this practice's only.
    const offered = await page.locator('#flux-praticien option').allTextContents();
    for (const f of theirs)
      if (f.practitionerId) expect(offered.some((o) => o.includes(f.practitionerId ?? ''))).toBe(false);
    const mineNames = (await practitioners(world.practices.hl7.id)).map((p) => p.displayName);
    for (const p of await practitioners(world.practices.fhir.id))
      if (!mineNames.includes(p.displayName))
        expect(offered.some((o) => o.includes(p.displayName))).toBe(false);
    // Asked for the other practice's list directly, the API refuses the key's session.
    const refused = await page.evaluate(
      `fetch('/api/v1/practitioners?practiceId=${world.practices.fhir.id}').then((r) => r.status)`,
    );
    expect(refused).toBe(403);
    await screenshot(page, 'agendas');
    expect(await seriousViolations(page)).toEqual([]);
    await page.context().close();
  }, 60_000);
});
