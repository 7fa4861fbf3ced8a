/**
 * Paging of the FHIR Slot search (GET /fhir/r4/Slot, R4 http.html#paging): `_count` slots a page
 * in a stable order (start, then id), the Bundle's `next` link to the following page with the
 * window pinned, `_include` per page; a key limited to one practice pages through its own
 * practice's slots only, whatever link it follows.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { SLOT_PAGE_MAX } from '../../../src/api/routes/fhir-slots.js';
import { defaultModules } from '../../../src/app/modules.js';
import { OID } from '../../../src/model/identifiers.js';
import type { Practitioner } from '../../../src/model/resources.js';
import { createApiKey } from '../../../src/security/api-keys.js';
import { startTestService, type TestService } from '../../helpers/service.js';

const A = 'cab-slots-a';
const B = 'cab-slots-b';
// One doctor working in both practices: the same RPPS in each.
const RPPS = '10000000123';
// Monday 7 December 2026, 07:00Z (08:00 in Paris).
const NOW = Date.parse('2026-12-07T07:00:00Z');
// Tuesday and Wednesday: A has 2 × (6 + 12) slots, B 2 × 3.
const WINDOW = 'start=ge2026-12-08&start=lt2026-12-10';
const rulesOf: Record<string, { code: string; label: string; durationMinutes: number }[]> = {
  [A]: [
    { code: 'consult', label: 'Consultation', durationMinutes: 30 },
    { code: 'court', label: 'Consultation courte', durationMinutes: 15 },
  ],
  [B]: [{ code: 'visite', label: 'Visite', durationMinutes: 60 }],
};

interface Entry {
  readonly resource: {
    readonly resourceType: string;
    readonly id: string;
    readonly start?: string;
    readonly serviceType?: { coding: { code: string }[] }[];
    readonly schedule?: { reference: string };
  };
  readonly search: { readonly mode: 'match' | 'include' };
}
interface Bundle {
  readonly resourceType: string;
  readonly total: number;
  readonly link: { relation: string; url: string }[];
  readonly entry: Entry[];
}

describe('FHIR Slot search paging', () => {
  let t: TestService;
  let clock = NOW;
  const keys = { all: '', onlyA: '', onlyB: '' };

  const get = async (path: string, key: string) => {
    const res = await t.api(path, { key });
    return { status: res.status, body: (await res.json()) as Bundle };
  };
  const nextOf = (b: Bundle) => {
    const url = b.link.find((l) => l.relation === 'next')?.url;
    return url === undefined ? undefined : new URL(url).pathname + new URL(url).search;
  };
  /** Every page of a search, following `next`. */
  const pages = async (path: string, key: string) => {
    const out: Bundle[] = [];
    for (let p: string | undefined = path; p !== undefined; p = nextOf(out.at(-1) as Bundle)) {
      const { status, body } = await get(p, key);
      expect(status).toBe(200);
      out.push(body);
      if (out.length > 50) throw new Error('no last page');
    }
    return out;
  };
  const slots = (b: Bundle) => b.entry.filter((e) => e.search.mode === 'match').map((e) => e.resource);
  const code = (s: Entry['resource']) => s.serviceType?.[0]?.coding[0]?.code;
  const search = (extra: string) => `/fhir/r4/Slot?schedule.actor=Practitioner/${RPPS}&status=free&${extra}`;

  beforeAll(async () => {
    t = await startTestService({ modules: defaultModules(), now: () => clock });
    const { store } = t.service;
    for (const practiceId of [A, B]) {
      await store.practices.create({ id: practiceId, name: `Cabinet ${practiceId}` });
      const doctor: Practitioner = {
        resourceType: 'Practitioner',
        id: `${practiceId}-doc`,
        identifier: [{ system: OID.idnps, value: `8${RPPS}` }],
        name: [{ family: 'FICTIF', given: ['Camille'] }],
      };
      await store.resources.put({
        id: doctor.id,
        practiceId,
        kind: 'Practitioner',
        data: doctor as never,
        origin: 'practice',
        expectedVersion: 0,
      });
      await store.agenda.putRules({
        practiceId,
        practitionerId: doctor.id,
        rules: {
          weekly: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '12:00' }],
          visitTypes: rulesOf[practiceId],
        } as never,
        updatedBy: 'test',
      });
    }
    keys.all = (await createApiKey(store, { role: 'viewer', createdBy: 'test', via: 'test' })).key;
    keys.onlyA = (
      await createApiKey(store, { role: 'viewer', practiceId: A, createdBy: 'test', via: 'test' })
    ).key;
    keys.onlyB = (
      await createApiKey(store, { role: 'viewer', practiceId: B, createdBy: 'test', via: 'test' })
    ).key;
  }, 60_000);
  afterAll(async () => {
    await t.dispose();
  });

  it('answers every slot on one page without _count when they fit, with no next link', async () => {
    const { body } = await get(search(WINDOW), keys.all);
    expect(body.total).toBe(42);
    expect(slots(body)).toHaveLength(42);
    expect(body.link.map((l) => l.relation)).toEqual(['self']);
  });

  it('pages by _count in start order, each slot once, the total on every page, no next on the last', async () => {
    const all = await pages(search(`${WINDOW}&_count=10`), keys.all);
    expect(all.map((b) => slots(b).length)).toEqual([10, 10, 10, 10, 2]);
    expect(all.every((b) => b.total === 42)).toBe(true);
    expect(nextOf(all.at(-1) as Bundle)).toBeUndefined();
    const seen = all.flatMap(slots);
    expect(new Set(seen.map((s) => s.id)).size).toBe(42);
    const order = seen.map((s) => `${s.start}|${s.id}`);
    expect(order).toEqual([...order].sort());
    // The same search again: the same pages.
    const again = await pages(search(`${WINDOW}&_count=10`), keys.all);
    expect(again.flatMap(slots).map((s) => s.id)).toEqual(seen.map((s) => s.id));
  });

  it('includes, on each page, the Schedules of that page’s slots only', async () => {
    const all = await pages(search(`${WINDOW}&_count=5&_include=Slot:schedule`), keys.all);
    for (const b of all) {
      const included = b.entry
        .filter((e) => e.search.mode === 'include')
        .map((e) => `Schedule/${e.resource.id}`);
      expect(included.sort()).toEqual([...new Set(slots(b).map((s) => s.schedule?.reference))].sort());
    }
    // Tuesday 09:00 Paris: A's consultation and short one, B's visit all start then: 2 schedules on page 1.
    expect(all[0]?.entry.filter((e) => e.search.mode === 'include')).toHaveLength(2);
  });

  it('pins the window in the next link, so a default window does not move with the clock', async () => {
    const first = await get(search('_count=5'), keys.onlyB);
    // The next 7 days from Monday 08:00 Paris: Monday to Friday, 3 visits a day.
    expect(first.body.total).toBe(15);
    const next = nextOf(first.body) as string;
    expect(new URL(next, 'http://x').searchParams.getAll('start')).toEqual([
      'ge2026-12-07T07:00:00.000Z',
      'lt2026-12-14T07:00:00.000Z',
    ]);
    clock = NOW + 3_600_000;
    try {
      const second = await get(next, keys.onlyB);
      expect([second.body.total, slots(second.body).length]).toEqual([15, 5]);
      expect(
        slots(second.body).every((s) => (s.start as string) > (slots(first.body).at(-1)?.start as string)),
      ).toBe(true);
    } finally {
      clock = NOW;
    }
  });

  it('gives a key limited to one practice only its practice’s slots on every page, whatever link it follows', async () => {
    const ofA = await pages(search(`${WINDOW}&_count=7`), keys.onlyA);
    expect(ofA.every((b) => b.total === 36)).toBe(true);
    expect(new Set(ofA.flatMap(slots).map(code))).toEqual(new Set(['consult', 'court']));
    const ofB = await pages(search(`${WINDOW}&_count=7`), keys.onlyB);
    expect(ofB.flatMap(slots).map(code)).toEqual(Array(6).fill('visite'));
    // A link of the unrestricted search, followed with B's key: still only B's slots.
    const allFirst = await get(search(`${WINDOW}&_count=3`), keys.all);
    const followed = await pages(nextOf(allFirst.body) as string, keys.onlyB);
    expect(followed.every((b) => b.total === 6)).toBe(true);
    expect(followed.flatMap(slots).every((s) => code(s) === 'visite')).toBe(true);
  });

  it('answers the total alone for _count=0, takes a _count beyond a page’s size, and refuses a bad _count or cursor', async () => {
    const none = await get(search(`${WINDOW}&_count=0`), keys.all);
    expect([none.status, none.body.total, none.body.entry]).toEqual([200, 42, []]);
    expect(nextOf(none.body)).toBeUndefined();
    expect(slots((await get(search(`${WINDOW}&_count=${SLOT_PAGE_MAX * 10}`), keys.all)).body)).toHaveLength(
      42,
    );
    for (const bad of ['_count=-1', '_count=ten', '_cursor=bm90LWEtY3Vyc29y']) {
      const res = await t.api(search(`${WINDOW}&${bad}`), { key: keys.all });
      expect([res.status, ((await res.json()) as { resourceType: string }).resourceType]).toEqual([
        400,
        'OperationOutcome',
      ]);
    }
  });
});
