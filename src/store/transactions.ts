import { CompiledQuery, type DatabaseConnection, type Kysely, sql } from 'kysely';

import type { Dialect } from './migrations/types.js';
import type { Clock, DirectExecutor, TxCache } from './repos/context.js';
import type { Database } from './schema.js';
import type { Seal } from './sealer.js';
import { type BatchOptions, makeRepos, type Tx, type TxFn } from './store.js';
import { WriteBuffer, writeBuffering } from './write-buffer.js';

interface Job {
  readonly fn: TxFn<unknown>;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  /** The caller said its job is an ingest (`BatchOptions.ingest`): see `Tx.foreignWrites`. */
  readonly ingest?: boolean;
}

/** What moves `Tx.foreignWrites` (PostgreSQL): bumped by the runner and by rollbacks. */
interface ForeignWrites {
  value: number;
  /** The running job is an ingest: only the runner and rollbacks move the count meanwhile. */
  ingest: boolean;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/** Savepoint statements, compiled once per name (an ingest runs a pair per record of a page). */
const savepointSql = new Map<string, CompiledQuery>();

export function bindTx(
  conn: Kysely<Database>,
  dialect: Dialect,
  now: Clock,
  seal: Seal,
  touchedPractices: Set<string> = new Set(),
  direct?: DirectExecutor,
  auditKey?: Buffer,
  foreign?: ForeignWrites,
  writes?: WriteBuffer,
): Tx {
  const txCache: TxCache = {};
  const run = async (statement: string): Promise<void> => {
    if (direct) {
      direct(statement, []);
      return;
    }
    let q = savepointSql.get(statement);
    if (!q) savepointSql.set(statement, (q = CompiledQuery.raw(statement)));
    await conn.executeQuery(q);
  };
  return {
    ...makeRepos({
      db: conn,
      dialect,
      now,
      seal,
      inTransaction: true,
      touchedPractices,
      txCache,
      ...(direct && { direct }),
      ...(auditKey && { auditKey }),
      ...(writes && { writes }),
    }),
    db: conn,
    dialect,
    ...(direct && { direct }),
    // A job that is not an ingest may write between any two reads of the count: each read moves it.
    ...(foreign && { foreignWrites: () => (foreign.ingest ? foreign.value : ++foreign.value) }),
    async savepoint(name) {
      await run(`SAVEPOINT ${name}`);
      writes?.mark(name);
    },
    async release(name) {
      await run(`RELEASE SAVEPOINT ${name}`);
      writes?.release(name);
    },
    async rollbackTo(name) {
      // Forgotten first: even if the rollback fails, nothing stale is reused.
      txCache.auditHead = undefined;
      if (foreign) foreign.value++;
      await run(`ROLLBACK TO SAVEPOINT ${name}`);
      // The held rows follow the database: what the savepoint added goes, what it wrote is held again.
      writes?.rollbackTo(name);
      await run(`RELEASE SAVEPOINT ${name}`);
    },
  };
}

/**
 * Makes every statement kysely runs on `connection` pass through the write buffer first (the
 * compiled hot-path statements do in compiled.ts), so that a read sees the rows held for the
 * group's multi-row writes. Returns the connection's own executor, for the buffer's writes, and
 * a function that undoes this (the connection goes back to the pool).
 */
function throughBuffer(connection: DatabaseConnection, writes: WriteBuffer) {
  const own = Object.prototype.hasOwnProperty.call(connection, 'executeQuery');
  const original = connection.executeQuery;
  const execute = original.bind(connection);
  connection.executeQuery = async (query) => {
    const written = writes.before(query.sql);
    if (written) await written;
    return execute(query);
  };
  const restore = () => {
    if (own) connection.executeQuery = original;
    else delete (connection as Partial<DatabaseConnection>).executeQuery;
  };
  return { execute, restore };
}

/**
 * Runs jobs in one transaction on one connection. A lone job runs bare (its error rolls the
 * transaction back); several jobs each get a savepoint so a failing one undoes only its own
 * statements. Results are handed out only after COMMIT returns.
 */
export async function runInOneTransaction(
  db: Kysely<Database>,
  dialect: Dialect,
  now: Clock,
  seal: Seal,
  jobs: readonly Job[],
  direct?: DirectExecutor,
  auditKey?: Buffer,
): Promise<void> {
  // SQLite: BEGIN IMMEDIATE takes the write lock up front, so a second process (the CLI) waits
  // on busy_timeout instead of failing later with SQLITE_BUSY on lock upgrade.
  const begin = dialect === 'sqlite' ? 'BEGIN IMMEDIATE' : 'BEGIN';
  const outcomes: Outcome[] = [];
  try {
    await db.connection().execute(async (conn) => {
      // Transaction control runs once or twice per job: straight on the connection when it can.
      const control = async (statement: string) => {
        if (direct) direct(statement, []);
        else await sql.raw(statement).execute(conn);
      };
      await control(begin);
      const touched = new Set<string>();
      // PostgreSQL: the runner knows which jobs share the transaction, so it tells the group
      // apply (sync/ingest/group.ts) when one that is not an ingest may have written — what
      // SQLite's total_changes() tells there.
      const foreign = dialect === 'postgres' ? { value: 0, ingest: false } : undefined;
      // Set-wise writes (write-buffer.ts): the connection's statements see the held rows first.
      let routed: ReturnType<typeof throughBuffer> | undefined;
      const writes = writeBuffering.enabled
        ? new WriteBuffer(dialect, (statement, parameters) =>
            direct
              ? Promise.resolve(direct(statement, parameters))
              : (routed as ReturnType<typeof throughBuffer>).execute(
                  CompiledQuery.raw(statement, [...parameters]),
                ),
          )
        : undefined;
      if (writes) routed = throughBuffer(await conn.getExecutor().provideConnection(async (c) => c), writes);
      const tx = bindTx(conn, dialect, now, seal, touched, direct, auditKey, foreign, writes);
      const runJob = async (job: Job) => {
        if (foreign && !job.ingest) foreign.value++;
        if (foreign) foreign.ingest = job.ingest === true;
        try {
          return await job.fn(tx);
        } finally {
          if (foreign) foreign.ingest = false;
          if (foreign && !job.ingest) foreign.value++;
        }
      };
      try {
        if (jobs.length === 1) {
          outcomes.push({ ok: true, value: await runJob(jobs[0] as Job) });
        } else {
          for (let i = 0; i < jobs.length; i++) {
            await tx.savepoint(`sp${i}`);
            try {
              const value = await runJob(jobs[i] as Job);
              await tx.release(`sp${i}`);
              outcomes.push({ ok: true, value });
            } catch (error) {
              await tx.rollbackTo(`sp${i}`);
              outcomes.push({ ok: false, error });
            }
          }
        }
        // The group's held rows, one multi-row statement per table (write-buffer.ts).
        await writes?.flush();
        // Last statement before COMMIT, in id order: see repos/changes.ts. A job rolled back to
        // its savepoint may leave an extra bump behind, which only costs a reader one refresh.
        if (touched.size > 0) await tx.changeCounters.bump([...touched].sort());
        await control('COMMIT');
      } catch (error) {
        await control('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        writes?.clear();
        routed?.restore();
      }
    });
  } catch (error) {
    for (const job of jobs) job.reject(error);
    return;
  }
  outcomes.forEach((o, i) => (o.ok ? (jobs[i] as Job).resolve(o.value) : (jobs[i] as Job).reject(o.error)));
}

/**
 * Group commit: while one transaction commits, callers queue; the next transaction takes them
 * all (up to `maxBatch`). With synchronous=FULL / synchronous_commit=on each commit waits for
 * the disk, so sharing it is where ingest throughput comes from.
 */
export class GroupCommitter {
  private readonly queue: Job[] = [];
  private running = false;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: Dialect,
    private readonly now: Clock,
    private readonly seal: Seal,
    private readonly maxBatch = 500,
    /** SQLite: the single connection's statements, for the transaction's hot path (repos/compiled.ts). */
    private readonly direct?: DirectExecutor,
    /** The audit chain's key (repos/audit.ts), handed to every transaction's repositories. */
    private readonly auditKey?: Buffer,
  ) {}

  run<T>(fn: TxFn<T>, options: BatchOptions = {}): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({
        fn: fn as TxFn<unknown>,
        resolve: resolve as (v: unknown) => void,
        reject,
        ...(options.ingest && { ingest: true }),
      });
      if (this.running) return;
      // better-sqlite3 runs a whole transaction synchronously (its awaits are microtasks), so
      // nothing queues while it runs: starting at once would commit each socket-driven job
      // (MLLP, webhooks) alone. Starting in the check phase lets every job whose I/O arrived
      // in this event-loop turn share the commit. On PostgreSQL too (issue 22): jobs queue
      // while a transaction runs anyway, and those of one turn then share the next group, in
      // call order, where the group apply reuses their reads.
      if (this.queue.length === 1) setImmediate(() => void this.drain());
    });
  }

  /** Queued jobs plus one if a transaction is running: how busy this committer is. */
  load(): number {
    return this.queue.length + (this.running ? 1 : 0);
  }

  /** A group is queued and its transaction not started yet: a job run now joins it. */
  forming(): boolean {
    return !this.running && this.queue.length > 0;
  }

  /** Resolves when everything queued so far has committed or failed. */
  async idle(): Promise<void> {
    while (this.running || this.queue.length > 0) await new Promise((r) => setImmediate(r));
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0) {
        const jobs = this.queue.splice(0, this.maxBatch);
        await runInOneTransaction(
          this.db,
          this.dialect,
          this.now,
          this.seal,
          jobs,
          this.direct,
          this.auditKey,
        );
      }
    } finally {
      this.running = false;
    }
  }
}

/**
 * Several group committers side by side (PostgreSQL): each lane holds one connection at a
 * time, so lanes commit in parallel and the server's own group commit merges their flushes.
 * A job joins the group a lane is forming in this event-loop turn if there is one, else goes
 * to an idle lane, else to the shortest queue.
 */
export class LanedCommitter {
  private readonly lanes: GroupCommitter[];

  constructor(
    db: Kysely<Database>,
    dialect: Dialect,
    now: Clock,
    seal: Seal,
    lanes: number,
    auditKey?: Buffer,
  ) {
    this.lanes = Array.from(
      { length: Math.max(1, lanes) },
      () => new GroupCommitter(db, dialect, now, seal, undefined, undefined, auditKey),
    );
  }

  run<T>(fn: TxFn<T>, options: BatchOptions = {}): Promise<T> {
    // A group still forming first (the jobs of one event-loop turn share a transaction, in call
    // order: group.ts reuses their reads), else an idle lane, else the shortest queue.
    let best = this.lanes.find((l) => l.forming()) ?? (this.lanes[0] as GroupCommitter);
    if (!best.forming()) for (const lane of this.lanes) if (lane.load() < best.load()) best = lane;
    return best.run(fn, options);
  }

  async idle(): Promise<void> {
    await Promise.all(this.lanes.map((l) => l.idle()));
  }
}
