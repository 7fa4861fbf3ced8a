/**
 * The sync engine's write path: one received message or one pulled page becomes, in ONE
 * transaction (design rules 1–3, 6–8):
 *   inbox dedupe → identity map → echo check → three-way merge under ownership → agenda
 *   invariant → canonical record → this side's snapshot → conflicts → outbox rows for the other
 *   side (and back to this side when it does not hold the result) → audit → commit,
 * and only then does the caller acknowledge. The dispatcher (dispatcher.ts) sends the outbox.
 */
import { randomUUID } from 'node:crypto';

import { isPasserelleError, PasserelleError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { CanonicalResource, Patient, ResourceKind } from '../model/resources.js';
import { validateAs } from '../model/validate.js';
import { recordApplied, recordConflicts, recordRefused } from './activity.js';
import { contentHash, type Store, type Tx } from '../store/index.js';
import { REUSED_KEY_FLAG } from '../store/repos/queues.js';
import type { Conflict, JsonObject, Link, LinkRole, OutboxItem, StoredResource } from '../store/types.js';
import { findClash, needsAgendaCheck, practitionersOf, slotUnavailable } from './agenda.js';
import type { ExternalRecord, InboundMessage, IngestOutcome, IngestResult, PullPage, StoredMessage, StoreResult } from '../connector/contract.js';
import { changedPaths, type FieldMap, fieldsHash, flatten, normalize, unflatten } from '../model/fields.js';
import { type MergeResult, overlayHeld, threeWayMerge } from './merge.js';
import { mayCreate, otherRole, type OwnershipRules, withOverrides } from '../model/ownership.js';
import { allKeys, matchPatient, patientKeys, supersededKey } from './patient-match.js';
import { collectRefs, rewriteRefs } from './references.js';
import { agendaColumns, outboundOp, outboundPriority, patientOf, replacedBy, tombstone } from './records.js';
import type { ConnectorRegistry } from '../connector/registry.js';

/** Ownership overrides for a practice, from its practice link's mapping profile. */
export type OwnershipResolver = (practiceLink: Link) => OwnershipRules | undefined;

export type IngestVia = 'receiver' | 'webhook' | 'poll' | 'remerge' | 'replay' | 'review';

export interface EngineOptions {
  readonly store: Store;
  readonly registry: ConnectorRegistry;
  readonly log: Logger;
  readonly ownership?: OwnershipResolver;
  /** Called after a commit that added outbox rows: wakes the dispatcher without polling. */
  readonly onEnqueued?: () => void;
}

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

export const REVIEW_PATIENT_MATCH = 'patient-match';

/** An outbox row decided during an ingest, written when the message's records are all applied. */
interface PlannedRow {
  readonly target: Link;
  readonly data: CanonicalResource;
  readonly key: string;
  readonly cause: string;
}

/** Per transaction: the practice, its links and ownership rules, what was enqueued. */
export interface PracticeContext {
  readonly practiceId: string;
  readonly timezone: string;
  readonly links: readonly Link[];
  readonly rules: OwnershipRules;
  enqueued: number;
  planned: PlannedRow[];
  /**
   * Reads already made while applying one message or page (the same patient is the record,
   * then the appointment's reference): identity lookups and records by id. Kept in step with
   * what this ingest writes; cleared when a savepoint rolls back or patients are merged.
   */
  readonly memo: IngestMemo;
}

interface IngestMemo {
  readonly canonical: Map<string, string | undefined>;
  readonly rows: Map<string, StoredResource | undefined>;
  /**
   * Patient match keys → the patients filed under them. A page of an initial load looks the
   * same demographic keys up again and again; new patients are added as they are filed.
   */
  readonly matchKeys: Map<string, string[]>;
}

function clearMemo(ctx: PracticeContext): void {
  ctx.memo.canonical.clear();
  ctx.memo.rows.clear();
  ctx.memo.matchKeys.clear();
}

const identityKey = (linkId: string, kind: ResourceKind, externalId: string) => `${linkId}|${kind}|${externalId}`;

/** What practiceContext reads once per transaction (a group commit runs many ingests in one). */
interface PracticeBase {
  readonly practiceId: string;
  readonly timezone: string;
  readonly links: readonly Link[];
  readonly rules: OwnershipRules;
}

/** A business refusal of one record (agenda invariant): nothing of it is kept. */
class Refusal extends Error {
  constructor(
    readonly error: PasserelleError,
    readonly record: ExternalRecord,
  ) {
    super(error.message);
  }
}

/** The inbox status and error of an outcome. */
function finished(outcome: IngestOutcome): { status: 'processed' | 'rejected' | 'failed'; errorCode?: string; error?: string; flags: readonly string[] } {
  // The flags stay with the message: the browser tells "applied" from "applied with warnings".
  if (outcome.status === 'applied') return { status: 'processed', flags: outcome.flags };
  return { status: outcome.status === 'rejected' ? 'rejected' : 'failed', errorCode: outcome.error.code, error: outcome.error.message, flags: outcome.flags };
}

/** Errors that make a record invalid (dead letter) rather than the store unavailable (retry). */
function isRecordError(e: unknown): e is PasserelleError {
  return isPasserelleError(e) && !e.retryable && e.code !== 'ERR_STORE_CONFLICT';
}

export interface ApplyInput {
  readonly canonicalId: string;
  /** Normalized canonical form of what the side holds (canonical references, our id). */
  readonly theirs: CanonicalResource;
  readonly version: string | null;
  /** Set when the external id is not mapped yet: mapped in the same transaction. */
  readonly newExternalId?: string;
  readonly via: IngestVia;
  /** Open a patient-match review for this new record with these candidates. */
  readonly reviewCandidates?: readonly string[];
  readonly externalId?: string;
  /**
   * The side's record is another record than the one it last synced for this canonical id
   * (a patient linked after review): no common base, every differing field is decided by
   * ownership.
   */
  readonly withoutBase?: boolean;
  /** A new canonical id: no snapshot, record, conflict or outbox row can exist for it. */
  readonly fresh?: boolean;
  /** Whether the record comes under an id its side merged away (checked before anything changes). */
  readonly stale?: () => Promise<boolean>;
  /** `theirs` passed `validateAs` with this link's test flag: a merge that is exactly it needs no second check. */
  readonly validated?: boolean;
  /** ExternalRecord.flags: what the mapping dropped or assumed, kept with the record's audit event. */
  readonly mappingFlags?: readonly string[];
}

/** The same fields with the same values (same objects), in the same order. */
/**
 * The merged fields as a peer would keep them (ConnectorDefinition.view). A record the peer
 * could not take at all (its view throws) is compared whole, as without a view.
 */
function sourceViewOf(view: (r: CanonicalResource) => CanonicalResource, kind: ResourceKind, id: string): (merged: FieldMap) => FieldMap {
  return (merged) => {
    try {
      return flatten(view(unflatten<CanonicalResource>(kind, id, merged)));
    } catch {
      return merged;
    }
  };
}

function sameFields(a: FieldMap, b: FieldMap): boolean {
  if (a.size !== b.size) return false;
  const other = b.entries();
  for (const [path, value] of a) {
    const next = other.next().value as [string, unknown];
    if (next[0] !== path || next[1] !== value) return false;
  }
  return true;
}

export class SyncEngine {
  readonly store: Store;
  readonly registry: ConnectorRegistry;
  private readonly log: Logger;
  private readonly ownership: OwnershipResolver | undefined;
  private readonly onEnqueued: () => void;
  /** practiceContext's reads, per transaction (see there). */
  private readonly bases = new WeakMap<Tx, Map<string, PracticeBase>>();

  constructor(options: EngineOptions) {
    this.store = options.store;
    this.registry = options.registry;
    this.log = options.log;
    this.ownership = options.ownership;
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
  async ingest(link: Link, message: InboundMessage, via: IngestVia, options: { deadLetter?: boolean } = {}): Promise<IngestResult> {
    const { result, enqueued } = await this.retryOnConflict(() => this.store.batch((tx) => this.ingestTx(tx, link, message, via, options.deadLetter ?? true)));
    if (enqueued > 0) this.onEnqueued();
    return result;
  }

  /** Applies one pulled page and advances the stream's cursor in the same transaction. */
  async ingestPage(link: Link, page: PullPage, stream: string): Promise<{ applied: number; rejected: number; invalid: number; flags: string[] }> {
    const out = await this.retryOnConflict(() =>
      this.store.batch(async (tx) => {
        const ctx = await this.practiceContext(tx, link);
        const counts = { applied: 0, rejected: 0, invalid: 0, flags: [] as string[] };
        // One savepoint name for every record (each is released or rolled back before the next):
        // numbered names made each page a thousand distinct statements, flushing the store's
        // prepared-statement cache.
        for (const record of page.records) {
          const sp = 'ingest_record';
          await tx.savepoint(sp);
          const before = ctx.enqueued;
          const planned = ctx.planned.length;
          try {
            counts.flags.push(...(await this.applyRecord(tx, ctx, link, record, 'poll')));
            await tx.release(sp);
            counts.applied++;
          } catch (e) {
            await tx.rollbackTo(sp);
            ctx.enqueued = before;
            ctx.planned.length = planned;
            clearMemo(ctx);
            if (e instanceof Refusal) {
              await this.enqueueRefusal(tx, ctx, link, e);
              counts.rejected++;
            } else if (isRecordError(e)) {
              await this.deadLetterInbound(tx, link, null, e, [record]);
              counts.invalid++;
            } else throw e;
          }
        }
        // Entries the connector could not map: stored and dead-lettered one by one (a re-pulled
        // one is a duplicate in the inbox), so the rest of the feed keeps flowing.
        for (const message of page.invalid ?? []) {
          const { result } = await this.ingestTx(tx, link, { ...message, records: [] }, 'poll', true);
          if (result.outcome === 'invalid') counts.invalid++;
        }
        await this.flushPlanned(tx, ctx);
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

  private async ingestTx(tx: Tx, link: Link, message: InboundMessage, via: IngestVia, deadLetter: boolean): Promise<{ result: IngestResult; enqueued: number }> {
    const ctx = await this.practiceContext(tx, link);
    const flags: string[] = [];
    let inboxId: number | null = null;
    if (message.dedupe) {
      const d = message.dedupe;
      const accepted = await tx.inbox.accept({ linkId: link.id, dedupeKey: d.key, bodyHash: d.bodyHash, messageType: d.messageType, body: d.body });
      if (accepted.outcome === 'duplicate') {
        return { result: { outcome: 'duplicate', response: accepted.entry.response, flags: accepted.entry.flags }, enqueued: 0 };
      }
      inboxId = accepted.entry.id;
      flags.push(...accepted.entry.flags);
    }
    const outcome = await this.applyMessage(tx, ctx, link, message, via, inboxId, deadLetter, flags);
    const response = message.respond ? message.respond(outcome) : null;
    if (inboxId !== null) await tx.inbox.finish(inboxId, { ...finished(outcome), response });
    return { result: { outcome: outcome.status, response, flags }, enqueued: ctx.enqueued };
  }

  /** Applies one message's records (or dead-letters it), inside the caller's transaction. */
  private async applyMessage(tx: Tx, ctx: PracticeContext, link: Link, message: InboundMessage, via: IngestVia, inboxId: number | null, deadLetter: boolean, flags: string[]): Promise<IngestOutcome> {
    if (message.refuseReusedKey && flags.includes(REUSED_KEY_FLAG)) {
      // The link refuses reused keys: kept and visible (dead letter, replayable), not applied.
      if (deadLetter) await this.deadLetterInbound(tx, link, inboxId, message.refuseReusedKey, message.records);
      return { status: 'rejected', error: message.refuseReusedKey, flags };
    }
    if (message.error) {
      if (deadLetter) await this.deadLetterInbound(tx, link, inboxId, message.error, message.records);
      return { status: 'invalid', error: message.error, flags };
    }
    await tx.savepoint('ingest_message');
    try {
      for (const record of message.records) flags.push(...(await this.applyRecord(tx, ctx, link, record, via)));
      await this.flushPlanned(tx, ctx);
      await tx.release('ingest_message');
      return { status: 'applied', flags };
    } catch (e) {
      await tx.rollbackTo('ingest_message');
      ctx.enqueued = 0;
      ctx.planned.length = 0;
      clearMemo(ctx);
      if (e instanceof Refusal) {
        await this.enqueueRefusal(tx, ctx, link, e);
        return { status: 'rejected', error: e.error, flags };
      }
      if (isRecordError(e)) {
        if (deadLetter) await this.deadLetterInbound(tx, link, inboxId, e, message.records);
        return { status: 'invalid', error: e, flags };
      }
      throw e;
    }
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
      const accepted = await tx.inbox.accept({ linkId: link.id, dedupeKey: d.key, bodyHash: d.bodyHash, messageType: d.messageType, body: d.body, status: 'received', response });
      if (accepted.outcome === 'duplicate') return { outcome: 'duplicate', response: accepted.entry.response, flags: accepted.entry.flags };
      return { outcome: 'stored', response, flags: accepted.entry.flags };
    });
  }

  /** A link's messages stored by `storeForLater` and not applied yet, oldest first. */
  async pendingStored(link: Link, limit: number): Promise<readonly StoredMessage[]> {
    return (await this.store.inbox.list({ linkId: link.id, status: 'received', limit })).map((e) => ({ id: e.id, messageType: e.messageType, body: e.body }));
  }

  /**
   * Applies stored messages in one group-committed transaction, in the order given, each in its
   * own savepoint. A message already applied (by another drainer, or before a crash) is skipped:
   * the inbox row is marked in the transaction that applies it, so nothing is applied twice.
   */
  async applyStored(link: Link, items: readonly { readonly id: number; readonly message: InboundMessage }[], via: IngestVia = 'receiver'): Promise<IngestResult[]> {
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
            results.push({ outcome: 'duplicate', response: entry?.response ?? null, flags: entry?.flags ?? [] });
            continue;
          }
          const ctx = await this.practiceContext(tx, link);
          const flags = [...entry.flags];
          const outcome = await this.applyMessage(tx, ctx, link, message, via, id, true, flags);
          // The answer went out when the message was stored; it stays what a resend gets.
          await tx.inbox.finish(id, finished(outcome));
          if (outcome.status !== 'applied') failedAfterAck.push({ id, code: outcome.error.code, deadLettered: outcome.status === 'invalid' || flags.includes(REUSED_KEY_FLAG) });
          enqueued += ctx.enqueued;
          results.push({ outcome: outcome.status, response: entry.response, flags });
        }
        return { results, enqueued };
      }),
    );
    if (out.enqueued > 0) this.onEnqueued();
    for (const f of failedAfterAck) {
      this.log.error('message not applied after its commit acknowledgment', { alert: 'sync.failed-after-accept-ack', linkId: link.id, inboxId: f.id, code: f.code, deadLettered: f.deadLettered });
    }
    return out.results;
  }

  // -------------------------------------------------------------------------------------------
  // One record

  /** Serializes writers of one practice on PostgreSQL (SQLite has one writer already). */
  async lockPractice(tx: Tx, practiceId: string): Promise<void> {
    if (tx.dialect === 'postgres') await tx.db.selectFrom('practices').select('id').where('id', '=', practiceId).forUpdate().execute();
  }

  /**
   * Locks the practice (PostgreSQL) and loads its zone, links and ownership rules — once per
   * transaction: the ingests a group commit runs together share them (links and practices
   * change in transactions of their own, never in the middle of this one).
   */
  async practiceContext(tx: Tx, linkOrPracticeId: Link | string): Promise<PracticeContext> {
    const practiceId = typeof linkOrPracticeId === 'string' ? linkOrPracticeId : linkOrPracticeId.practiceId;
    // Locked each time: a job of the group rolled back to its savepoint takes its row lock with it.
    await this.lockPractice(tx, practiceId);
    let bases = this.bases.get(tx);
    if (!bases) this.bases.set(tx, (bases = new Map()));
    let base = bases.get(practiceId);
    if (!base) {
      const practice = await tx.practices.require(practiceId);
      const links = await tx.links.list({ practiceId });
      const practiceLink = links.find((l) => l.role === 'practice' && l.enabled) ?? links.find((l) => l.role === 'practice');
      const rules = withOverrides(practiceLink && this.ownership ? this.ownership(practiceLink) : undefined);
      base = { practiceId: practice.id, timezone: practice.timezone, links, rules };
      bases.set(practiceId, base);
    }
    return { ...base, enqueued: 0, planned: [], memo: { canonical: new Map(), rows: new Map(), matchKeys: new Map() } };
  }

  /** The canonical id of a peer's record (identity map), read once per ingest. */
  private async canonicalOf(tx: Tx, ctx: PracticeContext, linkId: string, kind: ResourceKind, externalId: string): Promise<string | undefined> {
    const key = identityKey(linkId, kind, externalId);
    if (ctx.memo.canonical.has(key)) return ctx.memo.canonical.get(key);
    const id = await tx.identityMap.findCanonical(linkId, kind, externalId);
    ctx.memo.canonical.set(key, id);
    return id;
  }

  /** `matchKeys.find` with the ingest's reads. */
  private async patientsUnder(tx: Tx, ctx: PracticeContext, keyHash: string): Promise<readonly string[]> {
    let ids = ctx.memo.matchKeys.get(keyHash);
    if (!ids) ctx.memo.matchKeys.set(keyHash, (ids = await tx.matchKeys.find(ctx.practiceId, keyHash)));
    // Not copied: matchPatient only reads it, and its lists grow with the practice.
    return ids;
  }

  /**
   * The superseded keys of a patient a practice link knows under several ids: every id but the
   * one it now comes under was merged away or replaced (ADT A40/A47), and stays so when the
   * patient's other keys are filed again.
   */
  private async supersededKeysOf(tx: Tx, link: Link, patientId: string, externalId: string | undefined): Promise<string[]> {
    if (link.role !== 'practice' || externalId === undefined) return [];
    const ids = await tx.identityMap.findExternal(link.id, 'Patient', patientId);
    return ids.filter((id) => id !== externalId).map((id) => supersededKey(link.id, id));
  }

  /** Files a patient's match keys, keeping the memo in step. */
  private async fileMatchKeys(tx: Tx, ctx: PracticeContext, patientId: string, keyHashes: readonly string[], isNew: boolean, fresh: boolean): Promise<void> {
    // A fresh id (created by this ingest) has no keys filed yet: nothing to remove first.
    if (fresh) await tx.matchKeys.add(ctx.practiceId, 'Patient', patientId, keyHashes);
    else await tx.matchKeys.replace(ctx.practiceId, 'Patient', patientId, keyHashes);
    // A new record had no keys: it joins the lists of its keys. Otherwise keys it left are unknown here.
    if (!isNew) ctx.memo.matchKeys.clear();
    else for (const key of new Set(keyHashes)) ctx.memo.matchKeys.get(key)?.push(patientId);
  }

  private async resourceOf(tx: Tx, ctx: PracticeContext, id: string): Promise<StoredResource | undefined> {
    if (ctx.memo.rows.has(id)) return ctx.memo.rows.get(id);
    const row = await tx.resources.get(id);
    ctx.memo.rows.set(id, row);
    return row;
  }

  /** `survivor` with the ingest's reads. */
  private async survivorIn(tx: Tx, ctx: PracticeContext, kind: ResourceKind, id: string): Promise<string> {
    if (kind !== 'Patient') return id;
    let current = id;
    for (let hop = 0; hop < 5; hop++) {
      const next = replacedBy((await this.resourceOf(tx, ctx, current))?.data);
      if (!next) return current;
      current = next;
    }
    return current;
  }

  /** The surviving record of a merged patient (Patient.link replaced-by), a few hops at most. */
  async survivor(tx: Pick<Tx, 'resources'>, kind: ResourceKind, id: string): Promise<string> {
    if (kind !== 'Patient') return id;
    let current = id;
    for (let hop = 0; hop < 5; hop++) {
      const next = replacedBy((await tx.resources.get(current))?.data);
      if (!next) return current;
      current = next;
    }
    return current;
  }

  private async applyRecord(tx: Tx, ctx: PracticeContext, link: Link, record: ExternalRecord, via: IngestVia): Promise<string[]> {
    const { kind } = record;
    let canonicalId = await this.canonicalOf(tx, ctx, link.id, kind, record.externalId);
    const mapped = canonicalId !== undefined;
    if (canonicalId) canonicalId = await this.survivorIn(tx, ctx, kind, canonicalId);

    // References arrive in the peer's ids; every synced kind they name must be known here.
    const { value: data, missing } = await rewriteRefs(record.data, async (ref) => {
      const id = await this.canonicalOf(tx, ctx, link.id, ref.kind, ref.id);
      return id === undefined ? undefined : this.survivorIn(tx, ctx, ref.kind, id);
    });
    if (missing.length > 0) {
      throw new PasserelleError('ERR_SYNC_UNKNOWN_REFERENCE', `a ${kind} from link ${link.id} refers to a ${missing[0]?.kind} unknown on this link`, {
        details: { linkId: link.id, kind, references: missing.map((m) => m.kind) },
      });
    }

    let reviewCandidates: readonly string[] | undefined;
    const flags: string[] = [];
    /** A new canonical id (a random UUID): nothing in the store refers to it yet. */
    let fresh = false;
    // An id the practice merged away (ADT A40) still in use — a late or replayed message: its
    // references follow the survivor, but its stale identity does not overwrite the survivor's.
    // Looked up only when the record would change something.
    const stale =
      mapped && kind === 'Patient' && link.role === 'practice' && !record.supersedes
        ? async () => (await tx.matchKeys.find(ctx.practiceId, supersededKey(link.id, record.externalId))).length > 0
        : undefined;
    if (!canonicalId && record.supersedes && link.role === 'practice' && (!record.deleted || kind !== 'Patient')) {
      // A new id that supersedes a known one (ADT A47, change of the patient identifier list;
      // or an A40 whose surviving id is new here) is the same record under its corrected id:
      // it takes the record over instead of creating a second one (IHE ITI PAM, ITI-30 A47).
      // Likewise the filler id a practice gives a booking passerelle placed (SIU SCH-2 beside
      // SCH-1), even on the message that deletes it (S17).
      for (const previous of record.supersedes) {
        const known = await this.canonicalOf(tx, ctx, link.id, kind, previous);
        if (known === undefined) continue;
        canonicalId = await this.survivorIn(tx, ctx, kind, known);
        if (kind === 'Patient') {
          // A late message under the merged-away id must find the survivor, never make a second
          // patient (issue 18): the old id stays mapped, filed as superseded so that what is
          // sent goes to the new id and what comes under the old one is stale.
          const key = supersededKey(link.id, previous);
          if (!(await tx.matchKeys.find(ctx.practiceId, key)).includes(canonicalId)) await tx.matchKeys.add(ctx.practiceId, 'Patient', canonicalId, [key]);
          ctx.memo.matchKeys.clear();
        } else {
          // The old id no longer exists on that side: messages to it carry the new one.
          await tx.identityMap.remove(link.id, kind, previous);
          ctx.memo.canonical.set(identityKey(link.id, kind, previous), undefined);
        }
        flags.push('identifier-changed');
        break;
      }
    }
    if (!canonicalId && record.writtenAs !== undefined && !record.deleted) {
      const own = await tx.resources.get(record.writtenAs);
      if (own?.practiceId === ctx.practiceId && own.kind === kind) {
        canonicalId = own.id;
        flags.push('own-write');
      }
    }
    if (!canonicalId) {
      if (record.deleted) return ['ignored-unknown-deleted'];
      if (!mayCreate(ctx.rules, kind, link.role)) {
        this.log.info('new record ignored: this side may not create it', { linkId: link.id, kind });
        return [`ignored-not-creator:${kind}`];
      }
      // A refused or cancelled booking coming back from the secretariat is not news.
      if (kind === 'Appointment' && link.role === 'secretariat' && ['cancelled', 'noshow', 'entered-in-error'].includes((data as { status?: string }).status ?? '')) {
        return ['ignored-inactive-new'];
      }
      canonicalId = randomUUID();
      fresh = true;
      if (kind === 'Patient') {
        const match = await matchPatient(data as Patient, (key) => this.patientsUnder(tx, ctx, key));
        if (match.outcome === 'ins') {
          canonicalId = await this.survivorIn(tx, ctx, 'Patient', match.patientId);
          fresh = false;
          flags.push('patient-matched-ins');
        } else if (match.outcome === 'candidates') {
          reviewCandidates = match.candidates;
          flags.push('patient-review');
        }
      }
    }

    let theirs = normalize(data, canonicalId);
    if (record.deleted) {
      const snap = await tx.snapshots.get(link.id, kind, canonicalId);
      const known = snap?.data ?? (await this.resourceOf(tx, ctx, canonicalId))?.data;
      if (!known) return ['ignored-unknown-deleted'];
      theirs = tombstone(normalize(known as unknown as CanonicalResource, canonicalId));
    }
    const valid = validateAs(kind, theirs, { testLink: link.isTest });
    if (!valid.ok) {
      const first = valid.issues[0];
      throw new PasserelleError('ERR_MODEL_INVALID', `${first?.path}: ${first?.message}`, { issues: valid.issues, details: { linkId: link.id, kind } });
    }
    theirs = valid.value;
    let applied: string[];
    try {
      applied = await this.applyTheirs(tx, ctx, link, {
        canonicalId,
        theirs,
        version: record.version ?? null,
        via,
        externalId: record.externalId,
        ...(!mapped && { newExternalId: record.externalId }),
        ...(reviewCandidates && { reviewCandidates }),
        ...(fresh && { fresh }),
        ...(stale && { stale }),
        validated: true,
        ...(record.flags && record.flags.length > 0 && { mappingFlags: record.flags }),
      });
    } catch (e) {
      // The refusal goes back with the booking as the peer sent it (its ids, its data).
      if (e instanceof Refusal) throw new Refusal(e.error, record);
      throw e;
    }
    return [
      ...flags,
      ...applied,
      ...(record.supersedes && link.role === 'practice' ? await this.applySupersedes(tx, ctx, link, kind, canonicalId, record.supersedes) : []),
    ];
  }

  /**
   * The merge and its effects, given the side's record in canonical form. Also used by the
   * review resolution (re-applying a held patient onto the chosen record).
   */
  async applyTheirs(tx: Tx, ctx: PracticeContext, link: Link, input: ApplyInput): Promise<string[]> {
    const { canonicalId, theirs } = input;
    const kind = theirs.resourceType;
    const theirsHash = fieldsHash(theirs);
    const theirsFields = flatten(theirs);
    const snap = input.withoutBase || input.fresh ? undefined : await tx.snapshots.get(link.id, kind, canonicalId);
    const mapIdentity = async () => {
      if (input.newExternalId === undefined) return;
      await tx.identityMap.set({ linkId: link.id, kind, externalId: input.newExternalId, canonicalId, practiceId: ctx.practiceId });
      ctx.memo.canonical.set(identityKey(link.id, kind, input.newExternalId), canonicalId);
    };

    const definition = this.registry.get(link.connector);
    const compare = definition?.compareVersions;
    /** Older than what that side held at the last sync (ordered versions only). */
    const older = snap !== undefined && compare !== undefined && input.version !== null && snap.externalVersion !== null && compare(input.version, snap.externalVersion) < 0;

    // Echo suppression (design rule 6): the side holds what we last wrote to / read from it.
    if (snap && snap.hash === theirsHash) {
      if (input.version !== null && input.version !== snap.externalVersion && !older) {
        await tx.snapshots.put({ linkId: link.id, kind, canonicalId, data: snap.data, hash: snap.hash, externalVersion: input.version });
      }
      await mapIdentity();
      return ['echo'];
    }
    // Same peer version as the last sync: nothing changed there; adopt how it represents it.
    if (snap && input.version !== null && snap.externalVersion === input.version) {
      await tx.snapshots.put({ linkId: link.id, kind, canonicalId, data: theirs as unknown as JsonObject, hash: theirsHash, externalVersion: input.version });
      await mapIdentity();
      return ['same-version'];
    }

    // Older than what that side held at the last sync: history there, already taken into account.
    if (older) {
      await mapIdentity();
      return ['stale-version'];
    }
    if (input.stale && (await input.stale())) return ['superseded-id'];
    const ours = input.fresh ? undefined : await this.resourceOf(tx, ctx, canonicalId);
    const open = input.fresh ? undefined : (await tx.conflicts.list({ recordId: canonicalId, status: 'open', limit: 1 }))[0];
    const holds = definition?.holds;
    const sourceHolds = holds === undefined ? undefined : (path: string) => holds(kind, path);
    // The base is what that side held: a snapshot of what passerelle wrote there is seen as the
    // side keeps it, so a title it has no place for is not taken as removed there.
    const sourceView = definition?.view ? sourceViewOf(definition.view, kind, canonicalId) : undefined;
    const baseFields = snap ? flatten(snap.data) : null;
    const merge = threeWayMerge({
      kind,
      source: link.role,
      base: baseFields && sourceView ? sourceView(baseFields) : baseFields,
      theirs: theirsFields,
      ours: ours ? flatten(ours.data) : null,
      ...(open && { held: new Map(open.fields.map((f) => [f.path, f])) }),
      rules: ctx.rules,
      ...(sourceHolds && { sourceHolds }),
      ...(sourceView && { sourceView }),
    });
    const merged = unflatten<CanonicalResource>(kind, canonicalId, merge.merged);
    const oursData = ours ? (ours.data as unknown as CanonicalResource) : null;

    // Agenda invariant (design rule 8): refuse, keep nothing, tell the secretariat why.
    if (merged.resourceType === 'Appointment' && link.role === 'secretariat' && merge.changed) {
      const previous = oursData?.resourceType === 'Appointment' ? oursData : null;
      if (needsAgendaCheck(merged, previous)) {
        const clash = await this.agendaClash(tx, ctx.practiceId, merged);
        if (clash) throw new Refusal(slotUnavailable(clash, merged, ctx.timezone), { kind, externalId: input.externalId ?? canonicalId, data: theirs, ...(input.version !== null && { version: input.version }) });
      }
    }

    let stored: StoredResource | undefined = ours;
    if (merge.changed) {
      // A merge that took theirs whole is theirs, already validated: checked again only otherwise.
      const check = input.validated && sameFields(merge.merged, theirsFields) ? { ok: true as const } : validateAs(kind, merged, { testLink: link.isTest });
      if (!check.ok) {
        const first = check.issues[0];
        throw new PasserelleError('ERR_MODEL_INVALID', `merged ${kind}: ${first?.path}: ${first?.message}`, { issues: check.issues, details: { kind, recordId: canonicalId } });
      }
      stored = await tx.resources.put({
        id: canonicalId,
        practiceId: ctx.practiceId,
        kind,
        data: merged as unknown as JsonObject,
        origin: link.role,
        expectedVersion: ours?.version ?? 0,
        ...(await agendaColumns(tx, merged)),
      });
      ctx.memo.rows.set(canonicalId, stored);
      if (merged.resourceType === 'Patient') await this.fileMatchKeys(tx, ctx, canonicalId, [...allKeys(patientKeys(merged)), ...(await this.supersededKeysOf(tx, link, canonicalId, input.externalId))], !ours, input.fresh === true);
      // Supervision reports: booked / moved / cancelled…, message received (docs/reports.md).
      await recordApplied(tx, { practiceId: ctx.practiceId, link, before: oursData, after: merged, stored });
    }
    await mapIdentity();
    await tx.snapshots.put({ linkId: link.id, kind, canonicalId, data: theirs as unknown as JsonObject, hash: theirsHash, externalVersion: input.version });

    const flags: string[] = [...(input.mappingFlags ?? [])];
    if (!ours) flags.push('created');
    else if (merge.changed) flags.push('updated');
    for (const d of merge.decisions) if (d.outcome === 'refused') flags.push(`refused:${d.path}`);
    if (merge.collisions.length > 0 || merge.refusals.length > 0) flags.push(...(await this.recordCollisions(tx, ctx, canonicalId, kind, link.role, merge, open)));

    let review: string | undefined;
    if (input.reviewCandidates && !ours) {
      const item = await tx.reviews.open({
        practiceId: ctx.practiceId,
        type: REVIEW_PATIENT_MATCH,
        recordId: canonicalId,
        payload: { linkId: link.id, externalId: input.externalId ?? null, candidates: [...input.reviewCandidates] },
      });
      review = item.id;
      flags.push('held-for-review');
    }

    const version = stored?.version ?? 0;
    // Forward to the other side, unless the record is a patient waiting for its match review.
    // A fresh id has no review but the one just opened (`review`).
    if (merge.changed && stored && !review && !(!input.fresh && (await this.isHeldForReview(tx, kind, canonicalId)))) {
      for (const target of this.targets(ctx, kind, otherRole(link.role))) {
        const targetSnap = merge.held.size > 0 ? await tx.snapshots.get(target.id, kind, canonicalId) : undefined;
        const data = unflatten<CanonicalResource>(kind, canonicalId, overlayHeld(merge.merged, targetSnap ? flatten(targetSnap.data) : null, merge.held));
        ctx.planned.push({ target, data, key: `${target.id}:${canonicalId}:v${version}`, cause: 'forward' });
      }
    }
    // Back to the source when it does not hold the result (refused fields, ours won, 412 re-merge),
    // or when rows computed before this change still wait for it: their state is stale now, and
    // their If-Match would pass against the snapshot just taken, so a fresh row supersedes them.
    const stale = !merge.pushBack && !input.fresh && (await tx.outbox.list({ linkId: link.id, recordId: canonicalId, status: 'pending', limit: 1 })).length > 0;
    if ((merge.pushBack || stale) && stored && this.registry.canPush(link.connector, kind)) {
      const data = unflatten<CanonicalResource>(kind, canonicalId, overlayHeld(merge.merged, flatten(theirs), merge.held));
      ctx.planned.push({ target: link, data, key: `${link.id}:${canonicalId}:v${version}:back:${theirsHash.slice(0, 16)}:${input.version ?? ''}`, cause: 'back' });
    }

    if (merge.changed || merge.collisions.length > 0) {
      await tx.audit.append({
        actor: `link:${link.id}`,
        action: 'sync.apply',
        practiceId: link.practiceId,
        resourceType: kind,
        resourceId: canonicalId,
        patientId: patientOf(merged),
        outcome: 'success',
        via: input.via,
        details: { linkId: link.id, connector: link.connector, fields: changedPaths(ours ? flatten(ours.data) : null, merge.merged), flags },
      });
    }
    return flags;
  }

  /** Links of `role` in the practice that take writes of `kind`. */
  targets(ctx: PracticeContext, kind: ResourceKind, role: LinkRole): Link[] {
    return ctx.links.filter((l) => l.role === role && l.enabled && this.registry.canPush(l.connector, kind));
  }

  async isHeldForReview(tx: Pick<Tx, 'reviews'>, kind: ResourceKind, recordId: string): Promise<boolean> {
    if (kind !== 'Patient') return false;
    return (await tx.reviews.list({ recordId, status: 'open', type: REVIEW_PATIENT_MATCH, limit: 1 })).length > 0;
  }

  /**
   * Writes the rows planned while applying one message or page. A row that another row of the
   * same link refers to takes that row's priority if more urgent: the new patient of an urgent
   * call message travels with it instead of waiting behind routine work.
   */
  async flushPlanned(tx: Tx, ctx: PracticeContext): Promise<void> {
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
    for (const p of planned) await this.enqueue(tx, ctx, p.target, p.data, p.key, p.cause, priority.get(`${p.target.id}|${p.data.id}`));
  }

  /** Adds an outbox row (or returns the existing one for `key`: enqueueing is idempotent). */
  async enqueue(tx: Tx, ctx: PracticeContext, target: Link, data: CanonicalResource, key: string, cause: string, priority?: number): Promise<OutboxItem> {
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
   * Collisions decided by ownership, and changes it refused, are recorded and closed at once
   * (visible, not silent); collisions left for review open a conflict, superseding the record's
   * previous open one.
   */
  private async recordCollisions(tx: Tx, ctx: PracticeContext, recordId: string, kind: ResourceKind, source: LinkRole, merge: MergeResult, open: Conflict | undefined): Promise<string[]> {
    const decided = new Map(merge.decisions.filter((d) => d.outcome === 'collision').map((d) => [d.path, d]));
    const auto = merge.collisions.filter((c) => decided.get(c.path)?.outcome === 'collision' && (decided.get(c.path) as { winner: string }).winner !== 'held');
    const review = merge.collisions.filter((c) => (decided.get(c.path) as { winner?: string } | undefined)?.winner === 'held');
    const flags: string[] = [];
    if (auto.length > 0 || merge.refusals.length > 0) {
      const reason = auto.length > 0 ? 'both sides changed; decided by field ownership' : `the ${otherRole(source)} owns the field; the ${source}'s change was refused`;
      const c = await tx.conflicts.open({ practiceId: ctx.practiceId, kind, recordId, fields: [...auto, ...merge.refusals], reason });
      const decisions = [
        ...auto.map((f) => {
          const d = decided.get(f.path) as { owner: string; winner: 'theirs' | 'ours' };
          return { path: f.path, owner: d.owner, winner: d.winner === 'theirs' ? source : otherRole(source) };
        }),
        ...merge.refusals.map((f) => ({ path: f.path, owner: otherRole(source), winner: otherRole(source), refused: true })),
      ];
      await tx.conflicts.close(c.id, { status: 'resolved', resolution: { rule: 'ownership', decisions }, by: 'ownership' });
      flags.push(...auto.map((f) => `collision:${f.path}`));
    }
    if (review.length > 0) {
      const paths = new Set(review.map((f) => f.path));
      const carried = (open?.fields ?? []).filter((f) => !paths.has(f.path));
      const fresh = await tx.conflicts.open({ practiceId: ctx.practiceId, kind, recordId, fields: [...carried, ...review], reason: 'both sides changed the same field differently' });
      if (open) await tx.conflicts.close(open.id, { status: 'dismissed', resolution: { supersededBy: fresh.id }, by: 'system' });
      flags.push(...review.map((f) => `conflict:${f.path}`));
      this.log.info('sync conflict opened', { conflictId: fresh.id, kind, recordId, fields: [...paths] });
    }
    await recordConflicts(tx, { practiceId: ctx.practiceId, kind, recordId, source, decided: auto.length > 0 ? 'collision' : merge.refusals.length > 0 ? 'refused' : null, openedForReview: review.length > 0 && !open });
    return flags;
  }

  private async agendaClash(tx: Tx, practiceId: string, appt: CanonicalResource & { resourceType: 'Appointment' }) {
    for (const practitionerId of practitionersOf(appt)) {
      const window = { practiceId, practitionerId, from: appt.start as string, to: appt.end as string };
      const slots = (await tx.resources.list({ ...window, kind: 'Slot' })).map((r) => r.data as unknown as CanonicalResource & { resourceType: 'Slot' });
      const appts = (await tx.resources.list({ ...window, kind: 'Appointment' })).map((r) => r.data as unknown as CanonicalResource & { resourceType: 'Appointment' });
      const clash = findClash(appt, slots, appts);
      if (clash) return clash;
    }
    return undefined;
  }

  private async enqueueRefusal(tx: Tx, ctx: PracticeContext, link: Link, refusal: Refusal): Promise<void> {
    const { record, error } = refusal;
    const key = `${link.id}:reject:${contentHash([record.externalId, fieldsHash(record.data)]).slice(0, 32)}`;
    const payload: OutboxPayload = { data: record.data, cause: 'reject', externalId: record.externalId, reason: { code: error.code, message: error.message } };
    await tx.outbox.enqueue({
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
    await tx.audit.append({
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
    this.log.info('secretariat booking refused', { linkId: link.id, code: error.code, reason: error.details['reason'] });
  }

  async deadLetterInbound(tx: Tx, link: Link, inboxId: number | null, error: PasserelleError, records: readonly ExternalRecord[]): Promise<void> {
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
    this.log.warn('inbound change dead-lettered', { linkId: link.id, code: error.code, kind: records[0]?.kind, inboxId });
  }

  // -------------------------------------------------------------------------------------------
  // Merges of patient records (ADT A40 from the practice, or a resolved match review)

  /**
   * Makes `fromId` a non-surviving record of `toId`: identity links and references move to the
   * survivor, `fromId` stays as an inactive record pointing at it (Patient.link replaced-by).
   */
  async mergePatients(tx: Tx, ctx: PracticeContext, fromId: string, toId: string, cause: string, source?: Link): Promise<void> {
    if (fromId === toId) return;
    clearMemo(ctx);
    const mergedAway = source ? await tx.identityMap.findExternal(source.id, 'Patient', fromId) : [];
    await tx.identityMap.repoint(fromId, toId);
    for (const l of ctx.links) await tx.snapshots.delete(l.id, 'Patient', fromId);
    const toSurvivor = async (ref: { kind: ResourceKind; id: string }) => (ref.kind === 'Patient' && ref.id === fromId ? toId : ref.id);
    for (const kind of ['Appointment', 'Communication'] as const) {
      for (const r of await tx.resources.list({ practiceId: ctx.practiceId, kind, patientId: fromId })) {
        const { value } = await rewriteRefs(r.data as unknown as CanonicalResource, toSurvivor);
        const stored = await tx.resources.put({ id: r.id, practiceId: ctx.practiceId, kind, data: value as unknown as JsonObject, origin: r.origin, expectedVersion: r.version, ...(await agendaColumns(tx, value)) });
        for (const target of [...this.targets(ctx, kind, 'practice'), ...this.targets(ctx, kind, 'secretariat')]) {
          if (target.id === source?.id) {
            // The side that sent the merge (ADT A40) moved its records itself: it holds what it
            // held, with the survivor as patient. Nothing goes back unless it misses more (rule 6).
            const snap = await tx.snapshots.get(target.id, kind, r.id);
            if (snap) {
              const held = (await rewriteRefs(snap.data as unknown as CanonicalResource, toSurvivor)).value;
              const hash = fieldsHash(held);
              await tx.snapshots.put({ linkId: target.id, kind, canonicalId: r.id, data: held as unknown as JsonObject, hash, externalVersion: snap.externalVersion });
              if (hash === fieldsHash(value)) continue;
            }
          }
          await this.enqueue(tx, ctx, target, value, `${target.id}:${r.id}:v${stored.version}:${cause}`, cause);
        }
      }
    }
    const from = await tx.resources.get(fromId);
    if (from) {
      const data = { ...(from.data as unknown as Patient), active: false, link: [{ other: { reference: `Patient/${toId}` }, type: 'replaced-by' as const }] };
      await tx.resources.put({ id: fromId, practiceId: ctx.practiceId, kind: 'Patient', data: data as unknown as JsonObject, origin: from.origin, expectedVersion: from.version, ...(await agendaColumns(tx, data)) });
    }
    await tx.matchKeys.replace(ctx.practiceId, 'Patient', fromId, source ? mergedAway.map((id) => supersededKey(source.id, id)) : []);
  }

  private async applySupersedes(tx: Tx, ctx: PracticeContext, link: Link, kind: ResourceKind, survivorId: string, supersedes: readonly string[]): Promise<string[]> {
    if (kind !== 'Patient') return [];
    const flags: string[] = [];
    for (const externalId of supersedes) {
      const other = await tx.identityMap.findCanonical(link.id, kind, externalId);
      if (!other || other === survivorId) continue;
      await this.mergePatients(tx, ctx, other, survivorId, 'merge', link);
      flags.push('merged');
    }
    return flags;
  }
}

/** Fields of `data` as a map, or null. */
export function fieldsOf(data: JsonObject | CanonicalResource | null | undefined): FieldMap | null {
  return data ? flatten(data) : null;
}
