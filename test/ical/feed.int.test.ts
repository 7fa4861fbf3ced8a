/**
 * iCal feeds end to end: the whole service on 127.0.0.1, a real store (SQLite file and
 * PostgreSQL), feeds fetched over HTTP and read back by ical.js, checked against the store.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { icalModule } from '../../src/app/features/ical.js';
import { createApiKey } from '../../src/security/api-keys.js';
import type { StoredResource } from '../../src/store/types.js';
import { identifyingValues } from '../helpers/fixtures.js';
import {
  appointment,
  PARIS,
  parseFeed,
  putAppointment,
  seedAgenda,
  type SeededAgenda,
  wall,
} from '../helpers/ical-agenda.js';
import { rawGet } from '../helpers/ical-http.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { testClock } from '../helpers/stores.js';

const DAY = 86_400_000;
const MARIE_FEED = [
  'apt-oct-sat',
  'apt-oct-sun',
  'apt-oct-mon',
  'apt-noshow',
  'apt-today',
  'slot-urgent',
  'apt-moved',
  'apt-cancel',
  'apt-tentative',
  'slot-blocked',
  'apt-mar-sat',
  'apt-mar-sun',
  'apt-mar-mon',
];

interface Issued {
  feed: { id: string; privacy: string; status: string };
  url: string;
}

describe.each(['sqlite', 'postgres'] as const)('iCal feeds over HTTP (%s store)', (storeKind) => {
  const clock = testClock();
  let t: TestService;
  let seed: SeededAgenda;
  let integratorKey: string;
  let busy: Issued;
  let initials: Issued;
  let full: Issued;

  const issue = async (body: Record<string, unknown>, key?: string): Promise<Issued> => {
    const res = await t.api('/api/v1/ical/tokens', { method: 'POST', json: body, ...(key && { key }) });
    if (res.status !== 201) throw new Error(`create feed: ${res.status} ${await res.text()}`);
    expect(res.headers.get('cache-control')).toBe('no-store');
    return (await res.json()) as Issued;
  };
  const records = async (): Promise<Map<string, StoredResource>> =>
    new Map((await seed.records()).map((r) => [r.id, r]));

  beforeAll(async () => {
    t = await startTestService({ store: storeKind, modules: [icalModule()], now: clock });
    seed = await seedAgenda(t.service.store, clock);
    integratorKey = (
      await createApiKey(t.service.store, { role: 'integrator', createdBy: 'test', via: 'test' })
    ).key;
    busy = await issue(
      { practiceId: seed.practiceId, practitionerId: 'pr-marie', label: 'iPhone Dr Médecin' },
      integratorKey,
    );
    initials = await issue(
      { practiceId: seed.practiceId, practitionerId: 'pr-marie', privacy: 'initials' },
      integratorKey,
    );
    full = await issue({ practiceId: seed.practiceId, practitionerId: 'pr-marie', privacy: 'full' });
  });
  afterAll(async () => {
    await t.dispose();
  });

  it('publishes each appointment and blocked or urgent-only slot of the window with the store’s times, UID and sequence', async () => {
    const res = await rawGet(busy.url);
    expect(res.status).toBe(200);
    const feed = parseFeed(res.text);
    expect(feed.events.map((e) => e.uid)).toEqual(MARIE_FEED.map((id) => `${id}@passerelle`));
    const store = await records();
    for (const e of feed.events) {
      const r = store.get(e.uid.replace(/@passerelle$/, '')) as StoredResource;
      expect({ uid: e.uid, start: e.startUtc, end: e.endUtc, sequence: e.sequence }).toEqual({
        uid: e.uid,
        start: r.startAt,
        end: r.endAt,
        sequence: r.version - 1,
      });
      expect(e.tzid).toBe(PARIS);
      const status = (r.data as { status: string }).status;
      expect(e.status).toBe(
        status === 'cancelled' ? 'CANCELLED' : status === 'proposed' ? 'TENTATIVE' : 'CONFIRMED',
      );
    }
    expect(feed.events.find((e) => e.uid === 'apt-cancel@passerelle')).toMatchObject({
      status: 'CANCELLED',
      summary: 'Annulé',
      transp: 'TRANSPARENT',
    });
    expect(feed.events.find((e) => e.uid === 'slot-blocked@passerelle')?.summary).toBe('Plage bloquée');
    expect(feed.events.find((e) => e.uid === 'slot-urgent@passerelle')?.summary).toBe('Urgences uniquement');
    expect(feed).toMatchObject({
      name: 'Agenda Dr Marie MÉDECIN — Cabinet du Test, Paris',
      calName: 'Agenda Dr Marie MÉDECIN — Cabinet du Test, Paris',
      refresh: 'PT15M',
      ttl: 'PT15M',
      timezones: [PARIS],
    });
  });

  it('keeps 09:00 in Paris on the Saturdays, Sundays and Mondays around the October and March clock changes', async () => {
    const feed = parseFeed((await rawGet(busy.url)).text);
    const at = (id: string) => feed.events.find((e) => e.uid === `${id}@passerelle`);
    const expected: Record<string, [string, string]> = {
      'apt-oct-sat': ['2026-10-24T09:00:00', '2026-10-24T07:00:00.000Z'], // CEST, UTC+2
      'apt-oct-sun': ['2026-10-25T09:00:00', '2026-10-25T08:00:00.000Z'], // CET since 03:00, UTC+1
      'apt-oct-mon': ['2026-10-26T09:00:00', '2026-10-26T08:00:00.000Z'],
      'apt-mar-sat': ['2027-03-27T09:00:00', '2027-03-27T08:00:00.000Z'], // CET
      'apt-mar-sun': ['2027-03-28T09:00:00', '2027-03-28T07:00:00.000Z'], // CEST since 02:00
      'apt-mar-mon': ['2027-03-29T09:00:00', '2027-03-29T07:00:00.000Z'],
    };
    for (const [id, [local, utc]] of Object.entries(expected))
      expect({ id, local: at(id)?.startLocal, utc: at(id)?.startUtc, tzid: at(id)?.tzid }).toEqual({
        id,
        local,
        utc,
        tzid: PARIS,
      });
  });

  it('keeps 08:30 in Réunion, with a VTIMEZONE named Indian/Reunion', async () => {
    const issued = await issue({ practiceId: seed.reunionPracticeId, practitionerId: 'pr-reunion' });
    const feed = parseFeed((await rawGet(issued.url)).text);
    expect(feed.timezones).toEqual(['Indian/Reunion']);
    expect(feed.events).toEqual([
      expect.objectContaining({
        uid: 'apt-reunion@passerelle',
        tzid: 'Indian/Reunion',
        startLocal: '2026-11-30T08:30:00',
        startUtc: '2026-11-30T04:30:00.000Z',
      }),
    ]);
  });

  it('writes an appointment in the hour repeated in October in UTC, so no reader can take it for the other 02:30', async () => {
    const store = t.service.store;
    const nightly = await putAppointment(
      store,
      'cab-reunion',
      appointment({
        id: 'apt-night',
        practitionerId: 'pr-reunion',
        patientId: null,
        start: '2026-10-25T01:30:00.000Z',
      }),
    );
    await store.practices.update('cab-reunion', { timezone: PARIS });
    try {
      const issued = await issue({ practiceId: seed.reunionPracticeId, practitionerId: 'pr-reunion' });
      const res = await rawGet(issued.url);
      expect(res.text).toContain('DTSTART:20261025T013000Z');
      expect(parseFeed(res.text).events.find((e) => e.uid === 'apt-night@passerelle')).toMatchObject({
        startUtc: nightly.startAt,
        tzid: null,
      });
    } finally {
      await store.practices.update('cab-reunion', { timezone: 'Indian/Reunion' });
    }
  });

  it('leaves every patient name, birth date, phone, type and reason out of the bytes of a busy feed', async () => {
    const plain = await rawGet(busy.url);
    const gzipped = await rawGet(busy.url, { 'accept-encoding': 'gzip' });
    expect(gzipped.headers['content-encoding']).toBe('gzip');
    const leaks = [
      ...seed.patients.flatMap(identifyingValues),
      ...seed.patients.map((p) => (p.birthDate as string).replaceAll('-', '')),
      'Douleurs lombaires',
      'Fièvre',
      'Contrôle tension',
      'ordonnance',
      'Vaccination',
      'Consultation',
      'Garde du dimanche',
      'Suivi',
      'Formation continue',
      'RDV',
    ];
    for (const body of [plain.text, gzipped.text]) {
      const unfolded = body.replace(/\r\n /g, '');
      for (const value of leaks)
        if (unfolded.includes(value) || unfolded.includes(value.replaceAll(',', '\\,')))
          throw new Error(`busy feed contains ${JSON.stringify(value)}`);
    }
    expect(parseFeed(plain.text).events.every((e) => e.description === null)).toBe(true);
  });

  it('shows initials but no names or phones in an initials feed, and everything in a full feed', async () => {
    const ini = (await rawGet(initials.url)).text.replace(/\r\n /g, '');
    expect(ini).toContain('SUMMARY:RDV J. I.');
    for (const value of seed.patients.flatMap(identifyingValues)) expect(ini.includes(value)).toBe(false);
    const fullFeed = parseFeed((await rawGet(full.url)).text);
    const today = fullFeed.events.find((e) => e.uid === 'apt-today@passerelle');
    expect(today?.summary).toBe('RDV — Lucie ESSAI — Suivi');
    expect(today?.description).toBe(
      'Patient : Lucie ESSAI\nType : Suivi\nMotif : Contrôle tension; résultats, bilan\nTéléphone : +33478123456',
    );
  });

  it('audits every fetch of a full feed, 200 and 304 alike, in the token’s name', async () => {
    const before = (await t.service.store.audit.list({ action: 'ical.feed.read', limit: 1000 })).length;
    const first = await rawGet(full.url);
    const again = await rawGet(full.url, { 'if-none-match': first.headers['etag'] as string });
    expect(again.status).toBe(304);
    await rawGet(busy.url);
    const events = await t.service.store.audit.list({ action: 'ical.feed.read', limit: 1000 });
    expect(events.slice(before)).toEqual([
      expect.objectContaining({
        actor: full.feed.id,
        via: 'ical',
        resourceId: full.feed.id,
        outcome: 'success',
        details: expect.objectContaining({ status: 200, events: MARIE_FEED.length, patients: 3 }),
      }),
      expect.objectContaining({
        actor: full.feed.id,
        via: 'ical',
        details: expect.objectContaining({ status: 304 }),
      }),
    ]);
  });

  it('renders the same bytes, ETag and UIDs on every fetch while nothing changes', async () => {
    const a = await rawGet(busy.url);
    const b = await rawGet(busy.url);
    expect(b.headers['etag']).toBe(a.headers['etag']);
    expect(b.text).toBe(a.text);
    expect(a.headers['etag']).toMatch(/^W\/"\d+-[A-Za-z0-9_-]{16}"$/);
  });

  it('answers 304 without a body to the current ETag, then 200 with a new ETag, a moved time, the same UID and a higher SEQUENCE after a change', async () => {
    const first = await rawGet(busy.url);
    const etag = first.headers['etag'] as string;
    const unchanged = await rawGet(busy.url, { 'if-none-match': etag });
    expect(unchanged.status).toBe(304);
    expect(unchanged.raw.length).toBe(0);
    expect(unchanged.headers).toMatchObject({
      etag,
      'cache-control': 'private, no-cache',
      'referrer-policy': 'no-referrer',
      'last-modified': first.headers['last-modified'],
    });
    const before = parseFeed(first.text).events.find((e) => e.uid === 'apt-today@passerelle');

    clock.advance(60_000);
    await putAppointment(
      t.service.store,
      seed.practiceId,
      appointment({
        id: 'apt-today',
        practitionerId: 'pr-marie',
        patientId: 'pat-lucie-essai',
        start: wall('2026-11-23T16:00'),
        minutes: 30,
        type: 'Suivi',
      }),
    );
    const changed = await rawGet(busy.url, { 'if-none-match': etag });
    expect(changed.status).toBe(200);
    expect(changed.headers['etag']).not.toBe(etag);
    const after = parseFeed(changed.text).events.find((e) => e.uid === 'apt-today@passerelle');
    expect(after?.startUtc).toBe('2026-11-23T15:00:00.000Z');
    expect(after?.sequence).toBeGreaterThan(before?.sequence as number);
    expect(Date.parse(changed.headers['last-modified'] as string)).toBeGreaterThan(
      Date.parse(first.headers['last-modified'] as string),
    );
  });

  it('answers If-Modified-Since with 304 when nothing changed since that date', async () => {
    clock.advance(5_000);
    const first = await rawGet(busy.url);
    expect(
      (await rawGet(busy.url, { 'if-modified-since': first.headers['last-modified'] as string })).status,
    ).toBe(304);
    expect(
      (
        await rawGet(busy.url, {
          'if-modified-since': new Date(
            Date.parse(first.headers['last-modified'] as string) - 3_600_000,
          ).toUTCString(),
        })
      ).status,
    ).toBe(200);
  });

  it('changes the ETag when the feed’s settings change', async () => {
    const before = (await rawGet(initials.url)).headers['etag'];
    const res = await t.api(`/api/v1/ical/tokens/${initials.feed.id}`, {
      method: 'PATCH',
      key: integratorKey,
      json: { label: 'Agenda du cabinet' },
    });
    expect(res.status).toBe(200);
    expect((await rawGet(initials.url)).headers['etag']).not.toBe(before);
  });

  it('sends calendar, privacy and caching headers, and gzip only to clients that ask for it', async () => {
    const plain = await rawGet(busy.url);
    expect(plain.headers).toMatchObject({
      'content-type': 'text/calendar; charset=utf-8',
      'cache-control': 'private, no-cache',
      'referrer-policy': 'no-referrer',
      'x-robots-tag': 'noindex, nofollow',
      vary: 'Accept-Encoding',
    });
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.headers['last-modified']).toMatch(/GMT$/);
    const gz = await rawGet(busy.url, { 'accept-encoding': 'br, gzip;q=0.8' });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gz.raw.length).toBeLessThan(plain.raw.length);
    expect(gz.text).toBe(plain.text);
    expect(
      (await rawGet(busy.url, { 'accept-encoding': 'gzip;q=0' })).headers['content-encoding'],
    ).toBeUndefined();
  });

  it('lists feeds without their secrets and shows their status', async () => {
    const res = await t.api(`/api/v1/ical/tokens?practiceId=${seed.practiceId}`, { key: integratorKey });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).not.toMatch(/ics_/);
    expect(text).not.toMatch(/tokenHash|[0-9a-f]{64}/);
    const items = (JSON.parse(text) as { items: Array<{ id: string; status: string; privacy: string }> })
      .items;
    expect(items.map((i) => i.id)).toEqual(
      expect.arrayContaining([busy.feed.id, initials.feed.id, full.feed.id]),
    );
    expect(items.find((i) => i.id === full.feed.id)).toMatchObject({ status: 'active', privacy: 'full' });
  });

  it('lets only an admin turn on privacy full, and audits both the refusal and the change', async () => {
    const issued = await issue({ practiceId: seed.practiceId, practitionerId: 'pr-marie' }, integratorKey);
    expect(
      (
        await t.api('/api/v1/ical/tokens', {
          method: 'POST',
          key: integratorKey,
          json: { practiceId: seed.practiceId, privacy: 'full' },
        })
      ).status,
    ).toBe(403);
    const denied = await t.api(`/api/v1/ical/tokens/${issued.feed.id}`, {
      method: 'PATCH',
      key: integratorKey,
      json: { privacy: 'full' },
    });
    expect(denied.status).toBe(403);
    expect(((await denied.json()) as { error: { code: string } }).error.code).toBe('ERR_AUTH_FORBIDDEN');
    const allowed = await t.api(`/api/v1/ical/tokens/${issued.feed.id}`, {
      method: 'PATCH',
      json: { privacy: 'full' },
    });
    expect(allowed.status).toBe(200);
    expect(await allowed.json()).toMatchObject({ privacy: 'full', fullAllowed: true });
    const audit = await t.service.store.audit.list({
      action: 'ical.token.enable-full',
      resourceId: issued.feed.id,
    });
    expect(audit.map((e) => [e.outcome, e.role])).toEqual([
      ['denied', 'integrator'],
      ['success', 'admin'],
    ]);
    expect(
      parseFeed((await rawGet(issued.url)).text).events.find((e) => e.uid === 'apt-today@passerelle')
        ?.summary,
    ).toMatch(/^RDV — Lucie ESSAI/);
    // Back to busy: the permission goes with it.
    await t.api(`/api/v1/ical/tokens/${issued.feed.id}`, {
      method: 'PATCH',
      key: integratorKey,
      json: { privacy: 'busy' },
    });
    expect(
      (
        await t.api(`/api/v1/ical/tokens/${issued.feed.id}`, {
          method: 'PATCH',
          key: integratorKey,
          json: { privacy: 'full' },
        })
      ).status,
    ).toBe(403);
  });

  it('labels each event with its practitioner in a practice-wide feed', async () => {
    const issued = await issue({ practiceId: seed.practiceId });
    const feed = parseFeed((await rawGet(issued.url)).text);
    expect(feed.name).toBe('Agenda — Cabinet du Test, Paris');
    expect(feed.events.find((e) => e.uid === 'apt-luc@passerelle')?.summary).toBe(
      'Occupé — Dr Luc GÉNÉRALISTE',
    );
    expect(feed.events.find((e) => e.uid === 'slot-blocked@passerelle')?.summary).toBe(
      'Plage bloquée — Dr Marie MÉDECIN',
    );
  });

  it('stops a rotated URL at once and serves the new one; stops a revoked one at once', async () => {
    const issued = await issue({ practiceId: seed.practiceId, practitionerId: 'pr-marie' }, integratorKey);
    expect((await rawGet(issued.url)).status).toBe(200);
    const rotated = await t.api(`/api/v1/ical/tokens/${issued.feed.id}/rotate`, {
      method: 'POST',
      key: integratorKey,
    });
    expect(rotated.status).toBe(200);
    const { url } = (await rotated.json()) as Issued;
    expect(url).not.toBe(issued.url);
    expect((await rawGet(issued.url)).status).toBe(404);
    expect((await rawGet(url)).status).toBe(200);
    expect(
      (await t.api(`/api/v1/ical/tokens/${issued.feed.id}`, { method: 'DELETE', key: integratorKey })).status,
    ).toBe(204);
    expect((await rawGet(url)).status).toBe(404);
    expect(
      (await t.api(`/api/v1/ical/tokens/${issued.feed.id}/rotate`, { method: 'POST', key: integratorKey }))
        .status,
    ).toBe(409);
    const actions = (await t.service.store.audit.list({ resourceId: issued.feed.id })).map((e) => e.action);
    expect(actions).toEqual(['ical.token.create', 'ical.token.rotate', 'ical.token.revoke']);
  });

  it('answers unknown, malformed, revoked and expired tokens with the same 404 that never repeats the URL', async () => {
    const expiring = await issue({
      practiceId: seed.practiceId,
      practitionerId: 'pr-marie',
      expiresAt: new Date(clock() + 3_600_000).toISOString(),
    });
    const idle = await issue({
      practiceId: seed.practiceId,
      practitionerId: 'pr-marie',
      unusedExpiryDays: 2,
    });
    const revoked = await issue({ practiceId: seed.practiceId, practitionerId: 'pr-marie' });
    await t.api(`/api/v1/ical/tokens/${revoked.feed.id}`, { method: 'DELETE' });
    expect((await rawGet(expiring.url)).status).toBe(200);
    expect((await rawGet(idle.url)).status).toBe(200);
    clock.advance(DAY); // used yesterday: not idle yet; the 1-hour expiry has passed
    expect((await rawGet(idle.url)).status).toBe(200);
    clock.advance(2 * DAY + 60_000);
    const base = new URL(busy.url);
    const unknownUrl = `${base.origin}/ical/ics_${'A'.repeat(43)}.ics`;
    const malformedUrl = `${base.origin}/ical/not-a-token.ics`;
    const bodies = new Set<string>();
    for (const url of [unknownUrl, malformedUrl, revoked.url, expiring.url, idle.url]) {
      const res = await rawGet(url);
      expect({ url, status: res.status }).toEqual({ url, status: 404 });
      const token = new URL(url).pathname.slice('/ical/'.length, -'.ics'.length);
      expect(res.text).not.toContain(token);
      expect(res.headers['referrer-policy']).toBe('no-referrer');
      bodies.add(res.text);
    }
    expect([...bodies]).toEqual([
      JSON.stringify({ error: { code: 'ERR_NOT_FOUND', message: 'no such calendar feed', details: {} } }),
    ]);
    const listed = (await (
      await t.api(`/api/v1/ical/tokens?practiceId=${seed.practiceId}&includeRevoked=true`)
    ).json()) as { items: Array<{ id: string; status: string }> };
    expect(
      listed.items
        .filter((i) => [expiring.feed.id, idle.feed.id, revoked.feed.id].includes(i.id))
        .map((i) => i.status)
        .sort(),
    ).toEqual(['expired', 'expired', 'revoked']);
  });

  it('drops cancellations past their retention and events that left the window when the day changes', async () => {
    const before = await rawGet(busy.url);
    expect(parseFeed(before.text).events.map((e) => e.uid)).toContain('apt-cancel@passerelle');
    clock.advance(8 * DAY);
    const after = await rawGet(busy.url, { 'if-none-match': before.headers['etag'] as string });
    expect(after.status).toBe(200);
    const uids = parseFeed(after.text).events.map((e) => e.uid);
    expect(uids).not.toContain('apt-cancel@passerelle');
    expect(uids).not.toContain('apt-oct-sat@passerelle');
    expect(uids).toContain('apt-mar-sun@passerelle');
  });
});
