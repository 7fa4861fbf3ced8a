import { describe, expect, it } from '@jest/globals';

import { dayPeriod, daysBefore, localDay, parsePeriod } from '../../src/reports/period.js';

describe('report periods', () => {
  it('reads dates as local midnight in the practice’s zone', () => {
    expect(parsePeriod('2026-11-23', '2026-11-24', 'Europe/Paris', 366)).toEqual({
      from: '2026-11-22T23:00:00.000Z',
      to: '2026-11-23T23:00:00.000Z',
    });
    expect(parsePeriod('2026-11-23', '2026-11-24', 'America/Martinique', 366)).toEqual({
      from: '2026-11-23T04:00:00.000Z',
      to: '2026-11-24T04:00:00.000Z',
    });
    expect(parsePeriod('2026-11-23', '2026-11-24', 'Indian/Reunion', 366).from).toBe(
      '2026-11-22T20:00:00.000Z',
    );
  });

  it('keeps an instant’s own offset and reads a local date-time in the practice’s zone', () => {
    expect(parsePeriod('2026-11-23T08:00:00Z', '2026-11-23T10:00:00+01:00', 'Europe/Paris', 366)).toEqual({
      from: '2026-11-23T08:00:00.000Z',
      to: '2026-11-23T09:00:00.000Z',
    });
    expect(parsePeriod('2026-07-01T08:00', '2026-07-01T09:00', 'Europe/Paris', 366).from).toBe(
      '2026-07-01T06:00:00.000Z',
    );
    // A `+` left unencoded in a URL arrives as a space.
    expect(parsePeriod('2026-11-23T10:00:00 01:00', '2026-11-23T11:00:00Z', 'Europe/Paris', 366).from).toBe(
      '2026-11-23T09:00:00.000Z',
    );
  });

  it('refuses garbage, an empty or reversed period, and one longer than allowed, naming the parameter', () => {
    expect(() => parsePeriod('yesterday', '2026-11-24', 'Europe/Paris', 366)).toThrow(
      expect.objectContaining({ code: 'ERR_VALIDATION', message: expect.stringMatching(/^query\.from:/) }),
    );
    expect(() => parsePeriod('2026-02-30', '2026-03-01', 'Europe/Paris', 366)).toThrow(
      expect.objectContaining({ code: 'ERR_VALIDATION' }),
    );
    expect(() => parsePeriod('2026-11-24', '2026-11-24', 'Europe/Paris', 366)).toThrow(
      expect.objectContaining({ message: expect.stringMatching(/^query\.to: must be after/) }),
    );
    expect(() => parsePeriod('2026-01-01', '2026-03-01', 'Europe/Paris', 31)).toThrow(
      expect.objectContaining({ message: expect.stringContaining('at most 31 days') }),
    );
  });

  it('makes a local day 23 or 25 hours long on the days clocks change', () => {
    const spring = dayPeriod('2026-03-29', 'Europe/Paris');
    expect(Date.parse(spring.to) - Date.parse(spring.from)).toBe(23 * 3_600_000);
    const autumn = dayPeriod('2026-10-25', 'Europe/Paris');
    expect(Date.parse(autumn.to) - Date.parse(autumn.from)).toBe(25 * 3_600_000);
    expect(() => dayPeriod('25/10/2026', 'Europe/Paris')).toThrow(
      expect.objectContaining({ code: 'ERR_VALIDATION' }),
    );
  });

  it('finds the local day of an instant and the days before it in the practice’s zone', () => {
    const lateEvening = Date.parse('2026-11-23T23:30:00Z');
    expect(localDay(lateEvening, 'Europe/Paris')).toBe('2026-11-24');
    expect(localDay(lateEvening, 'America/Martinique')).toBe('2026-11-23');
    expect(daysBefore(lateEvening, 'Europe/Paris', 1)).toBe('2026-11-23');
    expect(daysBefore(lateEvening, 'America/Martinique', 1)).toBe('2026-11-22');
  });
});
