/**
 * The Rapports page in real Chromium against the demo world: the charts of a practice's activity
 * with their data tables, the period in the address, the CSV the practice's staff download, the
 * daily digests' webhook settings, and a practice-limited key that never sees another practice.
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

/** Today in France, YYYY-MM-DD (the console's periods are local days). */
const today = () =>
  new Intl.DateTimeFormat('en-CA', {
    timeZone: 'Europe/Paris',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  }).format(new Date());
const addDays = (day: string, n: number) =>
  new Date(Date.parse(`${day}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);

interface Counts {
  booked: number;
}
interface Activity {
  appointments: { byOrigin: { secretariat: Counts; practice: Counts } };
}

/** The rows of a chart's data table (the <details> fallback), as text cells. */
async function tableRows(page: Page, figureId: string): Promise<string[][]> {
  const rows = page.locator(`#${figureId} details table tbody tr`);
  const out: string[][] = [];
  for (let i = 0, n = await rows.count(); i < n; i++)
    out.push((await rows.nth(i).locator('th, td').allTextContents()).map((c) => c.trim()));
  return out;
}

/** This page's tests, in the shared console world of test/console/console.browser.test.ts. */
export const rapportsPage = consolePage('console Rapports page', (suite) => {
  beforeAll(async () => {
    ({ world, signedIn } = suite);
    // The demo's agents book within seconds: wait until the FHIR practice's report counts a booking.
    const practice = world.practices.fhir.id;
    await until(
      'a booking in the FHIR practice’s activity report',
      async () => {
        const res = await world.api(
          `/api/v1/reports/activity?practice=${practice}&from=${today()}&to=${addDays(today(), 1)}`,
        );
        const r = (await res.json()) as Activity;
        return r.appointments.byOrigin.secretariat.booked + r.appointments.byOrigin.practice.booked > 0;
      },
      90_000,
      { everyMs: 500 },
    );
  }, 150_000);

  it('draws the practice’s charts with a data table for each day of the period, and changes period through the address', async () => {
    const page = await signedIn(world.adminKey);
    await page.goto('/console/rapports');
    await page.getByRole('heading', { level: 1, name: 'Rapports' }).waitFor();
    // An admin sees every practice: the page asks which one.
    await page.getByRole('button', { name: `Voir les rapports de ${world.practices.fhir.name}` }).click();
    await page.getByRole('heading', { level: 2, name: world.practices.fhir.name }).waitFor();

    for (const id of ['graphique-rdv', 'graphique-urgences', 'graphique-retard', 'graphique-lettres']) {
      const canvas = page.locator(`#${id} canvas[role="img"]`);
      await canvas.waitFor();
      expect(await canvas.getAttribute('aria-label')).toBeTruthy();
    }
    expect(await page.locator('#graphique-rdv canvas').getAttribute('aria-label')).toMatch(
      /^Rendez-vous pris du .* : \d+ par le secrétariat, \d+ par le cabinet\.$/,
    );

    // Seven days by default (« 7 derniers jours »), today last, with today's bookings in it.
    const week = await tableRows(page, 'graphique-rdv');
    expect(week).toHaveLength(7);
    const d = today();
    const last = week[6] ?? [];
    expect(last[0]).toBe(`${d.slice(8, 10)}/${d.slice(5, 7)}`);
    expect(Number(last[1]) + Number(last[2])).toBeGreaterThan(0);
    await page.locator('#graphique-rdv summary').click();
    await screenshot(page, 'rapports');
    expect(await seriousViolations(page)).toEqual([]);

    // A preset puts the period in the address, and the tables follow.
    await page.getByRole('button', { name: '30 derniers jours' }).click();
    await page.waitForURL((url) => url.searchParams.get('du') === addDays(d, -29));
    expect(new URL(page.url()).searchParams.get('au')).toBe(d);
    await until('30 rows', async () => (await tableRows(page, 'graphique-rdv')).length === 30);
    expect(await page.getByRole('button', { name: '30 derniers jours' }).getAttribute('aria-pressed')).toBe(
      'true',
    );

    // A period of the past, typed in: nothing happened then, and the figures say so.
    await page.getByLabel('Du', { exact: true }).fill(addDays(d, -60));
    await page.getByLabel('Au (inclus)').fill(addDays(d, -50));
    await page.getByRole('button', { name: 'Afficher' }).click();
    await page.waitForURL((url) => url.searchParams.get('au') === addDays(d, -50));
    await until('11 empty rows', async () => {
      const rows = await tableRows(page, 'graphique-rdv');
      return rows.length === 11 && rows.every((r) => r[1] === '0' && r[2] === '0');
    });
    expect(await page.locator('#graphique-rdv canvas').getAttribute('aria-label')).toContain(
      ': 0 par le secrétariat, 0 par le cabinet.',
    );
    // The address is enough to come back to it.
    await page.reload();
    await until(
      'the same period after a reload',
      async () => (await tableRows(page, 'graphique-rdv')).length === 11,
    );
    await page.context().close();
  }, 90_000);

  it('exports the report as CSV: the download is the API’s French CSV for the period shown', async () => {
    const page = await signedIn(world.adminKey);
    const practice = world.practices.fhir.id;
    const d = today();
    await page.goto(`/console/rapports?du=${addDays(d, -6)}&au=${d}`);
    await page.getByRole('button', { name: `Voir les rapports de ${world.practices.fhir.name}` }).click();
    await page.locator('#graphique-rdv canvas').waitFor();

    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'Exporter en CSV' }).click(),
    ]);
    expect(download.suggestedFilename()).toBe(
      `passerelle-activite-${practice}-${addDays(d, -6)}-${addDays(d, 1)}.csv`,
    );
    const csv = readFileSync(await download.path(), 'utf8');
    expect(csv.startsWith('\uFEFF')).toBe(true);
    const lines = csv.slice(1).split('\r\n');
    expect(lines[0]).toBe('Rapport d’activité passerelle');
    expect(lines[1]).toBe('Rubrique;Valeur');
    expect(lines).toContain(`Cabinet;${world.practices.fhir.name}`);
    const section = lines.indexOf('Rendez-vous par origine');
    expect(lines[section + 1]).toBe('Origine;Pris;Déplacés;Annulés;Absents (lapins);Arrivés;Refusés');
    const secretariat = (lines[section + 2] ?? '').split(';');
    const cabinet = (lines[section + 3] ?? '').split(';');
    expect(secretariat[0]).toBe('Secrétariat');
    expect(cabinet[0]).toBe('Cabinet');
    expect(Number(secretariat[1]) + Number(cabinet[1])).toBeGreaterThan(0);
    expect(lines).toContain('Messages et urgences');

    // The charts' own figures, one line per day, as the series' CSV.
    const [seriesDownload] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'Exporter les séries en CSV' }).click(),
    ]);
    const series = readFileSync(await seriesDownload.path(), 'utf8')
      .slice(1)
      .trim()
      .split('\r\n');
    expect(series[0]).toMatch(
      /^Début \(heure locale\);Fin \(heure locale\);RDV pris par le secrétariat;RDV pris par le cabinet;/,
    );
    expect(series).toHaveLength(1 + 7);
    expect(series[7]?.startsWith(`${d} 00:00:00;`)).toBe(true);
    await page.context().close();
  }, 60_000);

  it('lets an admin set the practice’s digest webhook, the secret never shown back', async () => {
    const page = await signedIn(world.adminKey);
    const practice = world.practices.hl7.id;
    await page.goto('/console/rapports');
    await page.getByRole('button', { name: `Voir les rapports de ${world.practices.hl7.name}` }).click();
    await page.getByRole('heading', { level: 2, name: 'Résumés quotidiens' }).waitFor();
    await page.getByText('Aucun webhook : les résumés sont conservés sans être envoyés.').waitFor();
    await page.getByLabel('Adresse du webhook').fill('https://cabinet.example/passerelle/resumes');
    const secret = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
    await page.getByLabel('Secret de signature').fill(secret);
    await page.getByRole('button', { name: 'Enregistrer' }).click();
    await page.getByText('Réglages enregistrés.').waitFor();
    await page.getByText('Un secret est enregistré.').waitFor();
    expect(await page.getByLabel('Secret de signature').inputValue()).toBe('');
    await screenshot(page, 'rapports-resumes');
    expect(await seriousViolations(page)).toEqual([]);
    const settings = (
      (await (await world.api(`/api/v1/practices/${practice}`)).json()) as { settings: object }
    ).settings;
    expect(settings).toEqual({
      digestWebhook: { url: 'https://cabinet.example/passerelle/resumes', hasSecret: true },
    });
    expect(await page.content()).not.toContain(secret);
    await page.context().close();
  }, 60_000);

  it('refuses digest settings saved from a stale page after someone else changed the practice, and says to reload', async () => {
    const page = await signedIn(world.adminKey);
    await page.route('**/api/v1/events**', (route) => route.abort());
    const practice = world.practices.hl7.id;
    await page.goto('/console/rapports');
    await page.getByRole('button', { name: `Voir les rapports de ${world.practices.hl7.name}` }).click();
    await page.getByRole('heading', { level: 2, name: 'Résumés quotidiens' }).waitFor();
    await page.getByLabel('Adresse du webhook').fill('https://cabinet.example/ecrase');
    // Someone else changes the practice meanwhile.
    const other = await world.api(`/api/v1/practices/${practice}`, {
      method: 'PATCH',
      json: { name: world.practices.hl7.name },
    });
    expect(other.status).toBe(200);
    await page.getByRole('button', { name: 'Enregistrer' }).click();
    await page.getByRole('alert').filter({ hasText: 'Quelqu’un d’autre a modifié ces réglages' }).waitFor();
    const settings = (
      (await (await world.api(`/api/v1/practices/${practice}`)).json()) as {
        settings: { digestWebhook?: { url: string } };
      }
    ).settings;
    expect(settings.digestWebhook?.url).toBe('https://cabinet.example/passerelle/resumes');
    await page.context().close();
  }, 60_000);

  it('shows a key limited to one practice that practice’s report only, without the settings it may not change', async () => {
    const fhir = world.practices.fhir;
    const hl7 = world.practices.hl7;
    const key = await world.key({ role: 'viewer', practiceId: fhir.id });
    const page = await signedIn(key);
    const asked: string[] = [];
    page.on('request', (r) => {
      if (r.url().includes('/api/v1/reports/')) asked.push(r.url());
    });
    await page.goto('/console/rapports');
    // No choice to make: the report is its practice's at once.
    await page.getByRole('heading', { level: 2, name: fhir.name }).waitFor();
    await page.locator('#graphique-rdv canvas').waitFor();
    expect(await page.getByRole('button', { name: /Voir les rapports de/ }).count()).toBe(0);
    expect(await page.locator('main').textContent()).not.toContain(hl7.name);
    expect(await page.locator('#cabinet option').allTextContents()).toEqual([fhir.name]);
    expect(asked.length).toBeGreaterThan(0);
    for (const url of asked) {
      const q = new URL(url).searchParams;
      expect(q.get('practice') ?? q.get('practiceId')).toBe(fhir.id);
    }
    // A viewer changes nothing: no digest settings, no button other than the period's.
    expect(await page.getByRole('heading', { name: 'Résumés quotidiens' }).count()).toBe(0);
    expect(await page.getByLabel('Adresse du webhook').count()).toBe(0);
    // The CSV link is its practice's; the other practice's report is refused to it.
    const href = await page.getByRole('link', { name: 'Exporter en CSV' }).getAttribute('href');
    expect(new URL(href ?? '', world.url).searchParams.get('practice')).toBe(fhir.id);
    const status = await page.evaluate(
      async (id) =>
        (await fetch(`/api/v1/reports/activity?practice=${id}&from=2026-01-01&to=2026-01-02`)).status,
      hl7.id,
    );
    expect(status).toBe(403);
    await screenshot(page, 'rapports-cabinet-limite');
    expect(await seriousViolations(page)).toEqual([]);
    await page.context().close();
  }, 60_000);
});
