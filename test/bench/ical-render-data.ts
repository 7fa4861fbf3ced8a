/**
 * The records and the hand-written baseline of the ical-render benchmark, shared with its child
 * process (ical-render-child.ts).
 */
import type { FeedData } from '../../src/ical/feed.js';
import type { Practice, StoredResource } from '../../src/store/types.js';

export const EVENTS = 10_000;
export const NOW = Date.parse('2026-11-23T09:00:00Z');
export const SETTINGS = {
  windowPastDays: 30,
  windowFutureDays: 180,
  cancelledRetentionDays: 7,
  refreshMinutes: 15,
  maxEvents: 10_000,
  eventCacheEntries: 50_000,
};
export const practice: Practice = {
  id: 'cab',
  name: 'Cabinet',
  timezone: 'Europe/Paris',
  settings: {},
  version: 1,
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
};

export function rows(): StoredResource[] {
  return Array.from({ length: EVENTS }, (_, i) => {
    const startMs = NOW - 20 * 86_400_000 + i * 25 * 60_000;
    const start = new Date(startMs).toISOString();
    const end = new Date(startMs + 20 * 60_000).toISOString();
    return {
      id: `apt-${i}`,
      practiceId: 'cab',
      kind: 'Appointment' as const,
      data: {
        resourceType: 'Appointment',
        id: `apt-${i}`,
        status: i % 50 === 0 ? 'cancelled' : 'booked',
        start,
        end,
        participant: [{ actor: { reference: 'Practitioner/pr' }, status: 'accepted' }],
      },
      hash: 'h',
      version: 1 + (i % 3),
      origin: 'secretariat' as const,
      startAt: start,
      endAt: end,
      practitionerId: 'pr',
      patientId: null,
      status: 'booked',
      createdAt: '2026-11-01T00:00:00.000Z',
      updatedAt: '2026-11-20T10:00:00.000Z',
    };
  });
}

const p2 = (n: number) => (n < 10 ? `0${n}` : String(n));
/** RFC 5545 UTC date-time, written the fast way (no regex, no library). */
const utc = (ms: number) => {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}${p2(d.getUTCMonth() + 1)}${p2(d.getUTCDate())}T${p2(d.getUTCHours())}${p2(d.getUTCMinutes())}${p2(d.getUTCSeconds())}Z`;
};

/** The same VEVENTs written by hand: what any feed costs at least. */
export function concatenate(records: readonly StoredResource[]): string {
  let out =
    'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//FR\r\nMETHOD:PUBLISH\r\nNAME:Agenda\r\nX-WR-CALNAME:Agenda\r\n';
  for (const r of records) {
    const cancelled = (r.data as { status: string }).status === 'cancelled';
    out +=
      `BEGIN:VEVENT\r\nUID:${r.id}@passerelle\r\nSEQUENCE:${r.version - 1}\r\nDTSTAMP:${utc(Date.parse(r.updatedAt))}\r\n` +
      `DTSTART:${utc(Date.parse(r.startAt as string))}\r\nDTEND:${utc(Date.parse(r.endAt as string))}\r\n` +
      `SUMMARY:${cancelled ? 'Annulé' : 'Occupé'}\r\nTRANSP:${cancelled ? 'TRANSPARENT' : 'OPAQUE'}\r\nSTATUS:${cancelled ? 'CANCELLED' : 'CONFIRMED'}\r\n` +
      `CREATED:${utc(Date.parse(r.createdAt))}\r\nLAST-MODIFIED:${utc(Date.parse(r.updatedAt))}\r\nEND:VEVENT\r\n`;
  }
  return `${out}END:VCALENDAR\r\n`;
}

/** The feed the benchmark renders: one practitioner's 10,000 appointments, busy level. */
export function feedData(records: StoredResource[]): FeedData {
  return {
    practice,
    practitionerId: 'pr',
    practitioners: new Map(),
    appointments: records,
    slots: [],
    patients: new Map(),
  };
}
