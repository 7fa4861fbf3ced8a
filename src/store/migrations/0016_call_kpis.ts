import { dialectTypes, runScript, type StoreMigration } from './types.js';

/**
 * The secretariat's call KPIs (issue 21 point 4): one row per practice and local day, as the
 * platform's GET /call-statistics gave it (`figures`, JSON of counts and seconds, no patient
 * data). A later pass of the same day replaces the row (a day's figures grow until its end).
 * And the practice's review documents (issue 21 point 5) posted to its digest webhook: one row
 * per practice, period kind and first day, with the delivery state (retried at each run).
 */
export const migration0016: StoreMigration = {
  name: '0016_call_kpis',
  async up(db, dialect) {
    const t = dialectTypes(dialect);
    await runScript(
      db,
      `
CREATE TABLE call_kpis (
  practice_id TEXT NOT NULL,
  day TEXT NOT NULL,
  link_id TEXT NOT NULL,
  figures TEXT NOT NULL,
  fetched_at ${t.bigint} NOT NULL,
  PRIMARY KEY (practice_id, day)
);
CREATE TABLE review_deliveries (
  practice_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  start_day TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  delivered_at ${t.bigint},
  last_error TEXT,
  updated_at ${t.bigint} NOT NULL,
  PRIMARY KEY (practice_id, kind, start_day)
)
`,
    );
  },
};
