import { sql } from 'kysely';

import type { StoreMigration } from './types.js';

/**
 * Link changes reach every instance at once (issue 23): on PostgreSQL, a row trigger on `links`
 * sends `NOTIFY passerelle_links` with the link id (no patient data) when a change commits;
 * each instance's sync runtime LISTENs (Store.watch) and re-reads the links table, restarting
 * only the links whose version changed. SQLite has one process per file: nothing to do there.
 */
export const migration0011: StoreMigration = {
  name: '0011_link_notify',
  async up(db, dialect) {
    if (dialect !== 'postgres') return;
    // One statement each: the function body holds semicolons.
    await sql
      .raw(
        `CREATE OR REPLACE FUNCTION passerelle_links_notify() RETURNS trigger AS $$
BEGIN
  PERFORM pg_notify('passerelle_links', COALESCE(NEW.id, OLD.id));
  RETURN NULL;
END
$$ LANGUAGE plpgsql`,
      )
      .execute(db);
    await sql
      .raw(
        'CREATE TRIGGER links_notify AFTER INSERT OR UPDATE OR DELETE ON links FOR EACH ROW EXECUTE FUNCTION passerelle_links_notify()',
      )
      .execute(db);
  },
};
