import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import pg from 'pg';

import { Keyring } from '../../src/security/sealing.js';
import { openPostgresStore, openSqliteStore, type Store, type StoreSealing } from '../../src/store/index.js';
import type { Clock } from '../../src/store/repos/context.js';

export const PG_URL = process.env['PASSERELLE_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export type StoreKind = 'sqlite' | 'postgres';
export const STORE_KINDS: readonly StoreKind[] = ['sqlite', 'postgres'];

/**
 * The key ring of test stores: fixed, so that a child process reopening a test's store file
 * (kill tests) opens what the test sealed. Tests of the sealing itself make their own keys.
 */
export function testSealing(): Keyring {
  return new Keyring(Buffer.alloc(32, 0x5e));
}

export interface TestStore {
  readonly store: Store;
  /** Where the store lives: a file path (SQLite) or a connection URL (PostgreSQL). */
  readonly location: string;
  /** Closes the store and removes its file or database. */
  dispose(): Promise<void>;
}

/** A fresh temp folder removed by the returned function. */
export function tempDir(prefix = 'passerelle-test-'): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/**
 * Creates a throwaway PostgreSQL database on PASSERELLE_PG_URL's server and returns its URL.
 * PostgreSQL is part of this machine: if it cannot be reached the test fails, it never skips.
 */
export async function createPgDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `passerelle_test_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  try {
    await admin.connect();
  } catch (e) {
    throw new Error(
      `PostgreSQL is required for the tests: cannot connect to PASSERELLE_PG_URL=${PG_URL}: ${(e as Error).message}`,
      { cause: e },
    );
  }
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(PG_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

export async function openTestStore(
  kind: StoreKind,
  options: { now?: Clock; migrate?: boolean; sealing?: StoreSealing; auditKey?: Buffer } = {},
): Promise<TestStore> {
  const migrate = options.migrate ?? true;
  const sealing = options.sealing ?? testSealing();
  const auditKey = options.auditKey && { auditKey: options.auditKey };
  if (kind === 'sqlite') {
    const dir = tempDir();
    const path = join(dir.path, 'passerelle.db');
    const store = await openSqliteStore({
      path,
      sealing,
      ...(options.now && { now: options.now }),
      ...auditKey,
    });
    if (migrate) await store.migrate();
    return {
      store,
      location: path,
      dispose: async () => {
        await store.close();
        dir.remove();
      },
    };
  }
  const database = await createPgDatabase();
  const store = await openPostgresStore({
    url: database.url,
    poolSize: 5,
    sealing,
    ...(options.now && { now: options.now }),
    ...auditKey,
  });
  if (migrate) await store.migrate();
  return {
    store,
    location: database.url,
    dispose: async () => {
      await store.close();
      await database.drop();
    },
  };
}

/** A settable clock for tests: no sleeps, time moves when the test says so. */
export function testClock(
  start = Date.parse('2026-11-23T09:00:00.000Z'),
): Clock & { set(ms: number): void; advance(ms: number): void } {
  let now = start;
  const clock = (() => now) as Clock & { set(ms: number): void; advance(ms: number): void };
  clock.set = (ms) => {
    now = ms;
  };
  clock.advance = (ms) => {
    now += ms;
  };
  return clock;
}

/**
 * Runs `fn` on the SQLite file at `path`, opened for it and closed after: for tests whose
 * service runs in a child process on the same file (kill and restart tests).
 */
export async function withSqliteFile<T>(path: string, fn: (store: Store) => Promise<T>): Promise<T> {
  const store = await openSqliteStore({ path, sealing: testSealing() });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}
