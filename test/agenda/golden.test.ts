/**
 * Golden weeks: free slots written out by hand, in the practitioner's wall-clock time with the
 * UTC offset of that moment, so that a DST change or a zone shows in the expected text.
 */
import { describe, expect, it } from '@jest/globals';
import { DateTime } from 'luxon';

import { type AgendaState, freeSlots } from '../../src/agenda/availability.js';
import { zoneOf } from '../../src/agenda/calendar.js';
import { type AgendaRulesInput, parseRules } from '../../src/agenda/rules.js';

const EMPTY: AgendaState = { appointments: [], blocks: [] };

/** One line per slot: local date, weekday, local start–end, offset. */
function render(rulesIn: AgendaRulesInput, from: string, to: string, state: AgendaState = EMPTY): string[] {
  const rules = parseRules(rulesIn);
  const zone = zoneOf(rules);
  return freeSlots(rules, state, { visitType: 'consult', from, to }).map((s) => {
    const a = DateTime.fromISO(s.start, { zone }).setLocale('fr');
    const b = DateTime.fromISO(s.end, { zone });
    return `${a.toISODate()} ${a.toFormat('ccc')} ${a.toFormat('HH:mm')}–${b.toFormat('HH:mm')} ${a.toFormat('ZZ')}${s.urgentOnly ? ' urgent' : ''}`;
  });
}

const consult30 = { code: 'consult', label: 'Consultation', durationMinutes: 30 };
const mornings = (days: string[] = ['mon', 'tue', 'wed', 'thu', 'fri']) =>
  [{ days, start: '09:00', end: '10:00' }] as AgendaRulesInput['weekly'];

describe('golden weeks', () => {
  it('spring DST change in Paris: wall-clock hours kept, one hour lost on the night itself', () => {
    const rules: AgendaRulesInput = {
      timeZone: 'Europe/Paris',
      weekly: mornings(),
      // A night duty on the change night: 01:00–04:00 local is two real hours (02:00–03:00 does not exist).
      exceptions: [{ date: '2026-03-29', hours: [{ start: '01:00', end: '04:00' }] }],
      visitTypes: [{ ...consult30, durationMinutes: 60, code: 'consult' }],
    };
    expect(render(rules, '2026-03-26T23:00:00Z', '2026-03-31T22:00:00Z')).toEqual([
      '2026-03-27 ven. 09:00–10:00 +01:00',
      '2026-03-29 dim. 01:00–03:00 +01:00', // 00:00Z–01:00Z: ends at 03:00 CEST
      '2026-03-29 dim. 03:00–04:00 +02:00', // 01:00Z–02:00Z
      '2026-03-30 lun. 09:00–10:00 +02:00', // 07:00Z, no longer 08:00Z
      '2026-03-31 mar. 09:00–10:00 +02:00',
    ]);
  });

  it('autumn DST change in Paris: the repeated hour gives one more slot, 02:00 twice', () => {
    const rules: AgendaRulesInput = {
      timeZone: 'Europe/Paris',
      weekly: mornings(['fri', 'mon']),
      exceptions: [{ date: '2026-10-25', hours: [{ start: '01:00', end: '04:00' }] }],
      visitTypes: [{ ...consult30, durationMinutes: 60 }],
    };
    expect(render(rules, '2026-10-22T22:00:00Z', '2026-10-27T23:00:00Z')).toEqual([
      '2026-10-23 ven. 09:00–10:00 +02:00',
      '2026-10-25 dim. 01:00–02:00 +02:00',
      '2026-10-25 dim. 02:00–02:00 +02:00', // 00:00Z–01:00Z: 02:00 CEST to 02:00 CET
      '2026-10-25 dim. 02:00–03:00 +01:00',
      '2026-10-25 dim. 03:00–04:00 +01:00',
      '2026-10-26 lun. 09:00–10:00 +01:00',
    ]);
  });

  it('a public holiday closes the day (8 May 2026, a Friday) unless an exception opens it', () => {
    const rules: AgendaRulesInput = { weekly: mornings(), visitTypes: [consult30] };
    expect(render(rules, '2026-05-06T22:00:00Z', '2026-05-11T22:00:00Z')).toEqual([
      '2026-05-07 jeu. 09:00–09:30 +02:00',
      '2026-05-07 jeu. 09:30–10:00 +02:00',
      // ven. 8 mai: Fête de la Victoire 1945
      '2026-05-11 lun. 09:00–09:30 +02:00',
      '2026-05-11 lun. 09:30–10:00 +02:00',
    ]);
    const opened = {
      ...rules,
      exceptions: [{ date: '2026-05-08', hours: [{ start: '09:00', end: '09:30' }] }],
    };
    expect(render(opened, '2026-05-07T22:00:00Z', '2026-05-08T22:00:00Z')).toEqual([
      '2026-05-08 ven. 09:00–09:30 +02:00',
    ]);
  });

  it('Good Friday closes an Alsace-Moselle practice, not a Parisian one', () => {
    const rules: AgendaRulesInput = {
      weekly: mornings(['fri']),
      visitTypes: [{ ...consult30, durationMinutes: 60 }],
    };
    expect(render(rules, '2026-04-02T22:00:00Z', '2026-04-03T22:00:00Z')).toEqual([
      '2026-04-03 ven. 09:00–10:00 +02:00',
    ]);
    expect(
      render({ ...rules, region: 'alsace-moselle' }, '2026-04-02T22:00:00Z', '2026-04-03T22:00:00Z'),
    ).toEqual([]);
  });

  it('a Réunion practice: UTC+4 all year, closed on 20 December (a Monday in 2027)', () => {
    const rules: AgendaRulesInput = {
      region: 'reunion',
      weekly: [
        { days: ['mon', 'tue', 'wed'], start: '08:00', end: '09:00' },
        { days: ['mon', 'tue', 'wed'], start: '11:00', end: '12:00', kind: 'urgent' },
      ],
      visitTypes: [{ ...consult30, durationMinutes: 60 }],
    };
    // Indian/Reunion is the region's zone; 08:00 local is 04:00Z.
    const slots = render(rules, '2027-12-19T20:00:00Z', '2027-12-22T20:00:00Z');
    expect(slots).toEqual([
      // lun. 20 décembre: Abolition de l’esclavage
      '2027-12-21 mar. 08:00–09:00 +04:00',
      '2027-12-22 mer. 08:00–09:00 +04:00',
    ]);
    const first = freeSlots(parseRules(rules), EMPTY, {
      visitType: 'consult',
      from: '2027-12-20T20:00:00Z',
      to: '2027-12-21T20:00:00Z',
    })[0];
    expect(first?.start).toBe('2027-12-21T04:00:00.000Z');
  });

  it('an absence from Friday noon to Monday noon spanning a weekend', () => {
    const rules: AgendaRulesInput = {
      weekly: [
        { days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat'], start: '09:00', end: '10:00' },
        { days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '14:00', end: '15:00' },
      ],
      visitTypes: [{ ...consult30, durationMinutes: 60 }],
      absences: [{ start: '2026-06-12T10:00:00Z', end: '2026-06-15T10:00:00Z', label: 'congrès' }],
    };
    expect(render(rules, '2026-06-11T22:00:00Z', '2026-06-16T22:00:00Z')).toEqual([
      '2026-06-12 ven. 09:00–10:00 +02:00',
      // ven. après-midi, sam. 13 and lun. matin: absent (12:00 Paris is 10:00Z)
      '2026-06-15 lun. 14:00–15:00 +02:00',
      '2026-06-16 mar. 09:00–10:00 +02:00',
      '2026-06-16 mar. 14:00–15:00 +02:00',
    ]);
  });
});
