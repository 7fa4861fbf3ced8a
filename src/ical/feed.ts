/**
 * Feed contents: which records a feed lists (window, cancellations, cap), and the calendar text
 * assembled from per-event pieces rendered once per record version (docs/ical.md).
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';

import { DateTime } from 'luxon';

import type { Appointment, Patient, Practitioner, Slot } from '../model/resources.js';
import type { Store } from '../store/index.js';
import type { IcalPrivacy, IcalToken, Practice, StoredResource } from '../store/types.js';
import { calendarFrame, feedZone } from './calendar.js';
import { EventCache } from './event-cache.js';
import {
  appointmentContent,
  appointmentStatus,
  type FeedEventContent,
  type FeedEventKind,
  practitionerName,
  slotContent,
  slotKind,
} from './event-content.js';
import { ContentTexts, type EventRecord, renderEvent } from './render-event.js';
import { prepareVtimezones } from './timezones.js';

export interface FeedSettings {
  readonly windowPastDays: number;
  readonly windowFutureDays: number;
  readonly cancelledRetentionDays: number;
  readonly refreshMinutes: number;
  readonly maxEvents: number;
  readonly eventCacheEntries: number;
}

/**
 * What a feed covers on a given day. Everything time-dependent in a feed is computed from the
 * start of the current day in the practice's zone, never from the request time, so a feed's
 * content changes only when a record changes or the day does — both are in the ETag.
 */
export interface FeedWindow {
  /** `YYYY-MM-DD` in the practice's zone. */
  readonly day: string;
  readonly dayStartMs: number;
  /** Start of the next day: the window is the same for every instant before it. */
  readonly nextDayStartMs: number;
  readonly fromMs: number;
  /** Exclusive: the end of the last day of the window. */
  readonly toMs: number;
  /** Cancelled appointments changed before this are left out. */
  readonly cancelledSinceMs: number;
}

export function feedWindow(
  nowMs: number,
  zone: string,
  settings: Pick<FeedSettings, 'windowPastDays' | 'windowFutureDays' | 'cancelledRetentionDays'>,
): FeedWindow {
  let day = DateTime.fromMillis(nowMs, { zone }).startOf('day');
  if (!day.isValid) day = DateTime.fromMillis(nowMs, { zone: 'utc' }).startOf('day');
  return {
    day: day.toISODate() as string,
    dayStartMs: day.toMillis(),
    nextDayStartMs: day.plus({ days: 1 }).toMillis(),
    // Calendar arithmetic in the zone: "30 days back" crosses DST changes by whole local days.
    fromMs: day.minus({ days: settings.windowPastDays }).toMillis(),
    toMs: day.plus({ days: settings.windowFutureDays + 1 }).toMillis(),
    cancelledSinceMs: day.minus({ days: settings.cancelledRetentionDays }).toMillis(),
  };
}

/** The records one feed is made from, loaded from the store. */
export interface FeedData {
  readonly practice: Practice;
  /** The practitioner's canonical id, or null for a practice-wide feed. */
  readonly practitionerId: string | null;
  readonly practitioners: ReadonlyMap<string, StoredResource>;
  readonly appointments: readonly StoredResource[];
  readonly slots: readonly StoredResource[];
  /** Only loaded for `initials` and `full` feeds. */
  readonly patients: ReadonlyMap<string, StoredResource>;
}

/** The canonical Patient id of an appointment: the indexed column, else its Patient participant. */
export function appointmentPatientId(row: StoredResource): string | null {
  if (row.patientId) return row.patientId;
  const ref = (row.data as Appointment).participant
    ?.map((p) => p.actor?.reference)
    .find((r) => r?.startsWith('Patient/'));
  return ref ? ref.slice('Patient/'.length) : null;
}

/**
 * Records are read one month of the window at a time, with a turn of the event loop between
 * reads: better-sqlite3 is synchronous, and one read of a 10,000-event window would hold the
 * loop for the whole parse.
 */
const READ_SLICE_MS = 30 * 86_400_000;

export async function loadFeedData(
  store: Store,
  token: Pick<IcalToken, 'practiceId' | 'practitionerId'>,
  practice: Practice,
  window: FeedWindow,
  privacy: IcalPrivacy,
): Promise<FeedData> {
  const scope = {
    practiceId: token.practiceId,
    ...(token.practitionerId !== null && { practitionerId: token.practitionerId }),
  };
  const appointments = new Map<string, StoredResource>();
  const slots = new Map<string, StoredResource>();
  for (let from = window.fromMs; from < window.toMs; from += READ_SLICE_MS) {
    const slice = {
      ...scope,
      from: new Date(from).toISOString(),
      to: new Date(Math.min(from + READ_SLICE_MS, window.toMs)).toISOString(),
    };
    const [a, s] = await Promise.all([
      store.resources.list({ ...slice, kind: 'Appointment' }),
      store.resources.list({ ...slice, kind: 'Slot' }),
    ]);
    // A record spanning two slices comes back twice.
    for (const r of a) appointments.set(r.id, r);
    for (const r of s) slots.set(r.id, r);
    await yieldToEventLoop();
  }
  const practitionerRows =
    token.practitionerId !== null
      ? await store.resources.getMany([token.practitionerId])
      : await store.resources.list({ practiceId: token.practiceId, kind: 'Practitioner' });
  const practitioners = new Map(
    practitionerRows
      .filter((r) => r.kind === 'Practitioner' && r.practiceId === token.practiceId)
      .map((r) => [r.id, r]),
  );
  let patients = new Map<string, StoredResource>();
  if (privacy !== 'busy') {
    const ids = [...appointments.values()].map(appointmentPatientId).filter((x): x is string => x !== null);
    const rows = await store.resources.getMany(ids);
    // Only this practice's Patient records: an id pointing elsewhere shows nothing.
    patients = new Map(
      rows.filter((r) => r.kind === 'Patient' && r.practiceId === token.practiceId).map((r) => [r.id, r]),
    );
  }
  return {
    practice,
    practitionerId: token.practitionerId,
    practitioners,
    appointments: [...appointments.values()],
    slots: [...slots.values()],
    patients,
  };
}

export interface RenderedFeed {
  readonly text: string;
  readonly events: number;
  /** Distinct patients named (initials or full) in the feed: what an audit event records. */
  readonly patients: number;
  /** Events left out because the feed reached `maxEvents`. */
  readonly truncated: number;
}

interface Candidate {
  readonly row: StoredResource;
  readonly kind: FeedEventKind;
  readonly startMs: number;
  readonly endMs: number;
}

const msOf = (iso: string | null | undefined): number | null => {
  if (!iso) return null;
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? null : ms;
};

/** The calendar's name: "Agenda Dr Marie MÉDECIN — Cabinet du Test", or "Agenda — <practice>". */
export function calendarName(data: Pick<FeedData, 'practice' | 'practitionerId' | 'practitioners'>): string {
  if (data.practitionerId === null) return `Agenda — ${data.practice.name}`;
  const name = practitionerName(
    data.practitioners.get(data.practitionerId)?.data as Practitioner | undefined,
  );
  return `Agenda ${name ?? 'praticien'} — ${data.practice.name}`;
}

/** Every event renders through here once per (record version, privacy, zone, related records' versions). */
export class FeedRenderer {
  private readonly cache: EventCache;
  /** Cache-miss renders between two yields to the event loop. */
  private readonly yieldEvery = 200;

  constructor(private readonly settings: FeedSettings) {
    this.cache = new EventCache(Math.max(0, settings.eventCacheEntries));
    // Made once per process when the feed service starts: the zone tables load then, not
    // during the first feed request.
    prepareVtimezones();
  }

  /** Rendered events currently cached. */
  get cachedEvents(): number {
    return this.cache.size;
  }

  clearCache(): void {
    this.cache.clear();
  }

  private select(data: FeedData, window: FeedWindow): { kept: Candidate[]; truncated: number } {
    const all: Candidate[] = [];
    for (const row of data.appointments) {
      const a = row.data as Appointment;
      const status = appointmentStatus(a.status);
      if (status === null) continue;
      // RFC 5545 §3.8.1.11: a cancelled appointment stays, as STATUS:CANCELLED, for a while so
      // apps show it struck through rather than silently gone; then it leaves the feed.
      if (status === 'CANCELLED' && Date.parse(row.updatedAt) < window.cancelledSinceMs) continue;
      const startMs = msOf(row.startAt) ?? msOf(a.start);
      const endMs = msOf(row.endAt) ?? msOf(a.end) ?? startMs;
      if (startMs === null || endMs === null) continue;
      all.push({ row, kind: 'appointment', startMs, endMs });
    }
    for (const row of data.slots) {
      const s = row.data as Slot;
      const kind = slotKind(s);
      if (kind === null) continue;
      const startMs = msOf(row.startAt) ?? msOf(s.start);
      const endMs = msOf(row.endAt) ?? msOf(s.end);
      if (startMs === null || endMs === null) continue;
      all.push({ row, kind, startMs, endMs });
    }
    let kept = all;
    let truncated = 0;
    if (all.length > this.settings.maxEvents) {
      // Keep what matters most: the days ahead, nearest first, then the most recent past.
      const ahead = all.filter((c) => c.endMs > window.dayStartMs).sort((x, y) => x.startMs - y.startMs);
      const past = all.filter((c) => c.endMs <= window.dayStartMs).sort((x, y) => y.startMs - x.startMs);
      kept = [...ahead, ...past].slice(0, this.settings.maxEvents);
      truncated = all.length - kept.length;
    }
    kept.sort((x, y) => x.startMs - y.startMs || (x.row.id < y.row.id ? -1 : x.row.id > y.row.id ? 1 : 0));
    return { kept, truncated };
  }

  async render(data: FeedData, window: FeedWindow, privacy: IcalPrivacy): Promise<RenderedFeed> {
    const zone = feedZone(data.practice.timezone);
    const { kept, truncated } = this.select(data, window);
    const practiceWide = data.practitionerId === null;
    const parts: string[] = [];
    const patientsShown = new Set<string>();
    let misses = 0;
    const contentTexts = new ContentTexts();
    const scope = this.cache.scope({ practiceId: data.practice.id, privacy, zone, practiceWide });
    for (const c of kept) {
      const practitioner =
        practiceWide && c.row.practitionerId ? data.practitioners.get(c.row.practitionerId) : undefined;
      const patientId = c.kind === 'appointment' && privacy !== 'busy' ? appointmentPatientId(c.row) : null;
      const patient = patientId ? data.patients.get(patientId) : undefined;
      if (patient) patientsShown.add(patient.id);
      let text = scope.get(c.row.id, c.row.version, practitioner, patient);
      if (text === undefined) {
        const ctx = {
          privacy,
          practitionerLabel: practiceWide
            ? practitionerName(practitioner?.data as Practitioner | undefined)
            : null,
        };
        const content: FeedEventContent | null =
          c.kind === 'appointment'
            ? appointmentContent(c.row.data as Appointment, patient?.data as Patient | undefined, ctx)
            : slotContent(c.row.data as Slot, c.kind, ctx);
        if (content === null) continue;
        const record: EventRecord = {
          id: c.row.id,
          version: c.row.version,
          startMs: c.startMs,
          endMs: c.endMs,
          createdMs: Date.parse(c.row.createdAt),
          updatedMs: Date.parse(c.row.updatedAt),
        };
        text = renderEvent(record, content, zone, contentTexts.of(content));
        scope.set(c.row.id, c.row.version, practitioner, patient, text);
        // Rendering is synchronous; a cold 10,000-event feed must not hold the event loop.
        if (++misses % this.yieldEvery === 0) await yieldToEventLoop();
      }
      parts.push(text);
    }
    this.cache.trim();
    const frame = calendarFrame({
      name: calendarName(data),
      description: 'Rendez-vous et plages bloquées, publiés par passerelle (lecture seule)',
      zone,
      refreshMinutes: this.settings.refreshMinutes,
    });
    return {
      text: frame.head + parts.join('') + frame.tail,
      events: parts.length,
      patients: patientsShown.size,
      truncated,
    };
  }
}
