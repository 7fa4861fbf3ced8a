import { describe, expect, it } from '@jest/globals';

import { type AgendaState } from '../../src/agenda/availability.js';
import { checkBooking, frenchReason, outsideRules } from '../../src/agenda/check.js';
import { type AgendaRulesInput, parseRules } from '../../src/agenda/rules.js';

const rules = parseRules({
  weekly: [
    { days: ['mon', 'tue'], start: '09:00', end: '12:00' },
    { days: ['mon'], start: '12:00', end: '13:00', kind: 'urgent' },
  ],
  visitTypes: [
    { code: 'c30', label: 'Consultation', durationMinutes: 30, bufferMinutes: 10 },
    { code: 'u15', label: 'Urgence', durationMinutes: 15, urgent: true },
  ],
  dailyCap: 3,
  absences: [{ fromDate: '2026-12-08', toDate: '2026-12-08' }],
} satisfies AgendaRulesInput);
const EMPTY: AgendaState = { appointments: [], blocks: [] };
const NOW = '2026-12-01T00:00:00Z';
const at = (start: string, minutes: number) => new Date(Date.parse(start) + minutes * 60_000).toISOString();
const booking = (start: string, visitType = 'c30', minutes = visitType === 'u15' ? 15 : 30) => ({
  id: 'new',
  start,
  end: at(start, minutes),
  visitType,
});

describe('checkBooking', () => {
  it('accepts a booking that fits a free slot of its type, even off the grid', () => {
    expect(checkBooking(rules, EMPTY, booking('2026-12-07T08:05:00Z'), NOW)).toEqual({
      ok: true,
      urgentOnly: false,
    });
  });

  it.each([
    ['outside opening hours', booking('2026-12-07T07:30:00Z'), 'closed'],
    ['on a day without opening hours (a Friday)', booking('2026-12-11T08:00:00Z'), 'closed'],
    ['during an absence', booking('2026-12-08T08:00:00Z'), 'absence'],
    ['with the wrong duration', booking('2026-12-07T08:00:00Z', 'c30', 45), 'duration'],
    ['of an unknown visit type', booking('2026-12-07T08:00:00Z', 'zz'), 'visit-type-unknown'],
    ['routine in an urgent-only slot', booking('2026-12-07T11:00:00Z'), 'urgent-only'],
  ])('refuses a booking %s', (_what, b, reason) => {
    const r = checkBooking(rules, EMPTY, b, NOW);
    expect(r.ok ? 'ok' : r.reason).toBe(reason);
  });

  it('refuses on a public holiday naming it', () => {
    const r = checkBooking(rules, EMPTY, booking('2026-04-06T07:00:00Z'), NOW); // Lundi de Pâques
    expect(r).toEqual({ ok: false, reason: 'holiday', detail: 'Lundi de Pâques' });
  });

  it('accepts an urgent booking in an urgent-only slot', () => {
    expect(checkBooking(rules, EMPTY, booking('2026-12-07T11:00:00Z', 'u15'), NOW)).toEqual({
      ok: true,
      urgentOnly: true,
    });
  });

  it('refuses a booking inside a neighbour’s buffer, and one over another', () => {
    const state = { appointments: [{ ...booking('2026-12-07T08:00:00Z'), id: 'a' }], blocks: [] };
    expect(checkBooking(rules, state, booking('2026-12-07T08:35:00Z'), NOW)).toMatchObject({
      reason: 'buffer',
    });
    expect(checkBooking(rules, state, booking('2026-12-07T08:15:00Z'), NOW)).toMatchObject({
      reason: 'occupied',
    });
    expect(checkBooking(rules, state, booking('2026-12-07T08:40:00Z'), NOW)).toMatchObject({ ok: true });
  });

  it('refuses past the daily cap, not counting the booking itself', () => {
    const three = ['08:00', '09:00', '10:00'].map((t, i) => ({
      ...booking(`2026-12-07T${t}:00Z`),
      id: `a${i}`,
    }));
    expect(
      checkBooking(rules, { appointments: three, blocks: [] }, booking('2026-12-07T09:40:00Z'), NOW),
    ).toMatchObject({
      reason: 'daily-cap',
    });
    expect(
      checkBooking(rules, { appointments: three, blocks: [] }, { ...three[2], id: 'a2' } as never, NOW),
    ).toMatchObject({ ok: true });
  });
});

describe('outsideRules', () => {
  it('lists the appointments a change of rules leaves outside, with the reason, moving none', () => {
    const appointments = [
      { ...booking('2026-12-07T08:00:00Z'), id: 'keep' },
      { ...booking('2026-12-07T07:00:00Z'), id: 'early' },
      { ...booking('2026-12-08T08:00:00Z'), id: 'absent' },
    ];
    expect(outsideRules(rules, { appointments, blocks: [] }, NOW).map((o) => [o.id, o.reason])).toEqual([
      ['early', 'closed'],
      ['absent', 'absence'],
    ]);
  });
});

describe('frenchReason', () => {
  it('names the time in the practitioner’s zone and never the patient', () => {
    const text = frenchReason({ ok: false, reason: 'urgent-only' }, '2026-12-07T11:00:00Z', 'Europe/Paris');
    expect(text).toBe(
      'Rendez-vous refusé : le créneau du lundi 7 décembre 2026 à 12:00 est réservé aux urgences du jour. Merci de proposer au patient un créneau libre.',
    );
  });
});
