import { DateTime, IANAZone } from 'luxon';
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
 * Whether `ms`'s local time in `zone` names that instant alone. The hour repeated when clocks go
 * back (02:00–03:00 on the last Sunday of October in Paris) names two instants; RFC 5545 §3.3.5
 * says such a local time "refers to the first occurrence", but readers differ (ical.js, like
 * Luxon, takes the second). Events with a start or end in that hour are therefore written in UTC
 * (`…Z`), which every reader takes as it is.
 */
export function hasUniqueLocalTime(ms: number, zone: string): boolean {
  // Fast path: no clock change within three hours either side, so the local time is unique.
  const offset = dayOffset(zone, ms);
  if (
    offset !== null &&
    dayOffset(zone, ms - THREE_HOURS) === offset &&
    dayOffset(zone, ms + THREE_HOURS) === offset
  )
    return true;
  const local = DateTime.fromMillis(ms, { zone });
  if (!local.isValid) return false;
  // The wall-clock fields as if they were UTC; each offset the zone uses nearby gives a candidate.
  const wall = Date.UTC(
    local.year,
    local.month - 1,
    local.day,
    local.hour,
    local.minute,
    local.second,
    local.millisecond,
  );
  const instants = new Set<number>();
  for (const probe of [ms - THREE_HOURS, ms, ms + THREE_HOURS]) {
    const candidate = wall - DateTime.fromMillis(probe, { zone }).offset * 60_000;
    const back = DateTime.fromMillis(candidate, { zone });
    if (
      back.day === local.day &&
      back.hour === local.hour &&
      back.minute === local.minute &&
      back.second === local.second
    )
      instants.add(candidate);
  }
  return instants.size === 1 && instants.has(ms);
}

const THREE_HOURS = 10_800_000;
const DAY_MS = 86_400_000;
/** Per zone, then per UTC day number: numeric keys, so the hot path builds no string. */
const dayOffsets = new Map<string, Map<number, number | null>>();

/**
 * The zone's UTC offset (minutes) over the whole UTC day holding `ms`, or null when it changes
 * that day. Two Intl look-ups per zone and day instead of several per event: rendering 10,000
 * events would otherwise spend most of its time asking Intl the same question. (A zone changes
 * its offset at most once a day; equal offsets at both ends of a day mean no change within it.)
 */
function dayOffset(zone: string, ms: number): number | null {
  const day = Math.floor(ms / DAY_MS);
  let days = dayOffsets.get(zone);
  if (days === undefined) {
    days = new Map();
    dayOffsets.set(zone, days);
  }
  const hit = days.get(day);
  if (hit !== undefined) return hit;
  const z = IANAZone.create(zone);
  const start = z.offset(day * DAY_MS);
  const value = z.isValid && start === z.offset((day + 1) * DAY_MS - 1) ? start : null;
  if (days.size > 100_000) days.clear();
  days.set(day, value);
  return value;
}

/**
 * The zone's UTC offset (ms) at `ms`: the per-day cache when the offset holds all day, else
 * Luxon's own answer, so local times are exact on the days clocks change.
 */
export function zoneOffsetMs(zone: string, ms: number): number {
  const offset = dayOffset(zone, ms) ?? IANAZone.create(zone).offset(ms);
  return offset * 60_000;
}
