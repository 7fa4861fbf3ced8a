/**
 * One inbound message inside the caller's transaction: inbox dedupe, its records applied in
 * one savepoint (all or nothing), the planned outbox rows written, the inbox row finished;
 * a refused or invalid message refused back or dead-lettered instead. And the records of a
 * pulled page, each in its own savepoint.
 */
import type {
  ExternalRecord,
  InboundMessage,
  IngestOutcome,
  IngestResult,
  PullPage,
} from '../../connector/contract.js';
import { isPasserelleError, type PasserelleError } from '../../errors.js';
import type { Tx } from '../../store/index.js';
import { REUSED_KEY_FLAG } from '../../store/repos/queues.js';
import type { JsonObject, Link } from '../../store/types.js';
import { clearMemo, type IngestDeps, type IngestVia, type PracticeContext, Refusal } from './context.js';
import { enqueueRefusal, flushPlanned } from './outbox-plan.js';
import { applyRecord } from './record.js';

/** The inbox status and error of an outcome. */
export function finished(outcome: IngestOutcome): {
  status: 'processed' | 'rejected' | 'failed';
  errorCode?: string;
  error?: string;
  flags: readonly string[];
} {
  // The flags stay with the message: the browser tells "applied" from "applied with warnings".
  if (outcome.status === 'applied') return { status: 'processed', flags: outcome.flags };
  return {
    status: outcome.status === 'rejected' ? 'rejected' : 'failed',
    errorCode: outcome.error.code,
    error: outcome.error.message,
    flags: outcome.flags,
  };
}

/** Errors that make a record invalid (dead letter) rather than the store unavailable (retry). */
export function isRecordError(e: unknown): e is PasserelleError {
  return isPasserelleError(e) && !e.retryable && e.code !== 'ERR_STORE_CONFLICT';
}

export async function deadLetterInbound(
  deps: IngestDeps,
  tx: Tx,
  link: Link,
  inboxId: number | null,
  error: PasserelleError,
  records: readonly ExternalRecord[],
): Promise<void> {
  await tx.deadLetters.add({
    practiceId: link.practiceId,
    linkId: link.id,
    source: 'inbox',
    ref: inboxId === null ? null : String(inboxId),
    kind: records[0]?.kind ?? null,
    recordId: null,
    reasonCode: error.code,
    reason: error.message,
    payload: { records: records as unknown as JsonObject[] },
  });
  deps.log.warn('inbound change dead-lettered', {
    linkId: link.id,
    code: error.code,
    kind: records[0]?.kind,
    inboxId,
  });
}

/** Dedupes a message in the inbox, applies it and finishes its inbox row with the answer. */
export async function ingestMessage(
  deps: IngestDeps,
  tx: Tx,
  ctx: PracticeContext,
  link: Link,
  message: InboundMessage,
  via: IngestVia,
  deadLetter: boolean,
): Promise<{ result: IngestResult; enqueued: number }> {
  const flags: string[] = [];
  let inboxId: number | null = null;
  if (message.dedupe) {
    const d = message.dedupe;
    const accepted = await tx.inbox.accept({
      linkId: link.id,
      dedupeKey: d.key,
      bodyHash: d.bodyHash,
      messageType: d.messageType,
      body: d.body,
    });
    if (accepted.outcome === 'duplicate') {
      return {
        result: { outcome: 'duplicate', response: accepted.entry.response, flags: accepted.entry.flags },
        enqueued: 0,
      };
    }
    inboxId = accepted.entry.id;
    flags.push(...accepted.entry.flags);
  }
  const outcome = await applyMessage(deps, tx, ctx, link, message, via, inboxId, deadLetter, flags);
  const response = message.respond ? message.respond(outcome) : null;
  if (inboxId !== null) await tx.inbox.finish(inboxId, { ...finished(outcome), response });
  return { result: { outcome: outcome.status, response, flags }, enqueued: ctx.enqueued };
}

/** Applies one message's records (or dead-letters it), inside the caller's transaction. */
export async function applyMessage(
  deps: IngestDeps,
  tx: Tx,
  ctx: PracticeContext,
  link: Link,
  message: InboundMessage,
  via: IngestVia,
  inboxId: number | null,
  deadLetter: boolean,
  flags: string[],
): Promise<IngestOutcome> {
  if (message.refuseReusedKey && flags.includes(REUSED_KEY_FLAG)) {
    // The link refuses reused keys: kept and visible (dead letter, replayable), not applied.
    if (deadLetter)
      await deadLetterInbound(deps, tx, link, inboxId, message.refuseReusedKey, message.records);
    return { status: 'rejected', error: message.refuseReusedKey, flags };
  }
  if (message.error) {
    if (deadLetter) await deadLetterInbound(deps, tx, link, inboxId, message.error, message.records);
    return { status: 'invalid', error: message.error, flags };
  }
  await tx.savepoint('ingest_message');
  try {
    for (const record of message.records)
      flags.push(...(await applyRecord(deps, tx, ctx, link, record, via)));
    await flushPlanned(tx, ctx);
    await tx.release('ingest_message');
    return { status: 'applied', flags };
  } catch (e) {
    await tx.rollbackTo('ingest_message');
    ctx.enqueued = 0;
    ctx.planned.length = 0;
    clearMemo(ctx);
    if (e instanceof Refusal) {
      await enqueueRefusal(deps, tx, ctx, link, e);
      return { status: 'rejected', error: e.error, flags };
    }
    if (isRecordError(e)) {
      if (deadLetter) await deadLetterInbound(deps, tx, link, inboxId, e, message.records);
      return { status: 'invalid', error: e, flags };
    }
    throw e;
  }
}

/**
 * Applies a pulled page's records, each in its own savepoint: a refused or invalid record is
 * refused back or dead-lettered alone, and the rest of the page applies.
 */
export async function applyPageRecords(
  deps: IngestDeps,
  tx: Tx,
  ctx: PracticeContext,
  link: Link,
  records: PullPage['records'],
): Promise<{ applied: number; rejected: number; invalid: number; flags: string[] }> {
  const counts = { applied: 0, rejected: 0, invalid: 0, flags: [] as string[] };
  // One savepoint name for every record (each is released or rolled back before the next):
  // numbered names made each page a thousand distinct statements, flushing the store's
  // prepared-statement cache.
  for (const record of records) {
    const sp = 'ingest_record';
    await tx.savepoint(sp);
    const before = ctx.enqueued;
    const planned = ctx.planned.length;
    try {
      counts.flags.push(...(await applyRecord(deps, tx, ctx, link, record, 'poll')));
      await tx.release(sp);
      counts.applied++;
    } catch (e) {
      await tx.rollbackTo(sp);
      ctx.enqueued = before;
      ctx.planned.length = planned;
      clearMemo(ctx);
      if (e instanceof Refusal) {
        await enqueueRefusal(deps, tx, ctx, link, e);
        counts.rejected++;
      } else if (isRecordError(e)) {
        await deadLetterInbound(deps, tx, link, null, e, [record]);
        counts.invalid++;
      } else throw e;
    }
  }
  return counts;
}
