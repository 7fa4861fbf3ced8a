/**
 * Free slots: the rules' periods minus what is already in the agenda (appointments with their
 * buffers and travel time, blocked slots, absences), for one visit type and period of time.
 * Pure: the caller reads the agenda from the store and passes it in.
 */
import {
  absenceIntervals,
  dayPlan,
  localDate,
  nextDate,
  type Period,
  releaseTime,
  zoneOf,
} from './calendar.js';
import { firstOverlap, type Interval, union } from './intervals.js';
import { type AgendaRules, type PeriodKind, periodsOf, type VisitType } from './rules.js';

/** An appointment already in the agenda, as the computation needs it (ids only, no patient data). */
export interface BookedVisit {
  readonly id?: string;
  /** ISO instants. */
  readonly start: string;
  readonly end: string;
  /** The visit type's code, when known: its buffer and travel time are kept free around it. */
  readonly visitType?: string;
}

/** What is already in the agenda. */
export interface AgendaState {
  readonly appointments: readonly BookedVisit[];
  /** Blocked time (plages bloquées, Slot busy / busy-unavailable), ISO instants. */
  readonly blocks: readonly { readonly start: string; readonly end: string }[];
}

export interface FreeSlot {
  /** UTC instants (…Z). */
  readonly start: string;
  readonly end: string;
  readonly visitType: string;
  readonly kind: PeriodKind;
  /** In an urgent period and not released: only an urgent booking may take it. */
  readonly urgentOnly: boolean;
}

export interface AvailabilityQuery {
  readonly visitType: string;
  /** ISO instants; slots lie within [from, to). */
  readonly from: string;
  readonly to: string;
  /** Slots starting before `now` are not offered; urgent releases are judged at `now`. Absent: no release has happened. */
  readonly now?: string;
}

/** Time kept around a visit of this type: travel before; buffer and travel after. */
export function marginsOf(v: VisitType | undefined): { before: number; after: number } {
  if (!v) return { before: 0, after: 0 };
  const travel = v.homeVisit ? v.travelMinutes * 60_000 : 0;
  return { before: travel, after: v.bufferMinutes * 60_000 + travel };
}

/** The time a booked visit keeps from others: itself, its buffer, its travel time. */
export function footprint(visit: Interval, v: VisitType | undefined): Interval {
  const m = marginsOf(v);
  return { start: visit.start - m.before, end: visit.end + m.after };
}

export function visitTypeOf(rules: AgendaRules, code: string | undefined): VisitType | undefined {
  return code === undefined ? undefined : rules.visitTypes.find((v) => v.code === code);
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** Everything in the way: other visits' footprints, blocks, absences (sorted, merged). */
export function obstacles(rules: AgendaRules, state: AgendaState, exceptId?: string): Interval[] {
  const zone = zoneOf(rules);
  return union([
    ...state.appointments
      .filter((a) => exceptId === undefined || a.id !== exceptId)
      .map((a) =>
        footprint({ start: Date.parse(a.start), end: Date.parse(a.end) }, visitTypeOf(rules, a.visitType)),
      ),
    ...state.blocks.map((b) => ({ start: Date.parse(b.start), end: Date.parse(b.end) })),
    ...absenceIntervals(rules.absences, zone),
  ]);
}

/** Visits on each local date: all types, and per type (for the daily caps). */
export function dailyCounts(
  rules: AgendaRules,
  appointments: readonly BookedVisit[],
): { all: Map<string, number>; byType: Map<string, number> } {
  const zone = zoneOf(rules);
  const all = new Map<string, number>();
  const byType = new Map<string, number>();
  for (const a of appointments) {
    const d = localDate(Date.parse(a.start), zone);
    all.set(d, (all.get(d) ?? 0) + 1);
    if (a.visitType !== undefined)
      byType.set(`${d}|${a.visitType}`, (byType.get(`${d}|${a.visitType}`) ?? 0) + 1);
  }
  return { all, byType };
}

/** Whether a visit of type `v` may take time in period `p` starting at `start`, judged at `now`. */
export function periodAdmits(
  p: Period,
  v: VisitType | undefined,
  urgent: boolean,
  start: number,
  now: number,
  zone: string,
): { ok: boolean; urgentOnly: boolean } {
  const allowed: readonly PeriodKind[] = v
    ? periodsOf(v)
    : urgent
      ? ['urgent', 'consultation']
      : ['consultation'];
  if (p.kind === 'urgent') {
    if (urgent) return { ok: allowed.includes('urgent'), urgentOnly: true };
    // Released: open to the routine visits that may use consultation periods.
    const released = releaseTime(p, start, zone) <= now;
    return { ok: released && allowed.includes('consultation'), urgentOnly: false };
  }
  return { ok: allowed.includes(p.kind), urgentOnly: false };
}

/**
 * Free slots of a visit type between `from` and `to`. In each period the type may use, slots
 * are laid back to back from the start of each free stretch (aligned on `granularityMinutes`
 * from the period's start), each keeping its own buffer and travel time free.
 */
export function freeSlots(rules: AgendaRules, state: AgendaState, query: AvailabilityQuery): FreeSlot[] {
  const v = visitTypeOf(rules, query.visitType);
  if (!v) return [];
  const zone = zoneOf(rules);
  const from = Date.parse(query.from);
  const to = Date.parse(query.to);
  const now = query.now === undefined ? Number.NEGATIVE_INFINITY : Date.parse(query.now);
  if (!(from < to)) return [];
  const blocked = obstacles(rules, state);
  const counts = dailyCounts(rules, state.appointments);
  const { before, after } = marginsOf(v);
  const duration = v.durationMinutes * 60_000;
  const step = rules.granularityMinutes * 60_000;
  const out: FreeSlot[] = [];

  const lastDate = localDate(to - 1, zone);
  for (let date = localDate(from, zone); date <= lastDate; date = nextDate(date)) {
    if (rules.dailyCap !== undefined && (counts.all.get(date) ?? 0) >= rules.dailyCap) continue;
    if (v.dailyCap !== undefined && (counts.byType.get(`${date}|${v.code}`) ?? 0) >= v.dailyCap) continue;
    for (const p of dayPlan(rules, date).periods) {
      // Laid out from the period's start whatever `from` and `now` are, so that the same agenda
      // gives the same slots in every query (a slot pushed to the platform keeps its times).
      let s = p.start;
      while (s + duration <= p.end) {
        const hit = firstOverlap(blocked, { start: s - before, end: s + duration + after });
        if (hit) {
          s = p.start + Math.ceil((hit.end + before - p.start) / step) * step;
          continue;
        }
        // A later start is released no sooner (release times grow with the start).
        const admits = periodAdmits(p, v, v.urgent, s, now, zone);
        if (!admits.ok) break;
        if (s >= Math.max(from, now) && s + duration <= to)
          out.push({
            start: iso(s),
            end: iso(s + duration),
            visitType: v.code,
            kind: p.kind,
            urgentOnly: admits.urgentOnly,
          });
        s = p.start + Math.ceil((s + duration + after + before - p.start) / step) * step;
      }
    }
  }
  return out;
}
