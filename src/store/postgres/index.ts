import { createHash } from 'node:crypto';

import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';

import { PasserelleError } from '../../errors.js';
import { postgresCluster } from '../cluster.js';
import { migrateToLatest, migrationStatus } from '../migrations/index.js';
import type { Clock } from '../repos/context.js';
import type { Database } from '../schema.js';
import { sealOf, type StoreSealing } from '../sealer.js';
import { makeRootRepos, type Store, type TxFn } from '../store.js';
import { LanedCommitter, runInOneTransaction } from '../transactions.js';

// BIGINT columns hold epoch milliseconds and serial ids, all far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

export interface PostgresStoreOptions {
  readonly url: string;
  readonly poolSize?: number;
  readonly now?: Clock;
  /** HMAC key of the audit chain, kept outside the store (repos/audit.ts). */
  readonly auditKey?: Buffer;
  /** The key ring sealing patient-bearing columns (../sealer.ts). */
  readonly sealing: StoreSealing;
}

/** Transaction control that answers nothing and can wait for the statement after it. */
const DEFERRABLE = /^(?:begin|savepoint \w+|release savepoint \w+)$/i;

type Query = (...args: unknown[]) => unknown;

/**
 * Statements run often enough to be prepared (`PREPARE_AFTER` runs in this process): their name.
 * At most `MAX_PREPARED`: the hot paths run a few dozen distinct statements, each connection
 * keeps its prepared ones for its lifetime.
 */
const prepared = new Map<string, string>();
const runs = new Map<string, number>();
const PREPARE_AFTER = 5;
let preparedSeq = 0;
const MAX_PREPARED = 300;

/** The name to run `text` under, once it has run `PREPARE_AFTER` times. */
function preparedName(text: string): string | undefined {
  const name = prepared.get(text);
  if (name || prepared.size >= MAX_PREPARED) return name;
  const n = (runs.get(text) ?? 0) + 1;
  if (n < PREPARE_AFTER) {
    if (runs.size >= 10_000) runs.clear();
    runs.set(text, n);
    return undefined;
  }
  runs.delete(text);
  // Never reused: a connection may still hold a name given up for another statement.
  const named = `passerelle_${preparedSeq++}`;
  prepared.set(text, named);
  return named;
}

/** The statements a connection holds back (`deferTransactionControl`), emptied at each checkout. */
const heldBack = new WeakMap<pg.PoolClient, string[]>();

/**
 * Sends BEGIN, SAVEPOINT and RELEASE with the statement that follows them instead of alone
 * (issue 22): a group commit runs two savepoints and two releases per message, each a round
 * trip that returns nothing. They are held on the connection and written to the socket right
 * before the next statement, which pg's pipeline mode (`pipeline: true`, Parse/Bind/Execute/Sync
 * per query, answers in order) sends without waiting for their answers: one round trip instead
 * of up to five. Their answers are still checked: if one failed, the statement it was sent with
 * rejects with its error (PostgreSQL would only have said "current transaction is aborted").
 * Kysely runs one statement at a time on a connection, so the pipeline holds at most these.
 */
function deferTransactionControl(client: pg.PoolClient): void {
  // Looked up at each call: a benchmark or test counting statements wraps pg's own.
  const query: Query = (...args) =>
    (Object.getPrototypeOf(client) as { query: Query }).query.apply(client, args);
  const held: string[] = [];
  heldBack.set(client, held);
  client.query = ((...args: unknown[]) => {
    const [text, values, callback] = args;
    const plain = typeof text === 'string' && callback === undefined;
    if (
      plain &&
      (values === undefined || (Array.isArray(values) && values.length === 0)) &&
      DEFERRABLE.test(text)
    ) {
      held.push(text);
      return Promise.resolve({ command: text.split(' ')[0]?.toUpperCase(), rowCount: null, rows: [] });
    }
    // Parameterized statements run often are prepared once per connection (pg names them):
    // the server parses and plans them once, half the cost of a round trip here (issue 22).
    if (plain && Array.isArray(values) && values.length > 0) {
      const name = preparedName(text);
      if (name) {
        const config = { name, text, values };
        return send(config).catch((e: unknown) => {
          // A table's columns changed under a prepared `select *` (another instance migrated):
          // this statement is no longer prepared; the caller's transaction fails once.
          if ((e as { code?: string }).code === '0A000') prepared.delete(text);
          throw e;
        });
      }
    }
    return send(...args);
  }) as typeof client.query;
  const send = (...args: unknown[]): Promise<unknown> => {
    const [, , callback] = args;
    if (held.length === 0) return query(...args) as Promise<unknown>;
    const before = held.splice(0).map((statement) => query(statement) as Promise<unknown>);
    if (callback !== undefined) {
      // Not kysely's form (pg-pool's callback form): nothing of ours sends that on a
      // transaction's connection; a held statement's failure would show in what follows.
      for (const p of before) p.catch(() => undefined);
      return query(...args) as Promise<unknown>;
    }
    const result = query(...args) as Promise<unknown>;
    // Answers come in order: a held statement's failure reaches this process first and wins.
    return Promise.all([...before, result]).then(() => result);
  };
}

/** Advisory-lock keys are 64-bit integers; derive one from the lease name. */
function lockKey(key: string): string {
  return createHash('sha256').update(key).digest().readBigInt64BE(0).toString();
}

/** The shared store for several passerelle instances (design: "Stores and scale"). */
export async function openPostgresStore(options: PostgresStoreOptions): Promise<Store> {
  const now = options.now ?? Date.now;
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize ?? 10,
    // Durable commit is the default, but say it: an ACK must never precede the WAL flush.
    options: '-c synchronous_commit=on',
    // Statements written without waiting for the previous answer (deferTransactionControl).
    pipeline: true,
  });
  pool.on('error', () => undefined); // idle-client errors surface on the next query instead
  // A connection lost while checked out (server restarted, network cut) makes its client emit
  // 'error' besides failing the query; pg-pool listens only while the client is idle, so
  // without this the process would die of an unhandled 'error' event (found by the cluster
  // fault test cutting PostgreSQL through a TCP proxy). The query's own failure is what callers see.
  pool.on('connect', (client) => {
    client.on('error', () => undefined);
    deferTransactionControl(client);
  });
  // A connection goes back to the pool after COMMIT or ROLLBACK, which are never held back;
  // one checked out again starts empty all the same.
  pool.on('acquire', (client) => heldBack.get(client)?.splice(0));
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  const seal = sealOf(options.sealing);
  const transaction = <T>(fn: TxFn<T>) =>
    new Promise<T>((resolve, reject) => {
      void runInOneTransaction(
        db,
        'postgres',
        now,
        seal,
        [{ fn: fn as TxFn<unknown>, resolve: resolve as (v: unknown) => void, reject }],
        undefined,
        options.auditKey,
      );
    });
  // Leave connections for plain transactions and reads: half the pool commits batches.
  const committer = new LanedCommitter(
    db,
    'postgres',
    now,
    seal,
    Math.max(1, Math.floor((options.poolSize ?? 10) / 2)),
    options.auditKey,
  );
  const repos = makeRootRepos(
    {
      db,
      dialect: 'postgres',
      now,
      seal,
      inTransaction: false,
      ...(options.auditKey && { auditKey: options.auditKey }),
    },
    transaction,
  );

  const store: Store = {
    ...repos,
    dialect: 'postgres',
    db,
    now,
    transaction,
    batch: (fn, batchOptions) => committer.run(fn, batchOptions),
    cluster: postgresCluster(db),
    async withLease(key, fn) {
      // A session-level lock lives as long as the connection: hold one client for the duration.
      const client = await pool.connect();
      try {
        const k = lockKey(key);
        const { rows } = await client.query<{ ok: boolean }>(
          'SELECT pg_try_advisory_lock($1::bigint) AS ok',
          [k],
        );
        if (!rows[0]?.ok) return { acquired: false };
        try {
          return { acquired: true, result: await fn() };
        } finally {
          await client.query('SELECT pg_advisory_unlock($1::bigint)', [k]);
        }
      } finally {
        client.release();
      }
    },
    async watch(channel, onEvent) {
      if (!/^[a-z_][a-z0-9_]*$/.test(channel))
        throw new PasserelleError('ERR_INTERNAL', `not a channel name: ${channel}`);
      let client: pg.Client | undefined;
      let closed = false;
      let retry: NodeJS.Timeout | undefined;
      // Its own connection, outside the pool: LISTEN lasts as long as the session.
      const open = async (): Promise<void> => {
        const c = new pg.Client({ connectionString: options.url, connectionTimeoutMillis: 5000 });
        c.on('error', () => undefined);
        c.on('notification', (n) => {
          if (n.channel === channel) onEvent(n.payload ?? null);
        });
        c.on('end', () => {
          if (client === c) client = undefined;
          if (!closed) again();
        });
        await c.connect();
        await c.query(`LISTEN ${channel}`);
        client = c;
      };
      const again = () => {
        clearTimeout(retry);
        retry = setTimeout(() => {
          void open()
            .then(() => onEvent(null)) // what changed while the connection was down
            .catch(() => again());
        }, 1000);
        retry.unref();
      };
      await open();
      return async () => {
        closed = true;
        clearTimeout(retry);
        await client?.end().catch(() => undefined);
      };
    },
    migrate: () => migrateToLatest(db as Kysely<unknown>, 'postgres'),
    migrationStatus: () => migrationStatus(db as Kysely<unknown>, 'postgres'),
    async ping() {
      try {
        await sql`select 1`.execute(db);
      } catch (e) {
        throw new PasserelleError(
          'ERR_STORE_UNAVAILABLE',
          `PostgreSQL store is not answering: ${(e as Error).message}`,
          { cause: e },
        );
      }
    },
    async close() {
      await committer.idle();
      await db.destroy();
    },
  };
  return store;
}
