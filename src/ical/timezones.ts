import { IANAZone } from 'luxon';
import { tzlib_get_ical_block, tzlib_get_timezones } from 'timezones-ical-library';

/**
 * Zones practices are expected in: metropolitan France and the overseas departments. Any IANA
 * zone that timezones-ical-library knows works; these are the ones the tests prove.
 */
export const SUPPORTED_ZONES = [
  'Europe/Paris',
  'America/Martinique',
  'America/Guadeloupe',
  'America/Cayenne',
  'Indian/Reunion',
  'Indian/Mayotte',
] as const;

const cache = new Map<string, string | null>();
let known: ReadonlySet<string> | undefined;

/**
 * The VTIMEZONE block (RFC 5545 §3.6.5) for `zone`, or null when none is known (the feed then
 * writes UTC times, which are always correct).
 *
 * timezones-ical-library answers an IANA *link* with its target's block: Indian/Reunion comes
 * back as `TZID:Asia/Dubai`, America/Guadeloupe as `America/Puerto_Rico`. Events say
 * `TZID=<practice zone>`, and a TZID parameter must name a VTIMEZONE of the same calendar
 * (§3.2.19), so the block is renamed to the zone asked for: a link has its target's rules.
 */
export function vtimezone(zone: string): string | null {
  const hit = cache.get(zone);
  if (hit !== undefined) return hit;
  let block: string | null = null;
  // The library prints to the console for a zone it does not know: ask its list first.
  known ??= new Set(tzlib_get_timezones() as string[]);
  if (known.has(zone)) {
    try {
      const found = tzlib_get_ical_block(zone)[0];
      if (typeof found === 'string' && found.startsWith('BEGIN:VTIMEZONE')) {
        block = found
          .replace(/\r?\n/g, '\r\n')
          .replace(/^TZID:.*$/m, `TZID:${zone}`)
          .replace(/^X-LIC-LOCATION:.*$/m, `X-LIC-LOCATION:${zone}`)
          .replace(/\r\n$/, '');
      }
    } catch {
      block = null;
    }
  }
  cache.set(zone, block);
  return block;
}

/**
 * Builds the VTIMEZONE blocks of the supported zones now. The first look-up loads and scans
 * timezones-ical-library's tables (≈ 10–25 ms in a fresh process, docs/benchmarks.md
 * ical-render): done when the feed service starts, it is not paid by the first feed requested.
 */
export function prepareVtimezones(zones: readonly string[] = SUPPORTED_ZONES): void {
  for (const zone of zones) vtimezone(zone);
}

/**
 * Whether `ms`'s local time in `zone` names that instant alone. The hour repeated when clocks go
 * back (02:00–03:00 on the last Sunday of October in Paris) names two instants; RFC 5545 §3.3.5
 * says such a local time "refers to the first occurrence", but readers differ (ical.js, like
 * Luxon, takes the second). Events with a start or end in that hour are therefore written in UTC
 * (`…Z`), which every reader takes as it is.
 */
export function hasUniqueLocalTime(ms: number, zone: string): boolean {
  const offset = offsetMinutes(zone, ms);
  if (offset === null) return false;
  // Fast path: no clock change within three hours either side, so the local time is unique.
  const before = offsetMinutes(zone, ms - THREE_HOURS);
  const after = offsetMinutes(zone, ms + THREE_HOURS);
  if (before === offset && after === offset) return true;
  // The wall-clock time read as UTC; each offset the zone uses nearby gives a candidate instant,
  // kept when the zone's offset at that instant is the one that produced it (its local time is
  // then the same wall time).
  const wall = ms + offset * 60_000;
  const instants = new Set<number>();
  for (const probe of [before, offset, after]) {
    if (probe === null) continue;
    const candidate = wall - probe * 60_000;
    if (offsetMinutes(zone, candidate) === probe) instants.add(candidate);
  }
  return instants.size === 1 && instants.has(ms);
}

const THREE_HOURS = 10_800_000;
const DAY_MS = 86_400_000;

/**
 * One UTC day of a zone: its offset (minutes) at the start and at the end of the day, and the
 * first instant with the end offset (Infinity when the offset holds all day). A zone changes
 * its offset at most once a day, so this answers every instant of the day exactly.
 */
interface DayOffsets {
  readonly start: number;
  readonly end: number;
  readonly switchAt: number;
  /**
   * Whether the zone keeps one offset from the start of the day before to the end of the day
   * after (undefined until first asked): every instant of the day then has a unique local time
   * and its offset is `start`, with no further look-up.
   */
  calm?: boolean;
}

/** Per zone (null: not a zone Luxon knows), then per UTC day number. */
const zoneDays = new Map<string, Map<number, DayOffsets> | null>();

/**
 * The offsets of the UTC day holding `ms`: two Intl look-ups per zone and day, and a binary
 * search for the instant of a clock change on the two days a year that have one. A feed of
 * 10,000 events then asks Intl a few hundred times instead of several times per event.
 */
function dayOffsets(zone: string, ms: number): DayOffsets | null {
  let days = zoneDays.get(zone);
  if (days === undefined) {
    days = IANAZone.create(zone).isValid ? new Map() : null;
    zoneDays.set(zone, days);
  }
  if (days === null) return null;
  const day = Math.floor(ms / DAY_MS);
  const hit = days.get(day);
  if (hit !== undefined) return hit;
  const z = IANAZone.create(zone);
  const from = day * DAY_MS;
  const start = z.offset(from);
  const end = z.offset(from + DAY_MS - 1);
  let switchAt = Infinity;
  if (start !== end) {
    // Invariant: offset(lo) is `start`, offset(hi) is not.
    let lo = from;
    let hi = from + DAY_MS - 1;
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (z.offset(mid) === start) lo = mid;
      else hi = mid;
    }
    switchAt = hi;
  }
  const value: DayOffsets = { start, end, switchAt };
  if (days.size > 100_000) days.clear();
  days.set(day, value);
  return value;
}

/**
 * The local wall time of `ms` in `zone` as milliseconds (the instant plus the zone's offset, to
 * be read with UTC getters), or null when that wall time does not name `ms` alone
 * (`hasUniqueLocalTime`) or `zone` is not a zone. One per-day look-up on the ≈ 360 days a year
 * with no clock change nearby, instead of the eight of `hasUniqueLocalTime` + `zoneOffsetMs`.
 */
export function uniqueLocalMs(zone: string, ms: number): number | null {
  const d = dayOffsets(zone, ms);
  if (d === null) return null;
  if (d.calm === undefined) {
    const before = dayOffsets(zone, ms - DAY_MS);
    const after = dayOffsets(zone, ms + DAY_MS);
    d.calm =
      d.start === d.end &&
      before !== null &&
      before.start === d.start &&
      before.end === d.start &&
      after !== null &&
      after.start === d.start &&
      after.end === d.start;
  }
  if (d.calm) return ms + d.start * 60_000;
  return hasUniqueLocalTime(ms, zone) ? ms + zoneOffsetMs(zone, ms) : null;
}

/** The zone's UTC offset (minutes) at `ms`, or null when `zone` is not a zone. */
function offsetMinutes(zone: string, ms: number): number | null {
  const d = dayOffsets(zone, ms);
  return d === null ? null : ms < d.switchAt ? d.start : d.end;
}

/** The zone's UTC offset (ms) at `ms`, exact on the days clocks change (0 for an unknown zone). */
export function zoneOffsetMs(zone: string, ms: number): number {
  return (offsetMinutes(zone, ms) ?? 0) * 60_000;
}
