/**
 * The agenda routes through HTTP (issue 20): rules stored per practitioner and served, free
 * slots, appointments a change of rules leaves outside, forced bookings, coverage windows and
 * the bookings and calls outside them; a key limited to one practice sees and changes nothing of
 * another's; viewers read but do not write.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { defaultModules } from '../../../src/app/modules.js';
import type { Appointment, Practitioner } from '../../../src/model/resources.js';
import { createApiKey } from '../../../src/security/api-keys.js';
import { startTestService, type TestService } from '../../helpers/service.js';

const A = 'cab-agenda-a';
const B = 'cab-agenda-b';
// Monday 7 December 2026, 07:00Z (08:00 in Paris).
const NOW = Date.parse('2026-12-07T07:00:00Z');

const rules = {
  weekly: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '12:00' }],
  visitTypes: [{ code: 'consult', label: 'Consultation', durationMinutes: 30 }],
};

describe.each(['sqlite', 'postgres'] as const)(
  'agenda rules through the HTTP API (%s store)',
  (storeKind) => {
    let t: TestService;
    let clock = NOW;
    const keys = { all: '', limitedA: '', viewerA: '' };

    beforeAll(async () => {
      t = await startTestService({ store: storeKind, modules: defaultModules(), now: () => clock });
      const { store } = t.service;
      for (const practiceId of [A, B]) {
        await store.practices.create({ id: practiceId, name: `Cabinet ${practiceId}` });
        const doctor: Practitioner = {
          resourceType: 'Practitioner',
          id: `${practiceId}-doc`,
          name: [{ family: 'FICTIF' }],
        };
        await store.resources.put({
          id: doctor.id,
          practiceId,
          kind: 'Practitioner',
          data: doctor as never,
          origin: 'practice',
          expectedVersion: 0,
        });
      }
      // An appointment at 08:00 Paris on Tuesday: outside 09:00–12:00.
      const early: Appointment = {
        resourceType: 'Appointment',
        id: 'appt-early',
        status: 'booked',
        start: '2026-12-08T07:00:00Z',
        end: '2026-12-08T07:30:00Z',
        participant: [{ actor: { reference: `Practitioner/${A}-doc` }, status: 'accepted' }],
      };
      await store.resources.put({
        id: early.id,
        practiceId: A,
        kind: 'Appointment',
        data: early as never,
        origin: 'practice',
        expectedVersion: 0,
        startAt: early.start ?? null,
        endAt: early.end ?? null,
        practitionerId: `${A}-doc`,
        status: 'booked',
      });
      keys.all = (await createApiKey(store, { role: 'integrator', createdBy: 'test', via: 'test' })).key;
      keys.limitedA = (
        await createApiKey(store, { role: 'integrator', practiceId: A, createdBy: 'test', via: 'test' })
      ).key;
      keys.viewerA = (
        await createApiKey(store, { role: 'viewer', practiceId: A, createdBy: 'test', via: 'test' })
      ).key;
    }, 30_000);
    afterAll(async () => {
      await t.dispose();
    });

    const put = (practiceId: string, body: object, key: string) =>
      t.api(`/api/v1/practices/${practiceId}/agenda-rules`, { method: 'PUT', key, json: body });

    it('stores a practitioner’s rules, audited, and lists the appointments they leave outside', async () => {
      const res = await put(A, { practitionerId: `${A}-doc`, rules, expectedVersion: 0 }, keys.limitedA);
      expect(res.status).toBe(200);
      const body = (await res.json()) as { version: number; outsideRules: { id: string; reason: string }[] };
      expect(body.version).toBe(1);
      expect(body.outsideRules).toEqual([expect.objectContaining({ id: 'appt-early', reason: 'closed' })]);
      const got = (await (
        await t.api(`/api/v1/practices/${A}/agenda-rules`, { key: keys.viewerA })
      ).json()) as {
        items: { practitionerId: string; rules: unknown }[];
      };
      expect(got.items).toEqual([expect.objectContaining({ practitionerId: `${A}-doc`, rules })]);
      const outside = await t.api(`/api/v1/practices/${A}/agenda-rules/outside?practitionerId=${A}-doc`, {
        key: keys.viewerA,
      });
      expect(((await outside.json()) as { items: { id: string }[] }).items.map((o) => o.id)).toEqual([
        'appt-early',
      ]);
      // The appointment stays where it was.
      expect((await t.service.store.resources.get('appt-early'))?.data).toMatchObject({
        start: '2026-12-08T07:00:00Z',
      });
      const audit = await t.service.store.audit.list({ action: 'agenda.rules.update' } as never);
      expect(audit.length).toBeGreaterThan(0);
    });

    it('lists every issue of invalid rules and refuses a stale version', async () => {
      const bad = await put(
        A,
        {
          practitionerId: `${A}-doc`,
          rules: { weekly: [{ days: ['mon'], start: '12:00', end: '09:00' }], timeZone: 'Mars/Olympus' },
        },
        keys.limitedA,
      );
      expect(bad.status).toBe(400);
      const { error: err } = (await bad.json()) as {
        error: { code: string; details: { issues: { path: string }[] } };
      };
      expect(err.code).toBe('ERR_AGENDA_RULES_INVALID');
      expect(err.details.issues.map((i) => i.path).sort()).toEqual(['timeZone', 'weekly.0.end']);
      expect(
        (await put(A, { practitionerId: `${A}-doc`, rules, expectedVersion: 0 }, keys.limitedA)).status,
      ).toBe(409);
    });

    it('serves free slots of a visit type, minus the appointments', async () => {
      const res = await t.api(
        `/api/v1/practices/${A}/availability?practitionerId=${A}-doc&visitType=consult&from=2026-12-08T00:00:00Z&to=2026-12-08T23:00:00Z`,
        { key: keys.viewerA },
      );
      expect(res.status).toBe(200);
      const body = (await res.json()) as { timeZone: string; items: { start: string }[] };
      expect(body.timeZone).toBe('Europe/Paris');
      expect(body.items.map((s) => s.start.slice(11, 16))).toEqual([
        '08:00',
        '08:30',
        '09:00',
        '09:30',
        '10:00',
        '10:30',
      ]);
      const unknown = await t.api(
        `/api/v1/practices/${A}/availability?practitionerId=${A}-doc&visitType=nope`,
        {
          key: keys.viewerA,
        },
      );
      expect(unknown.status).toBe(404);
    });

    it('records a forced booking, audited', async () => {
      const res = await t.api(`/api/v1/practices/${A}/forced-bookings`, {
        method: 'POST',
        key: keys.limitedA,
        json: {
          practitionerId: `${A}-doc`,
          start: '2026-12-09T17:00:00Z',
          end: '2026-12-09T17:30:00Z',
          reason: 'patient fragile',
        },
      });
      expect(res.status).toBe(201);
      const list = (await (
        await t.api(`/api/v1/practices/${A}/forced-bookings`, { key: keys.viewerA })
      ).json()) as {
        items: { usedBy: string | null }[];
      };
      expect(list.items).toEqual([expect.objectContaining({ usedBy: null })]);
    });

    it('stores coverage windows and shows the covered intervals', async () => {
      const windows = {
        weekly: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '08:00', end: '19:00' }],
        extra: [{ start: '2026-12-12T08:00:00Z', end: '2026-12-12T12:00:00Z', label: 'renfort samedi' }],
      };
      const res = await t.api(`/api/v1/practices/${A}/coverage`, {
        method: 'PUT',
        key: keys.limitedA,
        json: { windows },
      });
      expect(res.status).toBe(200);
      const got = (await (
        await t.api(`/api/v1/practices/${A}/coverage?from=2026-12-11T00:00:00Z&to=2026-12-13T00:00:00Z`, {
          key: keys.viewerA,
        })
      ).json()) as { covered: { start: string; end: string }[] };
      expect(got.covered).toEqual([
        { start: '2026-12-11T07:00:00.000Z', end: '2026-12-11T18:00:00.000Z' },
        { start: '2026-12-12T08:00:00.000Z', end: '2026-12-12T12:00:00.000Z' },
      ]);
    });

    it('lists the bookings and calls the secretariat took outside its coverage windows', async () => {
      const { store } = t.service;
      // Saturday 12 December 2026 at 13:00 Paris: after the reinforcement (09:00–13:00 Paris) ended.
      const events = [
        ['2026-12-12T12:30:00Z', 'message.received'],
        ['2026-12-11T10:00:00Z', 'appointment.booked'], // Friday 11:00 Paris: covered
        ['2026-12-11T18:30:00Z', 'appointment.booked'], // Friday 19:30 Paris: after hours
      ] as const;
      for (const [at, type] of events) {
        clock = Date.parse(at);
        await store.activity.append({
          practiceId: A,
          type,
          origin: 'secretariat',
          kind: type.startsWith('message') ? 'Communication' : 'Appointment',
          recordId: `r-${at}`,
        });
      }
      clock = NOW;
      const res = await t.api(
        `/api/v1/practices/${A}/coverage/outside?from=2026-12-11T00:00:00Z&to=2026-12-13T00:00:00Z`,
        {
          key: keys.viewerA,
        },
      );
      expect(res.status).toBe(200);
      const body = (await res.json()) as {
        total: number;
        outside: number;
        items: { at: string; type: string }[];
      };
      expect(body).toMatchObject({ total: 3, outside: 2 });
      expect(body.items.map((i) => [i.at, i.type])).toEqual([
        ['2026-12-11T18:30:00.000Z', 'appointment.booked'],
        ['2026-12-12T12:30:00.000Z', 'message.received'],
      ]);
    });

    it('keeps practices apart: a key of practice A is refused on practice B, changing nothing', async () => {
      const paths = [
        `/api/v1/practices/${B}/agenda-rules`,
        `/api/v1/practices/${B}/agenda-rules/outside?practitionerId=${B}-doc`,
        `/api/v1/practices/${B}/availability?practitionerId=${B}-doc&visitType=consult`,
        `/api/v1/practices/${B}/forced-bookings`,
        `/api/v1/practices/${B}/coverage`,
        `/api/v1/practices/${B}/coverage/outside`,
      ];
      for (const p of paths) expect([p, (await t.api(p, { key: keys.limitedA })).status]).toEqual([p, 403]);
      expect((await put(B, { practitionerId: `${B}-doc`, rules }, keys.limitedA)).status).toBe(403);
      expect(
        (
          await t.api(`/api/v1/practices/${B}/coverage`, {
            method: 'PUT',
            key: keys.limitedA,
            json: { windows: {} },
          })
        ).status,
      ).toBe(403);
      expect(
        (
          await t.api(`/api/v1/practices/${B}/forced-bookings`, {
            method: 'POST',
            key: keys.limitedA,
            json: {
              practitionerId: `${B}-doc`,
              start: '2026-12-09T17:00:00Z',
              end: '2026-12-09T17:30:00Z',
              reason: 'x',
            },
          })
        ).status,
      ).toBe(403);
      // A practitioner of B named under A's path is not found.
      expect((await put(A, { practitionerId: `${B}-doc`, rules }, keys.all)).status).toBe(404);
      expect(await t.service.store.agenda.listRules(B)).toEqual([]);
      expect(await t.service.store.agenda.getCoverage(B)).toBeUndefined();
    });

    it('lets viewers read but not write', async () => {
      expect((await put(A, { practitionerId: `${A}-doc`, rules }, keys.viewerA)).status).toBe(403);
      expect(
        (
          await t.api(`/api/v1/practices/${A}/coverage`, {
            method: 'PUT',
            key: keys.viewerA,
            json: { windows: {} },
          })
        ).status,
      ).toBe(403);
    });
  },
);
