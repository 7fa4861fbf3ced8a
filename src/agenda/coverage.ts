/**
 * Secretariat coverage windows (plages couvertes): the hours a practice has the secretariat
 * answer — full days, targeted slots, evenings, weekends, holidays — and temporary
 * reinforcements (renforts: during an absence, an epidemic peak). Wall-clock times in the
 * practice's zone.
 */
import { DateTime, IANAZone } from 'luxon';
import { z } from 'zod';

import { dayInterval, localDate, nextDate } from './calendar.js';
import { type Interval, union } from './intervals.js';
import { holidayOn, type Region, REGION_NAMES, REGIONS } from './regions.js';
import { DAYS } from './rules.js';

const LocalTime = z
  .string()
  .regex(/^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$/, { error: 'not a time (HH:MM)' });
const Instant = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/, {
    error: 'not an instant',
  })
  .refine((s) => !Number.isNaN(Date.parse(s)), { error: 'not an instant' });

export const CoverageWindows = z.strictObject({
  timeZone: z
    .string()
    .refine((s) => IANAZone.isValidZone(s), { error: 'not an IANA time zone (e.g. Europe/Paris)' })
    .optional(),
  region: z.enum(REGION_NAMES as [Region, ...Region[]]).default('metropole'),
  /** Regular coverage, by weekday (`24:00` ends at midnight: evenings). */
  weekly: z
    .array(
      z
        .strictObject({ days: z.array(z.enum(DAYS)).min(1), start: LocalTime, end: LocalTime })
        .refine((w) => w.start < w.end, { error: 'end must be after start', path: ['end'] }),
    )
    .default([]),
  /** On public holidays: `covered` keeps the weekly hours of that weekday, `not-covered` none, or hours of their own. */
  holidays: z
    .union([
      z.enum(['covered', 'not-covered']),
      z.strictObject({ start: LocalTime, end: LocalTime }).refine((w) => w.start < w.end, {
        error: 'end must be after start',
        path: ['end'],
      }),
    ])
    .default('not-covered'),
  /** Temporary reinforcements and one-off targeted slots, as instants. */
  extra: z
    .array(
      z
        .strictObject({ start: Instant, end: Instant, label: z.string().max(200).optional() })
        .refine((e) => Date.parse(e.start) < Date.parse(e.end), {
          error: 'end must be after start',
          path: ['end'],
        }),
    )
    .default([]),
});
export type CoverageWindowsInput = z.input<typeof CoverageWindows>;
export type CoverageWindows = z.output<typeof CoverageWindows>;

export function coverageZone(c: CoverageWindows): string {
  return c.timeZone ?? REGIONS[c.region].zone;
}

const at = (date: string, hhmm: string, zone: string): number =>
  hhmm === '24:00' ? dayInterval(date, zone).end : DateTime.fromISO(`${date}T${hhmm}`, { zone }).toMillis();

/** The covered intervals between two instants (sorted, merged). */
export function coveredIntervals(c: CoverageWindows, from: string, to: string): Interval[] {
  const zone = coverageZone(c);
  const lo = Date.parse(from);
  const hi = Date.parse(to);
  const out: Interval[] = [];
  for (let date = localDate(lo, zone); dayInterval(date, zone).start < hi; date = nextDate(date)) {
    const weekday = DAYS[DateTime.fromISO(date, { zone }).weekday - 1] as (typeof DAYS)[number];
    const holiday = holidayOn(c.region, date) !== undefined;
    if (holiday && typeof c.holidays === 'object')
      out.push({ start: at(date, c.holidays.start, zone), end: at(date, c.holidays.end, zone) });
    else if (!holiday || c.holidays === 'covered')
      for (const w of c.weekly)
        if (w.days.includes(weekday))
          out.push({ start: at(date, w.start, zone), end: at(date, w.end, zone) });
  }
  for (const e of c.extra) out.push({ start: Date.parse(e.start), end: Date.parse(e.end) });
  return union(out.map((i) => ({ start: Math.max(i.start, lo), end: Math.min(i.end, hi) })));
}

/** Whether the secretariat covers the practice at `instant`. */
export function isCovered(c: CoverageWindows, instant: string): boolean {
  const t = Date.parse(instant);
  const day = 86_400_000;
  return coveredIntervals(c, new Date(t - day).toISOString(), new Date(t + day).toISOString()).some(
    (i) => i.start <= t && t < i.end,
  );
}
