/**
 * What must never happen to a feed URL: appear in a log line or an error, or be hammered
 * without limit. The service runs with its real logger writing JSON lines to a buffer.
 */
import { PassThrough } from 'node:stream';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { icalModule } from '../../src/app/features/ical.js';
import { createLogger } from '../../src/log/logger.js';
import { seedAgenda } from '../helpers/ical-agenda.js';
import { rawGet } from '../helpers/ical-http.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { testClock } from '../helpers/stores.js';

describe('feed secrets and rate limits', () => {
  const clock = testClock();
  const logStream = new PassThrough();
  let logged = '';
  logStream.on('data', (d: Buffer) => (logged += d.toString()));
  let t: TestService;
  const urls: string[] = [];

  const issue = async (body: Record<string, unknown>) => {
    const res = await t.api('/api/v1/ical/tokens', { method: 'POST', json: body });
    const { url } = (await res.json()) as { url: string };
    urls.push(url);
    return url;
  };

  beforeAll(async () => {
    t = await startTestService({
      modules: [icalModule()],
      now: clock,
      logger: createLogger({ stream: logStream, level: 'debug' }),
      env: { PASSERELLE_ICAL_RATE_LIMIT_PER_TOKEN: '3', PASSERELLE_ICAL_RATE_LIMIT_PER_CLIENT: '12' },
    });
    await seedAgenda(t.service.store, clock);
  });
  afterAll(async () => {
    await t.dispose();
  });

  it('answers a feed’s fourth request in a minute with 429 and Retry-After, without slowing other feeds', async () => {
    const a = await issue({ practiceId: 'cab-test', practitionerId: 'pr-marie', privacy: 'full' });
    const b = await issue({ practiceId: 'cab-test', practitionerId: 'pr-marie' });
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await rawGet(a)).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    const limited = await rawGet(a);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(Number(limited.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect(JSON.parse(limited.text)).toMatchObject({ error: { code: 'ERR_RATE_LIMITED' } });
    expect((await rawGet(b)).status).toBe(200);
  });

  it('limits one client address over all /ical/ requests, so tokens cannot be guessed at speed', async () => {
    // 6 requests so far from 127.0.0.1; the limit is 12 a minute.
    const origin = new URL(urls[0] as string).origin;
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++)
      statuses.push((await rawGet(`${origin}/ical/ics_${String(i).repeat(43)}.ics`)).status);
    expect(statuses).toEqual([404, 404, 404, 404, 404, 404, 429, 429]);
  });

  it('keeps tokens out of every log line and error, malformed URLs included', async () => {
    const origin = new URL(urls[0] as string).origin;
    const secret = new URL(urls[1] as string).pathname.slice('/ical/'.length, -'.ics'.length);
    // A URL that cannot be decoded, holding a real secret: the router fails before any handler.
    const broken = await rawGet(`${origin}/ical/${secret}%E0%A4%A.ics`);
    expect(broken.status).toBeLessThan(500);
    expect(broken.text).not.toContain(secret);
    await t.api(`/api/v1/ical/tokens`, { method: 'GET' });
    await new Promise((r) => setImmediate(r));
    expect(logged).toContain('"route":"/ical/:token.ics"');
    expect(logged).toContain('"status":429');
    for (const url of urls) {
      const token = new URL(url).pathname.slice('/ical/'.length, -'.ics'.length);
      expect(logged.includes(token)).toBe(false);
    }
    expect(logged).not.toMatch(/ics_[A-Za-z0-9_-]{10}/);
  });
});
