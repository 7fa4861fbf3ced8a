import { dialectTypes, runScript, type StoreMigration } from './types.js';

/**
 * Sync engine: hashed lookup keys for patient matching (INS, name + birth date + sex), so a
 * first-seen patient is matched without scanning every patient of the practice, and the index
 * itself holds no readable identity (src/sync/patient-match.ts).
 */
export const migration0002: StoreMigration = {
  name: '0002_sync',
  async up(db, dialect) {
    const t = dialectTypes(dialect);
    await runScript(
      db,
      `
CREATE TABLE match_keys (
  practice_id TEXT NOT NULL,
  key_hash TEXT NOT NULL,
  resource_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  created_at ${t.bigint} NOT NULL,
  PRIMARY KEY (practice_id, key_hash, resource_id)
);
CREATE INDEX match_keys_resource ON match_keys (resource_id)
`,
    );
  },
};
