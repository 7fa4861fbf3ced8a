import { dialectTypes, runScript, type StoreMigration } from './types.js';

/**
 * Versions of a link's mapping profile (src/mapping): each PUT or rollback adds a version; one
 * is active. Rows are kept after the link is gone: they are configuration history, not patient
 * data, and audit events name their hashes.
 */
export const migration0004: StoreMigration = {
  name: '0004_mapping',
  async up(db, dialect) {
    const t = dialectTypes(dialect);
    await runScript(
      db,
      `
CREATE TABLE mapping_profiles (
  link_id TEXT NOT NULL,
  version INTEGER NOT NULL,
  name TEXT NOT NULL,
  yaml TEXT NOT NULL,
  hash TEXT NOT NULL,
  created_by TEXT,
  created_at ${t.bigint} NOT NULL,
  active INTEGER NOT NULL DEFAULT 0,
  comment TEXT,
  PRIMARY KEY (link_id, version)
);
CREATE INDEX mapping_profiles_active ON mapping_profiles (link_id, active);
`,
    );
  },
};
