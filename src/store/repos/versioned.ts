/**
 * The one versioned write (HTTP If-Match, RFC 9110 §13.1.1) of documents kept whole with a
 * version number: agenda rules and coverage windows (replaced in place), consignes (a new row
 * per version, the history). Read what is in force, refuse a stale `expectedVersion`, write the
 * next version so that a concurrent writer loses (a `where version = …` update, a unique key on
 * the new row), and report that loser as a conflict too.
 */
export interface VersionedWrite<T extends { readonly version: number }> {
  /** What is in force now (undefined: nothing yet, version 0). */
  readonly current: () => Promise<T | undefined>;
  /** 0 creates, the version in force replaces; undefined: whatever is there (last writer wins). */
  readonly expectedVersion: number | undefined;
  /**
   * Writes version `next` over `current`; false when another writer got there first (no row
   * left at the version read, or the new version's row exists already).
   */
  readonly write: (next: number, current: T | undefined) => Promise<boolean>;
  /** The error of a mismatch; `inForce`: the version known to be in force (or at least that). */
  readonly conflict: (inForce: number) => Error;
}

export interface VersionedWriteResult<T> {
  /** The version written. */
  readonly version: number;
  /** What was in force before it. */
  readonly previous: T | undefined;
}

export async function putVersioned<T extends { readonly version: number }>(
  w: VersionedWrite<T>,
): Promise<VersionedWriteResult<T>> {
  const previous = await w.current();
  const inForce = previous?.version ?? 0;
  if (w.expectedVersion !== undefined && w.expectedVersion !== inForce) throw w.conflict(inForce);
  const version = inForce + 1;
  if (!(await w.write(version, previous))) throw w.conflict(version);
  return { version, previous };
}
