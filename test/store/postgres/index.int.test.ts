/**
 * What the PostgreSQL store does to its connections for the write path (issue 22): BEGIN,
 * SAVEPOINT and RELEASE held back and pipelined with the next statement, and frequent
 * statements prepared once per connection. Neither may hide an error or outlive a schema change.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sql } from 'kysely';

import { openTestStore, type TestStore } from '../../helpers/stores.js';

describe('PostgreSQL store connections', () => {
  let t: TestStore;

  beforeAll(async () => {
    t = await openTestStore('postgres');
  }, 30_000);
  afterAll(async () => {
    await t?.dispose();
  });

  it("reports a held-back statement's own error with the statement sent after it, and rolls back", async () => {
    await sql`CREATE TABLE held_check (a int)`.execute(t.store.db);
    const failed = t.store.transaction(async (tx) => {
      await sql`INSERT INTO held_check VALUES (1)`.execute(tx.db);
      // Held back: answers at once, fails on the server with the next statement.
      await sql.raw('RELEASE SAVEPOINT never_opened').execute(tx.db);
      await sql`INSERT INTO held_check VALUES (2)`.execute(tx.db);
    });
    await expect(failed).rejects.toMatchObject({ code: '3B001' }); // savepoint does not exist
    const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM held_check`.execute(t.store.db);
    expect(rows[0]?.n).toBe(0);
  });

  it('keeps savepoints working when they are held back: a rolled-back one undoes only its own rows', async () => {
    await sql`CREATE TABLE savepoint_check (a int)`.execute(t.store.db);
    await t.store.transaction(async (tx) => {
      await tx.savepoint('one');
      await sql`INSERT INTO savepoint_check VALUES (1)`.execute(tx.db);
      await tx.release('one');
      await tx.savepoint('two');
      await sql`INSERT INTO savepoint_check VALUES (2)`.execute(tx.db);
      await tx.rollbackTo('two');
    });
    const { rows } = await sql<{ a: number }>`SELECT a FROM savepoint_check`.execute(t.store.db);
    expect(rows).toEqual([{ a: 1 }]);
  });

  it('runs a frequent statement prepared, and unprepared again once a migration changed its columns', async () => {
    await sql`CREATE TABLE prepared_check (a int)`.execute(t.store.db);
    await sql`INSERT INTO prepared_check VALUES (1)`.execute(t.store.db);
    const read = () =>
      sql<Record<string, unknown>>`SELECT * FROM prepared_check WHERE a = ${1}`.execute(t.store.db);
    for (let i = 0; i < 8; i++) expect((await read()).rows).toEqual([{ a: 1 }]);
    // Another instance's migration: the prepared `select *` would now change its result type.
    await sql`ALTER TABLE prepared_check ADD COLUMN b int`.execute(t.store.db);
    let rows: Record<string, unknown>[];
    try {
      rows = (await read()).rows;
    } catch (e) {
      // At most once: PostgreSQL refuses the cached plan, the store stops preparing it.
      expect(e).toMatchObject({ code: '0A000' });
      rows = (await read()).rows;
    }
    expect(rows).toEqual([{ a: 1, b: null }]);
    for (let i = 0; i < 3; i++) expect((await read()).rows).toEqual([{ a: 1, b: null }]);
  });
});
