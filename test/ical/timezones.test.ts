import { describe, expect, it } from '@jest/globals';
import ICAL from 'ical.js';
import { DateTime } from 'luxon';

import { calendarFrame } from '../../src/ical/calendar.js';
import { hasUniqueLocalTime, SUPPORTED_ZONES, uniqueLocalMs, vtimezone } from '../../src/ical/timezones.js';

describe('VTIMEZONE blocks', () => {
  it.each(SUPPORTED_ZONES)('names %s itself, even when the zone is an IANA link', (zone) => {
    const block = vtimezone(zone);
    expect(block).not.toBeNull();
    expect(block).toMatch(new RegExp(`^BEGIN:VTIMEZONE\\r\\nTZID:${zone.replace('/', '\\/')}\\r\\n`));
  });

  it.each(SUPPORTED_ZONES)(
    'reads every local time of %s back to the IANA database’s instant, every day of 2026–2028 and around each change',
    (zone) => {
      const cal = new ICAL.Component(
        ICAL.parse(
          calendarFrame({ name: 'x', description: 'x', zone, refreshMinutes: 15 }).head + 'END:VCALENDAR\r\n',
        ),
      );
      const tz = new ICAL.Timezone(cal.getFirstSubcomponent('vtimezone') as ICAL.Component);
      const instants: number[] = [];
      for (let ms = Date.UTC(2026, 0, 1); ms < Date.UTC(2029, 0, 1); ms += 86_400_000)
        instants.push(ms, ms + 43_200_000);
      // Europe/Paris changes at 01:00 UTC on the last Sundays of March and October: probe both sides.
      for (const day of [
        '2026-03-29',
        '2026-10-25',
        '2027-03-28',
        '2027-10-31',
        '2028-03-26',
        '2028-10-29',
      ]) {
        const t = Date.parse(`${day}T01:00:00Z`);
        instants.push(t - 1_800_000, t - 60_000, t, t + 60_000, t + 1_800_000, t + 3_600_000);
      }
      let checked = 0;
      for (const ms of instants) {
        // The wall-clock time a feed writes for this instant (from the IANA database, via Intl)…
        const local = DateTime.fromMillis(ms, { zone });
        if (!hasUniqueLocalTime(ms, zone)) continue; // feeds write these in UTC; see hasUniqueLocalTime
        // …read back by ical.js with the feed's VTIMEZONE, as a calendar app does.
        const t = new ICAL.Time(
          {
            year: local.year,
            month: local.month,
            day: local.day,
            hour: local.hour,
            minute: local.minute,
            second: local.second,
            isDate: false,
          },
          tz,
        );
        if (t.toUnixTime() * 1000 !== ms)
          throw new Error(
            `${zone}: ${local.toISO()} reads back as ${new Date(t.toUnixTime() * 1000).toISOString()}, not ${new Date(ms).toISOString()}`,
          );
        checked++;
      }
      expect(checked).toBeGreaterThan(2000);
    },
  );

  it('knows which local times name two instants (the hour repeated in October)', () => {
    expect(hasUniqueLocalTime(Date.parse('2026-10-25T00:30:00Z'), 'Europe/Paris')).toBe(false); // 02:30 CEST
    expect(hasUniqueLocalTime(Date.parse('2026-10-25T01:30:00Z'), 'Europe/Paris')).toBe(false); // 02:30 CET
    expect(hasUniqueLocalTime(Date.parse('2026-10-25T02:00:00Z'), 'Europe/Paris')).toBe(true); // 03:00 CET
    expect(hasUniqueLocalTime(Date.parse('2026-10-24T23:59:00Z'), 'Europe/Paris')).toBe(true); // 01:59 CEST
    expect(hasUniqueLocalTime(Date.parse('2026-03-29T01:30:00Z'), 'Europe/Paris')).toBe(true); // 03:30 CEST
    expect(hasUniqueLocalTime(Date.parse('2026-10-25T01:30:00Z'), 'Indian/Reunion')).toBe(true);
  });

  it.each(SUPPORTED_ZONES)(
    'gives the local wall time of %s that Luxon gives, or none for a repeated hour, every 10 minutes of 2026–2027',
    (zone) => {
      let repeated = 0;
      for (let ms = Date.UTC(2026, 0, 1); ms < Date.UTC(2028, 0, 1); ms += 600_000) {
        const expected = hasUniqueLocalTime(ms, zone)
          ? ms + DateTime.fromMillis(ms, { zone }).offset * 60_000
          : null;
        if (expected === null) repeated++;
        if (uniqueLocalMs(zone, ms) !== expected)
          throw new Error(
            `${zone} at ${new Date(ms).toISOString()}: ${uniqueLocalMs(zone, ms)} ≠ ${expected}`,
          );
      }
      // Paris repeats one hour each October: two hours of instants (12 ten-minute steps) a year.
      // The overseas zones keep one offset all year.
      expect(repeated).toBe(zone === 'Europe/Paris' ? 2 * 12 : 0);
    },
  );

  it('has no local wall time for an unknown zone', () => {
    expect(uniqueLocalMs('Mars/Olympus_Mons', Date.UTC(2026, 0, 1))).toBeNull();
  });

  it('has no block for an unknown zone, so feeds fall back to UTC times', () => {
    expect(vtimezone('Mars/Olympus_Mons')).toBeNull();
  });
});
