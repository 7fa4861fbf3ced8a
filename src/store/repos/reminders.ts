/**
 * Reminders and recalls handed to the secretariat, the opt-out register, and the daily pass
 * markers (0015_reminders, issue 21 point 3). Canonical ids, visit-type codes and dates only.
 * Every state change is a compare-and-set, so two instances sharing a store never hand one
 * reminder twice nor count one outcome twice.
 */
import type { RemindersTable } from '../schema.js';
import { fromJson, isoOrNull, isUniqueViolation, newId, type RepoContext, toJson } from './context.js';
import { rowsOfDays } from './days.js';

export const REMINDER_KINDS = ['reminder', 'recall'] as const;
export type ReminderKind = (typeof REMINDER_KINDS)[number];
/** What the secretariat reports after trying to reach the patient. */
export const REMINDER_OUTCOMES = ['reached', 'not-reached', 'rebooked', 'declined'] as const;
export type ReminderOutcome = (typeof REMINDER_OUTCOMES)[number];

export interface Reminder {
  readonly id: string;
  readonly practiceId: string;
  readonly kind: ReminderKind;
  readonly dedupeKey: string;
  /** The canonical Appointment a reminder is about (null for a recall). */
  readonly appointmentId: string | null;
  readonly patientId: string;
  readonly visitType: string | null;
  /** The appointment's local day, or the day the recall fell due (YYYY-MM-DD, practice zone). */
  readonly dueOn: string;
  readonly appointmentStart: string | null;
  /** The local day of the pass that selected it. */
  readonly passDay: string;
  /** When the platform took it (null: still to hand, or refused). */
  readonly handedAt: string | null;
  readonly platformId: string | null;
  readonly handAttempts: number;
  /** The error code of the last failed hand-off. */
  readonly handError: string | null;
  readonly outcome: ReminderOutcome | null;
  readonly outcomeAt: string | null;
  /** The patient asked, on this call, not to be reminded again. */
  readonly optOut: boolean;
  readonly writtenBackAt: string | null;
  readonly writeBackError: string | null;
}

export interface ReminderInput {
  readonly practiceId: string;
  readonly kind: ReminderKind;
  readonly dedupeKey: string;
  readonly appointmentId: string | null;
  readonly patientId: string;
  readonly visitType: string | null;
  readonly dueOn: string;
  readonly appointmentStart: number | null;
  readonly passDay: string;
}

export interface ReminderCounts {
  readonly [key: string]: number;
}

export interface RemindersRepo {
  /** Records a selected reminder; undefined when its dedupe key already was (nothing changes then). */
  add(input: ReminderInput): Promise<Reminder | undefined>;
  get(id: string): Promise<Reminder | undefined>;
  /** Which of these dedupe keys the practice already has. */
  existingKeys(practiceId: string, keys: readonly string[]): Promise<Set<string>>;
  /** A practice's reminders, by pass day or by creation time, oldest first. */
  list(filter: {
    readonly practiceId: string;
    readonly passDay?: string;
    readonly since?: number;
    readonly until?: number;
    readonly limit?: number;
  }): Promise<Reminder[]>;
  /** Selected but not taken by the platform yet (every practice when none is given). */
  unhanded(practiceId: string, limit: number): Promise<Reminder[]>;
  /** The platform took it (compare-and-set on not handed); false when it already was. */
  markHanded(id: string, platformId: string, at: number): Promise<boolean>;
  handFailed(id: string, code: string): Promise<void>;
  /** A practice's reminders handed and without an outcome yet. */
  awaitingOutcome(practiceId: string, limit: number): Promise<Reminder[]>;
  /** Records the outcome (first report wins: compare-and-set on none); false when it had one. */
  setOutcome(id: string, outcome: ReminderOutcome, at: number, optOut: boolean): Promise<boolean>;
  /** Outcomes not yet written back to the practice software. */
  toWriteBack(practiceId: string, limit: number): Promise<Reminder[]>;
  markWrittenBack(id: string, at: number): Promise<void>;
  writeBackFailed(id: string, code: string): Promise<void>;
  /** Adds the patient to the opt-out register; false when they already were. */
  optOut(practiceId: string, patientId: string, via: string): Promise<boolean>;
  /** Removes the patient from the register (the patient consents again); false when absent. */
  optIn(practiceId: string, patientId: string): Promise<boolean>;
  optedOut(practiceId: string): Promise<Set<string>>;
  /** Marks the practice's pass of `day` as run; false when it already ran. */
  startPass(practiceId: string, day: string): Promise<boolean>;
  finishPass(practiceId: string, day: string, counts: ReminderCounts): Promise<void>;
  /** The passes of the days in [fromDay, toDay), with their counts. */
  passes(
    practiceId: string,
    fromDay: string,
    toDay: string,
  ): Promise<{ day: string; counts: ReminderCounts }[]>;
}

const msIso = (v: number | null): string | null => isoOrNull(v === null ? null : Number(v));

const toReminder = (r: RemindersTable): Reminder => ({
  id: r.id,
  practiceId: r.practice_id,
  kind: r.kind as ReminderKind,
  dedupeKey: r.dedupe_key,
  appointmentId: r.appointment_id,
  patientId: r.patient_id,
  visitType: r.visit_type,
  dueOn: r.due_on,
  appointmentStart: msIso(r.appointment_start),
  passDay: r.pass_day,
  handedAt: msIso(r.handed_at),
  platformId: r.platform_id,
  handAttempts: Number(r.hand_attempts),
  handError: r.hand_error,
  outcome: r.outcome as ReminderOutcome | null,
  outcomeAt: msIso(r.outcome_at),
  optOut: Number(r.opt_out) === 1,
  writtenBackAt: msIso(r.written_back_at),
  writeBackError: r.write_back_error,
});

export function remindersRepo(ctx: RepoContext): RemindersRepo {
  const { db } = ctx;
  return {
    async add(input) {
      const now = ctx.now();
      const row: RemindersTable = {
        id: newId(),
        practice_id: input.practiceId,
        kind: input.kind,
        dedupe_key: input.dedupeKey,
        appointment_id: input.appointmentId,
        patient_id: input.patientId,
        visit_type: input.visitType,
        due_on: input.dueOn,
        appointment_start: input.appointmentStart,
        pass_day: input.passDay,
        handed_at: null,
        platform_id: null,
        hand_attempts: 0,
        hand_error: null,
        outcome: null,
        outcome_at: null,
        opt_out: 0,
        written_back_at: null,
        write_back_error: null,
        created_at: now,
        updated_at: now,
      };
      try {
        await db.insertInto('reminders').values(row).execute();
        return toReminder(row);
      } catch (e) {
        if (isUniqueViolation(e)) return undefined;
        throw e;
      }
    },
    async get(id) {
      const r = await db.selectFrom('reminders').selectAll().where('id', '=', id).executeTakeFirst();
      return r && toReminder(r);
    },
    async existingKeys(practiceId, keys) {
      const out = new Set<string>();
      for (let i = 0; i < keys.length; i += 500) {
        const rows = await db
          .selectFrom('reminders')
          .select('dedupe_key')
          .where('practice_id', '=', practiceId)
          .where('dedupe_key', 'in', keys.slice(i, i + 500))
          .execute();
        for (const r of rows) out.add(r.dedupe_key);
      }
      return out;
    },
    async list(f) {
      let q = db.selectFrom('reminders').selectAll().where('practice_id', '=', f.practiceId);
      if (f.passDay !== undefined) q = q.where('pass_day', '=', f.passDay);
      if (f.since !== undefined) q = q.where('created_at', '>=', f.since);
      if (f.until !== undefined) q = q.where('created_at', '<', f.until);
      const rows = await q
        .orderBy('created_at')
        .orderBy('id')
        .limit(f.limit ?? 10_000)
        .execute();
      return rows.map(toReminder);
    },
    async unhanded(practiceId, limit) {
      const rows = await db
        .selectFrom('reminders')
        .selectAll()
        .where('practice_id', '=', practiceId)
        .where('handed_at', 'is', null)
        .orderBy('created_at')
        .orderBy('id')
        .limit(limit)
        .execute();
      return rows.map(toReminder);
    },
    async markHanded(id, platformId, at) {
      const res = await db
        .updateTable('reminders')
        .set({ handed_at: at, platform_id: platformId, hand_error: null, updated_at: ctx.now() })
        .where('id', '=', id)
        .where('handed_at', 'is', null)
        .executeTakeFirst();
      return Number(res.numUpdatedRows) > 0;
    },
    async handFailed(id, code) {
      await db
        .updateTable('reminders')
        .set((eb) => ({
          hand_attempts: eb('hand_attempts', '+', 1),
          hand_error: code,
          updated_at: ctx.now(),
        }))
        .where('id', '=', id)
        .where('handed_at', 'is', null)
        .execute();
    },
    async awaitingOutcome(practiceId, limit) {
      const rows = await db
        .selectFrom('reminders')
        .selectAll()
        .where('practice_id', '=', practiceId)
        .where('handed_at', 'is not', null)
        .where('outcome', 'is', null)
        .orderBy('created_at')
        .limit(limit)
        .execute();
      return rows.map(toReminder);
    },
    async setOutcome(id, outcome, at, optOut) {
      const res = await db
        .updateTable('reminders')
        .set({ outcome, outcome_at: at, opt_out: optOut ? 1 : 0, updated_at: ctx.now() })
        .where('id', '=', id)
        .where('outcome', 'is', null)
        .executeTakeFirst();
      return Number(res.numUpdatedRows) > 0;
    },
    async toWriteBack(practiceId, limit) {
      const rows = await db
        .selectFrom('reminders')
        .selectAll()
        .where('practice_id', '=', practiceId)
        .where('outcome', 'is not', null)
        .where('written_back_at', 'is', null)
        // `final:` errors (the practice software cannot hold it) are not tried again.
        .where((eb) =>
          eb.or([eb('write_back_error', 'is', null), eb('write_back_error', 'not like', 'final:%')]),
        )
        .orderBy('outcome_at')
        .limit(limit)
        .execute();
      return rows.map(toReminder);
    },
    async markWrittenBack(id, at) {
      await db
        .updateTable('reminders')
        .set({ written_back_at: at, write_back_error: null, updated_at: ctx.now() })
        .where('id', '=', id)
        .execute();
    },
    async writeBackFailed(id, code) {
      await db
        .updateTable('reminders')
        .set({ write_back_error: code, updated_at: ctx.now() })
        .where('id', '=', id)
        .execute();
    },
    async optOut(practiceId, patientId, via) {
      try {
        await db
          .insertInto('reminder_optouts')
          .values({ practice_id: practiceId, patient_id: patientId, at: ctx.now(), via })
          .execute();
        return true;
      } catch (e) {
        if (isUniqueViolation(e)) return false;
        throw e;
      }
    },
    async optIn(practiceId, patientId) {
      const res = await db
        .deleteFrom('reminder_optouts')
        .where('practice_id', '=', practiceId)
        .where('patient_id', '=', patientId)
        .executeTakeFirst();
      return Number(res.numDeletedRows) > 0;
    },
    async optedOut(practiceId) {
      const rows = await db
        .selectFrom('reminder_optouts')
        .select('patient_id')
        .where('practice_id', '=', practiceId)
        .execute();
      return new Set(rows.map((r) => r.patient_id));
    },
    async startPass(practiceId, day) {
      try {
        await db
          .insertInto('reminder_passes')
          .values({ practice_id: practiceId, day, ran_at: ctx.now(), counts: toJson({}) })
          .execute();
        return true;
      } catch (e) {
        if (isUniqueViolation(e)) return false;
        throw e;
      }
    },
    async finishPass(practiceId, day, counts) {
      await db
        .updateTable('reminder_passes')
        .set({ counts: toJson(counts) })
        .where('practice_id', '=', practiceId)
        .where('day', '=', day)
        .execute();
    },
    async passes(practiceId, fromDay, toDay) {
      const rows = await rowsOfDays(db, 'reminder_passes', practiceId, fromDay, toDay);
      return rows.map((r) => ({ day: r.day, counts: fromJson<ReminderCounts>(r.counts) }));
    },
  };
}
