/**
 * The daily digest on both stores: the job run with an injected clock makes yesterday's report
 * (the practice's local day) and the missing days before it, once; the digest is POSTed to the
 * practice's webhook — a real HTTP server on 127.0.0.1 checking the Standard Webhooks signature —
 * retried within a run and at the next run, never blocking; digests are read over HTTP. And
 * the node-cron task is scheduled in each practice's own zone.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DateTime } from 'luxon';

import { createLogger } from '../../src/log/logger.js';
import type { ActivityReport } from '../../src/reports/report-schema.js';
import { generateWebhookSecret, verifyWebhook } from '../../src/security/webhook-signature.js';
import type { DigestSummary } from '../../src/store/types.js';
import { identifyingValues } from '../helpers/fixtures.js';
import { json, paul, ReportsFlow } from '../helpers/reports-flow.js';
import { STORE_KINDS } from '../helpers/stores.js';
import { at } from '../helpers/sync-harness.js';

interface Received {
  readonly headers: Record<string, string | undefined>;
  readonly body: Buffer;
  readonly status: number;
}

/** A practice's own webhook receiver: answers the planned statuses, then 200. */
class Receiver {
  readonly received: Received[] = [];
  plan: number[] = [];
  private server: Server | undefined;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req: IncomingMessage, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const status = this.plan.shift() ?? 200;
        this.received.push({
          headers: req.headers as Record<string, string | undefined>,
          body: Buffer.concat(chunks),
          status,
        });
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server?.address() as AddressInfo).port}/passerelle/digest?token=t0k3n`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }
}

/** A URL on 127.0.0.1 where nothing listens (a port just freed). */
async function deadUrl(): Promise<string> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return `http://127.0.0.1:${port}/digest`;
}

describe.each(STORE_KINDS)('daily digest (%s store)', (storeKind) => {
  let f: ReportsFlow;
  const receiver = new Receiver();
  const secret = generateWebhookSecret();
  const logged: Record<string, unknown>[] = [];

  const setWebhook = (webhook: unknown) =>
    f.t.api(`/api/v1/practices/${f.practiceId}`, {
      method: 'PATCH',
      json: { settings: { digestWebhook: webhook } },
    });
  const runAt = async (iso: string) => {
    f.clock.set(Date.parse(iso));
    return f.reports.jobOf(f.t.service.context).runAll();
  };
  const payloadOf = (r: Received) =>
    JSON.parse(r.body.toString('utf8')) as {
      type: string;
      practiceId: string;
      day: string;
      report: ActivityReport;
    };

  beforeAll(async () => {
    await receiver.start();
    const stream = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean))
          logged.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    // Sunday 22 November 2026, 11:00 in Paris: the practice is created that day.
    f = await ReportsFlow.start({
      store: storeKind,
      start: '2026-11-22T10:00:00.000Z',
      env: {
        PASSERELLE_REPORTS_WEBHOOK_BACKOFF_MS: '10',
        PASSERELLE_REPORTS_WEBHOOK_ATTEMPTS: '3',
        PASSERELLE_REPORTS_WEBHOOK_TIMEOUT_MS: '5000',
        PASSERELLE_REPORTS_CATCH_UP_DAYS: '3',
      },
      logger: createLogger({ stream, level: 'info' }),
    });
    const pr = await f.seedPractitioners();
    const secPaul = f.sec.create(structuredClone(paul));
    const a1 = f.secBooking(pr.sec1, secPaul, at('2026-11-30', '09:00'), at('2026-11-30', '09:20'));
    const a2 = f.secBooking(pr.sec2, secPaul, at('2026-11-30', '09:00'), at('2026-11-30', '09:20'));
    expect(await f.secDeliver([secPaul, a1, a2])).toBe('applied');
    await f.settle();
    f.clock.set(Date.parse('2026-11-22T15:00:00.000Z'));
    const m = f.secMessage(secPaul, pr.sec1, 'urgent', '2026-11-22T14:59:30.000Z');
    expect(await f.secDeliver([m])).toBe('applied');
    await f.drainNow();
    // Monday 23, 00:30 in Paris (still the 22nd in UTC): one more booking, on the 23rd locally.
    f.clock.set(Date.parse('2026-11-22T23:30:00.000Z'));
    const a3 = f.secBooking(pr.sec1, secPaul, at('2026-12-01', '09:00'), at('2026-12-01', '09:20'));
    expect(await f.secDeliver([a3])).toBe('applied');
    await f.settle();
    await json(await setWebhook({ url: receiver.url, secret }), 200);
  });
  afterAll(async () => {
    await f.dispose();
    await receiver.stop();
  });

  it('makes the digests of the practice’s past local days since it exists, posts them signed, and retries a 503 within the run', async () => {
    receiver.plan = [503];
    // Tuesday 24, 06:05 in Paris: yesterday is the 23rd; the 22nd is caught up, the 21st predates the practice.
    const [run] = await runAt('2026-11-24T05:05:00.000Z');
    expect(run).toEqual({
      practiceId: f.practiceId,
      created: ['2026-11-22', '2026-11-23'],
      delivered: ['2026-11-22', '2026-11-23'],
      failed: [],
    });

    expect(receiver.received.map((r) => [r.status, payloadOf(r).day])).toEqual([
      [503, '2026-11-22'],
      [200, '2026-11-22'],
      [200, '2026-11-23'],
    ]);
    for (const r of receiver.received) {
      const verified = verifyWebhook(r.headers, r.body, { secrets: [secret], now: f.clock() });
      expect(r.headers['content-type']).toBe('application/json');
      expect(verified.timestamp).toBe(Math.floor(f.clock() / 1000));
    }
    // The same webhook-id on every attempt of a day, so the receiver can drop a resend.
    const ids = receiver.received.map((r) => r.headers['webhook-id']);
    expect(ids[0]).toBe(ids[1]);
    expect(ids[2]).not.toBe(ids[0]);
    expect(() =>
      verifyWebhook(receiver.received[0]?.headers ?? {}, receiver.received[0]?.body ?? Buffer.alloc(0), {
        secrets: [generateWebhookSecret()],
        now: f.clock(),
      }),
    ).toThrow(expect.objectContaining({ code: 'ERR_WEBHOOK_SIGNATURE' }));
  });

  it('keeps in each digest the counts of its local day, ids and counts only', async () => {
    const day22 = payloadOf(receiver.received[1] as Received);
    expect(day22).toMatchObject({
      type: 'passerelle.digest.daily',
      practiceId: f.practiceId,
      day: '2026-11-22',
    });
    expect(day22.report.period).toEqual({ from: '2026-11-21T23:00:00.000Z', to: '2026-11-22T23:00:00.000Z' });
    expect(day22.report.appointments.byOrigin.secretariat.booked).toBe(2);
    expect(day22.report.messages.byPriority.urgent).toEqual({
      received: 1,
      delivered: 1,
      latencyMs: { count: 1, p50: 30_000, p95: 30_000, max: 30_000 },
    });
    expect(day22.report.appointments.byPractitioner.every((p) => p.name === undefined)).toBe(true);
    const day23 = payloadOf(receiver.received[2] as Received);
    expect(day23.report.appointments.byOrigin.secretariat.booked).toBe(1);
    expect(day23.report.messages.all.received).toBe(0);
    const text = receiver.received.map((r) => r.body.toString('utf8')).join('\n');
    for (const value of identifyingValues(paul)) expect(text).not.toContain(value);
  });

  it('runs again without making or posting anything twice', async () => {
    const before = receiver.received.length;
    const [run] = await runAt('2026-11-24T07:00:00.000Z');
    expect(run).toEqual({ practiceId: f.practiceId, created: [], delivered: [], failed: [] });
    expect(receiver.received).toHaveLength(before);
  });

  it('lists digests and serves one, as JSON or CSV, over HTTP', async () => {
    const list = await json<{ items: DigestSummary[] }>(
      await f.t.api(`/api/v1/reports/digests?practice=${f.practiceId}`),
      200,
    );
    expect(list.items.map((d) => [d.day, d.webhook.status, d.webhook.attempts, d.webhook.lastError])).toEqual(
      [
        ['2026-11-23', 'delivered', 1, null],
        ['2026-11-22', 'delivered', 2, null],
      ],
    );
    const one = await json<{ day: string; report: ActivityReport }>(
      await f.t.api(`/api/v1/reports/digests/${f.practiceId}/2026-11-22`),
      200,
    );
    expect(one.report.appointments.byOrigin.secretariat.booked).toBe(2);
    const csv = await f.t.api(`/api/v1/reports/digests/${f.practiceId}/2026-11-22`, {
      headers: { accept: 'text/csv' },
    });
    expect(csv.headers.get('content-disposition')).toBe(
      `attachment; filename="passerelle-activite-${f.practiceId}-2026-11-22-2026-11-23.csv"`,
    );
    expect((await csv.text()).split('\r\n')).toContain('Secrétariat;2;0;0;0;0;0');
    expect((await f.t.api(`/api/v1/reports/digests/${f.practiceId}/2026-11-21`)).status).toBe(404);
  });

  it('logs a failed webhook with ids only, keeps the digest pending, and posts it at the next run, in day order', async () => {
    const dead = await deadUrl();
    await json(await setWebhook({ url: dead, secret }), 200);
    const [failed] = await runAt('2026-11-25T05:05:00.000Z');
    expect(failed).toEqual({
      practiceId: f.practiceId,
      created: ['2026-11-24'],
      delivered: [],
      failed: [{ day: '2026-11-24', code: 'ERR_REPORTS_WEBHOOK_FAILED' }],
    });
    const pending = await json<{ webhook: DigestSummary['webhook'] }>(
      await f.t.api(`/api/v1/reports/digests/${f.practiceId}/2026-11-24`),
      200,
    );
    expect(pending.webhook).toMatchObject({
      status: 'pending',
      attempts: 3,
      deliveredAt: null,
      lastError: expect.stringMatching(/^ERR_REPORTS_WEBHOOK_FAILED: digest webhook unreachable/),
    });
    const warning = logged.find(
      (l) => l['message'] === 'daily digest webhook failed; retried at the next run',
    );
    expect(warning).toMatchObject({
      practiceId: f.practiceId,
      dayStart: '2026-11-23T23:00:00.000Z',
      code: 'ERR_REPORTS_WEBHOOK_FAILED',
      attempts: 3,
    });
    expect(JSON.stringify(logged)).not.toContain(dead);
    expect(JSON.stringify(logged)).not.toContain('t0k3n');

    await json(await setWebhook({ url: receiver.url, secret }), 200);
    const before = receiver.received.length;
    const [next] = await runAt('2026-11-26T05:05:00.000Z');
    expect(next).toEqual({
      practiceId: f.practiceId,
      created: ['2026-11-25'],
      delivered: ['2026-11-24', '2026-11-25'],
      failed: [],
    });
    expect(receiver.received.slice(before).map((r) => payloadOf(r).day)).toEqual([
      '2026-11-24',
      '2026-11-25',
    ]);
  });

  it('refuses a malformed secret when it is set, and never shows a stored secret back', async () => {
    const refused = await setWebhook({ url: receiver.url, secret: 'not-a-whsec-secret' });
    expect(refused.status).toBe(400);
    const body = await refused.text();
    expect(body).toContain('body.settings.digestWebhook.secret');
    expect(body).not.toContain('not-a-whsec-secret');
    const shown = await json<{ settings: Record<string, unknown> }>(
      await f.t.api(`/api/v1/practices/${f.practiceId}`),
      200,
    );
    expect(shown.settings['digestWebhook']).toEqual({ url: receiver.url, hasSecret: true });
    const stored = await f.store.practices.require(f.practiceId);
    expect(JSON.stringify(stored.settings)).not.toContain(secret.slice(6));
  });

  it('keeps digests waiting while the stored webhook settings are unusable, naming the setting', async () => {
    // Settings written before they were checked at write time (or by hand in the database).
    await f.store.practices.update(f.practiceId, {
      settings: { digestWebhook: { url: 'ftp://cabinet.example/digest' } },
    });
    const [run] = await runAt('2026-11-27T05:05:00.000Z');
    expect(run).toEqual({
      practiceId: f.practiceId,
      created: ['2026-11-26'],
      delivered: [],
      failed: [{ day: '2026-11-26', code: 'ERR_REPORTS_WEBHOOK_CONFIG' }],
    });
    const digest = await json<{ webhook: DigestSummary['webhook'] }>(
      await f.t.api(`/api/v1/reports/digests/${f.practiceId}/2026-11-26`),
      200,
    );
    expect(digest.webhook.lastError).toMatch(/^ERR_REPORTS_WEBHOOK_CONFIG: settings\.digestWebhook\.url/);
    expect(JSON.stringify(logged)).not.toContain('cabinet.example');
  });

  it('answers 403 to a viewer of another practice and 404 for an unknown one', async () => {
    const other = await json<{ id: string }>(
      await f.t.api('/api/v1/practices', { method: 'POST', json: { name: 'Autre cabinet' } }),
      201,
    );
    const { createApiKey } = await import('../../src/security/api-keys.js');
    const foreign = await createApiKey(f.store, {
      role: 'viewer',
      practiceId: other.id,
      createdBy: 'test',
      via: 'test',
    });
    expect(
      (await f.t.api(`/api/v1/reports/digests?practice=${f.practiceId}`, { key: foreign.key })).status,
    ).toBe(403);
    expect(
      (await f.t.api(`/api/v1/reports/digests/${f.practiceId}/2026-11-22`, { key: foreign.key })).status,
    ).toBe(403);
    expect((await f.t.api('/api/v1/reports/digests?practice=nope')).status).toBe(404);
  });
});

describe('digest schedule', () => {
  let f: ReportsFlow;
  beforeAll(async () => {
    f = await ReportsFlow.start({
      store: 'sqlite',
      start: '2026-11-22T10:00:00.000Z',
      timezone: 'America/Martinique',
      scheduleDigests: true,
    });
  });
  afterAll(async () => {
    await f.dispose();
  });

  it('schedules one node-cron task per practice time zone, at the configured local time, and drops zones no practice uses', async () => {
    const scheduler = f.reports.schedulerOf(f.t.service.context);
    if (!scheduler) throw new Error('the digest scheduler did not start');
    await scheduler.refresh();
    expect(scheduler.zones()).toEqual(['America/Martinique']);
    // node-cron computes on the real clock: the next 06:05 in Martinique (UTC−4, no DST) from now.
    const next = scheduler.nextRun('America/Martinique');
    const local = DateTime.fromJSDate(next as Date, { zone: 'America/Martinique' });
    expect([local.hour, local.minute, local.second]).toEqual([6, 5, 0]);
    expect((next as Date).getUTCHours()).toBe(10);
    expect((next as Date).getTime() - Date.now()).toBeGreaterThan(0);
    expect((next as Date).getTime() - Date.now()).toBeLessThanOrEqual(86_400_000);

    const paris = await json<{ id: string }>(
      await f.t.api('/api/v1/practices', {
        method: 'POST',
        json: { name: 'Cabinet parisien', timezone: 'Europe/Paris' },
      }),
      201,
    );
    await scheduler.refresh();
    expect(scheduler.zones()).toEqual(['America/Martinique', 'Europe/Paris']);
    const parisNext = DateTime.fromJSDate(scheduler.nextRun('Europe/Paris') as Date, {
      zone: 'Europe/Paris',
    });
    expect([parisNext.hour, parisNext.minute]).toEqual([6, 5]);
    expect((await f.t.api(`/api/v1/practices/${paris.id}`, { method: 'DELETE' })).status).toBe(204);
    await scheduler.refresh();
    expect(scheduler.zones()).toEqual(['America/Martinique']);
    expect(scheduler.nextRun('Europe/Paris')).toBeNull();
  });
});
