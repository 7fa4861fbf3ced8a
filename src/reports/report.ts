/**
 * The activity report of a practice over a period: what the engine recorded as it happened
 * (activity_events), dead letters of the period, and the sync state of each link at the time
 * the report is made (cursors, outbox). `aggregateActivity` is pure; `buildActivityReport`
 * reads the store.
 */
import {
  CoverageWindows,
  coverageZone,
  coveredIntervals,
  dayInterval,
  localDate,
  nextDate,
} from '../agenda/index.js';
import type { Practitioner } from '../model/resources.js';
import type { Repos } from '../store/index.js';
import type { Period } from '../store/repos/reports.js';
import type { ActivityCount, Practice } from '../store/types.js';
import { reminderStats } from '../sync/reminders.js';
import { urgentStats } from '../sync/urgent.js';
import { summarize } from './percentiles.js';
import {
  type ActivityReport,
  APPOINTMENT_COUNTERS,
  type AppointmentCounter,
  type AppointmentCounts,
  MESSAGE_PRIORITIES,
  type MessagePriority,
  type MessageStats,
} from './report-schema.js';

const zeroCounts = (): AppointmentCounts => ({
  booked: 0,
  moved: 0,
  cancelled: 0,
  noshow: 0,
  arrived: 0,
  refused: 0,
});
const COUNTER_OF: Readonly<Record<string, AppointmentCounter>> = Object.fromEntries(
  APPOINTMENT_COUNTERS.map((c) => [`appointment.${c}`, c]),
);
const URGENT: ReadonlySet<string> = new Set(['urgent', 'asap', 'stat']);

type Aggregated = Pick<ActivityReport, 'appointments' | 'messages'> & {
  conflicts: Omit<ActivityReport['conflicts'], 'openNow'>;
};

/**
 * Folds grouped event counts and the period's delivery latencies into the report's sections.
 * Practitioners come out in id order, the unknown one (null) last.
 */
export function aggregateActivity(
  counts: readonly ActivityCount[],
  latencies: readonly { priority: string | null; latencyMs: number }[],
): Aggregated {
  const total = zeroCounts();
  const byOrigin = { secretariat: zeroCounts(), practice: zeroCounts() };
  const practitioners = new Map<
    string | null,
    { total: AppointmentCounts; byOrigin: { secretariat: AppointmentCounts; practice: AppointmentCounts } }
  >();
  const received = new Map<string | null, number>();
  const delivered = new Map<string | null, number>();
  const conflicts = { openedForReview: 0, resolved: 0, autoDecided: 0, refusedByOwnership: 0 };

  for (const c of counts) {
    const counter = COUNTER_OF[c.type];
    if (counter) {
      total[counter] += c.count;
      let p = practitioners.get(c.practitionerId);
      if (!p)
        practitioners.set(
          c.practitionerId,
          (p = { total: zeroCounts(), byOrigin: { secretariat: zeroCounts(), practice: zeroCounts() } }),
        );
      p.total[counter] += c.count;
      if (c.origin === 'secretariat' || c.origin === 'practice') {
        byOrigin[c.origin][counter] += c.count;
        p.byOrigin[c.origin][counter] += c.count;
      }
      continue;
    }
    switch (c.type) {
      case 'message.received':
        received.set(c.priority, (received.get(c.priority) ?? 0) + c.count);
        break;
      case 'message.delivered':
        delivered.set(c.priority, (delivered.get(c.priority) ?? 0) + c.count);
        break;
      case 'conflict.opened':
        if (c.detail === 'review') conflicts.openedForReview += c.count;
        else if (c.detail === 'collision') conflicts.autoDecided += c.count;
        else if (c.detail === 'refused') conflicts.refusedByOwnership += c.count;
        break;
      case 'conflict.resolved':
        conflicts.resolved += c.count;
        break;
      default:
        break;
    }
  }

  const stats = (keep: (priority: string | null) => boolean): MessageStats => {
    const sum = (m: Map<string | null, number>) =>
      [...m].filter(([p]) => keep(p)).reduce((n, [, v]) => n + v, 0);
    return {
      received: sum(received),
      delivered: sum(delivered),
      latencyMs: summarize(latencies.filter((l) => keep(l.priority)).map((l) => l.latencyMs)),
    };
  };
  const byPriority = Object.fromEntries(MESSAGE_PRIORITIES.map((p) => [p, stats((q) => q === p)])) as Record<
    MessagePriority,
    MessageStats
  >;

  const ids = [...practitioners.keys()].sort((a, b) =>
    a === null ? 1 : b === null ? -1 : a < b ? -1 : a > b ? 1 : 0,
  );
  return {
    appointments: {
      total,
      byOrigin,
      byPractitioner: ids.map((id) => ({
        practitionerId: id,
        ...(practitioners.get(id) as {
          total: AppointmentCounts;
          byOrigin: { secretariat: AppointmentCounts; practice: AppointmentCounts };
        }),
      })),
    },
    messages: { all: stats(() => true), urgencies: stats((p) => p !== null && URGENT.has(p)), byPriority },
    conflicts,
  };
}

/**
 * Coverage beside volume (issue 20): hours covered per local day, and the secretariat's
 * bookings and call messages inside and outside its coverage windows. Pure.
 */
export function coverageSection(
  windows: CoverageWindows,
  period: { readonly from: string; readonly to: string },
  events: readonly { readonly type: string; readonly at: string }[],
): NonNullable<ActivityReport['coverage']> {
  const zone = coverageZone(windows);
  const covered = coveredIntervals(windows, period.from, period.to);
  const hours = (ms: number) => Math.round((ms / 3_600_000) * 100) / 100;
  const inside = (t: number) => covered.some((i) => i.start <= t && t < i.end);
  const days = new Map<string, NonNullable<ActivityReport['coverage']>['byDay'][number]>();
  const to = Date.parse(period.to);
  for (let date = localDate(Date.parse(period.from), zone); ; date = nextDate(date)) {
    const day = dayInterval(date, zone);
    if (day.start >= to) break;
    const ms = covered.reduce(
      (n, i) => n + Math.max(0, Math.min(i.end, day.end) - Math.max(i.start, day.start)),
      0,
    );
    days.set(date, {
      date,
      hoursCovered: hours(ms),
      bookings: { inside: 0, outside: 0 },
      messages: { inside: 0, outside: 0 },
    });
  }
  const bookings = { inside: 0, outside: 0 };
  const messages = { inside: 0, outside: 0 };
  for (const e of events) {
    const t = Date.parse(e.at);
    const where = inside(t) ? 'inside' : 'outside';
    const day = days.get(localDate(t, zone));
    if (e.type === 'appointment.booked') {
      bookings[where]++;
      if (day) day.bookings[where]++;
    } else if (e.type === 'message.received') {
      messages[where]++;
      if (day) day.messages[where]++;
    }
  }
  return {
    timeZone: zone,
    hoursCovered: hours(covered.reduce((n, i) => n + i.end - i.start, 0)),
    bookings,
    messages,
    byDay: [...days.values()],
  };
}

/** The secretariat's bookings and messages of the period, with the practice's coverage windows, or null. */
async function coverageOf(
  store: Pick<Repos, 'agenda' | 'activity'>,
  practiceId: string,
  period: Period,
): Promise<ActivityReport['coverage']> {
  const stored = await store.agenda.getCoverage(practiceId);
  if (!stored) return null;
  const events = [];
  for (const type of ['appointment.booked', 'message.received'] as const)
    for (const e of await store.activity.list({
      practiceId,
      type,
      from: period.from,
      to: period.to,
      limit: 100_000,
    }))
      if (e.origin === 'secretariat') events.push(e);
  return coverageSection(CoverageWindows.parse(stored.windows), period, events);
}

/** "Dr Camille DOCTEUR-ESSAI": a practitioner's display name (not patient data). */
export function practitionerName(p: Practitioner): string | null {
  const name = p.name?.find((n) => n.use === 'official') ?? p.name?.[0];
  if (!name) return null;
  const text = [...(name.prefix ?? []), ...(name.given ?? []), name.family ?? '']
    .join(' ')
    .replace(/\s+/g, ' ')
    .trim();
  return text || null;
}

export interface ReportOptions {
  readonly practice: Practice;
  readonly period: Period;
  /** When the report is made (epoch ms): link lag and queue ages are measured at this time. */
  readonly now: number;
  /** Add practitioners' names (the interactive report); stored digests keep ids only. */
  readonly names?: boolean;
}

type ReportReads = Pick<
  Repos,
  'activity' | 'agenda' | 'links' | 'cursors' | 'resources' | 'urgentMessages' | 'reminders'
>;

export async function buildActivityReport(
  store: ReportReads,
  options: ReportOptions,
): Promise<ActivityReport> {
  const { practice, period, now } = options;
  const [counts, latencies, deadLetters, open, links] = await Promise.all([
    store.activity.counts(practice.id, period),
    store.activity.latencies(practice.id, period),
    store.activity.deadLetterCounts(practice.id, period),
    store.activity.openCounts(practice.id),
    store.links.list({ practiceId: practice.id }),
  ]);
  const aggregated = aggregateActivity(counts, latencies);

  if (options.names) {
    const ids = aggregated.appointments.byPractitioner
      .map((p) => p.practitionerId)
      .filter((id): id is string => id !== null);
    const found = new Map(
      (await store.resources.getMany(ids))
        .filter((r) => r.kind === 'Practitioner' && r.practiceId === practice.id)
        .map((r) => [r.id, practitionerName(r.data as unknown as Practitioner)]),
    );
    const named = aggregated.appointments.byPractitioner.map((p) => ({
      ...p,
      name: p.practitionerId === null ? null : (found.get(p.practitionerId) ?? null),
    }));
    named.sort((a, b) =>
      a.practitionerId === null
        ? 1
        : b.practitionerId === null
          ? -1
          : (a.name ?? '\uffff').localeCompare(b.name ?? '\uffff', 'fr') ||
            (a.practitionerId < b.practitionerId ? -1 : 1),
    );
    aggregated.appointments.byPractitioner = named;
  }

  const outbox = await store.activity.outboxStats(links.map((l) => l.id));
  const seconds = (iso: string | null) =>
    iso === null ? null : Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  const linkReports = await Promise.all(
    links.map(async (link) => {
      const cursors = await store.cursors.list(link.id);
      const lastSuccessAt =
        cursors
          .map((c) => c.lastSuccessAt)
          .filter((s): s is string => s !== null)
          .sort()
          .pop() ?? null;
      const o = outbox.find((s) => s.linkId === link.id);
      return {
        linkId: link.id,
        name: link.name,
        role: link.role,
        connector: link.connector,
        enabled: link.enabled,
        lastSuccessAt,
        lagSeconds: seconds(lastSuccessAt),
        lastPushAt: o?.lastDoneAt ?? null,
        outbox: { pending: o?.pending ?? 0, leased: o?.leased ?? 0, dead: o?.dead ?? 0 },
        oldestPendingAgeSeconds: seconds(o?.oldestPendingAt ?? null),
      };
    }),
  );

  return {
    practice: { id: practice.id, name: practice.name, timezone: practice.timezone },
    period: { from: period.from, to: period.to },
    generatedAt: new Date(now).toISOString(),
    appointments: aggregated.appointments,
    messages: aggregated.messages,
    urgentAcknowledgement: await urgentStats(
      store,
      practice.id,
      Date.parse(period.from),
      Date.parse(period.to),
    ),
    reminders: await reminderStats(store, practice, Date.parse(period.from), Date.parse(period.to)),
    coverage: await coverageOf(store, practice.id, period),
    conflicts: { ...aggregated.conflicts, openNow: open.conflicts },
    deadLetters: {
      total: deadLetters.reduce((n, d) => n + d.count, 0),
      byReason: deadLetters,
      openNow: open.deadLetters,
    },
    links: linkReports,
  };
}
