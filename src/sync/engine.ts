/**
 * The sync engine's write path: one received message or one pulled page becomes, in ONE
 * transaction (design rules 1–3, 6–8):
 *   inbox dedupe → identity map → echo check → three-way merge under ownership → agenda
 *   invariant → canonical record → this side's snapshot → conflicts → outbox rows for the other
 *   side (and back to this side when it does not hold the result) → audit → commit,
 * and only then does the caller acknowledge. The dispatcher (dispatcher.ts) sends the outbox.
 *
 * This class orchestrates: transactions, conflict retries, cursors, waking the dispatcher. The
 * steps live in ingest/: message.ts (inbox, one message, a page record by record), page.ts (a page set-wise), record.ts (one
 * record), identity.ts, echo.ts, apply.ts, conflicts.ts, patients.ts, outbox-plan.ts.
 */
import type {
  ExternalRecord,
  InboundMessage,
  IngestResult,
  PullPage,
  StoredMessage,
  StoreResult,
} from '../connector/contract.js';
import type { ConnectorRegistry } from '../connector/registry.js';
import { isPasserelleError, PasserelleError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { type FieldMap, flatten } from '../model/fields.js';
import type { CanonicalResource, ResourceKind } from '../model/resources.js';
import type { Store, Tx } from '../store/index.js';
import type {
  PractitionerMapping,
  PractitionerMappingResolution,
} from '../store/repos/practitioner-mappings.js';
import { REUSED_KEY_FLAG } from '../store/repos/queues.js';
import type { JsonObject, Link, LinkRole, OutboxItem } from '../store/types.js';
import { type ApplyInput, applyTheirs } from './ingest/apply.js';
import {
  type IngestDeps,
  type IngestVia,
  lockPractice,
  type OwnershipResolver,
  type PracticeContext,
  PracticeContexts,
} from './ingest/context.js';
import { inGroup } from './ingest/group.js';
import { mergePatients, survivor } from './ingest/identity.js';
import { applyMessage, deadLetterInbound, finished, ingestMessage } from './ingest/message.js';
import { enqueue, flushPlanned, targets } from './ingest/outbox-plan.js';
import { applyPage } from './ingest/page.js';
import { isHeldForReview } from './ingest/patients.js';
import { mapPractitioner } from './ingest/practitioners.js';

export type { ApplyInput, FastPath } from './ingest/apply.js';
export type { IngestVia, OwnershipResolver, PracticeContext } from './ingest/context.js';
export type { OutboxPayload } from './ingest/outbox-plan.js';
export { REVIEW_PATIENT_MATCH } from './ingest/patients.js';
export { PRACTITIONER_UNMAPPED } from './ingest/practitioners.js';

export interface EngineOptions {
  readonly store: Store;
  readonly registry: ConnectorRegistry;
  readonly log: Logger;
  readonly ownership?: OwnershipResolver;
  /** Called after a commit that added outbox rows: wakes the dispatcher without polling. */
  readonly onEnqueued?: () => void;
  /** Wait before an agenda publication a change asks for (src/sync/agenda-publish.ts). */
  readonly agendaDebounceMs?: number;
}

export class SyncEngine {
  readonly store: Store;
  readonly registry: ConnectorRegistry;
  private readonly log: Logger;
  private readonly deps: IngestDeps;
  private readonly contexts: PracticeContexts;
  private readonly onEnqueued: () => void;

  constructor(options: EngineOptions) {
    this.store = options.store;
    this.registry = options.registry;
    this.log = options.log;
    this.deps = {
      registry: options.registry,
      log: options.log,
      now: () => options.store.now(),
      ...(options.agendaDebounceMs !== undefined && { agendaDebounceMs: options.agendaDebounceMs }),
    };
    this.contexts = new PracticeContexts(options.ownership);
    this.onEnqueued = options.onEnqueued ?? (() => undefined);
  }

  /** Wakes the dispatcher (after an operator action committed outbox rows). */
  notify(): void {
    this.onEnqueued();
  }

  // -------------------------------------------------------------------------------------------
  // Entry points

  /**
   * Applies one received message (or a re-merge / replay) in one group-committed transaction
   * and resolves after the commit; the connector acknowledges only then (design rule 1).
   */
  async ingest(
    link: Link,
    message: InboundMessage,
    via: IngestVia,
    options: { deadLetter?: boolean } = {},
  ): Promise<IngestResult> {
    const { result, enqueued } = await this.retryOnConflict(() =>
      // An ingest job: on PostgreSQL it may then share its group's reads (ingest/group.ts).
      this.store.batch((tx) => this.ingestTx(tx, link, message, via, options.deadLetter ?? true), {
        ingest: true,
      }),
    );
    if (enqueued > 0) this.onEnqueued();
    return result;
  }

  /**
   * Applies one pulled page and advances the stream's cursor in the same transaction.
   * `beforeCommit` runs once, when the page's records are applied and only the cursor and the
   * commit remain (the runtime starts the next pull there: `PullPage.ahead`).
   */
  async ingestPage(
    link: Link,
    page: PullPage,
    stream: string,
    beforeCommit?: () => void,
  ): Promise<{ applied: number; rejected: number; invalid: number; flags: string[] }> {
    let started = false;
    const out = await this.retryOnConflict(() =>
      this.store.batch(async (tx) => {
        const ctx = await this.practiceContext(tx, link);
        const counts = await applyPage(this.deps, tx, ctx, link, page.records);
        // Entries the connector could not map: stored and dead-lettered one by one (a re-pulled
        // one is a duplicate in the inbox), so the rest of the feed keeps flowing.
        for (const message of page.invalid ?? []) {
          const { result } = await this.ingestTx(tx, link, { ...message, records: [] }, 'poll', true);
          if (result.outcome === 'invalid') counts.invalid++;
        }
        await flushPlanned(tx, ctx);
        if (beforeCommit && !started) {
          started = true;
          beforeCommit();
        }
        const previous = page.next === null ? await tx.cursors.get(link.id, stream) : undefined;
        await tx.cursors.set(link.id, stream, page.next ?? previous?.cursor ?? null);
        return { ...counts, enqueued: ctx.enqueued };
      }),
    );
    if (out.enqueued > 0) this.onEnqueued();
    return { applied: out.applied, rejected: out.rejected, invalid: out.invalid, flags: out.flags };
  }

  /** PostgreSQL lanes may race on one record; the version check catches it, a retry merges again. */
  private async retryOnConflict<T>(fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (e) {
        if (!(isPasserelleError(e) && e.code === 'ERR_STORE_CONFLICT') || attempt >= 5) throw e;
      }
    }
  }

  private async ingestTx(
    tx: Tx,
    link: Link,
    message: InboundMessage,
    via: IngestVia,
    deadLetter: boolean,
  ): Promise<{ result: IngestResult; enqueued: number }> {
    const ctx = await this.practiceContext(tx, link);
    // The messages of one group commit reuse each other's reads (ingest/group.ts).
    return inGroup(tx, ctx, (gtx, gctx) =>
      ingestMessage(this.deps, gtx, gctx, link, message, via, deadLetter),
    );
  }

  /**
   * Commits a message and its dedupe key with its answer, applying nothing yet (status
   * `received`): `applyStored` applies it right after. For acknowledgments that mean "committed
   * to safe storage" (HL7 accept ACK, §2.9.3): the answer must not depend on the outcome.
   */
  async storeForLater(link: Link, message: InboundMessage): Promise<StoreResult> {
    const d = message.dedupe;
    if (!d) throw new PasserelleError('ERR_INTERNAL', 'a message stored for later needs its dedupe key');
    const response = message.respond ? message.respond({ status: 'applied', flags: [] }) : null;
    return this.store.batch(async (tx): Promise<StoreResult> => {
      const accepted = await tx.inbox.accept({
        linkId: link.id,
        dedupeKey: d.key,
        bodyHash: d.bodyHash,
        messageType: d.messageType,
        body: d.body,
        status: 'received',
        response,
      });
      if (accepted.outcome === 'duplicate')
        return { outcome: 'duplicate', response: accepted.entry.response, flags: accepted.entry.flags };
      return { outcome: 'stored', response, flags: accepted.entry.flags };
    });
  }

  /** A link's messages stored by `storeForLater` and not applied yet, oldest first. */
  async pendingStored(link: Link, limit: number): Promise<readonly StoredMessage[]> {
    return (await this.store.inbox.list({ linkId: link.id, status: 'received', limit })).map((e) => ({
      id: e.id,
      messageType: e.messageType,
      body: e.body,
    }));
  }

  /**
   * Applies stored messages in one group-committed transaction, in the order given, each in its
   * own savepoint. A message already applied (by another drainer, or before a crash) is skipped:
   * the inbox row is marked in the transaction that applies it, so nothing is applied twice.
   */
  async applyStored(
    link: Link,
    items: readonly { readonly id: number; readonly message: InboundMessage }[],
    via: IngestVia = 'receiver',
  ): Promise<IngestResult[]> {
    // Messages the sender was already told were committed (accept ACK) and that did not apply:
    // the sender will not hear of it (no application ACK was asked for, or it would not have
    // been deferred: ack-policy.ts answerIndependentOfApply), so the integrator must.
    const failedAfterAck: { id: number; code: string; deadLettered: boolean }[] = [];
    const out = await this.retryOnConflict(() =>
      this.store.batch(async (tx) => {
        const results: IngestResult[] = [];
        let enqueued = 0;
        failedAfterAck.length = 0;
        for (const { id, message } of items) {
          const entry = await tx.inbox.get(id);
          if (!entry || entry.status !== 'received' || entry.linkId !== link.id) {
            results.push({
              outcome: 'duplicate',
              response: entry?.response ?? null,
              flags: entry?.flags ?? [],
            });
            continue;
          }
          const ctx = await this.practiceContext(tx, link);
          const flags = [...entry.flags];
          // The stored messages of one drain reuse each other's reads, as a group commit's do.
          const { outcome, planned } = await inGroup(tx, ctx, async (gtx, gctx) => {
            const o = await applyMessage(this.deps, gtx, gctx, link, message, via, id, true, flags);
            // The answer went out when the message was stored; it stays what a resend gets.
            await gtx.inbox.finish(id, finished(o));
            return { outcome: o, planned: gctx.enqueued };
          });
          if (outcome.status !== 'applied')
            failedAfterAck.push({
              id,
              code: outcome.error.code,
              deadLettered: outcome.status === 'invalid' || flags.includes(REUSED_KEY_FLAG),
            });
          enqueued += planned;
          results.push({ outcome: outcome.status, response: entry.response, flags });
        }
        return { results, enqueued };
      }),
    );
    if (out.enqueued > 0) this.onEnqueued();
    for (const f of failedAfterAck) {
      this.log.error('message not applied after its commit acknowledgment', {
        alert: 'sync.failed-after-accept-ack',
        linkId: link.id,
        inboxId: f.id,
        code: f.code,
        deadLettered: f.deadLettered,
      });
    }
    return out.results;
  }

  // -------------------------------------------------------------------------------------------
  // The steps operator actions, the dispatcher and review resolution reuse (ingest/)

  /** Serializes writers of one practice on PostgreSQL (SQLite has one writer already). */
  lockPractice(tx: Tx, practiceId: string): Promise<void> {
    return lockPractice(tx, practiceId);
  }

  /** The practice's zone, links and ownership rules, locked; read once per transaction. */
  practiceContext(tx: Tx, linkOrPracticeId: Link | string): Promise<PracticeContext> {
    return this.contexts.of(tx, linkOrPracticeId);
  }

  /** The surviving record of a merged patient (Patient.link replaced-by), a few hops at most. */
  survivor(tx: Pick<Tx, 'resources'>, kind: ResourceKind, id: string): Promise<string> {
    return survivor(tx, kind, id);
  }

  /**
   * The merge and its effects, given the side's record in canonical form. Also used by the
   * review resolution (re-applying a held patient onto the chosen record).
   */
  applyTheirs(tx: Tx, ctx: PracticeContext, link: Link, input: ApplyInput): Promise<string[]> {
    return applyTheirs(this.deps, tx, ctx, link, input);
  }

  /** Links of `role` in the practice that take writes of `kind`. */
  targets(ctx: PracticeContext, kind: ResourceKind, role: LinkRole): Link[] {
    return targets(this.registry, ctx, kind, role);
  }

  isHeldForReview(tx: Pick<Tx, 'reviews'>, kind: ResourceKind, recordId: string): Promise<boolean> {
    return isHeldForReview(tx, kind, recordId);
  }

  /** Writes the rows planned while applying one message or page (ingest/outbox-plan.ts). */
  flushPlanned(tx: Tx, ctx: PracticeContext): Promise<void> {
    return flushPlanned(tx, ctx);
  }

  /** Adds an outbox row (or returns the existing one for `key`: enqueueing is idempotent). */
  enqueue(
    tx: Tx,
    ctx: PracticeContext,
    target: Link,
    data: CanonicalResource,
    key: string,
    cause: string,
    priority?: number,
  ): Promise<OutboxItem> {
    return enqueue(tx, ctx, target, data, key, cause, priority);
  }

  deadLetterInbound(
    tx: Tx,
    link: Link,
    inboxId: number | null,
    error: PasserelleError,
    records: readonly ExternalRecord[],
  ): Promise<void> {
    return deadLetterInbound(this.deps, tx, link, inboxId, error, records);
  }

  /**
   * Decides a link's practitioner mapping (ingest/practitioners.ts): the local id is mapped,
   * the appointments held for it get the practitioner and are enqueued for the other side.
   */
  mapPractitioner(
    tx: Tx,
    ctx: PracticeContext,
    link: Link,
    localId: string,
    practitionerId: string,
    resolution: PractitionerMappingResolution,
    by: string,
  ): Promise<{ mapping: PractitionerMapping; released: string[] }> {
    return mapPractitioner(this.deps, tx, ctx, link, localId, practitionerId, resolution, by);
  }

  /**
   * Makes `fromId` a non-surviving record of `toId` (ADT A40 from the practice, or a resolved
   * match review): identity links and references move to the survivor.
   */
  mergePatients(
    tx: Tx,
    ctx: PracticeContext,
    fromId: string,
    toId: string,
    cause: string,
    source?: Link,
  ): Promise<void> {
    return mergePatients(this.deps, tx, ctx, fromId, toId, cause, source);
  }
}

/** Fields of `data` as a map, or null. */
export function fieldsOf(data: JsonObject | CanonicalResource | null | undefined): FieldMap | null {
  return data ? flatten(data) : null;
}
