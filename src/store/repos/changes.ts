import { sql } from 'kysely';

import type { ChangeCounter } from '../types.js';
import { compiled } from './compiled.js';
import { iso, type RepoContext } from './context.js';

/** Compiled once (compiled.ts): every writing transaction runs it. */
const bumpCounter = compiled<'practiceId' | 'now'>((db, p, dialect) => {
  // Never let Last-Modified go backwards when instances' clocks disagree.
  const later =
    dialect === 'postgres'
      ? sql<number>`GREATEST(change_counters.updated_at, excluded.updated_at)`
      : sql<number>`MAX(change_counters.updated_at, excluded.updated_at)`;
  return db
    .insertInto('change_counters')
    .values({ practice_id: p('practiceId'), seq: 1, updated_at: p<number>('now') })
    .onConflict((oc) =>
      oc
        .column('practice_id')
        .doUpdateSet({ seq: (eb) => eb('change_counters.seq', '+', 1), updated_at: later }),
    );
});

/**
 * Per-practice change counters (0003_ical). Every transaction that writes a canonical record of
 * a practice bumps that practice's counter exactly once, just before COMMIT (see
 * `runInOneTransaction`). Readers that need "has anything of this practice changed since?" —
 * the iCal feeds' ETags — read one row instead of scanning records.
 *
 * Why at the end of the transaction and not inside `resources.put`: on PostgreSQL the UPDATE
 * holds the counter row's lock until COMMIT. Taken last, and in practice-id order, these locks
 * can neither deadlock with each other nor with locks taken earlier in the transaction (the
 * audit head); and because the lock is held until COMMIT, counter values follow commit order,
 * so a reader that sees value N also sees every record write that produced a value ≤ N.
 */
export interface ChangeCountersRepo {
  get(practiceId: string): Promise<ChangeCounter | undefined>;
  /** Adds one to each practice's counter (creating it at 1). Callers pass ids sorted. */
  bump(practiceIds: readonly string[]): Promise<void>;
}

export function changeCountersRepo(ctx: RepoContext): ChangeCountersRepo {
  const { db } = ctx;
  return {
    async get(practiceId) {
      const r = await db
        .selectFrom('change_counters')
        .selectAll()
        .where('practice_id', '=', practiceId)
        .executeTakeFirst();
      return r && { practiceId: r.practice_id, seq: Number(r.seq), updatedAt: iso(Number(r.updated_at)) };
    },
    async bump(practiceIds) {
      const now = ctx.now();
      for (const practiceId of practiceIds) await bumpCounter.run(ctx, { practiceId, now });
    },
  };
}
