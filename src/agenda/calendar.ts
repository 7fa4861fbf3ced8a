/**
 * Rules → concrete periods on a local date, in epoch milliseconds. Wall-clock times are turned
 * into instants in the practitioner's zone by luxon, so a period keeps its wall-clock bounds
 * across a DST change (08:00–12:00 is 06:00Z–10:00Z in summer in Paris, 07:00Z–11:00Z in
 * winter). A wall-clock time that does not exist (02:30 on the spring-forward night) is moved
 * forward by the gap, as luxon and RFC 5545 §3.3.5 do; an ambiguous one (02:30 on the
 * fall-back night) is its first occurrence.
 */
import { DateTime } from 'luxon';

import { type Interval, subtract, union } from './intervals.js';
import { holidayOn, REGIONS } from './regions.js';
import {
  type Absence,
  type AgendaRules,
  DAYS,
  type Hours,
  PERIOD_KINDS,
  type PeriodKind,
  type Release,
} from './rules.js';

export interface Period extends Interval {
  readonly kind: PeriodKind;
  readonly release?: Release;
}

export interface DayPlan {
  /** Local date, YYYY-MM-DD. */
  readonly date: string;
  readonly periods: readonly Period[];
  /** Why the day has no periods when the weekly hours would give some. */
  readonly closedBy?: { readonly reason: 'holiday' | 'exception'; readonly label: string };
}

export function zoneOf(rules: AgendaRules): string {
  return rules.timeZone ?? REGIONS[rules.region].zone;
}

const at = (date: string, hhmm: string, zone: string): number =>
  DateTime.fromISO(`${date}T${hhmm}`, { zone }).toMillis();

/** Local date (YYYY-MM-DD) of an instant in a zone. */
export function localDate(ms: number, zone: string): string {
  return DateTime.fromMillis(ms, { zone }).toISODate() as string;
}

/** The local date after `date`. */
export function nextDate(date: string): string {
  return DateTime.fromISO(date, { zone: 'UTC' }).plus({ days: 1 }).toISODate() as string;
}

/** [start of `date`, start of the next date) in the zone: 23 or 25 hours on DST days. */
export function dayInterval(date: string, zone: string): Interval {
  const start = DateTime.fromISO(date, { zone }).startOf('day');
  return { start: start.toMillis(), end: start.plus({ days: 1 }).toMillis() };
}

const releaseKey = (r: Release | undefined): string =>
  r === undefined ? '' : 'at' in r ? `at:${r.at}` : `before:${r.minutesBefore}`;

/**
 * Periods overlapping each other are made disjoint, the more specific kind winning (urgent,
 * home-visit, consultation), and within a kind in a fixed order (start, end, release): the
 * result is the same whatever order the rules list them in.
 */
function normalize(raw: readonly Period[]): Period[] {
  const placed: Period[] = [];
  for (const kind of [...PERIOD_KINDS].reverse()) {
    const mine = raw
      .filter((p) => p.kind === kind)
      .sort(
        (a, b) =>
          a.start - b.start || a.end - b.end || releaseKey(a.release).localeCompare(releaseKey(b.release)),
      );
    for (const p of mine) {
      for (const piece of subtract(p, union(placed))) placed.push({ ...p, ...piece });
    }
  }
  placed.sort((a, b) => a.start - b.start);
  // Join touching pieces of the same kind and release.
  const out: Period[] = [];
  for (const p of placed) {
    const last = out[out.length - 1];
    if (
      last &&
      last.end === p.start &&
      last.kind === p.kind &&
      releaseKey(last.release) === releaseKey(p.release)
    )
      out[out.length - 1] = { ...last, end: p.end };
    else out.push(p);
  }
  return out;
}

function toPeriods(date: string, hours: readonly Hours[], zone: string): Period[] {
  return hours.map((h) => ({
    start: at(date, h.start, zone),
    end: at(date, h.end, zone),
    kind: h.kind,
    ...(h.release && { release: h.release }),
  }));
}

/** The periods of a local date: its exception if any, else closed on a holiday, else the weekly hours. */
export function dayPlan(rules: AgendaRules, date: string): DayPlan {
  const zone = zoneOf(rules);
  const exception = rules.exceptions.find((e) => e.date === date);
  if (exception) {
    const periods = normalize(toPeriods(date, exception.hours, zone));
    return periods.length > 0
      ? { date, periods }
      : {
          date,
          periods,
          closedBy: { reason: 'exception', label: exception.label ?? 'fermeture exceptionnelle' },
        };
  }
  const weekday = DAYS[DateTime.fromISO(date, { zone }).weekday - 1] as (typeof DAYS)[number];
  const weekly = rules.weekly.filter((w) => w.days.includes(weekday));
  if (rules.closedOnHolidays && weekly.length > 0) {
    const holiday = holidayOn(rules.region, date);
    if (holiday) return { date, periods: [], closedBy: { reason: 'holiday', label: holiday.name } };
  }
  return { date, periods: normalize(toPeriods(date, weekly, zone)) };
}

/** Absences as instants: whole local days run from the first day's midnight to the midnight after the last. */
export function absenceIntervals(absences: readonly Absence[], zone: string): Interval[] {
  return union(
    absences.map((a) =>
      'start' in a
        ? { start: Date.parse(a.start), end: Date.parse(a.end) }
        : { start: dayInterval(a.fromDate, zone).start, end: dayInterval(a.toDate, zone).end },
    ),
  );
}

/** When an urgent period's unused slot starting at `slotStart` opens to routine bookings. */
export function releaseTime(p: Period, slotStart: number, zone: string): number {
  if (p.kind !== 'urgent' || p.release === undefined) return Number.POSITIVE_INFINITY;
  if ('minutesBefore' in p.release) return slotStart - p.release.minutesBefore * 60_000;
  return Math.min(slotStart, at(localDate(slotStart, zone), p.release.at, zone));
}
