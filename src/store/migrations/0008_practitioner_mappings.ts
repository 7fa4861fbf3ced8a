import { dialectTypes, runScript, type StoreMigration } from './types.js';

/**
 * Practitioner mappings (issue 18 point 1): the practice software's own id of a practitioner,
 * per link, → the canonical practitioner an operator chose.
 * - `practitioner_mappings`: one row per (link, local id). `open` is the review an unknown id
 *   opens (once, however many messages name it); `mapped` is the operator's decision, which
 *   every later message of the link with that id follows. `proposal` is the practitioner as the
 *   link named it (name, identifiers: professional directory data, no patient data).
 * - `practitioner_mapping_holds`: the appointments applied without that practitioner and held
 *   back from the other side until the mapping is decided. Ids only.
 * No foreign keys to `links`: the link's deletion removes its rows (repos/practices.ts).
 */
export const migration0008: StoreMigration = {
  name: '0008_practitioner_mappings',
  async up(db, dialect) {
    const t = dialectTypes(dialect);
    await runScript(
      db,
      `
CREATE TABLE practitioner_mappings (
  link_id TEXT NOT NULL,
  local_id TEXT NOT NULL,
  practice_id TEXT NOT NULL,
  status TEXT NOT NULL,
  practitioner_id TEXT,
  proposal TEXT,
  resolution TEXT,
  resolved_by TEXT,
  created_at ${t.bigint} NOT NULL,
  updated_at ${t.bigint} NOT NULL,
  resolved_at ${t.bigint},
  PRIMARY KEY (link_id, local_id)
);
CREATE INDEX practitioner_mappings_practice ON practitioner_mappings (practice_id, status, created_at);

CREATE TABLE practitioner_mapping_holds (
  link_id TEXT NOT NULL,
  local_id TEXT NOT NULL,
  appointment_id TEXT NOT NULL,
  practice_id TEXT NOT NULL,
  created_at ${t.bigint} NOT NULL,
  PRIMARY KEY (link_id, local_id, appointment_id)
)
`,
    );
  },
};
