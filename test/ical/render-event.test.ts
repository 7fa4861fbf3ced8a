/**
 * renderEvent writes VEVENT text itself instead of going through ical-generator's ICalEvent
 * (docs/ical.md, "First render"). The library remains the reference: for generated records,
 * contents and zones, both writers must give the same bytes.
 */
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import ical, { ICalEvent, ICalEventClass, ICalEventStatus, ICalEventTransparency } from 'ical-generator';
import { DateTime } from 'luxon';

import type { FeedEventContent } from '../../src/ical/event-content.js';
import { foldText } from '../../src/ical/fold.js';
import { type EventRecord, eventUid, renderEvent } from '../../src/ical/render-event.js';
import { hasUniqueLocalTime, SUPPORTED_ZONES } from '../../src/ical/timezones.js';

const eventCalendar = ical({});
const STATUS: Record<FeedEventContent['status'], ICalEventStatus> = {
  CONFIRMED: ICalEventStatus.CONFIRMED,
  TENTATIVE: ICalEventStatus.TENTATIVE,
  CANCELLED: ICalEventStatus.CANCELLED,
};

/** The writer renderEvent replaced: an ICalEvent with Luxon times, then folded. */
function libraryEvent(record: EventRecord, content: FeedEventContent, feedZone: string | null): string {
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
      sequence: Math.max(0, record.version - 1),
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

// 2020–2031, whole minutes, with the DST change days well covered.
const instant = fc.oneof(
  fc.integer({ min: 1_577_836_800_000 / 60_000, max: 1_956_528_000_000 / 60_000 }).map((m) => m * 60_000),
  fc
    .constantFrom('2026-03-29T01:00:00Z', '2026-10-25T01:00:00Z', '2027-10-31T01:00:00Z')
    .chain((iso) =>
      fc.integer({ min: -240, max: 240 }).map((m) => Date.parse(iso) + m * 60_000 + 1_000 * (m % 3)),
    ),
);
const text = fc.oneof(
  fc.string({ maxLength: 120 }),
  fc.string({ unit: 'grapheme', maxLength: 60 }),
  fc.constantFrom(
    'Occupé',
    'RDV J.-P. I. — Dr Marie MÉDECIN',
    'a,b;c\\d\ne\r\nf',
    '😀'.repeat(30),
    'é'.repeat(80),
  ),
);
const record = fc.record({
  id: fc.oneof(fc.uuid(), fc.string({ minLength: 1, maxLength: 90 })),
  version: fc.integer({ min: 1, max: 50 }),
  startMs: instant,
  durationMs: fc.integer({ min: -3_600_000, max: 8 * 3_600_000 }),
  createdMs: instant,
  updatedMs: instant,
});
const content = fc.record({
  summary: text,
  description: fc.option(
    text.filter((t) => t !== ''),
    { nil: null },
  ),
  status: fc.constantFrom<FeedEventContent['status']>('CONFIRMED', 'TENTATIVE', 'CANCELLED'),
  transparent: fc.boolean(),
  confidential: fc.boolean(),
});

describe('renderEvent', () => {
  it('writes the same bytes as ical-generator ICalEvent.toString() + folding', () => {
    fc.assert(
      fc.property(record, content, fc.constantFrom<string | null>(null, ...SUPPORTED_ZONES), (r, c, zone) => {
        const rec: EventRecord = {
          id: r.id,
          version: r.version,
          startMs: r.startMs,
          endMs: r.startMs + r.durationMs,
          createdMs: r.createdMs,
          updatedMs: r.updatedMs,
        };
        expect(renderEvent(rec, c, zone)).toBe(libraryEvent(rec, c, zone));
      }),
      { numRuns: 3000 },
    );
  });
});
