import { dialectTypes, runScript, type StoreMigration } from './types.js';

/**
 * Urgent call messages waiting for the practice's acknowledgement (issue 21 point 2).
 * - `urgent_messages`: one row per urgent Communication (canonical id), with where its
 *   escalation stands: `state` waiting | acknowledged, `step` 0 (none) | 1 (the practice's
 *   gateway was notified) | 2 (the secretariat was asked to call back), `next_at` when the next
 *   step runs (null: nothing more to run), how and when it was acknowledged, and the nonce of
 *   the one-time acknowledgement link (`link_used_at` once used), and the version of the
 *   practice's consignes in force when the message was taken. No patient data.
 * - `urgent_message_events`: the message's timeline (tracked, each escalation step, its
 *   outcome, the acknowledgement), append-only, read by the API.
 * Everything the scheduler needs lives here, so a restarted service carries on.
 * - `consignes` (issue 21 point 1): the practice's instructions for agents, one row per version
 *   (JSON document, author, diff from the previous version, when it reached the platform).
 */
export const migration0012: StoreMigration = {
  name: '0012_urgent_messages',
  async up(db, dialect) {
    const t = dialectTypes(dialect);
    await runScript(
      db,
      `
CREATE TABLE urgent_messages (
  communication_id TEXT PRIMARY KEY,
  practice_id TEXT NOT NULL,
  priority TEXT NOT NULL,
  taken_at ${t.bigint} NOT NULL,
  due_at ${t.bigint} NOT NULL,
  state TEXT NOT NULL,
  step INTEGER NOT NULL,
  next_at ${t.bigint},
  attempts INTEGER NOT NULL,
  acknowledged_at ${t.bigint},
  ack_via TEXT,
  ack_by TEXT,
  link_nonce TEXT NOT NULL,
  link_used_at ${t.bigint},
  consignes_version INTEGER,
  created_at ${t.bigint} NOT NULL,
  updated_at ${t.bigint} NOT NULL
);
CREATE INDEX urgent_messages_practice ON urgent_messages (practice_id, taken_at);
CREATE INDEX urgent_messages_due ON urgent_messages (state, next_at);
CREATE TABLE urgent_message_events (
  id ${t.serial},
  communication_id TEXT NOT NULL,
  practice_id TEXT NOT NULL,
  at ${t.bigint} NOT NULL,
  kind TEXT NOT NULL,
  outcome TEXT NOT NULL,
  details TEXT NOT NULL
);
CREATE INDEX urgent_message_events_message ON urgent_message_events (communication_id, id);
CREATE TABLE consignes (
  practice_id TEXT NOT NULL,
  version INTEGER NOT NULL,
  document TEXT NOT NULL,
  author TEXT NOT NULL,
  diff TEXT NOT NULL,
  created_at ${t.bigint} NOT NULL,
  published_at ${t.bigint},
  publish_error TEXT,
  PRIMARY KEY (practice_id, version)
)
`,
    );
  },
};
