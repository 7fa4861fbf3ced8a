import { dialectTypes, runScript, type StoreMigration } from './types.js';

/**
 * Appointment reminders and follow-up recalls handed to the secretariat (issue 21 point 3).
 * - `reminders`: one row per reminder or recall passerelle decided to hand, unique per
 *   (practice, dedupe key) so a second pass the same day — or on another instance — hands
 *   nothing twice: `appointment:<id>` for a reminder, `recall-rule:<basis appointment id>` or
 *   `recall-date:<patient id>:<date>` for a recall. It holds canonical ids, the visit-type
 *   code and dates only (no names, no phone numbers: the platform has its own patient record),
 *   where the hand-off stands (`platform_id` once the platform took it), the outcome the
 *   platform reported, and whether it was written back to the practice software.
 * - `reminder_optouts`: patients who asked not to be reminded (from the platform's outcome
 *   report or the API); honoured by every later pass, whatever the practice software says.
 * - `reminder_passes`: one row per practice and local day once its daily pass ran, with the
 *   counts of what it handed and skipped (and why): the scheduler's "already ran today".
 */
export const migration0015: StoreMigration = {
  name: '0015_reminders',
  async up(db, dialect) {
    const t = dialectTypes(dialect);
    await runScript(
      db,
      `
CREATE TABLE reminders (
  id TEXT PRIMARY KEY,
  practice_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  dedupe_key TEXT NOT NULL,
  appointment_id TEXT,
  patient_id TEXT NOT NULL,
  visit_type TEXT,
  due_on TEXT NOT NULL,
  appointment_start ${t.bigint},
  pass_day TEXT NOT NULL,
  handed_at ${t.bigint},
  platform_id TEXT,
  hand_attempts INTEGER NOT NULL,
  hand_error TEXT,
  outcome TEXT,
  outcome_at ${t.bigint},
  opt_out INTEGER NOT NULL,
  written_back_at ${t.bigint},
  write_back_error TEXT,
  created_at ${t.bigint} NOT NULL,
  updated_at ${t.bigint} NOT NULL
);
CREATE UNIQUE INDEX reminders_dedupe ON reminders (practice_id, dedupe_key);
CREATE INDEX reminders_practice_day ON reminders (practice_id, pass_day);
CREATE INDEX reminders_created ON reminders (practice_id, created_at);
CREATE TABLE reminder_optouts (
  practice_id TEXT NOT NULL,
  patient_id TEXT NOT NULL,
  at ${t.bigint} NOT NULL,
  via TEXT NOT NULL,
  PRIMARY KEY (practice_id, patient_id)
);
CREATE TABLE reminder_passes (
  practice_id TEXT NOT NULL,
  day TEXT NOT NULL,
  ran_at ${t.bigint} NOT NULL,
  counts TEXT NOT NULL,
  PRIMARY KEY (practice_id, day)
)
`,
    );
  },
};
