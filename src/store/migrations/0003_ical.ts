import { dialectTypes, runScript, type StoreMigration } from './types.js';

/**
 * iCal feeds (docs/ical.md):
 * - `change_counters`: one row per practice, bumped once by every transaction that writes one of
 *   its canonical records. Feed ETags are built from it, so a conditional GET is answered from
 *   two primary-key reads without rendering anything.
 * - `ical_tokens.version` / `updated_at`: a feed's settings (privacy, label, expiry) are part of
 *   its ETag and Last-Modified, so changing them must change both.
 */
export const migration0003: StoreMigration = {
  name: '0003_ical',
  async up(db, dialect) {
    const t = dialectTypes(dialect);
    await runScript(
      db,
      `
CREATE TABLE change_counters (
  practice_id TEXT PRIMARY KEY REFERENCES practices(id),
  seq ${t.bigint} NOT NULL,
  updated_at ${t.bigint} NOT NULL
);

ALTER TABLE ical_tokens ADD COLUMN version INTEGER NOT NULL DEFAULT 1;

ALTER TABLE ical_tokens ADD COLUMN updated_at ${t.bigint};

UPDATE ical_tokens SET updated_at = created_at
`,
    );
  },
};
