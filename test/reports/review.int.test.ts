/**
 * The practice's review (issue 21 points 4 and 5), end to end: secretariat agents take calls on
 * the simulator, the call KPI pass fetches the platform's figures for the practice's day, and the
 * weekly review — as an HTML page and as a PDF read back by text extraction — carries those
 * figures under French labels, with the contract's thresholds flagged. An injected clock shared
 * by the service and the simulator makes the platform's figures the same on every run.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { PDFParse } from 'pdf-parse';

import type { CallStatistics } from '../../connectors/secretariat/contract.js';
import { type ReportsModule, reportsModule } from '../../src/app/features/reports.js';
import { DigestJob } from '../../src/reports/digest.js';
import { num } from '../../src/reports/review-layout.js';
import { createApiKey } from '../../src/security/api-keys.js';
import { type FhirWorld, startFhirWorld } from '../helpers/fhir-world.js';
import { testClock } from '../helpers/stores.js';

describe('the practice review', () => {
  // A Wednesday, 11:00 in Paris: the week of Monday 30 November.
  const clock = testClock(Date.parse('2026-12-02T10:00:00.000Z'));
  let w: FhirWorld;
  let reports!: ReportsModule;
  let platform: CallStatistics;
  let otherKey: string;

  const practiceView = async () =>
    (await (await w.t.api(`/api/v1/practices/${w.practiceId}`)).json()) as { version: number };
  const patchSettings = async (settings: unknown) =>
    w.t.api(`/api/v1/practices/${w.practiceId}`, {
      method: 'PATCH',
      headers: { 'if-match': `"${(await practiceView()).version}"` },
      json: { settings },
    });

  beforeAll(async () => {
    w = await startFhirWorld({
      day0: new Date(clock()),
      now: clock,
      extraModules: (sync) => [(reports = reportsModule({ scheduleDigests: false, sync }))],
    });
    const agent = w.sim.agent('agent-claire');
    for (const [priority, text] of [
      ['routine', 'Demande une ordonnance.'],
      ['routine', 'Rappeler pour un certificat.'],
      ['urgent', 'Douleur thoracique, rappeler.'],
    ] as const)
      await agent.leaveMessage({
        callerName: 'Appelant',
        text,
        priority,
        takenAt: new Date(clock()).toISOString(),
      });
    await w.settled();
    const res = await fetch(`${w.sim.url}/v1/practices/${w.sim.practiceId}/call-statistics?day=2026-12-02`, {
      headers: { authorization: `Bearer ${w.sim.apiToken}` },
    });
    platform = (await res.json()) as CallStatistics;
    const other = (await (
      await w.t.api('/api/v1/practices', { method: 'POST', json: { name: 'Cabinet voisin' } })
    ).json()) as { id: string };
    otherKey = (
      await createApiKey(w.t.service.store, {
        role: 'viewer',
        practiceId: other.id,
        createdBy: 'test',
        via: 'test',
      })
    ).key;
  }, 60_000);
  afterAll(async () => {
    await w?.dispose();
  });

  it('counts the calls the simulator’s agents handled, and adds figures of its own', () => {
    expect(platform.outcomes).toMatchObject({ message: 2, urgent: 1, booked: 0 });
    expect(platform.answered).toBe(3 + platform.outcomes.redirected);
    expect(platform.received).toBe(platform.answered + platform.abandoned);
  });

  it('refuses call thresholds the platform cannot measure, naming the field', async () => {
    const res = await patchSettings({ callThresholds: { answeredWithin: { seconds: 45, minPercent: 90 } } });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { details: { issues: { path: string }[] } } };
    expect(body.error.details.issues[0]?.path).toBe('body.settings.callThresholds.answeredWithin.seconds');
  });

  it('puts the call KPIs ingested into the weekly review, as HTML and as a PDF, with missed thresholds flagged', async () => {
    expect(
      (await patchSettings({ callThresholds: { maxWaitP95Seconds: 1, minAnsweredPercent: 50 } })).status,
    ).toBe(200);
    const run = await reports.callKpisOf(w.t.service.context)(
      (await w.t.service.store.practices.get(w.practiceId))!,
    );
    expect(run).toMatchObject({ stored: ['2026-12-02'], failed: [] });
    // A second pass replaces the day's row: still one day.
    await reports.callKpisOf(w.t.service.context)((await w.t.service.store.practices.get(w.practiceId))!);
    expect(await w.t.service.store.callKpis.list(w.practiceId, '2026-11-30', '2026-12-07')).toHaveLength(1);

    const received = `Appels reçus : ${num(platform.received)} ; décrochés : ${num(platform.answered)}`;
    const outcomes = `${num(platform.outcomes.message)} messages, ${num(platform.outcomes.urgent)} urgences, ${num(platform.outcomes.redirected)} réorientés`;
    const p95Missed = (platform.waitSeconds.p95 ?? 0) > 1;

    const html = await w.t.api(`/api/v1/practices/${w.practiceId}/reviews?period=week&start=2026-12-02`);
    expect(html.status).toBe(200);
    expect(html.headers.get('content-type')).toMatch(/^text\/html/);
    const page = await html.text();
    expect(page).toContain('Revue hebdomadaire');
    expect(page).toContain('Semaine du 30 novembre au 6 décembre 2026');
    expect(page).toContain(received);
    expect(page).toContain(outcomes);
    expect(page).toContain('Seuils du contrat');
    expect(page).toContain('Couverture de l’agenda');
    expect(page.includes('NON ATTEINT')).toBe(p95Missed);

    const pdf = await w.t.api(`/api/v1/practices/${w.practiceId}/reviews?period=week&start=2026-12-02`, {
      headers: { accept: 'application/pdf' },
    });
    expect(pdf.status).toBe(200);
    expect(pdf.headers.get('content-type')).toBe('application/pdf');
    const { text } = await new PDFParse({ data: Buffer.from(await pdf.arrayBuffer()) }).getText();
    // Text extraction breaks lines where the PDF wrapped them: compare with spaces collapsed.
    const flat = text.replace(/\s+/g, ' ');
    const plain = (s: string) => s.replace(/\s+/g, ' ');
    expect(flat).toContain('Revue hebdomadaire');
    expect(flat).toContain(plain(received));
    expect(flat).toContain(plain(outcomes));
    expect(flat).toContain('Messages urgents et accusés de réception');
    expect(flat).toContain('Ce qui a changé dans les consignes');
    expect(flat.includes('NON ATTEINT')).toBe(p95Missed);
  }, 60_000);

  it('posts the review of the week once it is complete to the practice’s webhook, once, when configured', async () => {
    const bodies: { type: string; period: { startDay: string }; html: string; pdf: string }[] = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        bodies.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as (typeof bodies)[number]);
        res.statusCode = 204;
        res.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/revue`;
      expect((await patchSettings({ digestWebhook: { url } })).status).toBe(200);
      const ctx = w.t.service.context;
      const job = new DigestJob({
        store: ctx.store,
        logger: ctx.logger,
        config: { ...ctx.config.reports, reviewWebhook: ['week'] },
        now: clock,
        secrets: ctx.secrets,
      });
      // Monday 7 December: the week of 30 November is complete.
      clock.set(Date.parse('2026-12-07T06:05:00.000Z'));
      await job.runAll();
      await job.runAll();
      const reviews = bodies.filter((b) => b.type === 'passerelle.review.weekly');
      expect(reviews.map((b) => b.period.startDay)).toEqual(['2026-11-30']);
      expect(reviews[0]?.html).toContain(`Appels reçus : ${num(platform.received)}`);
      expect(
        Buffer.from(reviews[0]?.pdf ?? '', 'base64')
          .subarray(0, 5)
          .toString(),
      ).toBe('%PDF-');
    } finally {
      clock.set(Date.parse('2026-12-02T10:00:00.000Z'));
      await new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      });
    }
  }, 60_000);

  it('lets a key limited to another practice neither read the review nor the KPIs in it', async () => {
    for (const format of ['html', 'pdf', 'json']) {
      const res = await w.t.api(
        `/api/v1/practices/${w.practiceId}/reviews?period=month&start=2026-12-01&format=${format}`,
        {
          key: otherKey,
        },
      );
      expect(res.status).toBe(403);
    }
  });
});
