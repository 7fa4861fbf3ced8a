/**
 * A pulled page applied set-wise (issue 22 point 3): what its records look up record by record
 * — their ids in the identity map, the match keys of its new patients — is read for the whole
 * page in a few queries first, into the ingest's memo; then the records are applied in one
 * savepoint instead of one each. A record refused or invalid rolls the page back to it and the
 * page runs again record by record (message.ts `applyPageRecords`): the outcome is the same as
 * record by record, only a page whose records all apply takes the short road.
 *
 * Shared with the group-committed HL7 apply in spirit (a set's reads first, one savepoint, the
 * per-item road on the first failure); the reads are page-specific.
 */
import type { PullPage } from '../../connector/contract.js';
import type { Patient, ResourceKind } from '../../model/resources.js';
import type { Tx } from '../../store/index.js';
import type { Link } from '../../store/types.js';
import { allKeys, patientKeys } from '../patient-match.js';
import { clearMemo, identityKey, type IngestDeps, type PracticeContext, Refusal } from './context.js';
import { applyPageRecords, isRecordError } from './message.js';
import { applyRecord } from './record.js';

type Records = PullPage['records'];

/**
 * Fills the memo with what the page's records will look up: the canonical id (or none) of each
 * external id, and the patients filed under each match key of a patient not mapped yet (the
 * ones patient matching will run for). Only reads; a memo entry is what the per-record look-up
 * would have read at this point of the transaction.
 */
export async function readAhead(tx: Tx, ctx: PracticeContext, link: Link, records: Records): Promise<void> {
  const byKind = new Map<ResourceKind, string[]>();
  for (const r of records) {
    if (ctx.memo.canonical.has(identityKey(link.id, r.kind, r.externalId))) continue;
    let ids = byKind.get(r.kind);
    if (!ids) byKind.set(r.kind, (ids = []));
    ids.push(r.externalId);
  }
  for (const [kind, ids] of byKind) {
    const found = await tx.identityMap.findCanonicalMany(link.id, kind, ids);
    for (const id of ids) ctx.memo.canonical.set(identityKey(link.id, kind, id), found.get(id));
  }
  const keys = new Set<string>();
  for (const r of records) {
    if (r.kind !== 'Patient' || r.deleted) continue;
    if (ctx.memo.canonical.get(identityKey(link.id, r.kind, r.externalId)) !== undefined) continue;
    for (const key of allKeys(patientKeys(r.data as Patient)))
      if (!ctx.memo.matchKeys.has(key)) keys.add(key);
  }
  if (keys.size === 0) return;
  for (const [key, ids] of await tx.matchKeys.findMany(ctx.practiceId, [...keys]))
    ctx.memo.matchKeys.set(key, ids);
}

/** Applies a pulled page's records (see the file comment); the counts of `applyPageRecords`. */
export async function applyPage(
  deps: IngestDeps,
  tx: Tx,
  ctx: PracticeContext,
  link: Link,
  records: Records,
): Promise<{ applied: number; rejected: number; invalid: number; flags: string[] }> {
  if (records.length < 2) return applyPageRecords(deps, tx, ctx, link, records);
  await readAhead(tx, ctx, link, records);
  const sp = 'ingest_page';
  const enqueued = ctx.enqueued;
  const planned = ctx.planned.length;
  await tx.savepoint(sp);
  const flags: string[] = [];
  try {
    for (const record of records) flags.push(...(await applyRecord(deps, tx, ctx, link, record, 'poll')));
  } catch (e) {
    await tx.rollbackTo(sp);
    ctx.enqueued = enqueued;
    ctx.planned.length = planned;
    clearMemo(ctx);
    if (!(e instanceof Refusal) && !isRecordError(e)) throw e;
    // A record refused or invalid: each record in its own savepoint, so only it is left out.
    return applyPageRecords(deps, tx, ctx, link, records);
  }
  await tx.release(sp);
  return { applied: records.length, rejected: 0, invalid: 0, flags };
}
