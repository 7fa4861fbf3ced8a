/**
 * Which link gets which outbound change: rows planned while a message or page is applied
 * (forward to the other side, back to the source), written together once all its records are
 * applied; single rows for operator actions and merges; the refusal sent back to a side.
 */
import type { ConnectorRegistry } from '../../connector/registry.js';
import { fieldsHash, flatten, unflatten } from '../../model/fields.js';
import { otherRole } from '../../model/ownership.js';
import type { CanonicalResource, ResourceKind } from '../../model/resources.js';
import { contentHash, type Tx } from '../../store/index.js';
import type { JsonObject, Link, LinkRole, OutboxItem, StoredResource } from '../../store/types.js';
import { recordRefused } from '../activity.js';
import { type MergeResult, overlayHeld } from '../merge.js';
import { outboundOp, outboundPriority } from '../records.js';
import { collectRefs } from '../references.js';
import type { IngestDeps, PracticeContext, Refusal } from './context.js';
import { isHeldForReview } from './patients.js';

/** What an outbox row carries; the dispatcher rewrites references at send time. */
export interface OutboxPayload extends JsonObject {
  /** Canonical data (canonical references); for `reject`, the booking as the peer sent it. */
  readonly data: CanonicalResource;
  /** Why the row exists: forward, back, resolve, review, merge, replay, dependency, reject. */
  readonly cause: string;
  /** `reject` only: the peer's id of the refused booking and the reason for the agent. */
  readonly externalId?: string;
  readonly reason?: { readonly code: string; readonly message: string };
}

/** Links of `role` in the practice that take writes of `kind`. */
export function targets(
  registry: ConnectorRegistry,
  ctx: PracticeContext,
  kind: ResourceKind,
  role: LinkRole,
): Link[] {
  return ctx.links.filter((l) => l.role === role && l.enabled && registry.canPush(l.connector, kind));
}

/** One applied record: what the merge decided and what was written. */
export interface AppliedChange {
  readonly canonicalId: string;
  readonly theirs: CanonicalResource;
  readonly theirsHash: string;
  /** The peer's version of `theirs`. */
  readonly version: string | null;
  readonly merge: MergeResult;
  /** The canonical record after the merge (undefined when none exists). */
  readonly stored: StoredResource | undefined;
  /** The match review opened for this record, if any. */
  readonly review: string | undefined;
  /** The id was minted by this ingest: no review or outbox row can exist for it yet. */
  readonly newId: boolean;
  /** Held until its practitioner is mapped (practitioners.ts): not forwarded. */
  readonly held?: boolean;
}

/** Plans the outbound rows of one applied record (written by flushPlanned). */
export async function planOutbound(
  registry: ConnectorRegistry,
  tx: Tx,
  ctx: PracticeContext,
  link: Link,
  change: AppliedChange,
): Promise<void> {
  const { canonicalId, theirs, theirsHash, merge, stored, review } = change;
  const kind = theirs.resourceType;
  const version = stored?.version ?? 0;
  // Forward to the other side, unless the record is a patient waiting for its match review.
  // A fresh id has no review but the one just opened (`review`).
  if (
    merge.changed &&
    stored &&
    !review &&
    !change.held &&
    !(!change.newId && (await isHeldForReview(tx, kind, canonicalId)))
  ) {
    for (const target of targets(registry, ctx, kind, otherRole(link.role))) {
      const targetSnap =
        merge.held.size > 0 ? await tx.snapshots.get(target.id, kind, canonicalId) : undefined;
      const data = unflatten<CanonicalResource>(
        kind,
        canonicalId,
        overlayHeld(merge.merged, targetSnap ? flatten(targetSnap.data) : null, merge.held),
      );
      ctx.planned.push({ target, data, key: `${target.id}:${canonicalId}:v${version}`, cause: 'forward' });
    }
  }
  // Back to the source when it does not hold the result (refused fields, ours won, 412 re-merge),
  // or when rows computed before this change still wait for it: their state is stale now, and
  // their If-Match would pass against the snapshot just taken, so a fresh row supersedes them.
  const stale =
    !merge.pushBack &&
    !change.newId &&
    (await tx.outbox.list({ linkId: link.id, recordId: canonicalId, status: 'pending', limit: 1 })).length >
      0;
  if ((merge.pushBack || stale) && stored && registry.canPush(link.connector, kind)) {
    const data = unflatten<CanonicalResource>(
      kind,
      canonicalId,
      overlayHeld(merge.merged, flatten(theirs), merge.held),
    );
    ctx.planned.push({
      target: link,
      data,
      key: `${link.id}:${canonicalId}:v${version}:back:${theirsHash.slice(0, 16)}:${change.version ?? ''}`,
      cause: 'back',
    });
  }
}

/**
 * Writes the rows planned while applying one message or page. A row that another row of the
 * same link refers to takes that row's priority if more urgent: the new patient of an urgent
 * call message travels with it instead of waiting behind routine work.
 */
export async function flushPlanned(tx: Tx, ctx: PracticeContext): Promise<void> {
  const planned = ctx.planned.splice(0);
  const priority = new Map(planned.map((p) => [`${p.target.id}|${p.data.id}`, outboundPriority(p.data)]));
  for (const p of planned) {
    const own = priority.get(`${p.target.id}|${p.data.id}`) as number;
    for (const ref of collectRefs(p.data)) {
      const key = `${p.target.id}|${ref.id}`;
      const theirs = priority.get(key);
      if (theirs !== undefined && own < theirs) priority.set(key, own);
    }
  }
  for (const p of planned)
    await enqueueLater(
      tx,
      ctx,
      p.target,
      p.data,
      p.key,
      p.cause,
      priority.get(`${p.target.id}|${p.data.id}`),
    );
}

/** Adds an outbox row (or returns the existing one for `key`: enqueueing is idempotent). */
export async function enqueue(
  tx: Tx,
  ctx: PracticeContext,
  target: Link,
  data: CanonicalResource,
  key: string,
  cause: string,
  priority?: number,
): Promise<OutboxItem> {
  const payload: OutboxPayload = { data, cause };
  const item = await tx.outbox.enqueue({
    practiceId: ctx.practiceId,
    linkId: target.id,
    kind: data.resourceType,
    recordId: data.id,
    op: outboundOp(data),
    payload,
    priority: priority ?? outboundPriority(data),
    idempotencyKey: key,
    contentHash: fieldsHash(data),
  });
  ctx.enqueued++;
  return item;
}

/**
 * `enqueue` for the ingest path, which does not need the row back: held and written with the
 * group's other rows at its end (store/write-buffer.ts).
 */
export async function enqueueLater(
  tx: Tx,
  ctx: PracticeContext,
  target: Link,
  data: CanonicalResource,
  key: string,
  cause: string,
  priority?: number,
): Promise<void> {
  await tx.outbox.enqueueLater({
    practiceId: ctx.practiceId,
    linkId: target.id,
    kind: data.resourceType,
    recordId: data.id,
    op: outboundOp(data),
    payload: { data, cause } satisfies OutboxPayload,
    priority: priority ?? outboundPriority(data),
    idempotencyKey: key,
    contentHash: fieldsHash(data),
  });
  ctx.enqueued++;
}

/** Sends a refused booking back to its side with the reason (`reject`), audited and journaled. */
export async function enqueueRefusal(
  deps: IngestDeps,
  tx: Tx,
  ctx: PracticeContext,
  link: Link,
  refusal: Refusal,
): Promise<void> {
  const { record, error } = refusal;
  const key = `${link.id}:reject:${contentHash([record.externalId, fieldsHash(record.data)]).slice(0, 32)}`;
  const payload: OutboxPayload = {
    data: record.data,
    cause: 'reject',
    externalId: record.externalId,
    reason: { code: error.code, message: error.message },
  };
  await tx.outbox.enqueueLater({
    practiceId: ctx.practiceId,
    linkId: link.id,
    kind: record.kind,
    recordId: `reject-${contentHash([link.id, record.externalId]).slice(0, 40)}`,
    op: 'reject',
    payload,
    priority: outboundPriority(record.data) === 0 ? 0 : 3,
    idempotencyKey: key,
    contentHash: fieldsHash(record.data),
  });
  ctx.enqueued++;
  await tx.audit.appendLater({
    actor: `link:${link.id}`,
    action: 'sync.refuse',
    practiceId: link.practiceId,
    resourceType: record.kind,
    resourceId: null,
    outcome: 'denied',
    via: 'sync',
    details: { linkId: link.id, code: error.code, ...error.details },
  });
  await recordRefused(tx, { practiceId: ctx.practiceId, link, data: record.data, code: error.code, key });
  deps.log.info('secretariat booking refused', {
    linkId: link.id,
    code: error.code,
    reason: error.details['reason'],
  });
}
