import { describe, expect, it } from '@jest/globals';

import { CoverageWindows, coveredIntervals, isCovered } from '../../src/agenda/coverage.js';

const iso = (ms: number) => new Date(ms).toISOString();
const show = (c: ReturnType<typeof CoverageWindows.parse>, from: string, to: string) =>
  coveredIntervals(c, from, to).map((i) => `${iso(i.start)}–${iso(i.end)}`);

describe('secretariat coverage windows', () => {
  const weekdays = CoverageWindows.parse({
    weekly: [
      { days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '08:00', end: '12:00' },
      { days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '14:00', end: '24:00' },
    ],
  });

  it('covers the weekly hours in the practice’s zone, evenings up to midnight', () => {
    // Friday 11 December 2026, Paris (UTC+1).
    expect(show(weekdays, '2026-12-11T00:00:00Z', '2026-12-12T00:00:00Z')).toEqual([
      '2026-12-11T07:00:00.000Z–2026-12-11T11:00:00.000Z',
      '2026-12-11T13:00:00.000Z–2026-12-11T23:00:00.000Z',
    ]);
    expect(isCovered(weekdays, '2026-12-11T22:59:00Z')).toBe(true);
    expect(isCovered(weekdays, '2026-12-11T12:00:00Z')).toBe(false);
    expect(isCovered(weekdays, '2026-12-12T09:00:00Z')).toBe(false); // Saturday
  });

  it('leaves public holidays uncovered unless told, or covers them with their own hours', () => {
    // Friday 25 December 2026.
    expect(isCovered(weekdays, '2026-12-25T09:00:00Z')).toBe(false);
    const covered = CoverageWindows.parse({ ...weekdays, holidays: 'covered' });
    expect(isCovered(covered, '2026-12-25T09:00:00Z')).toBe(true);
    const own = CoverageWindows.parse({ ...weekdays, holidays: { start: '09:00', end: '12:00' } });
    expect(show(own, '2026-12-25T00:00:00Z', '2026-12-26T00:00:00Z')).toEqual([
      '2026-12-25T08:00:00.000Z–2026-12-25T11:00:00.000Z',
    ]);
  });

  it('adds temporary reinforcements, merged with the weekly hours', () => {
    const c = CoverageWindows.parse({
      ...weekdays,
      extra: [{ start: '2026-12-12T08:00:00Z', end: '2026-12-12T12:00:00Z', label: 'renfort épidémie' }],
    });
    expect(isCovered(c, '2026-12-12T09:00:00Z')).toBe(true);
  });

  it('uses the region’s zone: Réunion is UTC+4', () => {
    const c = CoverageWindows.parse({
      region: 'reunion',
      weekly: [{ days: ['mon'], start: '08:00', end: '12:00' }],
    });
    expect(show(c, '2026-12-07T00:00:00Z', '2026-12-08T00:00:00Z')).toEqual([
      '2026-12-07T04:00:00.000Z–2026-12-07T08:00:00.000Z',
    ]);
  });
});
