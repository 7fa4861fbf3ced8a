/**
 * renderEvent writes VEVENT text itself instead of going through ical-generator's ICalEvent
 * (docs/ical.md, "First render"). The library remains the reference: for generated records,
 * contents and zones, both writers must give the same bytes.
 */
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import ICAL from 'ical.js';
import ical, { ICalEvent, ICalEventClass, ICalEventStatus, ICalEventTransparency } from 'ical-generator';
import { DateTime } from 'luxon';

import { appointmentContent, type FeedEventContent, slotContent } from '../../src/ical/event-content.js';
import { foldText } from '../../src/ical/fold.js';
import { ContentTexts, type EventRecord, eventUid, renderEvent } from '../../src/ical/render-event.js';
import { hasUniqueLocalTime, SUPPORTED_ZONES } from '../../src/ical/timezones.js';
import type { Appointment, Patient, Slot } from '../../src/model/resources.js';
import type { IcalPrivacy } from '../../src/store/types.js';
import { fixturePatients, readFixture } from '../helpers/fixtures.js';

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

  it('writes the same bytes with the content lines one render shares between its events', () => {
    // One ContentTexts for every run, as one render shares it: contents with the same summary
    // and a different description, status, transparency or class must not borrow each other's lines.
    const texts = new ContentTexts();
    const shared = fc.record({
      summary: fc.constantFrom('Occupé', 'Annulé', 'RDV J. I.'),
      description: fc.constantFrom(null, 'Motif : suivi', 'Téléphone : 06 00 00 00 00'),
      status: fc.constantFrom<FeedEventContent['status']>('CONFIRMED', 'TENTATIVE', 'CANCELLED'),
      transparent: fc.boolean(),
      confidential: fc.boolean(),
    });
    fc.assert(
      fc.property(
        record,
        fc.oneof(shared, content),
        fc.constantFrom<string | null>(null, 'Europe/Paris'),
        (r, c, zone) => {
          const rec: EventRecord = {
            id: r.id,
            version: r.version,
            startMs: r.startMs,
            endMs: r.startMs + r.durationMs,
            createdMs: r.createdMs,
            updatedMs: r.updatedMs,
          };
          expect(renderEvent(rec, c, zone, texts.of(c))).toBe(libraryEvent(rec, c, zone));
        },
      ),
      { numRuns: 2000 },
    );
  });
});

/** The VEVENT blocks of a feed as written, and each one's record and content read back from it. */
function fixtureEvents(text: string): Array<{ raw: string; record: EventRecord; content: FeedEventContent }> {
  const raws = text.match(/BEGIN:VEVENT\r\n[\s\S]*?END:VEVENT\r\n/g) ?? [];
  const cal = new ICAL.Component(ICAL.parse(text));
  for (const vtz of cal.getAllSubcomponents('vtimezone')) ICAL.TimezoneService.register(vtz);
  const events = cal.getAllSubcomponents('vevent');
  expect(events).toHaveLength(raws.length);
  return events.map((c, i) => {
    const e = new ICAL.Event(c);
    const ms = (name: string) => (c.getFirstPropertyValue(name) as ICAL.Time).toJSDate().getTime();
    const str = (name: string) => {
      const v = c.getFirstPropertyValue(name);
      return v === null || v === undefined ? null : String(v);
    };
    return {
      raw: raws[i] as string,
      record: {
        id: e.uid.replace(/@passerelle$/, ''),
        version: e.sequence + 1,
        startMs: e.startDate.toJSDate().getTime(),
        endMs: c.hasProperty('dtend') ? e.endDate.toJSDate().getTime() : e.startDate.toJSDate().getTime(),
        createdMs: ms('created'),
        updatedMs: ms('last-modified'),
      },
      content: {
        summary: e.summary,
        description: str('description'),
        status: str('status') as FeedEventContent['status'],
        transparent: str('transp') === 'TRANSPARENT',
        confidential: str('class') === 'PRIVATE',
      },
    };
  });
}

describe('renderEvent on the golden feeds', () => {
  it.each([
    ['marie-busy.ics', 'Europe/Paris'],
    ['marie-initials.ics', 'Europe/Paris'],
    ['marie-full.ics', 'Europe/Paris'],
    ['practice-busy.ics', 'Europe/Paris'],
    ['reunion-busy.ics', 'Indian/Reunion'],
  ])('writes each event of %s as ical-generator does, and as the golden file has it', (file, zone) => {
    const text = readFixture('ical', file);
    // The feed's VTIMEZONE names the practice's zone, and its events refer to it.
    expect(text).toContain(`BEGIN:VTIMEZONE\r\nTZID:${zone}\r\n`);
    const events = fixtureEvents(text);
    expect(events.length).toBeGreaterThan(0);
    for (const { raw, record, content } of events) {
      expect(renderEvent(record, content, zone)).toBe(raw);
      expect(libraryEvent(record, content, zone)).toBe(raw);
    }
  });

  it('agrees with ical-generator at every privacy level on text that must be escaped and folded', () => {
    const [jeanne] = fixturePatients() as [Patient];
    // Commas, semicolons, backslashes, newlines, multi-byte letters and emoji past the 75th octet.
    const hostile = `Suivi; contrôle, tension \\ à revoir\nsuite 😀${'é'.repeat(40)}${'😀'.repeat(20)}`;
    const patient: Patient = {
      ...jeanne,
      name: [{ use: 'usual', family: `IMAGINAIRE-${'É'.repeat(30)}`, given: ['Jeanne', 'Élodie;Zoé'] }],
    };
    const apt: Appointment = {
      resourceType: 'Appointment',
      id: 'a1',
      status: 'booked',
      serviceType: [{ text: hostile }],
      reasonCode: [{ text: hostile }],
      start: '2026-10-25T00:30:00Z',
      end: '2026-10-25T01:30:00Z',
      participant: [{ actor: { reference: 'Patient/pat-jeanne-fictive' }, status: 'accepted' }],
    };
    const slot: Slot = {
      resourceType: 'Slot',
      id: 's1',
      schedule: { reference: 'Schedule/sc' },
      status: 'busy-unavailable',
      start: '2026-11-24T10:00:00Z',
      end: '2026-11-24T12:00:00Z',
      comment: hostile,
    };
    const record: EventRecord = {
      id: `apt-${'x'.repeat(80)}`,
      version: 3,
      startMs: Date.parse('2026-10-25T00:30:00Z'),
      endMs: Date.parse('2026-10-25T01:30:00Z'),
      createdMs: Date.parse('2026-10-01T08:00:00Z'),
      updatedMs: Date.parse('2026-10-02T08:00:00Z'),
    };
    for (const privacy of ['busy', 'initials', 'full'] as IcalPrivacy[]) {
      for (const practitionerLabel of [null, 'Dr Marie MÉDECIN; cabinet, étage \\2']) {
        const ctx = { privacy, practitionerLabel };
        const contents = [appointmentContent(apt, patient, ctx), slotContent(slot, 'blocked', ctx)];
        for (const content of contents) {
          if (content === null) throw new Error('no content');
          for (const zone of [null, 'Europe/Paris', 'America/Cayenne']) {
            const text = renderEvent(record, content, zone);
            expect(text).toBe(libraryEvent(record, content, zone));
            // The case is only worth it if the hostile text got through: escaped and folded.
            if (privacy === 'full') expect(text).toMatch(/\\;[\s\S]*\\,[\s\S]*\\\\[\s\S]*\\n[\s\S]*\r\n /);
          }
        }
      }
    }
  });
});
