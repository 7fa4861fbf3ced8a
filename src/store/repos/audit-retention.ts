/**
 * Retention of the audit trail without breaking its verification. Only a whole prefix of the
 * chain is removed (never a row in the middle). Before the rows go, the last removed event
 * becomes the chain's signed base (`audit.rebase`: its hash with an HMAC under the audit key),
 * so verification starts from it instead of the genesis hash, and a base moved by anyone
 * without the key is detected (audit.ts).
 */
import type { Tx } from '../store.js';

export interface AuditPurgeResult {
  readonly purged: number;
  /** The sequence number of the last removed event, the new base (undefined when nothing went). */
  readonly baseSeq: number | undefined;
}

/**
 * Removes the events older than `beforeMs` that form a prefix of the chain: it stops at the
 * first event at or after `beforeMs`, so an older one written after a clock step back stays.
 * Runs inside the transaction: the new base and the deletion commit together. Needs the audit
 * key (ERR_AUDIT_KEY_REQUIRED otherwise): an unsigned base could not be told from a forged one.
 */
export async function purgeAuditPrefix(tx: Tx, beforeMs: number): Promise<AuditPurgeResult> {
  const { db } = tx;
  const firstYoung = await db
    .selectFrom('audit_events')
    .select((eb) => eb.fn.min('seq').as('seq'))
    .where('at', '>=', beforeMs)
    .executeTakeFirst();
  let q = db.selectFrom('audit_events').select(['seq']).where('at', '<', beforeMs);
  if (firstYoung?.seq !== null && firstYoung?.seq !== undefined)
    q = q.where('seq', '<', Number(firstYoung.seq));
  const last = await q.orderBy('seq', 'desc').limit(1).executeTakeFirst();
  if (!last) return { purged: 0, baseSeq: undefined };
  const baseSeq = Number(last.seq);
  await tx.audit.rebase(baseSeq);
  const res = await db.deleteFrom('audit_events').where('seq', '<=', baseSeq).executeTakeFirst();
  return { purged: Number(res.numDeletedRows), baseSeq };
}
