import { describe, expect, it } from '@jest/globals';

import { CoverageWindows } from '../../src/agenda/coverage.js';
import { coverageSection } from '../../src/reports/report.js';

describe('coverage beside volume in the activity report', () => {
  // Monday 14 and Tuesday 15 December 2026, Paris (UTC+1): 08:00–12:00 covered, plus a
  // reinforcement on Monday evening.
  const windows = CoverageWindows.parse({
    timeZone: 'Europe/Paris',
    weekly: [{ days: ['mon', 'tue'], start: '08:00', end: '12:00' }],
    extra: [{ start: '2026-12-14T17:00:00Z', end: '2026-12-14T19:00:00Z', label: 'Renfort' }],
  });
  const period = { from: '2026-12-13T23:00:00.000Z', to: '2026-12-15T23:00:00.000Z' };

  it('counts hours covered per local day and the secretariat’s bookings and messages inside and outside', () => {
    const section = coverageSection(windows, period, [
      { type: 'appointment.booked', at: '2026-12-14T08:30:00.000Z' },
      { type: 'appointment.booked', at: '2026-12-14T18:30:00.000Z' },
      { type: 'message.received', at: '2026-12-14T13:00:00.000Z' },
      { type: 'message.received', at: '2026-12-15T20:00:00.000Z' },
      { type: 'message.received', at: '2026-12-15T10:59:00.000Z' },
    ]);
    expect(section).toEqual({
      timeZone: 'Europe/Paris',
      hoursCovered: 10,
      bookings: { inside: 2, outside: 0 },
      messages: { inside: 1, outside: 2 },
      byDay: [
        {
          date: '2026-12-14',
          hoursCovered: 6,
          bookings: { inside: 2, outside: 0 },
          messages: { inside: 0, outside: 1 },
        },
        {
          date: '2026-12-15',
          hoursCovered: 4,
          bookings: { inside: 0, outside: 0 },
          messages: { inside: 1, outside: 1 },
        },
      ],
    });
  });
});
