import { dialectTypes, runScript, type StoreMigration } from './types.js';

/**
 * Supervision reports (docs/reports.md):
 * - `activity_events`: append-only, one row per thing that happened to a practice's agenda and
 *   messages (booked, moved, cancelled, refused, message received / delivered with its latency,
 *   conflict opened / resolved), written in the same transaction as the change itself, so a
 *   rolled-back change leaves no event and a committed one always has its event. Ids and codes
 *   only, never patient data. `dedupe_key` makes an event that may be seen twice (a refusal
 *   pulled again, a delivery retried) count once.
 * - `digests`: the daily report of each practice, one per practice and local day, with the
 *   state of its webhook delivery (retried at the next run until delivered).
 * No foreign keys to `practices`: reports outlive nothing, and must never stop a practice
 * from being deleted.
 */
export const migration0005: StoreMigration = {
  name: '0005_reports',
  async up(db, dialect) {
    const t = dialectTypes(dialect);
    await runScript(
      db,
      `
CREATE TABLE activity_events (
  seq ${t.serial},
  practice_id TEXT NOT NULL,
  at ${t.bigint} NOT NULL,
  type TEXT NOT NULL,
  origin TEXT,
  link_id TEXT,
  kind TEXT,
  record_id TEXT,
  practitioner_id TEXT,
  priority TEXT,
  latency_ms ${t.bigint},
  detail TEXT,
  dedupe_key TEXT
);
CREATE INDEX activity_events_practice ON activity_events (practice_id, at);
CREATE UNIQUE INDEX activity_events_dedupe ON activity_events (dedupe_key);

CREATE TABLE digests (
  practice_id TEXT NOT NULL,
  day TEXT NOT NULL,
  report TEXT NOT NULL,
  created_at ${t.bigint} NOT NULL,
  webhook_status TEXT,
  webhook_attempts INTEGER NOT NULL DEFAULT 0,
  webhook_error TEXT,
  delivered_at ${t.bigint},
  PRIMARY KEY (practice_id, day)
);
CREATE INDEX digests_webhook ON digests (webhook_status, practice_id, day)
`,
    );
  },
};
