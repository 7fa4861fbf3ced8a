/**
 * GET /api/v1/reports/series (issue 19) over real HTTP on a real SQLite store, with activity
 * events stamped by a test clock: per local day, JSON and CSV, and a key of another practice refused.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { defaultModules } from '../../../src/app/modules.js';
import type { ActivitySeries } from '../../../src/reports/series.js';
import { createApiKey } from '../../../src/security/api-keys.js';
import { startTestService, type TestService } from '../../helpers/service.js';
import { testClock } from '../../helpers/stores.js';

describe('activity time series over HTTP', () => {
  const clock = testClock(Date.parse('2026-11-23T08:00:00.000Z'));
  let t: TestService;
  let viewerA: string;

  beforeAll(async () => {
    t = await startTestService({ modules: defaultModules(), now: clock });
    const store = t.service.store;
    await store.practices.create({ id: 'cab-a', name: 'Cabinet A' });
    await store.practices.create({ id: 'cab-b', name: 'Cabinet B' });
    viewerA = (
      await createApiKey(store, { role: 'viewer', practiceId: 'cab-a', createdBy: 'test', via: 'test' })
    ).key;
    // Monday 23 November (Paris): two secretariat bookings, one practice booking, an urgency
    // delivered 60 s after it was taken.
    await store.activity.append({ practiceId: 'cab-a', type: 'appointment.booked', origin: 'secretariat' });
    await store.activity.append({ practiceId: 'cab-a', type: 'appointment.booked', origin: 'secretariat' });
    await store.activity.append({ practiceId: 'cab-a', type: 'appointment.booked', origin: 'practice' });
    await store.activity.append({ practiceId: 'cab-a', type: 'message.received', priority: 'urgent' });
    await store.activity.append({
      practiceId: 'cab-a',
      type: 'message.delivered',
      priority: 'urgent',
      latencySince: clock() - 60_000,
    });
    // Tuesday 24: a cancellation by the practice, and a dead letter.
    clock.set(Date.parse('2026-11-24T10:00:00.000Z'));
    await store.activity.append({ practiceId: 'cab-a', type: 'appointment.cancelled', origin: 'practice' });
    await store.deadLetters.add({
      practiceId: 'cab-a',
      linkId: null,
      source: 'outbox',
      ref: null,
      kind: 'Appointment',
      recordId: null,
      reasonCode: 'ERR_CONNECTOR_REJECTED',
      reason: 'refused',
      payload: null,
    });
  });
  afterAll(() => t.dispose());

  it('gives one point per local day with appointments by origin, urgency delays and dead letters', async () => {
    const res = await t.api('/api/v1/reports/series?practiceId=cab-a&from=2026-11-23&to=2026-11-25', {
      key: viewerA,
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as ActivitySeries;
    expect(body.points.map((p) => p.label)).toEqual(['2026-11-23', '2026-11-24']);
    const [mon, tue] = body.points;
    expect(mon?.start).toBe('2026-11-22T23:00:00.000Z');
    expect(mon?.appointments.secretariat.booked).toBe(2);
    expect(mon?.appointments.practice.booked).toBe(1);
    expect(mon?.urgentMessages).toMatchObject({
      received: 1,
      delivered: 1,
      latencyMs: { p50: 60_000, p95: 60_000 },
    });
    expect(mon?.deadLetters.total).toBe(0);
    expect(tue?.appointments.practice.cancelled).toBe(1);
    expect(tue?.deadLetters).toEqual({ total: 1, inbox: 0, outbox: 1 });
  });

  it('gives weekly points', async () => {
    const body = (await (
      await t.api('/api/v1/reports/series?practiceId=cab-a&from=2026-11-23&to=2026-12-07&bucket=week')
    ).json()) as ActivitySeries;
    expect(body.points.map((p) => p.label)).toEqual(['2026-11-23', '2026-11-30']);
    expect(body.points[0]?.appointments.secretariat.booked).toBe(2);
  });

  it('gives CSV with French headers and local times when asked', async () => {
    const res = await t.api('/api/v1/reports/series?practiceId=cab-a&from=2026-11-23&to=2026-11-25', {
      headers: { accept: 'text/csv' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/csv/);
    const lines = (await res.text()).replace(/^\uFEFF/, '').split('\r\n');
    expect(lines[0]).toMatch(/^Début \(heure locale\);Fin \(heure locale\);RDV pris par le secrétariat;/);
    expect(lines[1]).toMatch(/^2026-11-23 00:00:00;2026-11-24 00:00:00;2;1;/);
    const viaQuery = await t.api(
      '/api/v1/reports/series?practiceId=cab-a&from=2026-11-23&to=2026-11-25&format=csv',
    );
    expect(viaQuery.headers.get('content-disposition')).toContain('passerelle-series-cab-a-day-2026-11-23');
  });

  it('refuses a key limited to another practice', async () => {
    const res = await t.api('/api/v1/reports/series?practiceId=cab-b&from=2026-11-23&to=2026-11-25', {
      key: viewerA,
    });
    expect(res.status).toBe(403);
  });
});
