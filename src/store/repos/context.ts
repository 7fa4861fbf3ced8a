import { randomUUID } from 'node:crypto';

import type { Kysely, QueryResult } from 'kysely';

import { PasserelleError } from '../../errors.js';
import type { Dialect } from '../migrations/types.js';
import type { Database } from '../schema.js';
import type { Seal } from '../sealer.js';
import type { WriteBuffer } from '../write-buffer.js';

/** Milliseconds since the epoch; injected so tests control time. */
export type Clock = () => number;

export interface RepoContext {
  /** The root handle, or one bound to the connection of the current transaction. */
  readonly db: Kysely<Database>;
  readonly dialect: Dialect;
  readonly now: Clock;
  readonly inTransaction: boolean;
  /** Seals patient-bearing columns on write and opens them on read (../sealer.ts). */
  readonly seal: Seal;
  /**
   * Inside a transaction: the practices whose canonical records it wrote. The transaction runner
   * bumps their change counters just before COMMIT (repos/changes.ts says why there).
   */
  readonly touchedPractices?: Set<string>;
  /**
   * SQLite, inside a transaction: runs a compiled statement straight on the transaction's
   * connection (the one `db` is bound to), without kysely's per-call connection and result
   * machinery. Only the hot-path statements use it (compiled.ts).
   */
  readonly direct?: DirectExecutor;
  /**
   * Inside a transaction: what repositories remember between statements of this transaction
   * (the audit chain head). Only valid while nothing was rolled back: the transaction's
   * `rollbackTo` empties it.
   */
  readonly txCache?: TxCache;
  /**
   * The audit chain's HMAC key (repos/audit.ts), held outside the store. Without it the chain
   * stays plain SHA-256, which only a store that was never keyed accepts.
   */
  readonly auditKey?: Buffer;
  /**
   * Inside a transaction: the rows held for a multi-row write at the end of the group
   * (../write-buffer.ts). Every statement passes through its `before` first.
   */
  readonly writes?: WriteBuffer;
}

export interface TxCache {
  /** The audit chain head as this transaction last wrote it (repos/audit.ts). */
  auditHead?: { readonly seq: number; readonly hash: string; readonly keyed: boolean } | undefined;
}

export type DirectExecutor = <R>(sql: string, parameters: readonly unknown[]) => QueryResult<R>;

export const iso = (ms: number): string => new Date(ms).toISOString();
export const isoOrNull = (ms: number | null): string | null => (ms === null ? null : iso(ms));
export const msOrNull = (s: string | null | undefined): number | null =>
  s === null || s === undefined ? null : Date.parse(s);
export const toJson = (v: unknown): string => JSON.stringify(v);
export const fromJson = <T>(s: string): T => JSON.parse(s) as T;
export const newId = (): string => randomUUID();

/** Unique-constraint violations differ by driver; both mean "already exists". */
export function isUniqueViolation(e: unknown): boolean {
  const err = e as { code?: string };
  return (
    err?.code === '23505' ||
    err?.code === 'SQLITE_CONSTRAINT_UNIQUE' ||
    err?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY'
  );
}

export function notFound(what: string, id: string | number): PasserelleError {
  return new PasserelleError('ERR_NOT_FOUND', `${what} ${id} not found`, { details: { [what]: id } });
}
