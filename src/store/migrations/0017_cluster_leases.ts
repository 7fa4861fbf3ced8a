import { sql } from 'kysely';

import { runScript, type StoreMigration } from './types.js';

/**
 * Several instances on one PostgreSQL (issue 23):
 * - `cluster_leases`: who runs a link's scheduled work (or any named singleton), until when.
 *   Expiry is on the database's clock (`now()`), never an instance's, so instance clocks that
 *   disagree by minutes cannot make two holders; a holder renews it by heartbeat and another
 *   instance takes it once it has expired (src/store/cluster.ts).
 * - `cluster_jobs`: one row per scheduled job and occurrence, claimed by the first instance
 *   whose schedule fires: every other instance skips that occurrence.
 * - NOTIFY on mapping-profile and practice changes (like 0011 for links), so every instance's
 *   caches follow at once.
 * SQLite has one process per file: nothing to do there.
 */
export const migration0017: StoreMigration = {
  name: '0017_cluster_leases',
  async up(db, dialect) {
    if (dialect !== 'postgres') return;
    await runScript(
      db,
      `
CREATE TABLE cluster_leases (
  name TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  acquired_at TIMESTAMPTZ NOT NULL,
  renewed_at TIMESTAMPTZ NOT NULL,
  expires_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE cluster_jobs (
  job TEXT NOT NULL,
  occurrence TEXT NOT NULL,
  owner TEXT NOT NULL,
  claimed_at TIMESTAMPTZ NOT NULL,
  finished_at TIMESTAMPTZ,
  outcome TEXT,
  PRIMARY KEY (job, occurrence)
);
CREATE INDEX cluster_jobs_claimed ON cluster_jobs (claimed_at);
`,
    );
    // One statement each: the function bodies hold semicolons. The payload is ids only.
    await sql
      .raw(
        `CREATE OR REPLACE FUNCTION passerelle_mapping_notify() RETURNS trigger AS $$
BEGIN
  PERFORM pg_notify('passerelle_mapping', COALESCE(NEW.link_id, OLD.link_id));
  RETURN NULL;
END
$$ LANGUAGE plpgsql`,
      )
      .execute(db);
    await sql
      .raw(
        'CREATE TRIGGER mapping_profiles_notify AFTER INSERT OR UPDATE OR DELETE ON mapping_profiles FOR EACH ROW EXECUTE FUNCTION passerelle_mapping_notify()',
      )
      .execute(db);
    await sql
      .raw(
        `CREATE OR REPLACE FUNCTION passerelle_practices_notify() RETURNS trigger AS $$
BEGIN
  PERFORM pg_notify('passerelle_practices', COALESCE(NEW.id, OLD.id));
  RETURN NULL;
END
$$ LANGUAGE plpgsql`,
      )
      .execute(db);
    await sql
      .raw(
        'CREATE TRIGGER practices_notify AFTER INSERT OR UPDATE OR DELETE ON practices FOR EACH ROW EXECUTE FUNCTION passerelle_practices_notify()',
      )
      .execute(db);
  },
};
