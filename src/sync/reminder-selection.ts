/**
 * Which appointments to remind and which patients to recall on a practice's day (issue 21
 * point 3). Pure: the daily pass (reminders.ts) reads the store and hands the facts in, so the
 * rules — lead time per visit type, recall rules, consent and opt-out, the practice's zone —
 * are tested on their own (test/sync/reminder-selection.test.ts).
 *
 * Rules:
 * - a booked appointment starting after `now` is reminded on the local day
 *   `localDay(start) - leadDays` of its visit type, or on any later pass before it (a missed
 *   day or a late booking still gets its reminder, once);
 * - a recall by rule: a visit of a type with `recallAfterMonths` N, N months on (local day),
 *   when the patient has had or booked no visit since; by date: the practice software's
 *   recall date (Patient extension recall-due), when the patient has nothing booked ahead;
 *   both looked for up to RECALL_CATCH_UP_DAYS after they fell due;
 * - nobody is reminded or recalled without consent: the practice software's flag (Patient
 *   extension reminder-consent true), or `assumeConsent` for a practice that collects it
 *   elsewhere; a false flag or an entry in the opt-out register always wins;
 * - a dedupe key per reminder (`appointment:<id>`, `recall-rule:<visit id>`,
 *   `recall-date:<patient>:<date>`) already in the store is not selected again.
 */
import { DateTime } from 'luxon';

import { EXT } from '../model/identifiers.js';
import type { ReminderKind } from '../store/repos/reminders.js';
import { leadDaysOf, type ReminderSettings } from './reminder-settings.js';

/** Days after a recall fell due during which a pass still hands it (downtime, a late rule). */
export const RECALL_CATCH_UP_DAYS = 30;
/** Statuses of a visit that happened or will: what makes a recall unnecessary. */
const VISIT_STATUSES: ReadonlySet<string> = new Set(['booked', 'arrived', 'fulfilled', 'checked-in']);

export interface AppointmentFacts {
  readonly id: string;
  readonly patientId: string | null;
  readonly status: string;
  readonly start: number;
  readonly visitType: string | null;
}

export interface PatientFacts {
  readonly id: string;
  /** The practice software's flag: true consent, false opt-out, null none recorded. */
  readonly consent: boolean | null;
  readonly recallDue: string | null;
  readonly active: boolean;
  /** Merged into another record (Patient.link replaced-by): the survivor is the one reminded. */
  readonly merged: boolean;
}

export const SKIP_REASONS = [
  'no-consent',
  'opted-out',
  'patient-inactive',
  'no-patient',
  'already-handed',
] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];

export interface SelectedReminder {
  readonly kind: ReminderKind;
  readonly dedupeKey: string;
  readonly appointmentId: string | null;
  readonly patientId: string;
  readonly visitType: string | null;
  readonly dueOn: string;
  readonly appointmentStart: number | null;
}

export interface SelectionInput {
  /** The practice's local day of the pass (YYYY-MM-DD). */
  readonly day: string;
  readonly now: number;
  readonly zone: string;
  readonly settings: ReminderSettings;
  /** Appointments starting from `now` to the end of `day + the longest lead time`. */
  readonly upcoming: readonly AppointmentFacts[];
  /** Past visits that may have fallen due for a recall rule (recallWindows gives the ranges). */
  readonly past: readonly AppointmentFacts[];
  /** Every appointment of each recall candidate patient (to see whether they came back or booked). */
  readonly visitsOf: ReadonlyMap<string, readonly AppointmentFacts[]>;
  readonly patients: ReadonlyMap<string, PatientFacts>;
  readonly optedOut: ReadonlySet<string>;
  /** Dedupe keys the practice already has. */
  readonly handed: ReadonlySet<string>;
}

export interface SelectionResult {
  readonly selected: SelectedReminder[];
  readonly skipped: Record<SkipReason, number>;
}

export const localDayOf = (ms: number, zone: string): string =>
  DateTime.fromMillis(ms, { zone }).toISODate() as string;

const plusDays = (day: string, n: number): string =>
  DateTime.fromISO(day, { zone: 'UTC' }).plus({ days: n }).toISODate() as string;
const plusMonths = (day: string, n: number): string =>
  DateTime.fromISO(day, { zone: 'UTC' }).plus({ months: n }).toISODate() as string;

/** The longest lead time in the rules (how far ahead the pass must look). */
export function longestLead(s: ReminderSettings): number {
  let max = s.defaultLeadDays ?? 0;
  for (const v of Object.values(s.visitTypes))
    if (typeof v.leadDays === 'number') max = Math.max(max, v.leadDays);
  return max;
}

/** The instant range [from, to) of appointments the pass must read to remind on `day`. */
export function upcomingWindow(
  day: string,
  now: number,
  zone: string,
  s: ReminderSettings,
): { from: number; to: number } {
  const end = DateTime.fromISO(plusDays(day, longestLead(s) + 1), { zone }).startOf('day');
  return { from: now, to: end.toMillis() };
}

/**
 * The ranges of visit start instants that may fall due on `day` for each recall rule: the
 * local days `day - N months - RECALL_CATCH_UP_DAYS` to `day - N months`, one per distinct N.
 */
export function recallWindows(
  day: string,
  zone: string,
  s: ReminderSettings,
): { from: number; to: number }[] {
  const months = new Set(
    Object.values(s.visitTypes)
      .map((v) => v.recallAfterMonths)
      .filter((n): n is number => n !== undefined),
  );
  return [...months].map((n) => {
    const latest = DateTime.fromISO(day, { zone }).minus({ months: n });
    return {
      from: latest.minus({ days: RECALL_CATCH_UP_DAYS }).startOf('day').toMillis(),
      to: latest.plus({ days: 1 }).startOf('day').toMillis(),
    };
  });
}

/** The facts passerelle reads on a canonical Patient (its FR Core data plus two extensions). */
export function patientFacts(p: {
  readonly id: string;
  readonly data: {
    readonly active?: boolean;
    readonly extension?: readonly { url: string; valueBoolean?: boolean; valueDate?: string }[];
    readonly link?: readonly { type: string }[];
  };
}): PatientFacts {
  const ext = p.data.extension ?? [];
  const consent = ext.find((e) => e.url === EXT.reminderConsent)?.valueBoolean;
  const due = ext.find((e) => e.url === EXT.recallDue)?.valueDate;
  return {
    id: p.id,
    consent: consent ?? null,
    // A year or a month alone says too little to call anyone on a given day.
    recallDue: due !== undefined && /^\d{4}-\d{2}-\d{2}$/.test(due) ? due : null,
    active: p.data.active !== false,
    merged: (p.data.link ?? []).some((l) => l.type === 'replaced-by'),
  };
}

export function selectReminders(input: SelectionInput): SelectionResult {
  const { day, now, zone, settings: s } = input;
  const skipped: Record<SkipReason, number> = {
    'no-consent': 0,
    'opted-out': 0,
    'patient-inactive': 0,
    'no-patient': 0,
    'already-handed': 0,
  };
  const selected: SelectedReminder[] = [];
  const keys = new Set<string>();
  const recalled = new Set<string>();

  /** Why this patient may not be contacted; null when they may. */
  const refusal = (patientId: string | null): SkipReason | null => {
    if (patientId === null) return 'no-patient';
    const p = input.patients.get(patientId);
    if (!p) return 'no-patient';
    if (input.optedOut.has(patientId) || p.consent === false) return 'opted-out';
    if (p.consent === null && !s.assumeConsent) return 'no-consent';
    if (!p.active || p.merged) return 'patient-inactive';
    return null;
  };
  const take = (r: SelectedReminder): void => {
    if (keys.has(r.dedupeKey)) return;
    if (input.handed.has(r.dedupeKey)) {
      skipped['already-handed']++;
      return;
    }
    const why = refusal(r.patientId);
    if (why) {
      skipped[why]++;
      return;
    }
    keys.add(r.dedupeKey);
    if (r.kind === 'recall') recalled.add(r.patientId);
    selected.push(r);
  };

  for (const a of input.upcoming) {
    if (a.status !== 'booked' || a.start <= now) continue;
    const lead = leadDaysOf(s, a.visitType);
    if (lead === null) continue;
    const apptDay = localDayOf(a.start, zone);
    if (plusDays(apptDay, -lead) > day) continue;
    if (a.patientId === null) {
      skipped['no-patient']++;
      continue;
    }
    take({
      kind: 'reminder',
      dedupeKey: `appointment:${a.id}`,
      appointmentId: a.id,
      patientId: a.patientId,
      visitType: a.visitType,
      dueOn: apptDay,
      appointmentStart: a.start,
    });
  }

  const earliest = plusDays(day, -RECALL_CATCH_UP_DAYS);
  const cameBackAfter = (patientId: string, after: number, exceptId: string): boolean =>
    (input.visitsOf.get(patientId) ?? []).some(
      (v) => v.id !== exceptId && v.start > after && VISIT_STATUSES.has(v.status),
    );

  for (const v of input.past) {
    if (v.patientId === null || v.visitType === null || v.start >= now) continue;
    if (!VISIT_STATUSES.has(v.status)) continue;
    const months = s.visitTypes[v.visitType]?.recallAfterMonths;
    if (months === undefined) continue;
    const due = plusMonths(localDayOf(v.start, zone), months);
    if (due > day || due < earliest) continue;
    if (cameBackAfter(v.patientId, v.start, v.id) || recalled.has(v.patientId)) continue;
    take({
      kind: 'recall',
      dedupeKey: `recall-rule:${v.id}`,
      appointmentId: null,
      patientId: v.patientId,
      visitType: v.visitType,
      dueOn: due,
      appointmentStart: null,
    });
  }

  if (s.recallsFromPracticeSoftware) {
    for (const p of input.patients.values()) {
      const due = p.recallDue;
      if (due === null || due > day || due < earliest || recalled.has(p.id)) continue;
      if (cameBackAfter(p.id, now, '')) continue;
      take({
        kind: 'recall',
        dedupeKey: `recall-date:${p.id}:${due}`,
        appointmentId: null,
        patientId: p.id,
        visitType: null,
        dueOn: due,
        appointmentStart: null,
      });
    }
  }
  return { selected, skipped };
}
