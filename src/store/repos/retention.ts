/**
 * Retention purges of the queues whose rows carry patient data (outbox payloads, dead letters,
 * review items, conflicts). Each removes whole rows by status and age, never a row still to act
 * on, and reads no payload: sealed columns need no key here. The inbox and activity purges
 * live with their repositories (InboxRepo.purgeBodies, ActivityRepo.purgeBefore), the audit one
 * in audit-retention.ts.
 */
import { type Kysely, sql } from 'kysely';

import type { Database } from '../schema.js';

/**
 * Delivered outbox rows (`done` before `beforeMs`), and `dead` rows last touched before it whose
 * dead letter is no longer open (discarded). Pending and leased rows, and dead rows an operator
 * may still replay, stay. Idempotency keys go with the rows: a key names a record version
 * (`link:record:vN…`), so a later change never reuses a purged one.
 */
export async function purgeOutbound(db: Kysely<Database>, beforeMs: number): Promise<number> {
  const res = await db
    .deleteFrom('outbox')
    .where((eb) =>
      eb.or([
        eb.and([eb('status', '=', 'done'), eb('done_at', '<', beforeMs)]),
        eb.and([
          eb('status', '=', 'dead'),
          eb('updated_at', '<', beforeMs),
          eb.not(
            eb.exists(
              eb
                .selectFrom('dead_letters as d')
                .select('d.id')
                .where('d.source', '=', 'outbox')
                .where('d.status', '=', 'open')
                .where('d.ref', '=', sql<string>`CAST(${sql.ref('outbox.seq')} AS TEXT)`),
            ),
          ),
        ]),
      ]),
    )
    .executeTakeFirst();
  return Number(res.numDeletedRows);
}

/** Dead letters replayed or discarded before `beforeMs` (their `updated_at` is the resolution); open ones stay. */
export async function purgeResolvedDeadLetters(db: Kysely<Database>, beforeMs: number): Promise<number> {
  const res = await db
    .deleteFrom('dead_letters')
    .where('status', '<>', 'open')
    .where('updated_at', '<', beforeMs)
    .executeTakeFirst();
  return Number(res.numDeletedRows);
}

/** Review items closed before `beforeMs`; open ones stay whatever their age. */
export async function purgeClosedReviews(db: Kysely<Database>, beforeMs: number): Promise<number> {
  const res = await db
    .deleteFrom('review_items')
    .where('status', '<>', 'open')
    .where('resolved_at', '<', beforeMs)
    .executeTakeFirst();
  return Number(res.numDeletedRows);
}

/** Conflicts closed before `beforeMs` (they hold both sides' values); open ones stay. */
export async function purgeClosedConflicts(db: Kysely<Database>, beforeMs: number): Promise<number> {
  const res = await db
    .deleteFrom('conflicts')
    .where('status', '<>', 'open')
    .where('resolved_at', '<', beforeMs)
    .executeTakeFirst();
  return Number(res.numDeletedRows);
}
