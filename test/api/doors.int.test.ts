/**
 * Early warning at the HTTP door (issue 16 point 7), through the whole service on 127.0.0.1:
 * failed authentications are throttled per client address (429 + Retry-After), audited with a
 * bound on the rows written, counted in /metrics, alerted once per burst, and every access log
 * line names the client address. A second loopback address (127.0.0.2) is "another client".
 */
import http from 'node:http';
import { Writable } from 'node:stream';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { createLogger } from '../../src/log/logger.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { STORE_KINDS, testClock } from '../helpers/stores.js';

const MAX_FAILURES = 5;
const WINDOW_SECONDS = 60;

interface LogLine {
  readonly level: string;
  readonly message: string;
  readonly [key: string]: unknown;
}

/** GET from a chosen local (source) address, so the service sees another client. */
function getFrom(
  localAddress: string,
  url: string,
  key: string | undefined,
): Promise<{ status: number; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      url,
      { localAddress, headers: key ? { authorization: `Bearer ${key}` } : {} },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
      },
    );
    req.on('error', reject);
  });
}

describe.each(STORE_KINDS)('failed authentication at the admin API (%s)', (kind) => {
  let t: TestService;
  const logs: LogLine[] = [];
  const clock = testClock();

  beforeAll(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString('utf8').split('\n'))
          if (line.trim()) logs.push(JSON.parse(line) as LogLine);
        done();
      },
    });
    t = await startTestService({
      store: kind,
      now: clock,
      logger: createLogger({ level: 'info', stream: sink }),
      env: {
        PASSERELLE_HTTP_AUTH_THROTTLE_MAX_FAILURES: String(MAX_FAILURES),
        PASSERELLE_HTTP_AUTH_THROTTLE_WINDOW_SECONDS: String(WINDOW_SECONDS),
      },
    });
  });
  afterAll(async () => {
    await t.dispose();
  });

  it('answers 429 with Retry-After once an address failed past the threshold, audits a bounded number of rows, and lets another address in', async () => {
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 40; i += 1) {
      const res = await t.api('/api/v1/practices', { key: `psk_wrong_${i}` });
      await res.arrayBuffer();
      statuses.push(res.status);
      if (res.status === 429) retryAfter ??= res.headers.get('retry-after');
    }
    expect(statuses.slice(0, MAX_FAILURES)).toEqual(Array(MAX_FAILURES).fill(401));
    expect(statuses.slice(MAX_FAILURES)).toEqual(Array(40 - MAX_FAILURES).fill(429));
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    expect(Number(retryAfter)).toBeLessThanOrEqual(WINDOW_SECONDS);

    // While blocked, even a valid key from that address is refused: a 200 would tell a right guess.
    expect((await t.api('/api/v1/practices')).status).toBe(429);
    // Another client address is not affected.
    expect((await getFrom('127.0.0.2', `${t.url}/api/v1/practices`, t.adminKey)).status).toBe(200);

    const failed = await t.service.store.audit.list({ action: 'auth.failed' });
    const throttled = await t.service.store.audit.list({ action: 'auth.throttled' });
    expect(failed).toHaveLength(MAX_FAILURES);
    expect(throttled).toHaveLength(1);
    for (const e of failed) {
      expect(e).toMatchObject({
        actor: 'anonymous',
        outcome: 'failure',
        via: 'api',
        details: { client: '127.0.0.1', failure: 'unknown-key' },
      });
      expect(e.details['keyHashPrefix']).toMatch(/^[0-9a-f]{12}$/);
      expect(JSON.stringify(e)).not.toContain('psk_wrong');
    }
    expect(throttled[0]).toMatchObject({
      actor: 'anonymous',
      outcome: 'denied',
      details: { client: '127.0.0.1', failures: MAX_FAILURES },
    });
  });

  it('counts refusals in /metrics and logs one burst warning per address and window', async () => {
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    const value = (kindLabel: string) =>
      Number(
        new RegExp(`passerelle_door_refusals_total\\{door="http-auth",kind="${kindLabel}"\\} (\\d+)`).exec(
          metrics,
        )?.[1] ?? 0,
      );
    expect(value('unknown-key')).toBe(MAX_FAILURES);
    expect(value('throttled')).toBe(40 - MAX_FAILURES + 1);
    expect(metrics).toMatch(/passerelle_door_refusal_bursts_total\{door="http-auth"\} 1\b/);
    const bursts = logs.filter((l) => l.message === 'burst of refusals from one client address');
    expect(bursts).toHaveLength(1);
    expect(bursts[0]).toMatchObject({ level: 'warn', door: 'http-auth', client: '127.0.0.1' });
    expect(JSON.stringify(logs)).not.toContain('psk_wrong');
  });

  it('names the client address in each access log line', () => {
    const access = logs.filter((l) => l['log'] === 'access' && l['route'] === '/api/v1/practices');
    expect(access.filter((l) => l['client'] === '127.0.0.1').map((l) => l['status'])).toContain(429);
    expect(access.filter((l) => l['client'] === '127.0.0.2').map((l) => l['status'])).toEqual([200]);
  });

  it('throttles a key-less loop the same way, and lifts the block once the window has passed', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < MAX_FAILURES + 3; i += 1)
      statuses.push((await getFrom('127.0.0.3', `${t.url}/api/v1/practices`, undefined)).status);
    expect(statuses).toEqual([...Array(MAX_FAILURES).fill(401), 429, 429, 429]);
    expect(
      (await t.service.store.audit.list({ action: 'auth.failed' })).filter(
        (e) => e.details['client'] === '127.0.0.3' && e.details['failure'] === 'no-key',
      ),
    ).toHaveLength(MAX_FAILURES);

    clock.advance(WINDOW_SECONDS * 1000);
    expect((await getFrom('127.0.0.3', `${t.url}/api/v1/practices`, t.adminKey)).status).toBe(200);
    expect((await t.api('/api/v1/practices')).status).toBe(200);
  });
});
