import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';

import BetterSqlite3 from 'better-sqlite3';
import { Kysely, type QueryResult, sql, type SqliteDatabase, SqliteDialect } from 'kysely';

import { PasserelleError } from '../../errors.js';
import { migrateToLatest, migrationStatus } from '../migrations/index.js';
import type { Clock, DirectExecutor } from '../repos/context.js';
import type { Database } from '../schema.js';
import { sealOf, type StoreSealing } from '../sealer.js';
import { makeRootRepos, type Store, type TxFn } from '../store.js';
import { GroupCommitter } from '../transactions.js';

export interface SqliteStoreOptions {
  /** Path of the database file; its folder is created if missing. */
  readonly path: string;
  readonly now?: Clock;
  /** Milliseconds a writer waits for another process's lock (the CLI while the service runs). */
  readonly busyTimeoutMs?: number;
  /** HMAC key of the audit chain, kept outside the store (repos/audit.ts). */
  readonly auditKey?: Buffer;
  /** The key ring sealing patient-bearing columns (../sealer.ts). */
  readonly sealing: StoreSealing;
}

/**
 * The database, its WAL and shared-memory files hold patient data: owner only. SQLite gives the
 * -wal and -shm files the mode of the database file, so the file is made 0600 before WAL mode
 * creates them; files left by an older version are tightened too.
 */
function restrictFiles(path: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  if (!existsSync(path)) closeSync(openSync(path, 'a', 0o600));
  for (const file of [path, `${path}-wal`, `${path}-shm`]) if (existsSync(file)) chmodSync(file, 0o600);
}

/**
 * kysely prepares every statement anew; better-sqlite3 statements are reusable, and the hot
 * paths run the same few hundred statements, so keep them.
 */
function cachingDatabase(
  raw: BetterSqlite3.Database,
): SqliteDatabase & { prepare(query: string): BetterSqlite3.Statement } {
  const cache = new Map<string, BetterSqlite3.Statement>();
  return {
    close: () => raw.close(),
    prepare(query: string) {
      let stmt = cache.get(query);
      if (!stmt) {
        if (cache.size >= 1000) cache.clear();
        stmt = raw.prepare(query);
        cache.set(query, stmt);
      }
      return stmt;
    },
  };
}

/** What kysely's SQLite driver does with a compiled query, minus its connection and promise layers. */
function directExecutor(database: { prepare(query: string): BetterSqlite3.Statement }): DirectExecutor {
  return <R>(query: string, parameters: readonly unknown[]): QueryResult<R> => {
    const stmt = database.prepare(query);
    if (stmt.reader) return { rows: stmt.all(parameters) as R[] };
    const { changes, lastInsertRowid } = stmt.run(parameters);
    return { numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid), rows: [] };
  };
}

/** The embedded default store: one file, WAL, synchronous=FULL (design rule 1). */
export async function openSqliteStore(options: SqliteStoreOptions): Promise<Store> {
  const now = options.now ?? Date.now;
  let raw: BetterSqlite3.Database;
  try {
    if (options.path !== ':memory:') restrictFiles(options.path);
    raw = new BetterSqlite3(options.path);
  } catch (e) {
    throw new PasserelleError(
      'ERR_STORE_UNAVAILABLE',
      `cannot open SQLite store at ${options.path}: ${(e as Error).message}`,
      { cause: e },
    );
  }
  const mode = raw.pragma('journal_mode = WAL', { simple: true });
  if (mode !== 'wal') {
    raw.close();
    throw new PasserelleError(
      'ERR_STORE_UNAVAILABLE',
      `SQLite store at ${options.path} cannot use WAL (journal_mode=${String(mode)})`,
    );
  }
  // FULL: the WAL is fsynced at every commit, so an acknowledged message survives power loss.
  raw.pragma('synchronous = FULL');
  raw.pragma('foreign_keys = ON');
  // Deleted and overwritten rows (purged bodies, erased patients, rows sealed again by a key
  // rotation) are zeroed in the file, not left readable in free pages (RGPD art. 17). ON rather
  // than FAST: FAST leaves freelist pages as they were, where the patient-erase scan found values.
  raw.pragma('secure_delete = ON');
  raw.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 5000}`);

  const database = cachingDatabase(raw);
  const db = new Kysely<Database>({
    dialect: new SqliteDialect({ database: database as unknown as SqliteDatabase }),
  });
  const seal = sealOf(options.sealing);
  const committer = new GroupCommitter(
    db,
    'sqlite',
    now,
    seal,
    undefined,
    directExecutor(database),
    options.auditKey,
  );
  // One connection, one writer: every transaction goes through the group committer.
  const transaction = <T>(fn: TxFn<T>) => committer.run(fn);
  const leases = new Set<string>();
  const repos = makeRootRepos(
    {
      db,
      dialect: 'sqlite',
      now,
      seal,
      inTransaction: false,
      ...(options.auditKey && { auditKey: options.auditKey }),
    },
    transaction,
  );

  return {
    ...repos,
    dialect: 'sqlite',
    db,
    now,
    transaction,
    batch: transaction,
    async withLease(key, fn) {
      if (leases.has(key)) return { acquired: false };
      leases.add(key);
      try {
        return { acquired: true, result: await fn() };
      } finally {
        leases.delete(key);
      }
    },
    migrate: () => migrateToLatest(db as Kysely<unknown>, 'sqlite'),
    migrationStatus: () => migrationStatus(db as Kysely<unknown>, 'sqlite'),
    async ping() {
      try {
        await sql`select 1`.execute(db);
      } catch (e) {
        throw new PasserelleError(
          'ERR_STORE_UNAVAILABLE',
          `SQLite store is not answering: ${(e as Error).message}`,
          { cause: e },
        );
      }
    },
    async close() {
      await committer.idle();
      await db.destroy();
    },
  };
}
