import { describe, expect, it } from '@jest/globals';

import { CoverageWindows } from '../../src/agenda/coverage.js';
import { planCoveragePublication, planSlotPublication } from '../../src/agenda/publication.js';
import { parseRules } from '../../src/agenda/rules.js';

// Monday 14 December 2026, Paris (UTC+1); the next Monday is the 21st.
const rules = parseRules({
  timeZone: 'Europe/Paris',
  closedOnHolidays: false,
  weekly: [
    { days: ['mon'], start: '09:00', end: '10:00' },
    { days: ['mon'], start: '12:00', end: '13:00', kind: 'urgent', release: { minutesBefore: 60 } },
  ],
  visitTypes: [
    { code: 'CONS', label: 'Consultation', durationMinutes: 20 },
    { code: 'URG', label: 'Urgence du jour', durationMinutes: 30, urgent: true, periods: ['urgent'] },
  ],
});
const empty = { appointments: [], blocks: [] };
const show = (plan: ReturnType<typeof planSlotPublication>) =>
  plan.slots.map((s) => `${s.start.slice(5, 16)} ${s.visitType} ${s.status}`);

describe('slot publication planning', () => {
  it('lays out every visit type’s free slots over the horizon, urgent ones urgent-only until released', () => {
    const plan = planSlotPublication(rules, empty, { now: '2026-12-14T06:00:00.000Z', horizonDays: 7 });
    expect(show(plan)).toEqual([
      '12-14T08:00 CONS free',
      '12-14T08:20 CONS free',
      '12-14T08:40 CONS free',
      '12-14T11:00 URG urgent-only',
      '12-14T11:30 URG urgent-only',
    ]);
    expect(plan).toMatchObject({ from: '2026-12-14T06:00:00.000Z', to: '2026-12-21T06:00:00.000Z' });
    // The first release (11:00 Paris for the 12:00 slot) comes before midnight.
    expect(plan.nextChangeAt).toBe('2026-12-14T10:00:00.000Z');
  });

  it('turns the same slot free at its release time and opens the period to routine visits', () => {
    const plan = planSlotPublication(rules, empty, { now: '2026-12-14T10:00:00.000Z', horizonDays: 1 });
    expect(show(plan)).toEqual([
      '12-14T11:00 CONS free',
      '12-14T11:00 URG free',
      '12-14T11:30 URG urgent-only',
    ]);
    expect(plan.nextChangeAt).toBe('2026-12-14T10:30:00.000Z');
  });

  it('leaves out the time appointments and blocks take, and gives equal plans for equal agendas', () => {
    const state = {
      appointments: [
        { start: '2026-12-14T08:20:00.000Z', end: '2026-12-14T08:40:00.000Z', visitType: 'CONS' },
      ],
      blocks: [{ start: '2026-12-14T11:00:00.000Z', end: '2026-12-14T12:00:00.000Z' }],
    };
    const window = { now: '2026-12-14T06:00:00.000Z', horizonDays: 1 };
    const plan = planSlotPublication(rules, state, window);
    expect(show(plan)).toEqual(['12-14T08:00 CONS free', '12-14T08:40 CONS free']);
    // With no urgent-only slot left, the next change is the horizon's next day (midnight Paris).
    expect(plan.nextChangeAt).toBe('2026-12-14T23:00:00.000Z');
    expect(planSlotPublication(rules, state, window)).toEqual(plan);
  });
});

describe('coverage publication planning', () => {
  it('publishes regular windows and each reinforcement apart, clipped to the horizon', () => {
    const c = CoverageWindows.parse({
      timeZone: 'Europe/Paris',
      weekly: [{ days: ['mon', 'tue'], start: '08:00', end: '19:00' }],
      extra: [
        { start: '2026-12-14T17:00:00Z', end: '2026-12-14T20:00:00Z', label: 'Renfort épidémie' },
        { start: '2027-01-10T08:00:00Z', end: '2027-01-10T12:00:00Z' },
      ],
    });
    const plan = planCoveragePublication(c, { now: '2026-12-14T12:00:00.000Z', horizonDays: 2 });
    expect(plan).toEqual({
      timeZone: 'Europe/Paris',
      from: '2026-12-14T12:00:00.000Z',
      to: '2026-12-16T12:00:00.000Z',
      windows: [
        { start: '2026-12-14T12:00:00.000Z', end: '2026-12-14T18:00:00.000Z', kind: 'regular', label: null },
        {
          start: '2026-12-14T17:00:00.000Z',
          end: '2026-12-14T20:00:00.000Z',
          kind: 'reinforcement',
          label: 'Renfort épidémie',
        },
        { start: '2026-12-15T07:00:00.000Z', end: '2026-12-15T18:00:00.000Z', kind: 'regular', label: null },
      ],
    });
  });
});
