import ical, { ICalCalendarMethod } from 'ical-generator';

import { foldText } from './fold.js';
import { escapeText } from './render-event.js';
import { vtimezone } from './timezones.js';

export interface CalendarMeta {
  /** Shown by calendar apps as the calendar's name (RFC 7986 NAME, X-WR-CALNAME). */
  readonly name: string;
  readonly description: string;
  /** The practice's IANA zone; null when no VTIMEZONE is known for it (events are then UTC). */
  readonly zone: string | null;
  readonly refreshMinutes: number;
}

export const PRODID = '//passerelle//Agenda iCal//FR';

/**
 * Everything of the VCALENDAR before its events, and the closing line. Built by ical-generator
 * with no events (its whole-calendar `toString()` is only slow on many events).
 */
export function calendarFrame(meta: CalendarMeta): { head: string; tail: string } {
  const cal = ical({
    prodId: PRODID,
    method: ICalCalendarMethod.PUBLISH,
    scale: 'GREGORIAN',
    // ical-generator writes NAME and X-WR-CALNAME/-CALDESC as given: escape `,` `;` `\` here.
    name: escapeText(meta.name),
    description: escapeText(meta.description),
    // RFC 7986 §5.7 REFRESH-INTERVAL, and X-PUBLISHED-TTL for Outlook.
    ttl: meta.refreshMinutes * 60,
    ...(meta.zone && { timezone: { name: meta.zone, generator: (tz: string) => vtimezone(tz) } }),
  });
  const text = foldText(cal.toString());
  const end = text.lastIndexOf('END:VCALENDAR');
  return { head: text.slice(0, end), tail: 'END:VCALENDAR\r\n' };
}

/** The zone feeds write TZIDs in: the practice's when a VTIMEZONE is known for it, else null (UTC). */
export function feedZone(practiceZone: string): string | null {
  return vtimezone(practiceZone) === null ? null : practiceZone;
}
