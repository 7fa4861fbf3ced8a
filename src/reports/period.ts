/**
 * Report periods. A period is half-open, [from, to), in UTC instants. Query values may be an
 * instant with its offset (`2026-11-23T08:00:00Z`, `…+01:00`), a local date-time, or a date
 * (`2026-11-23`): the last two are read in the practice's own zone, so `from=2026-11-01&to=2026-12-01`
 * is the practice's month of November, whatever the zone (Europe/Paris, America/Martinique…).
 */
import { DateTime } from 'luxon';

import { PasserelleError } from '../errors.js';
import type { Period } from '../store/repos/reports.js';

const ISO = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})?)?$/;
const DAY = /^\d{4}-\d{2}-\d{2}$/;

function instant(raw: string, zone: string, where: string): DateTime {
  // An unencoded `+` in a query string arrives as a space: `…T08:00:00 01:00` meant `+01:00`.
  const value = raw.replace(/ (\d{2}:\d{2})$/, '+$1');
  const dt = ISO.test(value) ? DateTime.fromISO(value, { zone }) : undefined;
  if (!dt?.isValid) {
    throw new PasserelleError(
      'ERR_VALIDATION',
      `${where}: not a date (2026-11-23) or an ISO-8601 date-time (2026-11-23T08:00:00Z)`,
      { issues: [{ path: where, message: 'not a date or an ISO-8601 date-time' }] },
    );
  }
  return dt;
}

/** The period [from, to) of a query, checked: from before to, no longer than `maxDays`. */
export function parsePeriod(from: string, to: string, zone: string, maxDays: number): Period {
  const start = instant(from, zone, 'query.from');
  const end = instant(to, zone, 'query.to');
  if (end.toMillis() <= start.toMillis()) {
    throw new PasserelleError(
      'ERR_VALIDATION',
      'query.to: must be after query.from (the period is [from, to))',
      { issues: [{ path: 'query.to', message: 'must be after from' }] },
    );
  }
  if (end.toMillis() - start.toMillis() > maxDays * 86_400_000 + 3_600_000) {
    throw new PasserelleError(
      'ERR_VALIDATION',
      `query.to: a report covers at most ${maxDays} days (reports.maxRangeDays)`,
      { issues: [{ path: 'query.to', message: `at most ${maxDays} days after from` }] },
    );
  }
  return { from: start.toUTC().toISO() as string, to: end.toUTC().toISO() as string };
}

/** The practice's local day (YYYY-MM-DD) an instant falls on. */
export function localDay(ms: number, zone: string): string {
  return DateTime.fromMillis(ms, { zone }).toISODate() as string;
}

/** A practice-local day as a period: local midnight to the next local midnight (23 or 25 h on DST days). */
export function dayPeriod(day: string, zone: string): Period {
  if (!DAY.test(day))
    throw new PasserelleError('ERR_VALIDATION', 'day: expected YYYY-MM-DD', {
      issues: [{ path: 'day', message: 'expected YYYY-MM-DD' }],
    });
  const start = DateTime.fromISO(day, { zone }).startOf('day');
  if (!start.isValid)
    throw new PasserelleError('ERR_VALIDATION', 'day: not a calendar day', {
      issues: [{ path: 'day', message: 'not a calendar day' }],
    });
  return { from: start.toUTC().toISO() as string, to: start.plus({ days: 1 }).toUTC().toISO() as string };
}

/** The local day `n` days before the one `ms` falls on. */
export function daysBefore(ms: number, zone: string, n: number): string {
  return DateTime.fromMillis(ms, { zone }).startOf('day').minus({ days: n }).toISODate() as string;
}
