/**
 * Rules → concrete periods on a local date, in epoch milliseconds. Wall-clock times are turned
 * into instants in the practitioner's zone by luxon, so a period keeps its wall-clock bounds
 * across a DST change (08:00–12:00 is 06:00Z–10:00Z in summer in Paris, 07:00Z–11:00Z in
 * winter). A wall-clock time that does not exist (02:30 on the spring-forward night) is moved
 * forward by the gap, as luxon and RFC 5545 §3.3.5 do; an ambiguous one (02:30 on the
 * fall-back night) is its first occurrence.
 */
import { IANAZone } from 'luxon';

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

const zones = new Map<string, IANAZone>();
function zoneNamed(name: string): IANAZone {
  let z = zones.get(name);
  if (!z) {
    z = IANAZone.create(name);
    zones.set(name, z);
  }
  return z;
}

/**
 * A wall-clock time of a local date → epoch ms, as luxon's `DateTime.fromObject({…}, { zone })`
 * does it (its fixOffset: a time in the spring gap moves forward, an ambiguous one is the first
 * occurrence), without parsing: the free-slot computation calls it for every period of every
 * day (the benchmark's 50 practitioners × 90 days).
 */
export function wallClock(date: string, hhmm: string, zone: string): number {
  const tz = { offset: (ms: number) => offsetOf(zone, ms) };
  const local = Date.UTC(
    Number(date.slice(0, 4)),
    Number(date.slice(5, 7)) - 1,
    Number(date.slice(8, 10)),
    Number(hhmm.slice(0, 2)),
    Number(hhmm.slice(3, 5)),
  );
  const o = tz.offset(local);
  let guess = local - o * 60_000;
  const o2 = tz.offset(guess);
  if (o === o2) return guess;
  guess -= (o2 - o) * 60_000;
  const o3 = tz.offset(guess);
  if (o2 === o3) return guess;
  return local - Math.min(o2, o3) * 60_000;
}

const at = wallClock;

const offsets = new Map<string, Map<number, number>>();
const QUARTER = 900_000;
/**
 * The zone's UTC offset (minutes) at an instant, memoised per quarter hour: zones change offset
 * only on quarter-hour boundaries, and Intl (under luxon's IANAZone.offset) costs tens of
 * microseconds a call.
 */
export function offsetOf(zone: string, ms: number): number {
  let memo = offsets.get(zone);
  if (!memo) {
    memo = new Map();
    offsets.set(zone, memo);
  }
  const key = Math.floor(ms / QUARTER);
  let o = memo.get(key);
  if (o === undefined) {
    if (memo.size > 200_000) memo.clear();
    o = zoneNamed(zone).offset(key * QUARTER);
    memo.set(key, o);
  }
  return o;
}

/** Local date (YYYY-MM-DD) of an instant in a zone. */
export function localDate(ms: number, zone: string): string {
  return new Date(ms + offsetOf(zone, ms) * 60_000).toISOString().slice(0, 10);
}

/** The local date after `date`. */
export function nextDate(date: string): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
}

/** Day of the week of a calendar date (zone-independent). */
export function weekdayOf(date: string): (typeof DAYS)[number] {
  // getUTCDay: 0 = Sunday; DAYS starts on Monday.
  return DAYS[(new Date(`${date}T00:00:00Z`).getUTCDay() + 6) % 7] as (typeof DAYS)[number];
}

/** [start of `date`, start of the next date) in the zone: 23 or 25 hours on DST days. */
export function dayInterval(date: string, zone: string): Interval {
  return { start: wallClock(date, '00:00', zone), end: wallClock(nextDate(date), '00:00', zone) };
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
  const weekday = weekdayOf(date);
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
