import { dialectTypes, runScript, type StoreMigration } from './types.js';

/**
 * Agenda rules and secretariat coverage (issue 20).
 * - `agenda_rules`: one row per (practice, practitioner): the rules as JSON (src/agenda/rules.ts),
 *   versioned for If-Match. No patient data.
 * - `coverage_windows`: one row per practice: the hours the secretariat answers (plages
 *   couvertes), JSON, versioned.
 * - `forced_bookings`: a practice's permission to book one time outside the rules (audited when
 *   created); `used_by` is the appointment that used it.
 */
export const migration0010: StoreMigration = {
  name: '0010_agenda',
  async up(db, dialect) {
    const t = dialectTypes(dialect);
    await runScript(
      db,
      `
CREATE TABLE agenda_rules (
  practice_id TEXT NOT NULL,
  practitioner_id TEXT NOT NULL,
  rules TEXT NOT NULL,
  version INTEGER NOT NULL,
  updated_by TEXT NOT NULL,
  updated_at ${t.bigint} NOT NULL,
  PRIMARY KEY (practice_id, practitioner_id)
);

CREATE TABLE coverage_windows (
  practice_id TEXT PRIMARY KEY,
  windows TEXT NOT NULL,
  version INTEGER NOT NULL,
  updated_by TEXT NOT NULL,
  updated_at ${t.bigint} NOT NULL
);

CREATE TABLE forced_bookings (
  id TEXT PRIMARY KEY,
  practice_id TEXT NOT NULL,
  practitioner_id TEXT NOT NULL,
  start_at ${t.bigint} NOT NULL,
  end_at ${t.bigint} NOT NULL,
  reason TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at ${t.bigint} NOT NULL,
  used_by TEXT
);
CREATE INDEX forced_bookings_practitioner ON forced_bookings (practice_id, practitioner_id, start_at)
`,
    );
  },
};
