import ical, {
  escape,
  ICalEvent,
  ICalEventClass,
  ICalEventStatus,
  ICalEventTransparency,
} from 'ical-generator';
import { DateTime } from 'luxon';

import type { FeedEventContent } from './event-content.js';
import { foldText } from './fold.js';
import { hasUniqueLocalTime } from './timezones.js';

/** The parts of a stored record one VEVENT is made of. */
export interface EventRecord {
  readonly id: string;
  /** Store version (1, 2, …): every change of the record bumps it. */
  readonly version: number;
  readonly startMs: number;
  /** Must be after `startMs` (RFC 5545 §3.8.2.2); otherwise DTEND is left out (an instant). */
  readonly endMs: number;
  readonly createdMs: number;
  readonly updatedMs: number;
}

/**
 * A calendar that only lends its settings to events rendered one by one. It has no time zone on
 * purpose: ical-generator formats DTSTAMP, CREATED and LAST-MODIFIED with the *calendar's* zone,
 * and those must be UTC (RFC 5545 §3.8.7.2, §3.8.7.1, §3.8.7.3).
 */
const eventCalendar = ical({});

const STATUS: Record<FeedEventContent['status'], ICalEventStatus> = {
  CONFIRMED: ICalEventStatus.CONFIRMED,
  TENTATIVE: ICalEventStatus.TENTATIVE,
  CANCELLED: ICalEventStatus.CANCELLED,
};

/** RFC 5545 §3.8.4.7: globally unique and the same for the life of the record, moves included. */
export function eventUid(recordId: string): string {
  return `${recordId}@passerelle`;
}

/**
 * One VEVENT, folded, ending in CRLF. Its bytes depend only on the record's version, the content
 * and the zone, so the text can be cached and the same record renders identically every time.
 *
 * Times: with `zone` (an IANA zone that has a VTIMEZONE in the feed), DTSTART/DTEND are written
 * as `TZID=<zone>:<local wall time>` from Luxon objects, which ical-generator converts with
 * `setZone(zone)` — never from a JS Date, which it would format in the *server's* zone
 * (shared/libraries.md §4). Without a zone they are UTC (`…Z`), as are the rare times a TZID
 * cannot express (the second occurrence of the hour repeated in October).
 */
export function renderEvent(record: EventRecord, content: FeedEventContent, feedZone: string | null): string {
  // An event with a start or end in the hour repeated in October is written in UTC.
  const zone =
    feedZone !== null &&
    hasUniqueLocalTime(record.startMs, feedZone) &&
    hasUniqueLocalTime(record.endMs, feedZone)
      ? feedZone
      : null;
  const start = zone ? DateTime.fromMillis(record.startMs, { zone }) : new Date(record.startMs);
  const end =
    record.endMs <= record.startMs
      ? null
      : zone
        ? DateTime.fromMillis(record.endMs, { zone })
        : new Date(record.endMs);
  const event = new ICalEvent(
    {
      id: eventUid(record.id),
      // §3.8.7.4: 0 for the first version, growing with every change.
      sequence: Math.max(0, record.version - 1),
      // DTSTAMP is the record's last change, not the time of the request: bytes stay the same
      // until the record changes (stable ETag bodies, golden files).
      stamp: new Date(record.updatedMs),
      created: new Date(record.createdMs),
      lastModified: new Date(record.updatedMs),
      start,
      end,
      timezone: zone,
      summary: content.summary,
      description: content.description,
      status: STATUS[content.status],
      transparency: content.transparent ? ICalEventTransparency.TRANSPARENT : ICalEventTransparency.OPAQUE,
      class: content.confidential ? ICalEventClass.PRIVATE : null,
    },
    eventCalendar,
  );
  return `${foldText(event.toString().replace(/\r\n$/, ''))}\r\n`;
}

/** TEXT values (RFC 5545 §3.3.11) for the properties ical-generator writes unescaped (NAME, X-WR-CALNAME, X-WR-CALDESC). */
export function escapeText(value: string): string {
  return escape(value, false);
}
