import { escape, ICalEventClass, ICalEventStatus, ICalEventTransparency } from 'ical-generator';

import type { FeedEventContent } from './event-content.js';
import { foldLine } from './fold.js';
import { uniqueLocalMs } from './timezones.js';

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

const STATUS: Record<FeedEventContent['status'], ICalEventStatus> = {
  CONFIRMED: ICalEventStatus.CONFIRMED,
  TENTATIVE: ICalEventStatus.TENTATIVE,
  CANCELLED: ICalEventStatus.CANCELLED,
};

/** RFC 5545 §3.8.4.7: globally unique and the same for the life of the record, moves included. */
export function eventUid(recordId: string): string {
  return `${recordId}@passerelle`;
}

/** "00"…"59": two-digit fields without a padStart per field. */
const TWO_DIGITS = Array.from({ length: 60 }, (_, i) => (i < 10 ? `0${i}` : `${i}`));
const DAY_MS = 86_400_000;
/** `YYYYMMDD` per day number since the epoch: a feed's events share a few hundred days. */
const dayStrings = new Map<number, string>();

function dayString(day: number): string {
  let s = dayStrings.get(day);
  if (s === undefined) {
    const d = new Date(day * DAY_MS);
    s = `${String(d.getUTCFullYear()).padStart(4, '0')}${TWO_DIGITS[d.getUTCMonth() + 1]}${TWO_DIGITS[d.getUTCDate()]}`;
    if (dayStrings.size > 100_000) dayStrings.clear();
    dayStrings.set(day, s);
  }
  return s;
}

/**
 * `YYYYMMDDTHHMMSS` of `ms` read as UTC fields: with the zone's offset added first, the local
 * wall time. The same digits ical-generator's `formatDate` writes (4-digit year, seconds
 * truncated), from a cached day string and integer arithmetic instead of a Date per value.
 */
function basicDateTime(ms: number): string {
  const day = Math.floor(ms / DAY_MS);
  const seconds = Math.floor((ms - day * DAY_MS) / 1000);
  const minutes = Math.floor(seconds / 60);
  return `${dayString(day)}T${TWO_DIGITS[Math.floor(minutes / 60)]}${TWO_DIGITS[minutes % 60]}${TWO_DIGITS[seconds % 60]}`;
}

/**
 * One VEVENT, folded, ending in CRLF. Its bytes depend only on the record's version, the content
 * and the zone, so the text can be cached and the same record renders identically every time.
 *
 * Times: with `zone` (an IANA zone that has a VTIMEZONE in the feed), DTSTART/DTEND are written
 * as `TZID=<zone>:<local wall time>`, the local time being the instant plus the zone's offset at
 * that instant (`uniqueLocalMs`, exact on DST days) — never from a JS Date's local getters, which
 * give the *server's* zone (shared/libraries.md §4). Without a zone they are UTC (`…Z`), as are
 * the rare times a TZID cannot express (the second occurrence of the hour repeated in October).
 *
 * The text is written here property by property, in the order and with the escaping of
 * ical-generator's `ICalEvent.toString()` (10.x), rather than through an `ICalEvent`: on a first
 * render of 10,000 events the library's object model and its Luxon formatting (an Intl call per
 * date) cost ≈ 4× the raw text (docs/ical.md, docs/benchmarks.md). ical-generator still escapes
 * the TEXT values, builds the calendar frame, and is the oracle of a test that compares both
 * writers on generated events (test/ical/render-event.test.ts).
 */
export function renderEvent(
  record: EventRecord,
  content: FeedEventContent,
  feedZone: string | null,
  text: ContentText = contentText(content),
): string {
  // An event with a start or end in the hour repeated in October is written in UTC.
  const localStart = feedZone !== null ? uniqueLocalMs(feedZone, record.startMs) : null;
  const localEnd = localStart !== null ? uniqueLocalMs(feedZone as string, record.endMs) : null;
  const stamp = `${basicDateTime(record.updatedMs)}Z`;
  let dates: string;
  if (localStart !== null && localEnd !== null) {
    dates = foldLine(`DTSTART;TZID=${feedZone}:${basicDateTime(localStart)}`);
    if (record.endMs > record.startMs)
      dates += `\r\n${foldLine(`DTEND;TZID=${feedZone}:${basicDateTime(localEnd)}`)}`;
  } else {
    dates = `DTSTART:${basicDateTime(record.startMs)}Z`;
    if (record.endMs > record.startMs) dates += `\r\nDTEND:${basicDateTime(record.endMs)}Z`;
  }
  // §3.8.7.4: 0 for the first version, growing with every change. DTSTAMP is the record's last
  // change, not the time of the request: bytes stay the same until the record changes (stable
  // ETag bodies, golden files). DTSTAMP, CREATED and LAST-MODIFIED are UTC (§3.8.7).
  return (
    `BEGIN:VEVENT\r\n${foldLine(`UID:${eventUid(record.id)}`)}\r\n` +
    `SEQUENCE:${Math.max(0, record.version - 1)}\r\nDTSTAMP:${stamp}\r\n${dates}\r\n${text.middle}` +
    `CREATED:${basicDateTime(record.createdMs)}Z\r\nLAST-MODIFIED:${stamp}\r\n${text.end}`
  );
}

/**
 * The lines of a VEVENT that depend on its content alone, escaped and folded: `middle` from
 * SUMMARY to STATUS, `end` from CLASS to END:VEVENT. A feed has few distinct contents (a busy
 * feed three: "Occupé", "Occupé (à confirmer)", "Annulé"), so a render makes each once and
 * writes it into every event that has it (`renderEvent`'s `text`).
 */
export interface ContentText {
  readonly middle: string;
  readonly end: string;
}

export function contentText(content: FeedEventContent): ContentText {
  return {
    middle:
      `${foldLine(`SUMMARY:${escape(content.summary, false)}`)}\r\n` +
      `TRANSP:${content.transparent ? ICalEventTransparency.TRANSPARENT : ICalEventTransparency.OPAQUE}\r\n` +
      (content.description !== null
        ? `${foldLine(`DESCRIPTION:${escape(content.description, false)}`)}\r\n`
        : '') +
      `STATUS:${STATUS[content.status]}\r\n`,
    end: `${content.confidential ? `CLASS:${ICalEventClass.PRIVATE}\r\n` : ''}END:VEVENT\r\n`,
  };
}

/**
 * Remembers the `ContentText` of each distinct content during one render. Keyed by summary, the
 * other fields compared on a hit: contents that share a summary mostly share the rest.
 */
export class ContentTexts {
  private readonly bySummary = new Map<string, { content: FeedEventContent; text: ContentText }>();

  of(content: FeedEventContent): ContentText {
    const hit = this.bySummary.get(content.summary);
    if (
      hit !== undefined &&
      hit.content.description === content.description &&
      hit.content.status === content.status &&
      hit.content.transparent === content.transparent &&
      hit.content.confidential === content.confidential
    )
      return hit.text;
    const text = contentText(content);
    this.bySummary.set(content.summary, { content, text });
    return text;
  }
}

/** TEXT values (RFC 5545 §3.3.11) for the properties ical-generator writes unescaped (NAME, X-WR-CALNAME, X-WR-CALDESC). */
export function escapeText(value: string): string {
  return escape(value, false);
}
