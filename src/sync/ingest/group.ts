/**
 * A group commit applied as one pass (issue 22): on SQLite every transaction is a group of
 * callers (transactions.ts, GroupCommitter), and the messages of an MLLP burst that share a
 * commit name the same practitioner and patient again and again. What one message of the group
 * read, validated or hashed, the next one reuses instead of reading, decrypting and validating
 * it again:
 *
 * - the ingest memo (identity lookups, records by id, patient match keys, agenda rules:
 *   context.ts) spans the group instead of one message, kept in step with what the group
 *   writes as a page's is — one memo per practice of the group;
 * - the snapshots the group read or wrote (the merge base and echo check of every record);
 * - each distinct record's validation and content hash (`validatedOnce`).
 *
 * Order and atomicity do not change: each message still runs alone, in its savepoint, in
 * arrival order, and is acknowledged after the commit. What is reused is only ever what this
 * transaction itself read or wrote. A savepoint rolled back forgets it all, and so does any
 * other statement run between two ingests of the group (an operator's job sharing the commit,
 * a job that failed and was rolled back): SQLite's `total_changes()` tells, in one call,
 * whether anything but the group's own ingests changed a row since the last one ended.
 *
 * PostgreSQL (issue 22, its PostgreSQL part) groups the same way: a lane of the LanedCommitter
 * (store/transactions.ts) runs the jobs of one event-loop turn in one transaction on one
 * connection, in call order, and has no `total_changes()`. The runner knows which callers share
 * the transaction instead: the engine marks its ingests (`store.batch(fn, { ingest: true })`),
 * and any other job, or any rollback, moves `tx.foreignWrites`, which forgets the memo as a
 * change of `total_changes()` does on SQLite. Other transactions cannot change what the memo
 * holds meanwhile: every writer of a practice's records holds its row lock (context.ts
 * `lockPractice`) until it commits, and this transaction took it before its first ingest.
 */
import { fieldsHash } from '../../model/fields.js';
import type { CanonicalResource, ResourceKind } from '../../model/resources.js';
import { validateAs, type ValidationResult } from '../../model/validate.js';
import type { Tx } from '../../store/index.js';
import type { Snapshot } from '../../store/types.js';
import { type IngestMemo, newMemo, type PracticeContext } from './context.js';

/** A record as validated for one link's test flag, with the content hash of the valid value. */
interface Validated {
  readonly result: ValidationResult<CanonicalResource>;
  readonly hash: string | undefined;
}

interface GroupState {
  /** The store's mark (`markOf`) when the group's last ingest ended; undefined: nothing to reuse. */
  mark: number | undefined;
  /**
   * The ingest memo of each practice of the group: match-key hashes and practitioner ids are
   * not practice-scoped, so one practice's reads are never handed to another's ingest.
   */
  readonly memos: Map<string, IngestMemo>;
  readonly snapshots: Map<string, Snapshot | undefined>;
  readonly validated: Map<string, Validated>;
  /** The transaction as the group's ingests see it: snapshots read once, forgotten on rollback. */
  readonly tx: Tx;
}

const groups = new WeakMap<Tx, GroupState>();

/**
 * On in the product. The hl7-ingest benchmark switches it off for one round to measure, in the
 * same run, the message-at-a-time path it replaced.
 */
export const groupApply = { enabled: true };
/** Validations are looked up by the record's JSON text: one group holds a few dozen at most. */
const MAX_VALIDATED = 256;

function forget(g: GroupState): void {
  g.memos.clear();
  g.snapshots.clear();
  // Validations stay: they depend on the record alone, never on what the store holds.
}

const snapshotKey = (linkId: string, kind: ResourceKind, canonicalId: string) =>
  `${linkId}|${kind}|${canonicalId}`;

function groupState(tx: Tx): GroupState {
  let g = groups.get(tx);
  if (g) return g;
  const snapshots = new Map<string, Snapshot | undefined>();
  const state: GroupState = {
    mark: undefined,
    memos: new Map(),
    snapshots,
    validated: new Map(),
    tx: {
      ...tx,
      snapshots: {
        async get(linkId, kind, canonicalId) {
          const key = snapshotKey(linkId, kind, canonicalId);
          if (snapshots.has(key)) return snapshots.get(key);
          const snap = await tx.snapshots.get(linkId, kind, canonicalId);
          snapshots.set(key, snap);
          return snap;
        },
        async put(s) {
          const key = snapshotKey(s.linkId, s.kind, s.canonicalId);
          snapshots.delete(key);
          const snap = await tx.snapshots.put(s);
          snapshots.set(key, snap);
          return snap;
        },
        async delete(linkId, kind, canonicalId) {
          snapshots.delete(snapshotKey(linkId, kind, canonicalId));
          await tx.snapshots.delete(linkId, kind, canonicalId);
        },
      },
      async rollbackTo(name) {
        forget(state);
        state.mark = undefined;
        await tx.rollbackTo(name);
      },
    },
  };
  g = state;
  groups.set(tx, g);
  // validatedOnce is handed the transaction as the group's ingests see it.
  groups.set(state.tx, g);
  return g;
}

/**
 * A number that moves whenever anything but the group's own ingests may have written: SQLite's
 * `total_changes()`; PostgreSQL's `foreignWrites`, which the transaction runner moves (a job
 * not marked as an ingest, a rollback). Undefined: the transaction cannot tell, nothing is shared.
 */
function markOf(tx: Tx): (() => number) | undefined {
  const direct = tx.direct;
  if (direct)
    return () => (direct<{ n: number }>('SELECT total_changes() AS n', []).rows[0] as { n: number }).n;
  return tx.foreignWrites;
}

/** Runs one ingest of the transaction's group with what the group's earlier ingests read. */
export async function inGroup<T>(
  tx: Tx,
  ctx: PracticeContext,
  fn: (tx: Tx, ctx: PracticeContext) => Promise<T>,
): Promise<T> {
  const mark = groupApply.enabled ? markOf(tx) : undefined;
  if (!mark) return fn(tx, ctx);
  const g = groupState(tx);
  if (g.mark === undefined || g.mark !== mark()) forget(g);
  g.mark = undefined;
  try {
    let memo = g.memos.get(ctx.practiceId);
    if (!memo) g.memos.set(ctx.practiceId, (memo = newMemo()));
    const result = await fn(g.tx, { ...ctx, memo });
    g.mark = mark();
    return result;
  } catch (e) {
    // The caller's savepoint is about to be rolled back: nothing read or written here stays.
    forget(g);
    throw e;
  }
}

/**
 * `validateAs` once per distinct record of the group (the same patient in every message of a
 * burst), with the content hash of the valid value, which the merge needs too. Outside a
 * group (a page, a transaction that cannot tell other writes apart), it validates and hashes
 * each time.
 */
export function validatedOnce(
  tx: Tx,
  kind: ResourceKind,
  theirs: CanonicalResource,
  testLink: boolean,
): Validated {
  const g = groups.get(tx);
  const key = g && `${testLink ? 't' : 'p'}|${kind}|${JSON.stringify(theirs)}`;
  const known = key !== undefined ? g?.validated.get(key) : undefined;
  if (known) return known;
  const result = validateAs(kind, theirs, { testLink }) as ValidationResult<CanonicalResource>;
  const validated: Validated = { result, hash: result.ok ? fieldsHash(result.value) : undefined };
  if (g && key !== undefined) {
    if (g.validated.size >= MAX_VALIDATED) g.validated.clear();
    g.validated.set(key, validated);
  }
  return validated;
}
