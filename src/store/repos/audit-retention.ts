/**
 * Retention of the audit trail without breaking its verification. Only a whole prefix of the
 * chain is removed (never a row in the middle), and the hash of the last removed event is kept
 * as the chain's anchor: verification starts from it instead of the genesis hash, and the first
 * event kept must chain onto it. The anchor lives in `audit_head` as row 2 (row 1 is the head),
 * so no migration is needed.
 */
import type { Kysely } from 'kysely';

import type { Database } from '../schema.js';

/** `audit_head.id` of the retention anchor (the head is id 1). */
export const AUDIT_ANCHOR_ID = 2;

export interface AuditAnchor {
  /** Sequence number of the last event removed. */
  readonly seq: number;
  /** Its hash: the `prev_hash` the first event kept must carry. */
  readonly hash: string;
}

export interface AuditPurgeResult {
  readonly purged: number;
  /** The anchor after the purge (unchanged or absent when nothing was removed). */
  readonly anchor: AuditAnchor | undefined;
}

export async function readAuditAnchor(db: Kysely<Database>): Promise<AuditAnchor | undefined> {
  const r = await db.selectFrom('audit_head').select(['seq', 'hash']).where('id', '=', AUDIT_ANCHOR_ID).executeTakeFirst();
  return r && { seq: Number(r.seq), hash: r.hash };
}

/**
 * Removes the events older than `beforeMs` that form a prefix of the chain: it stops at the
 * first event at or after `beforeMs`, so an older one written after a clock step back stays.
 * Run it inside a transaction (`db` bound to it): the deletion and the anchor move commit together.
 */
export async function purgeAuditPrefix(db: Kysely<Database>, beforeMs: number): Promise<AuditPurgeResult> {
  const firstYoung = await db.selectFrom('audit_events').select((eb) => eb.fn.min('seq').as('seq')).where('at', '>=', beforeMs).executeTakeFirst();
  let q = db.selectFrom('audit_events').select(['seq', 'hash']).where('at', '<', beforeMs);
  if (firstYoung?.seq !== null && firstYoung?.seq !== undefined) q = q.where('seq', '<', Number(firstYoung.seq));
  const last = await q.orderBy('seq', 'desc').limit(1).executeTakeFirst();
  if (!last) return { purged: 0, anchor: await readAuditAnchor(db) };
  const anchor = { seq: Number(last.seq), hash: last.hash };
  const res = await db.deleteFrom('audit_events').where('seq', '<=', anchor.seq).executeTakeFirst();
  await db
    .insertInto('audit_head')
    .values({ id: AUDIT_ANCHOR_ID, ...anchor })
    .onConflict((oc) => oc.column('id').doUpdateSet(anchor))
    .execute();
  return { purged: Number(res.numDeletedRows), anchor };
}
