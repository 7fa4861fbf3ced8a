/**
 * The activity report through HTTP on both stores, after real changes driven through the sync
 * engine between two memory peers: bookings by origin and practitioner, a move, a cancellation,
 * an arrival, a refusal, routine and urgent call messages with delays from the test clock, a
 * conflict opened and resolved, a change refused by ownership, two dead letters. Every count is
 * asserted exactly.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import type { Appointment, Practitioner, Slot } from '../../src/model/resources.js';
import type { ActivityReport } from '../../src/reports/report-schema.js';
import { createApiKey } from '../../src/security/api-keys.js';
import { jeanne, json, paul, ReportsFlow } from '../helpers/reports-flow.js';
import { STORE_KINDS } from '../helpers/stores.js';
import { at } from '../helpers/sync-harness.js';

const DAY = '2026-11-30';
const zero = { booked: 0, moved: 0, cancelled: 0, noshow: 0, arrived: 0, refused: 0 };

describe.each(STORE_KINDS)('activity report over HTTP (%s store)', (storeKind) => {
  let f: ReportsFlow;
  let pr: Awaited<ReturnType<ReportsFlow['seedPractitioners']>>;
  let lastPracticePoll: string;
  let conflictId: string;

  const report = async (from = '2026-11-23', to = '2026-11-24', key?: string) =>
    json<ActivityReport>(
      await f.t.api(
        `/api/v1/reports/activity?practice=${f.practiceId}&from=${from}&to=${to}`,
        key ? { key } : {},
      ),
      200,
    );

  beforeAll(async () => {
    // 09:00 in Paris on Monday 23 November 2026.
    f = await ReportsFlow.start({ store: storeKind, start: '2026-11-23T08:00:00.000Z' });
    pr = await f.seedPractitioners();

    // Bookings: three by the secretariat (two for the first practitioner), one by the practice.
    const secPaul = f.sec.create(structuredClone(paul));
    const a1 = f.secBooking(pr.sec1, secPaul, at(DAY, '09:00'), at(DAY, '09:20'));
    const a2 = f.secBooking(pr.sec1, secPaul, at(DAY, '10:00'), at(DAY, '10:20'));
    const a3 = f.secBooking(pr.sec2, secPaul, at(DAY, '09:00'), at(DAY, '09:20'));
    expect(await f.secDeliver([secPaul, a1, a2, a3])).toBe('applied');
    await f.settle();
    const pracJeanne = f.prac.create(structuredClone(jeanne));
    const pracSecond = await f.on('prac', 'Practitioner', pr.c2);
    f.prac.create({
      resourceType: 'Appointment',
      id: 'x',
      status: 'booked',
      start: at(DAY, '11:00'),
      end: at(DAY, '11:20'),
      participant: [
        { actor: { reference: `Practitioner/${pracSecond}` }, status: 'accepted' },
        { actor: { reference: `Patient/${pracJeanne}` }, status: 'accepted' },
      ],
    } as Appointment);
    await f.pollPractice();
    await f.settle();

    // The secretariat moves one; the practice cancels another and marks a third arrived.
    f.sec.edit<Appointment>(a2, (a) => ({ ...a, start: at(DAY, '15:00'), end: at(DAY, '15:20') }));
    expect(await f.secDeliver([a2])).toBe('applied');
    await f.settle();
    const pracA3 = await f.on('prac', 'Appointment', await f.canonical('Appointment', 'sec', a3));
    const pracA1 = await f.on('prac', 'Appointment', await f.canonical('Appointment', 'sec', a1));
    f.prac.edit<Appointment>(pracA3, (a) => ({ ...a, status: 'cancelled' }));
    f.prac.edit<Appointment>(pracA1, (a) => ({ ...a, status: 'arrived' }));
    await f.pollPractice();
    await f.settle();

    // A secretariat booking into a slot the practice blocked is refused.
    f.prac.create({
      resourceType: 'Slot',
      id: 'x',
      schedule: { reference: `Schedule/${pr.schedule1}` },
      status: 'busy-unavailable',
      start: at(DAY, '12:00'),
      end: at(DAY, '14:00'),
    } as Slot);
    await f.pollPractice();
    await f.settle();
    const refused = f.secBooking(pr.sec1, secPaul, at(DAY, '13:00'), at(DAY, '13:15'));
    expect(await f.secDeliver([refused])).toBe('rejected');
    await f.settle();

    // Call messages: delays measured on the test clock, from `sent`, else from their receipt.
    f.clock.set(Date.parse('2026-11-23T12:00:00.000Z'));
    const m1 = f.secMessage(secPaul, pr.sec1, 'routine', '2026-11-23T11:57:30.000Z');
    expect(await f.secDeliver([m1])).toBe('applied');
    f.clock.set(Date.parse('2026-11-23T12:00:00.000Z'));
    await f.drainNow(); // 150 s after the call
    f.clock.set(Date.parse('2026-11-23T12:05:00.000Z'));
    const m2 = f.secMessage(secPaul, pr.sec1, 'urgent', '2026-11-23T12:04:46.000Z');
    const m3 = f.secMessage(secPaul, pr.sec2, 'stat');
    expect(await f.secDeliver([m2, m3])).toBe('applied');
    f.clock.set(Date.parse('2026-11-23T12:05:04.000Z'));
    await f.drainNow(); // urgent: 18 s after the call; stat: 4 s after its receipt
    f.clock.set(Date.parse('2026-11-23T12:06:00.000Z'));
    const m4 = f.secMessage(secPaul, pr.sec2, 'routine', '2026-11-23T12:06:00.000Z');
    expect(await f.secDeliver([m4])).toBe('applied');
    f.clock.set(Date.parse('2026-11-23T12:07:00.000Z'));
    await f.drainNow(); // 60 s
    expect(await f.store.outbox.list({ linkId: f.pracLinkId, status: 'pending' })).toEqual([]);

    // Both sides move the same appointment differently: a conflict for review, resolved by an operator.
    f.clock.set(Date.parse('2026-11-23T14:00:00.000Z'));
    const pracA2 = await f.on('prac', 'Appointment', await f.canonical('Appointment', 'sec', a2));
    f.prac.edit<Appointment>(pracA2, (a) => ({ ...a, start: at(DAY, '16:00'), end: at(DAY, '16:20') }));
    f.sec.edit<Appointment>(a2, (a) => ({ ...a, start: at(DAY, '17:00'), end: at(DAY, '17:20') }));
    expect(await f.secDeliver([a2])).toBe('applied');
    await f.pollPractice();
    const open = await json<{ items: { id: string; paths: string[] }[] }>(
      await f.t.api(`/api/v1/conflicts?practiceId=${f.practiceId}&status=open`),
      200,
    );
    expect(open.items.map((c) => c.paths)).toEqual([['start/end']]);
    conflictId = open.items[0]?.id as string;
    await json(
      await f.t.api(`/api/v1/conflicts/${conflictId}/resolve`, {
        method: 'POST',
        json: { side: 'practice' },
      }),
      200,
    );
    await f.settle();

    // The secretariat renames a practitioner, which the practice owns: refused by ownership.
    f.sec.edit<Practitioner>(pr.sec2, (p) => ({
      ...p,
      name: [{ use: 'official', family: 'RENOMME', given: ['Par'] }],
    }));
    expect(await f.secDeliver([pr.sec2])).toBe('applied');
    await f.settle();

    // Dead letters: a booking the secretariat sent without participants, and a push the practice refuses for good.
    const invalid = f.sec.create({
      resourceType: 'Appointment',
      id: 'x',
      status: 'booked',
      start: at(DAY, '18:00'),
      end: at(DAY, '18:20'),
      participant: [],
    } as unknown as Appointment);
    expect(await f.secDeliver([invalid])).toBe('invalid');
    f.prac.failPushes = { code: 'ERR_CONNECTOR_REJECTED' };
    const a5 = f.secBooking(pr.sec2, secPaul, at(DAY, '14:00'), at(DAY, '14:20'));
    expect(await f.secDeliver([a5])).toBe('applied');
    await f.settle();
    f.prac.failPushes = undefined;

    await f.pollPractice();
    lastPracticePoll = new Date(f.clock()).toISOString();
    f.clock.advance(90_000);
  });
  afterAll(async () => {
    await f.dispose();
  });

  it('counts appointments booked, moved, cancelled, arrived and refused by origin', async () => {
    const r = await report();
    expect(r.practice).toEqual({ id: f.practiceId, name: 'Cabinet des Érables', timezone: 'Europe/Paris' });
    expect(r.period).toEqual({ from: '2026-11-22T23:00:00.000Z', to: '2026-11-23T23:00:00.000Z' });
    expect(r.appointments.byOrigin.secretariat).toEqual({ ...zero, booked: 4, moved: 2, refused: 1 });
    expect(r.appointments.byOrigin.practice).toEqual({ ...zero, booked: 1, cancelled: 1, arrived: 1 });
    expect(r.appointments.total).toEqual({
      booked: 5,
      moved: 2,
      cancelled: 1,
      noshow: 0,
      arrived: 1,
      refused: 1,
    });
  });

  it('breaks appointments down by practitioner, named, refusals included', async () => {
    const r = await report();
    expect(
      r.appointments.byPractitioner.map((p) => ({
        id: p.practitionerId,
        name: p.name,
        sec: p.byOrigin.secretariat,
        prac: p.byOrigin.practice,
      })),
    ).toEqual(
      [
        {
          id: pr.c1,
          name: 'Camille DOCTEUR-ESSAI',
          sec: { ...zero, booked: 2, moved: 2, refused: 1 },
          prac: { ...zero, arrived: 1 },
        },
        {
          id: pr.c2,
          name: 'Camille DOCTEUR-ESSAI',
          sec: { ...zero, booked: 2 },
          prac: { ...zero, booked: 1, cancelled: 1 },
        },
      ].sort((a, b) => (a.id < b.id ? -1 : 1)),
    );
  });

  it('counts routine and urgent call messages with their exact delivery delays', async () => {
    const r = await report();
    expect(r.messages.byPriority.routine).toEqual({
      received: 2,
      delivered: 2,
      latencyMs: { count: 2, p50: 60_000, p95: 150_000, max: 150_000 },
    });
    expect(r.messages.byPriority.urgent).toEqual({
      received: 1,
      delivered: 1,
      latencyMs: { count: 1, p50: 18_000, p95: 18_000, max: 18_000 },
    });
    expect(r.messages.byPriority.stat).toEqual({
      received: 1,
      delivered: 1,
      latencyMs: { count: 1, p50: 4_000, p95: 4_000, max: 4_000 },
    });
    expect(r.messages.byPriority.asap).toEqual({
      received: 0,
      delivered: 0,
      latencyMs: { count: 0, p50: null, p95: null, max: null },
    });
    expect(r.messages.urgencies).toEqual({
      received: 2,
      delivered: 2,
      latencyMs: { count: 2, p50: 4_000, p95: 18_000, max: 18_000 },
    });
    expect(r.messages.all).toEqual({
      received: 4,
      delivered: 4,
      latencyMs: { count: 4, p50: 18_000, p95: 150_000, max: 150_000 },
    });
  });

  it('reports the conflict opened for review and resolved apart from the change refused by ownership', async () => {
    const r = await report();
    expect(r.conflicts).toEqual({
      openedForReview: 1,
      resolved: 1,
      autoDecided: 0,
      refusedByOwnership: 1,
      openNow: 0,
    });
  });

  it('counts the period’s dead letters by reason code', async () => {
    const r = await report();
    expect(r.deadLetters).toEqual({
      total: 2,
      byReason: [
        { reasonCode: 'ERR_CONNECTOR_REJECTED', source: 'outbox', count: 1 },
        { reasonCode: 'ERR_MODEL_INVALID', source: 'inbox', count: 1 },
      ],
      openNow: 2,
    });
  });

  it('shows each link’s lag and queues as they are when the report is asked for', async () => {
    const r = await report();
    const prac = r.links.find((l) => l.linkId === f.pracLinkId);
    const sec = r.links.find((l) => l.linkId === f.secLinkId);
    expect(prac).toMatchObject({
      role: 'practice',
      name: 'Logiciel du cabinet',
      connector: 'memory',
      enabled: true,
      lastSuccessAt: lastPracticePoll,
      lagSeconds: 90,
      outbox: { pending: 0, leased: 0, dead: 1 },
      oldestPendingAgeSeconds: null,
    });
    expect(prac?.lastPushAt).not.toBeNull();
    expect(sec).toMatchObject({
      role: 'secretariat',
      lastSuccessAt: null,
      lagSeconds: null,
      outbox: { dead: 0 },
    });
    expect(r.generatedAt).toBe(new Date(f.clock()).toISOString());
  });

  it('keeps a change of the next local day out of the day’s report and in a two-day one', async () => {
    const before = await report();
    const saved = f.clock();
    f.clock.set(Date.parse('2026-11-23T23:00:00.000Z')); // midnight in Paris
    const secPaul = await f.on(
      'sec',
      'Patient',
      (await f.store.resources.list({ practiceId: f.practiceId, kind: 'Patient' })).find(
        (p) => p.origin === 'secretariat',
      )?.id as string,
    );
    const late = f.secBooking(pr.sec2, secPaul, at('2026-12-01', '09:00'), at('2026-12-01', '09:20'));
    expect(await f.secDeliver([late])).toBe('applied');
    f.clock.set(saved + 60_000);
    expect((await report()).appointments.total).toEqual(before.appointments.total);
    expect((await report('2026-11-23', '2026-11-25')).appointments.byOrigin.secretariat.booked).toBe(5);
    expect(
      (
        await report(
          encodeURIComponent('2026-11-24T00:00:00+01:00'),
          encodeURIComponent('2026-11-24T00:00:01+01:00'),
        )
      ).appointments.byOrigin.secretariat.booked,
    ).toBe(1);
  });

  it('returns the report as a CSV file for French Excel when asked with Accept: text/csv', async () => {
    const res = await f.t.api(
      `/api/v1/reports/activity?practice=${f.practiceId}&from=2026-11-23&to=2026-11-24`,
      { headers: { accept: 'text/csv' } },
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(res.headers.get('content-disposition')).toBe(
      `attachment; filename="passerelle-activite-${f.practiceId}-2026-11-23-2026-11-24.csv"`,
    );
    const bytes = Buffer.from(await res.arrayBuffer());
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const lines = bytes.subarray(3).toString('utf8').split('\r\n');
    expect(lines).toContain('Cabinet;Cabinet des Érables');
    expect(lines).toContain('Secrétariat;4;2;0;0;0;1');
    expect(lines).toContain('Cabinet;1;0;1;0;1;0');
    expect(lines).toContain('Routine;2;2;60000;150000;150000');
    expect(lines).toContain('Ouverts pour arbitrage;1');
    expect(lines).toContain('ERR_MODEL_INVALID;Reçu;1');
    // JSON stays the default, and format=csv asks for the file without an Accept header.
    expect(
      (
        await f.t.api(`/api/v1/reports/activity?practice=${f.practiceId}&from=2026-11-23&to=2026-11-24`)
      ).headers.get('content-type'),
    ).toMatch(/^application\/json/);
    expect(
      (
        await f.t.api(
          `/api/v1/reports/activity?practice=${f.practiceId}&from=2026-11-23&to=2026-11-24&format=csv`,
        )
      ).headers.get('content-type'),
    ).toBe('text/csv; charset=utf-8');
  });

  it('lets a viewer key limited to the practice read it, and answers 403 to a viewer of another practice', async () => {
    const own = await createApiKey(f.store, {
      role: 'viewer',
      practiceId: f.practiceId,
      createdBy: 'test',
      via: 'test',
    });
    expect((await report('2026-11-23', '2026-11-24', own.key)).appointments.total.booked).toBe(5);
    const other = await json<{ id: string }>(
      await f.t.api('/api/v1/practices', { method: 'POST', json: { name: 'Autre cabinet' } }),
      201,
    );
    const foreign = await createApiKey(f.store, {
      role: 'viewer',
      practiceId: other.id,
      createdBy: 'test',
      via: 'test',
    });
    const res = await f.t.api(
      `/api/v1/reports/activity?practice=${f.practiceId}&from=2026-11-23&to=2026-11-24`,
      { key: foreign.key },
    );
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('ERR_AUTH_FORBIDDEN');
    expect(
      (
        await f.t.api(`/api/v1/reports/activity?practice=${f.practiceId}&from=2026-11-23&to=2026-11-24`, {
          key: null,
        })
      ).status,
    ).toBe(401);
  });

  it('names a bad period, a missing parameter and an unknown practice', async () => {
    const bad = await f.t.api(
      `/api/v1/reports/activity?practice=${f.practiceId}&from=2026-11-24&to=2026-11-23`,
    );
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toMatch(
      /^query\.to: must be after/,
    );
    const missing = await f.t.api(`/api/v1/reports/activity?practice=${f.practiceId}&from=2026-11-24`);
    expect((await json<{ error: { message: string } }>(missing, 400)).error.message).toMatch(/^query\.to/);
    expect(
      (await f.t.api('/api/v1/reports/activity?practice=nope&from=2026-11-23&to=2026-11-24')).status,
    ).toBe(404);
  });

  it('describes the report in the OpenAPI document', async () => {
    const doc = await json<{
      paths: Record<
        string,
        {
          get?: {
            responses: Record<
              string,
              { content?: Record<string, { schema: { properties?: Record<string, unknown> } }> }
            >;
          };
        }
      >;
    }>(await f.t.api('/api/v1/openapi.json', { key: null }), 200);
    const op = doc.paths['/api/v1/reports/activity']?.get;
    expect(Object.keys(op?.responses['200']?.content?.['application/json']?.schema.properties ?? {})).toEqual(
      [
        'practice',
        'period',
        'generatedAt',
        'appointments',
        'messages',
        'urgentAcknowledgement',
        'reminders',
        'coverage',
        'conflicts',
        'deadLetters',
        'links',
      ],
    );
    expect(doc.paths['/api/v1/reports/digests/{practice}/{day}']?.get).toBeDefined();
  });
});
