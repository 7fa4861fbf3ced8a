import { describe, expect, it } from '@jest/globals';

import { type AgendaState, freeSlots } from '../../src/agenda/availability.js';
import { type AgendaRulesInput, parseRules } from '../../src/agenda/rules.js';

const EMPTY: AgendaState = { appointments: [], blocks: [] };
// Monday 7 December 2026, Paris (UTC+1): 09:00 local = 08:00Z.
const DAY = { from: '2026-12-06T23:00:00Z', to: '2026-12-07T23:00:00Z' };
const times = (rulesIn: AgendaRulesInput, visitType: string, state = EMPTY, now?: string) =>
  freeSlots(parseRules(rulesIn), state, { visitType, ...DAY, ...(now !== undefined && { now }) }).map(
    (s) => `${s.start.slice(11, 16)}-${s.end.slice(11, 16)}${s.urgentOnly ? '!' : ''}`,
  );

const base: AgendaRulesInput = {
  weekly: [{ days: ['mon'], start: '09:00', end: '11:00' }],
  visitTypes: [
    { code: 'c20', label: 'Consultation', durationMinutes: 20 },
    { code: 'c20b', label: 'Consultation avec battement', durationMinutes: 20, bufferMinutes: 10 },
  ],
};

describe('free slots', () => {
  it('lays visits back to back from the start of the period', () => {
    expect(times(base, 'c20')).toEqual([
      '08:00-08:20',
      '08:20-08:40',
      '08:40-09:00',
      '09:00-09:20',
      '09:20-09:40',
      '09:40-10:00',
    ]);
  });

  it('keeps each visit’s buffer free after it', () => {
    expect(times(base, 'c20b')).toEqual(['08:00-08:20', '08:30-08:50', '09:00-09:20', '09:30-09:50']);
  });

  it('keeps an existing appointment’s buffer free', () => {
    const state = {
      appointments: [
        { id: 'a', start: '2026-12-07T08:00:00Z', end: '2026-12-07T08:20:00Z', visitType: 'c20b' },
      ],
      blocks: [],
    };
    expect(times(base, 'c20', state)[0]).toBe('08:30-08:50');
  });

  it('skips blocks and aligns on the grid after them', () => {
    const state = {
      appointments: [],
      blocks: [{ start: '2026-12-07T08:10:00Z', end: '2026-12-07T08:47:00Z' }],
    };
    expect(times(base, 'c20', state)).toEqual(['08:50-09:10', '09:10-09:30', '09:30-09:50']);
  });

  it('keeps travel time before and after a home visit, in home-visit periods only', () => {
    const rules: AgendaRulesInput = {
      weekly: [
        { days: ['mon'], start: '09:00', end: '10:00' },
        { days: ['mon'], start: '14:00', end: '16:00', kind: 'home-visit' },
      ],
      visitTypes: [
        { code: 'v', label: 'Visite à domicile', durationMinutes: 30, homeVisit: true, travelMinutes: 15 },
      ],
    };
    // 14:00 local is 13:00Z; travel before the first one runs in the lunch break.
    expect(times(rules, 'v')).toEqual(['13:00-13:30', '14:00-14:30']);
  });

  it('offers nothing on a day whose cap is reached', () => {
    const rules = { ...base, dailyCap: 1 };
    const state = {
      appointments: [
        { id: 'a', start: '2026-12-07T09:00:00Z', end: '2026-12-07T09:20:00Z', visitType: 'c20' },
      ],
      blocks: [],
    };
    expect(times(rules, 'c20', state)).toEqual([]);
    const typeCap: AgendaRulesInput = {
      ...base,
      visitTypes: [{ code: 'c20', label: 'C', durationMinutes: 20, dailyCap: 2 }],
    };
    expect(times(typeCap, 'c20', state)).toHaveLength(5);
  });

  describe('urgent-only periods', () => {
    const rules: AgendaRulesInput = {
      weekly: [
        { days: ['mon'], start: '09:00', end: '10:00' },
        { days: ['mon'], start: '10:00', end: '11:00', kind: 'urgent', release: { minutesBefore: 60 } },
      ],
      visitTypes: [
        { code: 'c30', label: 'Consultation', durationMinutes: 30 },
        { code: 'u30', label: 'Urgence du jour', durationMinutes: 30, urgent: true },
      ],
    };

    it('offers them to urgent visits only, marked urgent-only', () => {
      expect(times(rules, 'u30', EMPTY, '2026-12-07T07:00:00Z')).toEqual([
        '08:00-08:30',
        '08:30-09:00',
        '09:00-09:30!',
        '09:30-10:00!',
      ]);
      expect(times(rules, 'c30', EMPTY, '2026-12-07T07:00:00Z')).toEqual(['08:00-08:30', '08:30-09:00']);
    });

    it('releases unused ones to routine visits at their release time', () => {
      // At 08:05Z the 09:00Z slot is 55 minutes away (released), the 09:30Z one 85 (not yet).
      expect(times(rules, 'c30', EMPTY, '2026-12-07T08:05:00Z')).toEqual(['08:30-09:00', '09:00-09:30']);
    });

    it('releases at a fixed time of day', () => {
      const at: AgendaRulesInput = {
        ...rules,
        weekly: [{ days: ['mon'], start: '10:00', end: '11:00', kind: 'urgent', release: { at: '09:30' } }],
      };
      expect(times(at, 'c30', EMPTY, '2026-12-07T08:29:00Z')).toEqual([]);
      expect(times(at, 'c30', EMPTY, '2026-12-07T08:30:00Z')).toEqual(['09:00-09:30', '09:30-10:00']);
    });
  });

  it('gives the more specific period kind where periods overlap, whatever their order', () => {
    const a: AgendaRulesInput = {
      weekly: [
        { days: ['mon'], start: '09:00', end: '11:00' },
        { days: ['mon'], start: '10:00', end: '10:30', kind: 'urgent' },
      ],
      visitTypes: [{ code: 'c30', label: 'C', durationMinutes: 30 }],
    };
    const b = { ...a, weekly: [...(a.weekly ?? [])].reverse() };
    expect(times(a, 'c30')).toEqual(['08:00-08:30', '08:30-09:00', '09:30-10:00']);
    expect(times(b, 'c30')).toEqual(times(a, 'c30'));
  });

  it('does not offer slots that started before now, nor for an unknown visit type', () => {
    expect(times(base, 'c20', EMPTY, '2026-12-07T09:05:00Z')[0]).toBe('09:20-09:40');
    expect(times(base, 'nope')).toEqual([]);
  });

  it('takes whole-day absences in the practitioner’s zone', () => {
    expect(times({ ...base, absences: [{ fromDate: '2026-12-07', toDate: '2026-12-07' }] }, 'c20')).toEqual(
      [],
    );
    expect(
      times({ ...base, absences: [{ fromDate: '2026-12-08', toDate: '2026-12-09' }] }, 'c20'),
    ).toHaveLength(6);
  });
});

describe('agenda rules', () => {
  it('refuse duplicate visit type codes, crossed periods and unknown zones', () => {
    expect(() => parseRules({ visitTypes: [base.visitTypes?.[0], base.visitTypes?.[0]] })).toThrow(
      /duplicate visit type/,
    );
    expect(() => parseRules({ weekly: [{ days: ['mon'], start: '12:00', end: '09:00' }] })).toThrow(
      /end must be after start/,
    );
    expect(() => parseRules({ timeZone: 'Europe/Pariss' })).toThrow(/IANA/);
  });
});
