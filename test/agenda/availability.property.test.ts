/**
 * Properties of the free-slot computation (fast-check), over random rules, agendas and windows
 * in every French zone, across DST changes.
 */
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { DateTime } from 'luxon';

import { type AgendaState, footprint, freeSlots, visitTypeOf } from '../../src/agenda/availability.js';
import { absenceIntervals, zoneOf } from '../../src/agenda/calendar.js';
import { checkBooking } from '../../src/agenda/check.js';
import { overlaps, union } from '../../src/agenda/intervals.js';
import { type AgendaRulesInput, DAYS, parseRules, PERIOD_KINDS } from '../../src/agenda/rules.js';

const ZONES = [
  'Europe/Paris',
  'Indian/Reunion',
  'America/Guadeloupe',
  'America/Martinique',
  'America/Cayenne',
  'Indian/Mayotte',
  'Pacific/Noumea',
  'Pacific/Tahiti',
];
const hhmm = (m: number) =>
  `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;

const period = fc
  .record({
    days: fc.uniqueArray(fc.constantFrom(...DAYS), { minLength: 1, maxLength: 7 }),
    // 06:00–22:00 in quarter hours (no period inside the DST gap).
    a: fc.integer({ min: 24, max: 88 }),
    len: fc.integer({ min: 1, max: 20 }),
    kind: fc.constantFrom(...PERIOD_KINDS),
    release: fc.option(fc.integer({ min: 0, max: 300 }), { nil: undefined }),
  })
  .map((p) => ({
    days: p.days,
    start: hhmm(p.a * 15),
    end: hhmm(Math.min(p.a + p.len, 95) * 15),
    kind: p.kind,
    ...(p.kind === 'urgent' && p.release !== undefined && { release: { minutesBefore: p.release } }),
  }));

const visitType = (code: string) =>
  fc.record({
    code: fc.constant(code),
    label: fc.constant(code),
    durationMinutes: fc.integer({ min: 1, max: 12 }).map((n) => n * 5),
    bufferMinutes: fc.integer({ min: 0, max: 15 }),
    urgent: fc.boolean(),
    homeVisit: fc.boolean(),
    travelMinutes: fc.integer({ min: 0, max: 30 }),
  });

// Windows in 2026, some across the DST changes (29 March, 25 October).
const T0 = Date.parse('2026-03-20T00:00:00Z');
const instantIn = (days: number) => fc.integer({ min: 0, max: days * 96 }).map((q) => T0 + q * 15 * 60_000);
const span = (days: number, maxMinutes: number) =>
  fc
    .tuple(instantIn(days), fc.integer({ min: 5, max: maxMinutes }))
    .map(([s, m]) => ({ start: new Date(s).toISOString(), end: new Date(s + m * 60_000).toISOString() }));

const world = fc.record({
  zone: fc.constantFrom(...ZONES),
  weekly: fc.array(period, { minLength: 1, maxLength: 5 }),
  types: fc.tuple(visitType('a'), visitType('b')),
  dailyCap: fc.option(fc.integer({ min: 1, max: 20 }), { nil: undefined }),
  absences: fc.array(span(14, 3 * 24 * 60), { maxLength: 2 }),
  appointments: fc
    .array(fc.tuple(span(14, 90), fc.constantFrom('a', 'b', undefined)), { maxLength: 25 })
    .map((list) =>
      list.map(([s, t], i) => ({ id: `x${i}`, ...s, ...(t !== undefined && { visitType: t }) })),
    ),
  blocks: fc.array(span(14, 240), { maxLength: 6 }),
  window: fc.tuple(instantIn(7), fc.integer({ min: 1, max: 10 })),
  now: fc.option(instantIn(14), { nil: undefined }),
  ask: fc.constantFrom('a', 'b'),
});
type World = typeof world extends fc.Arbitrary<infer W> ? W : never;

function setUp(w: World) {
  const input: AgendaRulesInput = {
    timeZone: w.zone,
    weekly: w.weekly,
    visitTypes: [...w.types],
    ...(w.dailyCap !== undefined && { dailyCap: w.dailyCap }),
    absences: w.absences,
  };
  const state: AgendaState = { appointments: w.appointments, blocks: w.blocks };
  const query = {
    visitType: w.ask,
    from: new Date(w.window[0]).toISOString(),
    to: new Date(w.window[0] + w.window[1] * 86_400_000).toISOString(),
    ...(w.now !== undefined && { now: new Date(w.now).toISOString() }),
  };
  return { input, rules: parseRules(input), state, query };
}

const RUNS = { numRuns: 150 };

describe('free slots (properties)', () => {
  it('never overlap an appointment, its buffer or travel, a block or an absence', () => {
    let seen = 0;
    fc.assert(
      fc.property(world, (w) => {
        const { rules, state, query } = setUp(w);
        const v = visitTypeOf(rules, query.visitType);
        const taken = [
          ...state.appointments.map((a) =>
            footprint(
              { start: Date.parse(a.start), end: Date.parse(a.end) },
              visitTypeOf(rules, a.visitType),
            ),
          ),
          ...state.blocks.map((b) => ({ start: Date.parse(b.start), end: Date.parse(b.end) })),
          ...absenceIntervals(rules.absences, zoneOf(rules)),
        ];
        for (const s of freeSlots(rules, state, query)) {
          seen += 1;
          const mine = footprint({ start: Date.parse(s.start), end: Date.parse(s.end) }, v);
          for (const t of taken) expect(overlaps(mine, t)).toBe(false);
        }
      }),
      RUNS,
    );
    // Not vacuous: the generated worlds do leave free slots.
    expect(seen).toBeGreaterThan(500);
  });

  it('last exactly the visit type’s duration and lie within the query window, after now', () => {
    fc.assert(
      fc.property(world, (w) => {
        const { rules, state, query } = setUp(w);
        const v = visitTypeOf(rules, query.visitType);
        for (const s of freeSlots(rules, state, query)) {
          expect(Date.parse(s.end) - Date.parse(s.start)).toBe((v?.durationMinutes ?? 0) * 60_000);
          expect(Date.parse(s.start)).toBeGreaterThanOrEqual(Date.parse(query.from));
          expect(Date.parse(s.end)).toBeLessThanOrEqual(Date.parse(query.to));
          if (query.now !== undefined)
            expect(Date.parse(s.start)).toBeGreaterThanOrEqual(Date.parse(query.now));
        }
      }),
      RUNS,
    );
  });

  it('lie inside a weekly period of a kind the type may use, in the practitioner’s wall-clock time', () => {
    fc.assert(
      fc.property(world, (w) => {
        const { rules, state, query } = setUp(w);
        for (const s of freeSlots(rules, state, query)) {
          const a = DateTime.fromISO(s.start, { zone: w.zone });
          const b = DateTime.fromISO(s.end, { zone: w.zone });
          expect(b.toISODate()).toBe(a.toISODate());
          const day = DAYS[a.weekday - 1] as (typeof DAYS)[number];
          // Touching periods of one kind join: the slot lies within their union.
          const mins = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
          const ranges = union(
            rules.weekly
              .filter((p) => p.days.includes(day) && p.kind === s.kind)
              .map((p) => ({ start: mins(p.start), end: mins(p.end) })),
          );
          const slot = { start: mins(a.toFormat('HH:mm')), end: mins(b.toFormat('HH:mm')) };
          const inside = ranges.some((r) => r.start <= slot.start && slot.end <= r.end);
          expect(inside).toBe(true);
        }
      }),
      RUNS,
    );
  });

  it('are bookings the rules accept', () => {
    fc.assert(
      fc.property(world, (w) => {
        const { rules, state, query } = setUp(w);
        const v = visitTypeOf(rules, query.visitType);
        const now = query.now ?? '2000-01-01T00:00:00Z';
        for (const s of freeSlots(rules, state, query).slice(0, 20)) {
          const r = checkBooking(
            rules,
            state,
            { start: s.start, end: s.end, visitType: query.visitType, urgent: v?.urgent ?? false },
            now,
          );
          expect(r).toEqual({ ok: true, urgentOnly: s.urgentOnly });
        }
      }),
      RUNS,
    );
  });

  it('are the same whatever order the rules and the agenda arrive in', () => {
    fc.assert(
      fc.property(world, fc.integer(), (w, seed) => {
        const { input, state, query } = setUp(w);
        const shuffle = <T>(xs: readonly T[]): T[] => {
          const out = [...xs];
          let r = seed >>> 0;
          for (let i = out.length - 1; i > 0; i--) {
            r = (r * 1103515245 + 12345) >>> 0;
            const j = r % (i + 1);
            [out[i], out[j]] = [out[j] as T, out[i] as T];
          }
          return out;
        };
        const reordered = parseRules({
          ...input,
          weekly: shuffle(input.weekly ?? []).map((p) => ({ ...p, days: shuffle(p.days) })),
          visitTypes: shuffle(input.visitTypes ?? []),
          absences: shuffle(input.absences ?? []),
        });
        const state2 = { appointments: shuffle(state.appointments), blocks: shuffle(state.blocks) };
        expect(freeSlots(reordered, state2, query)).toEqual(freeSlots(parseRules(input), state, query));
      }),
      RUNS,
    );
  });
});
