/**
 * What several instances sharing one PostgreSQL store coordinate through it (issue 23,
 * migration 0017): named leases with an expiry, and one claim per scheduled-job occurrence.
 *
 * Every time here is the database's (`now()`): instance clocks may disagree by minutes and a
 * lease must still have one holder. An instance only ever measures durations on its own
 * monotonic clock (src/sync/cluster-leases.ts), never compares its wall clock to a stored time.
 * SQLite has one process per file: its store has no `cluster` and callers run alone.
 */
import { type Kysely, sql } from 'kysely';

import type { Database } from './schema.js';

export interface LeaseClaim {
  /** The caller holds the lease (it took it, or renewed its own). */
  readonly held: boolean;
  /** Who holds it now (null when nobody could be read: it was released meanwhile). */
  readonly owner: string | null;
  /** When it expires, on the database's clock (ISO). */
  readonly expiresAt: string | null;
}

export interface LeaseRow {
  readonly name: string;
  readonly owner: string;
  readonly acquiredAt: string;
  readonly renewedAt: string;
  readonly expiresAt: string;
  /** Whether it has expired, judged by the database. */
  readonly expired: boolean;
}

export type JobOutcome = 'done' | 'failed';

export interface ClusterCoordination {
  /**
   * Takes `name` for `ttlMs` when it is free, expired or already the caller's (a renewal);
   * otherwise answers who holds it. One statement: two instances racing cannot both win.
   */
  claimLease(name: string, owner: string, ttlMs: number): Promise<LeaseClaim>;
  /** Gives `name` up if the caller still holds it (a graceful stop: others take it at once). */
  releaseLease(name: string, owner: string): Promise<void>;
  listLeases(): Promise<LeaseRow[]>;
  /**
   * Claims one occurrence of a scheduled job (`occurrence`: the time it was scheduled for, the
   * same string on every instance); false when another instance claimed it first.
   */
  claimJob(job: string, occurrence: string, owner: string): Promise<boolean>;
  finishJob(job: string, occurrence: string, owner: string, outcome: JobOutcome): Promise<void>;
  /** Claims older than `days` (the table only needs to outlive one occurrence). */
  forgetJobs(days: number): Promise<number>;
}

const isoOf = (v: Date | string | null | undefined): string | null =>
  v === null || v === undefined ? null : new Date(v).toISOString();

export function postgresCluster(db: Kysely<Database>): ClusterCoordination {
  return {
    async claimLease(name, owner, ttlMs) {
      const ttl = Math.max(1, Math.round(ttlMs));
      const taken = await sql<{ owner: string; expires_at: Date }>`
        INSERT INTO cluster_leases AS l (name, owner, acquired_at, renewed_at, expires_at)
        VALUES (${name}, ${owner}, now(), now(), now() + ${ttl} * interval '1 millisecond')
        ON CONFLICT (name) DO UPDATE SET
          owner = EXCLUDED.owner,
          acquired_at = CASE WHEN l.owner = EXCLUDED.owner THEN l.acquired_at ELSE EXCLUDED.acquired_at END,
          renewed_at = EXCLUDED.renewed_at,
          expires_at = EXCLUDED.expires_at
        WHERE l.owner = EXCLUDED.owner OR l.expires_at < now()
        RETURNING owner, expires_at`.execute(db);
      const mine = taken.rows[0];
      if (mine) return { held: true, owner, expiresAt: isoOf(mine.expires_at) };
      const other = await sql<{ owner: string; expires_at: Date }>`
        SELECT owner, expires_at FROM cluster_leases WHERE name = ${name}`.execute(db);
      const row = other.rows[0];
      return { held: false, owner: row?.owner ?? null, expiresAt: isoOf(row?.expires_at) };
    },
    async releaseLease(name, owner) {
      await sql`DELETE FROM cluster_leases WHERE name = ${name} AND owner = ${owner}`.execute(db);
    },
    async listLeases() {
      const r = await sql<{
        name: string;
        owner: string;
        acquired_at: Date;
        renewed_at: Date;
        expires_at: Date;
        expired: boolean;
      }>`SELECT name, owner, acquired_at, renewed_at, expires_at, expires_at < now() AS expired
         FROM cluster_leases ORDER BY name`.execute(db);
      return r.rows.map((row) => ({
        name: row.name,
        owner: row.owner,
        acquiredAt: isoOf(row.acquired_at) ?? '',
        renewedAt: isoOf(row.renewed_at) ?? '',
        expiresAt: isoOf(row.expires_at) ?? '',
        expired: row.expired,
      }));
    },
    async claimJob(job, occurrence, owner) {
      const r = await sql`
        INSERT INTO cluster_jobs (job, occurrence, owner, claimed_at)
        VALUES (${job}, ${occurrence}, ${owner}, now())
        ON CONFLICT (job, occurrence) DO NOTHING`.execute(db);
      return Number(r.numAffectedRows ?? 0n) === 1;
    },
    async finishJob(job, occurrence, owner, outcome) {
      await sql`
        UPDATE cluster_jobs SET finished_at = now(), outcome = ${outcome}
        WHERE job = ${job} AND occurrence = ${occurrence} AND owner = ${owner}`.execute(db);
    },
    async forgetJobs(days) {
      const r = await sql`
        DELETE FROM cluster_jobs WHERE claimed_at < now() - ${days} * interval '1 day'`.execute(db);
      return Number(r.numAffectedRows ?? 0n);
    },
  };
}
