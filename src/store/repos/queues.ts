import { type ExpressionBuilder, sql } from 'kysely';

import { PasserelleError } from '../../errors.js';
import type { ResourceKind } from '../../model/resources.js';
import type {
  ConflictsTable,
  Database,
  DeadLettersTable,
  InboxTable,
  OutboxTable,
  ReviewItemsTable,
} from '../schema.js';
import { aad, type Seal } from '../sealer.js';
import {
  type Conflict,
  type ConflictField,
  type ConflictStatus,
  type DeadLetter,
  type DeadLetterInput,
  type DeadLetterStatus,
  type InboxAccept,
  type InboxAcceptResult,
  type InboxEntry,
  type InboxStatus,
  type JsonObject,
  type OutboxEnqueue,
  type OutboxItem,
  type OutboxStatus,
  PRIORITY,
  type ReviewItem,
} from '../types.js';
import type { BufferedTable } from '../write-buffer.js';
import { compiled, rowOf } from './compiled.js';
import { fromJson, iso, isoOrNull, newId, notFound, type RepoContext, toJson } from './context.js';

// ---------------------------------------------------------------------------------------------
// Inbox: every message received from a peer, with its dedupe key and the answer we gave.

type InboxRow = Omit<InboxTable, 'id'> & { id: number };
/** A message body is bound to its dedupe identity: the row's id is only known after the insert. */
export const inboxBodyAad = (r: Pick<InboxTable, 'link_id' | 'dedupe_key' | 'body_hash'>): string =>
  aad('inbox', 'body', `${r.link_id}|${r.dedupe_key}|${r.body_hash}`);
/** `clear`: the body as received, when the caller has it (no need to open what was just sealed). */
const toInbox = (r: InboxRow, seal: Seal, clear?: { body: Buffer | null }): InboxEntry => ({
  id: Number(r.id),
  linkId: r.link_id,
  dedupeKey: r.dedupe_key,
  bodyHash: r.body_hash,
  messageType: r.message_type,
  body: clear ? clear.body : r.body === null ? null : seal.openBytes(r.body, inboxBodyAad(r)),
  status: r.status as InboxStatus,
  response: r.response,
  errorCode: r.error_code,
  error: r.error,
  flags: fromJson<string[]>(r.flags),
  receivedAt: iso(r.received_at),
  processedAt: isoOrNull(r.processed_at),
});

export const REUSED_KEY_FLAG = 'reused-dedupe-key';

export interface InboxBrowseFilter {
  readonly linkId: string;
  /** Received at or after / before (epoch ms). */
  readonly since?: number;
  readonly until?: number;
  /** `SIU^S12` exactly, or a prefix ending in `^` (`SIU^`), or a FHIR resource type. */
  readonly messageType?: string;
  /** What the message browser calls the outcome (see src/sync/messages.ts). */
  readonly outcome?: 'pending' | 'applied' | 'applied-with-warnings' | 'rejected' | 'dead-letter';
  /** The sender's control id (HL7 MSH-10), or the whole dedupe key. */
  readonly controlId?: string;
  readonly beforeId?: number;
  readonly limit: number;
}

export interface InboxRepo {
  /**
   * Stores a received message unless it is a resend (same dedupe key and body hash). Run it in
   * the transaction that applies the message, so the dedupe key commits with its effects
   * (design rule 2). Atomic on its own when called outside a transaction.
   */
  accept(input: InboxAccept): Promise<InboxAcceptResult>;
  get(id: number): Promise<InboxEntry | undefined>;
  /** Records the outcome and the exact response sent (replayed byte for byte to a resend). */
  finish(
    id: number,
    outcome: {
      status: InboxStatus;
      response?: Buffer | null;
      errorCode?: string | null;
      error?: string | null;
      flags?: readonly string[];
    },
  ): Promise<void>;
  list(filter?: {
    linkId?: string;
    status?: InboxStatus;
    limit?: number;
    afterId?: number;
  }): Promise<InboxEntry[]>;
  /** The message browser: one link's messages, newest first, filtered, paged with `beforeId`. */
  browse(filter: InboxBrowseFilter): Promise<InboxEntry[]>;
  /** Retention: drops bodies received before `beforeMs` (not of messages still to apply); keys and responses stay for dedupe. */
  purgeBodies(beforeMs: number): Promise<number>;
}

const INBOX_COLUMNS = [
  'link_id',
  'dedupe_key',
  'body_hash',
  'message_type',
  'body',
  'status',
  'response',
  'error_code',
  'error',
  'flags',
  'received_at',
  'processed_at',
] as const;

// The statements of every received message (dedupe, store, outcome), compiled once (compiled.ts).
const inboxByKey = compiled<'linkId' | 'dedupeKey'>((db, p) =>
  db
    .selectFrom('inbox')
    .selectAll()
    .where('link_id', '=', p('linkId'))
    .where('dedupe_key', '=', p('dedupeKey'))
    .orderBy('id', 'desc'),
);
const insertInbox = compiled<(typeof INBOX_COLUMNS)[number]>((db, p) =>
  db
    .insertInto('inbox')
    .values(rowOf<Omit<InboxTable, 'id'>>(INBOX_COLUMNS, p))
    .onConflict((oc) => oc.columns(['link_id', 'dedupe_key', 'body_hash']).doNothing())
    .returning('id'),
);
/** `finish` sets only the fields it is given: one statement per combination, compiled on first use. */
const FINISH_FIELDS = ['response', 'error_code', 'error', 'flags'] as const;
const finishInbox = new Map<
  number,
  ReturnType<typeof compiled<'id' | 'status' | 'processed_at' | (typeof FINISH_FIELDS)[number]>>
>();
function finishStatement(present: readonly boolean[]) {
  const mask = present.reduce((m, on, i) => (on ? m | (1 << i) : m), 0);
  let q = finishInbox.get(mask);
  if (!q) {
    q = compiled((db, p) =>
      db
        .updateTable('inbox')
        .set({
          status: p('status'),
          ...Object.fromEntries(FINISH_FIELDS.filter((_, i) => present[i]).map((f) => [f, p(f)])),
          processed_at: p<number>('processed_at'),
        })
        .where('id', '=', p<number>('id')),
    );
    finishInbox.set(mask, q);
  }
  return q;
}

export function inboxRepo(ctx: RepoContext): InboxRepo {
  const { db, seal } = ctx;
  const byKey = async (linkId: string, dedupeKey: string) =>
    (await inboxByKey.run<InboxRow>(ctx, { linkId, dedupeKey })).rows;
  const repo: InboxRepo = {
    async accept(input) {
      const existing = await byKey(input.linkId, input.dedupeKey);
      const same = existing.find((r) => r.body_hash === input.bodyHash);
      if (same) return { outcome: 'duplicate', entry: toInbox(same, seal) };
      const previous = existing[0];
      const row = {
        link_id: input.linkId,
        dedupe_key: input.dedupeKey,
        body_hash: input.bodyHash,
        message_type: input.messageType,
        body:
          input.body === null
            ? null
            : seal.bytes(
                input.body,
                inboxBodyAad({
                  link_id: input.linkId,
                  dedupe_key: input.dedupeKey,
                  body_hash: input.bodyHash,
                }),
              ),
        status: input.status ?? 'received',
        response: input.response ?? null,
        error_code: input.errorCode ?? null,
        error: input.error ?? null,
        flags: toJson(previous ? [REUSED_KEY_FLAG] : []),
        received_at: ctx.now(),
        processed_at: null,
      };
      const res = (await insertInbox.run<{ id: number }>(ctx, row)).rows[0];
      if (!res) {
        // A concurrent instance stored the same message first (PostgreSQL): it is a resend.
        const again = (await byKey(input.linkId, input.dedupeKey)).find(
          (r) => r.body_hash === input.bodyHash,
        );
        if (!again)
          throw new PasserelleError(
            'ERR_STORE_CONFLICT',
            `inbox entry for link ${input.linkId} vanished during dedupe`,
          );
        return { outcome: 'duplicate', entry: toInbox(again, seal) };
      }
      const entry = toInbox({ ...row, id: Number(res.id) }, seal, { body: input.body });
      return previous
        ? { outcome: 'reused-key', entry, previous: toInbox(previous, seal) }
        : { outcome: 'new', entry };
    },
    async get(id) {
      const r = await db.selectFrom('inbox').selectAll().where('id', '=', id).executeTakeFirst();
      return r && toInbox(r as InboxRow, seal);
    },
    async finish(id, o) {
      const statement = finishStatement([
        o.response !== undefined,
        o.errorCode !== undefined,
        o.error !== undefined,
        o.flags !== undefined,
      ]);
      await statement.run(ctx, {
        id,
        status: o.status,
        response: o.response,
        error_code: o.errorCode,
        error: o.error,
        flags: o.flags === undefined ? undefined : toJson([...new Set(o.flags)]),
        processed_at: ctx.now(),
      });
    },
    async list(f = {}) {
      let q = db.selectFrom('inbox').selectAll();
      if (f.linkId !== undefined) q = q.where('link_id', '=', f.linkId);
      if (f.status !== undefined) q = q.where('status', '=', f.status);
      if (f.afterId !== undefined) q = q.where('id', '>', f.afterId);
      return (
        (await q
          .orderBy('id')
          .limit(f.limit ?? 100)
          .execute()) as InboxRow[]
      ).map((r) => toInbox(r, seal));
    },
    async browse(f) {
      let q = db.selectFrom('inbox').selectAll().where('link_id', '=', f.linkId);
      if (f.since !== undefined) q = q.where('received_at', '>=', f.since);
      if (f.until !== undefined) q = q.where('received_at', '<', f.until);
      if (f.beforeId !== undefined) q = q.where('id', '<', f.beforeId);
      if (f.messageType !== undefined) {
        const t = f.messageType;
        q = t.endsWith('^')
          ? q.where(sql<boolean>`substr(message_type, 1, ${t.length}) = ${t}`)
          : q.where('message_type', '=', t);
      }
      if (f.controlId !== undefined) {
        // HL7 keys are `app|facility|MSH-10`: match the last part, or a whole key (webhooks' `feed:<seq>`).
        const c = f.controlId;
        q = q.where((w) =>
          w.or([
            w('dedupe_key', '=', c),
            w(sql<string>`substr(dedupe_key, length(dedupe_key) - ${c.length})`, '=', `|${c}`),
          ]),
        );
      }
      switch (f.outcome) {
        case 'pending':
          q = q.where('status', '=', 'received');
          break;
        case 'applied':
          q = q.where('status', '=', 'processed').where('flags', '=', '[]');
          break;
        case 'applied-with-warnings':
          q = q.where('status', '=', 'processed').where('flags', '<>', '[]');
          break;
        case 'rejected':
          q = q.where('status', '=', 'rejected');
          break;
        case 'dead-letter':
          q = q.where('status', '=', 'failed');
          break;
        case undefined:
          break;
      }
      return ((await q.orderBy('id', 'desc').limit(f.limit).execute()) as InboxRow[]).map((r) =>
        toInbox(r, seal),
      );
    },
    async purgeBodies(beforeMs) {
      // A message stored and not applied yet (an HL7 accept ACK on commit) keeps its body: it is still to be applied.
      const res = await db
        .updateTable('inbox')
        .set({ body: null })
        .where('received_at', '<', beforeMs)
        .where('body', 'is not', null)
        .where('status', '<>', 'received')
        .executeTakeFirst();
      return Number(res.numUpdatedRows);
    },
  };
  return repo;
}

// ---------------------------------------------------------------------------------------------
// Outbox: every outbound write, committed with the change that caused it (design rule 3).

type OutboxRow = Omit<OutboxTable, 'seq'> & { seq: number };
/** Bound to the idempotency key, unique and known before the insert gives the row its seq. */
export const outboxPayloadAad = (idempotencyKey: string): string => aad('outbox', 'payload', idempotencyKey);
const toOutbox = (r: OutboxRow, seal: Seal, json?: string): OutboxItem => ({
  seq: Number(r.seq),
  practiceId: r.practice_id,
  linkId: r.link_id,
  kind: r.kind as ResourceKind,
  recordId: r.record_id,
  op: r.op,
  payload: fromJson<JsonObject>(json ?? seal.open(r.payload, outboxPayloadAad(r.idempotency_key))),
  priority: r.priority,
  status: r.status as OutboxStatus,
  attempts: r.attempts,
  nextAttemptAt: Number(r.next_attempt_at),
  leaseOwner: r.lease_owner,
  leaseUntil: r.lease_until === null ? null : Number(r.lease_until),
  idempotencyKey: r.idempotency_key,
  contentHash: r.content_hash,
  lastErrorCode: r.last_error_code,
  lastError: r.last_error,
  result: r.result === null ? null : fromJson<JsonObject>(r.result),
  createdAt: iso(r.created_at),
  updatedAt: iso(r.updated_at),
  doneAt: isoOrNull(r.done_at),
});

export interface LeaseOptions {
  readonly owner: string;
  readonly limit: number;
  readonly leaseMs: number;
  readonly linkIds?: readonly string[];
}

export interface OutboxRepo {
  /** Returns the existing item when the idempotency key was already enqueued. */
  enqueue(item: OutboxEnqueue): Promise<OutboxItem>;
  /**
   * The same, for a caller that does not need the item back (the ingest path): inside a
   * transaction the row is held and written with the group's others at its end
   * (../write-buffer.ts); an idempotency key already held or stored adds nothing (the stored
   * ones are not read: the insert skips them).
   */
  enqueueLater(item: OutboxEnqueue): Promise<void>;
  get(seq: number): Promise<OutboxItem | undefined>;
  /**
   * Leases ready items, most urgent first, never two of one record at once and never a later
   * change of a record before an earlier one (per-record order). Expired leases are taken over.
   * On PostgreSQL rows are locked with FOR UPDATE SKIP LOCKED so instances never share an item.
   */
  lease(options: LeaseOptions): Promise<OutboxItem[]>;
  complete(seq: number, result?: JsonObject): Promise<void>;
  /** Schedules another attempt; ignored when another worker has taken the lease since. */
  retry(seq: number, owner: string, next: { at: number; errorCode: string; error: string }): Promise<void>;
  /**
   * Like `retry`, but the attempt does not count: the item waited on something else (a record
   * it refers to, a patient review) rather than failing.
   */
  defer(seq: number, owner: string, next: { at: number; errorCode: string; error: string }): Promise<void>;
  /** Parks the item (poison change); record a dead letter in the same transaction. */
  kill(seq: number, reason: { errorCode: string; error: string }): Promise<void>;
  /** Back to pending with a fresh attempt count (replay of a dead letter). */
  requeue(seq: number, notBefore?: number): Promise<void>;
  list(filter?: {
    linkId?: string;
    status?: OutboxStatus;
    recordId?: string;
    practiceId?: string;
    lastErrorCode?: string;
    limit?: number;
  }): Promise<OutboxItem[]>;
  /** The message browser: one link's outbound writes, newest first, paged with `beforeSeq`. */
  browse(filter: {
    linkId: string;
    since?: number;
    until?: number;
    kind?: string;
    statuses?: readonly OutboxStatus[];
    beforeSeq?: number;
    limit: number;
  }): Promise<OutboxItem[]>;
  depth(linkId?: string): Promise<Record<OutboxStatus, number>>;
  /** Earliest time an item becomes ready, so an idle dispatcher knows when to wake. */
  nextReadyAt(): Promise<number | undefined>;
}

/**
 * An urgent row (call message marked urgent/asap/stat, or a record it needs) of the same link as
 * `o` that waits for its next attempt after a failed push. While one does, the link's other
 * rows are not leased, so that when the practice software is back the
 * urgent message reaches it first (design rule: urgent first). Without this, each row's own
 * backoff decides the order after an outage, and routine messages whose retry time came first
 * overtook the urgent one. A ready urgent row needs no such guard: a batch is ordered by
 * priority and a link's rows are pushed one after another in that order.
 */
function urgentWaiting(eb: ExpressionBuilder<Database & { o: OutboxTable }, 'o'>, now: number) {
  return (
    eb
      .selectFrom('outbox as u')
      .select('u.seq')
      .whereRef('u.link_id', '=', 'o.link_id')
      .where('u.priority', '<=', PRIORITY.urgent)
      .where('u.status', '=', 'pending')
      .where('u.next_attempt_at', '>', now)
      // It failed on the peer (a deferral does not count an attempt); not while it waits for a
      // patient review, which may take hours and is no sign of the peer being down.
      .where('u.attempts', '>', 0)
      .where((w) =>
        w.or([w('u.last_error_code', 'is', null), w('u.last_error_code', '<>', 'ERR_SYNC_REVIEW_PENDING')]),
      )
  );
}

const OUTBOX_COLUMNS = [
  'practice_id',
  'link_id',
  'kind',
  'record_id',
  'op',
  'payload',
  'priority',
  'status',
  'attempts',
  'next_attempt_at',
  'lease_owner',
  'lease_until',
  'idempotency_key',
  'content_hash',
  'last_error_code',
  'last_error',
  'result',
  'created_at',
  'updated_at',
  'done_at',
] as const;

// enqueue's statements, compiled once (compiled.ts): each applied change enqueues its pushes.
const outboxByKey = compiled<'key'>((db, p) =>
  db.selectFrom('outbox').selectAll().where('idempotency_key', '=', p('key')),
);
const insertOutbox = compiled<(typeof OUTBOX_COLUMNS)[number]>((db, p) =>
  db
    .insertInto('outbox')
    .values(rowOf<Omit<OutboxTable, 'seq'>>(OUTBOX_COLUMNS, p))
    .onConflict((oc) => oc.column('idempotency_key').doNothing())
    .returning('seq'),
);

/**
 * "Now" in milliseconds since the epoch as the database reads it, as an SQL expression: the
 * server's `clock_timestamp()` on PostgreSQL, the caller's clock on SQLite (one process per
 * file, so its clock is the database's).
 */
function dbClockMs(ctx: RepoContext, now: number) {
  return ctx.dialect === 'postgres'
    ? sql<number>`(extract(epoch FROM clock_timestamp()) * 1000)::bigint`
    : sql<number>`${now}`;
}
/** The outbox rows of a group, written together at its end (write-buffer.ts). */
const HELD_OUTBOX: BufferedTable = {
  name: 'outbox',
  columns: OUTBOX_COLUMNS,
  key: ['idempotency_key'],
  conflict: 'on conflict ("idempotency_key") do nothing',
};

export function outboxRepo(ctx: RepoContext): OutboxRepo {
  const { db, seal } = ctx;
  const get = async (seq: number) => {
    const r = await db.selectFrom('outbox').selectAll().where('seq', '=', seq).executeTakeFirst();
    return r && toOutbox(r as OutboxRow, seal);
  };
  const newRow = (item: OutboxEnqueue, json: string): Omit<OutboxRow, 'seq'> => {
    const now = ctx.now();
    return {
      practice_id: item.practiceId,
      link_id: item.linkId,
      kind: item.kind,
      record_id: item.recordId,
      op: item.op,
      payload: seal.text(json, outboxPayloadAad(item.idempotencyKey)),
      priority: item.priority ?? PRIORITY.normal,
      status: 'pending',
      attempts: 0,
      next_attempt_at: item.notBefore ?? now,
      lease_owner: null,
      lease_until: null,
      idempotency_key: item.idempotencyKey,
      content_hash: item.contentHash ?? null,
      last_error_code: null,
      last_error: null,
      result: null,
      created_at: now,
      updated_at: now,
      done_at: null,
    };
  };
  const repo: OutboxRepo = {
    async enqueueLater(item) {
      const writes = ctx.writes;
      if (!writes) {
        await repo.enqueue(item);
        return;
      }
      if (writes.find(HELD_OUTBOX, [item.idempotencyKey])) return;
      // No read of the stored rows: a key already stored is skipped by the insert's ON CONFLICT
      // DO NOTHING, which is all the idempotency check did for a caller that wants nothing back.
      writes.add(HELD_OUTBOX, newRow(item, toJson(item.payload)));
    },
    async enqueue(item) {
      const existing = (await outboxByKey.run<OutboxRow>(ctx, { key: item.idempotencyKey })).rows[0];
      if (existing) return toOutbox(existing, seal);
      const json = toJson(item.payload);
      const row = newRow(item, json);
      // ON CONFLICT rather than catching the violation: on PostgreSQL a failed statement aborts
      // the surrounding transaction, and enqueue runs inside the change's transaction.
      const res = (await insertOutbox.run<{ seq: number }>(ctx, row)).rows[0];
      if (res) return toOutbox({ ...row, seq: Number(res.seq) }, seal, json);
      const raced = (await outboxByKey.run<OutboxRow>(ctx, { key: item.idempotencyKey })).rows[0];
      if (!raced)
        throw new PasserelleError(
          'ERR_STORE_CONFLICT',
          'an outbox item vanished during enqueue (its idempotency key was taken)',
        );
      return toOutbox(raced, seal);
    },
    get,
    async lease(o) {
      const now = ctx.now();
      // A lease's expiry is on the database's clock (issue 23): every instance on one
      // PostgreSQL judges and sets `lease_until` with the server's time, so an instance whose
      // clock runs ahead cannot take a row another is still pushing, nor one behind hold a row
      // forever. SQLite has one process per file: its clock is the database's.
      const leaseNow = dbClockMs(ctx, now);
      let q = db
        .selectFrom('outbox as o')
        .select('o.seq')
        .where((eb) =>
          eb.or([
            eb.and([eb('o.status', '=', 'pending'), eb('o.next_attempt_at', '<=', now)]),
            eb.and([eb('o.status', '=', 'leased'), eb('o.lease_until', '<', leaseNow)]),
          ]),
        )
        .where((eb) =>
          eb.not(
            eb.exists(
              eb
                .selectFrom('outbox as p')
                .select('p.seq')
                .whereRef('p.link_id', '=', 'o.link_id')
                .whereRef('p.record_id', '=', 'o.record_id')
                .whereRef('p.seq', '<', 'o.seq')
                .where('p.status', 'in', ['pending', 'leased']),
            ),
          ),
        )
        .where((eb) =>
          eb.or([eb('o.priority', '<=', PRIORITY.urgent), eb.not(eb.exists(urgentWaiting(eb, now)))]),
        )
        .orderBy('o.priority')
        .orderBy('o.seq')
        .limit(o.limit);
      if (o.linkIds !== undefined) {
        if (o.linkIds.length === 0) return [];
        q = q.where('o.link_id', 'in', [...o.linkIds]);
      }
      if (ctx.dialect === 'postgres') q = q.forUpdate().skipLocked();
      const seqs = (await q.execute()).map((r) => Number(r.seq));
      if (seqs.length === 0) return [];
      await db
        .updateTable('outbox')
        .set((eb) => ({
          status: 'leased',
          lease_owner: o.owner,
          lease_until: sql<number>`${leaseNow} + ${Math.max(1, Math.round(o.leaseMs))}`,
          attempts: eb('attempts', '+', 1),
          updated_at: now,
        }))
        .where('seq', 'in', seqs)
        .execute();
      const rows = await db
        .selectFrom('outbox')
        .selectAll()
        .where('seq', 'in', seqs)
        .orderBy('priority')
        .orderBy('seq')
        .execute();
      return (rows as OutboxRow[]).map((r) => toOutbox(r, seal));
    },
    async complete(seq, result) {
      const now = ctx.now();
      await db
        .updateTable('outbox')
        .set({
          status: 'done',
          done_at: now,
          updated_at: now,
          lease_owner: null,
          lease_until: null,
          result: result === undefined ? null : toJson(result),
        })
        .where('seq', '=', seq)
        .execute();
    },
    async retry(seq, owner, next) {
      await db
        .updateTable('outbox')
        .set({
          status: 'pending',
          next_attempt_at: next.at,
          last_error_code: next.errorCode,
          last_error: next.error,
          lease_owner: null,
          lease_until: null,
          updated_at: ctx.now(),
        })
        .where('seq', '=', seq)
        .where('lease_owner', '=', owner)
        .where('status', '=', 'leased')
        .execute();
    },
    async defer(seq, owner, next) {
      await db
        .updateTable('outbox')
        .set((eb) => ({
          status: 'pending',
          next_attempt_at: next.at,
          last_error_code: next.errorCode,
          last_error: next.error,
          lease_owner: null,
          lease_until: null,
          attempts: eb('attempts', '-', 1),
          updated_at: ctx.now(),
        }))
        .where('seq', '=', seq)
        .where('lease_owner', '=', owner)
        .where('status', '=', 'leased')
        .execute();
    },
    async kill(seq, reason) {
      await db
        .updateTable('outbox')
        .set({
          status: 'dead',
          last_error_code: reason.errorCode,
          last_error: reason.error,
          lease_owner: null,
          lease_until: null,
          updated_at: ctx.now(),
        })
        .where('seq', '=', seq)
        .execute();
    },
    async requeue(seq, notBefore) {
      const now = ctx.now();
      const res = await db
        .updateTable('outbox')
        .set({
          status: 'pending',
          attempts: 0,
          next_attempt_at: notBefore ?? now,
          lease_owner: null,
          lease_until: null,
          updated_at: now,
        })
        .where('seq', '=', seq)
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) !== 1) throw notFound('outbox item', seq);
    },
    async list(f = {}) {
      let q = db.selectFrom('outbox').selectAll();
      if (f.linkId !== undefined) q = q.where('link_id', '=', f.linkId);
      if (f.status !== undefined) q = q.where('status', '=', f.status);
      if (f.recordId !== undefined) q = q.where('record_id', '=', f.recordId);
      if (f.practiceId !== undefined) q = q.where('practice_id', '=', f.practiceId);
      if (f.lastErrorCode !== undefined) q = q.where('last_error_code', '=', f.lastErrorCode);
      return (
        (await q
          .orderBy('seq')
          .limit(f.limit ?? 100)
          .execute()) as OutboxRow[]
      ).map((r) => toOutbox(r, seal));
    },
    async browse(f) {
      let q = db.selectFrom('outbox').selectAll().where('link_id', '=', f.linkId);
      if (f.since !== undefined) q = q.where('created_at', '>=', f.since);
      if (f.until !== undefined) q = q.where('created_at', '<', f.until);
      if (f.kind !== undefined) q = q.where('kind', '=', f.kind);
      if (f.statuses !== undefined) q = q.where('status', 'in', [...f.statuses]);
      if (f.beforeSeq !== undefined) q = q.where('seq', '<', f.beforeSeq);
      return ((await q.orderBy('seq', 'desc').limit(f.limit).execute()) as OutboxRow[]).map((r) =>
        toOutbox(r, seal),
      );
    },
    async depth(linkId) {
      let q = db.selectFrom('outbox').select(['status', (eb) => eb.fn.countAll<number>().as('n')]);
      if (linkId !== undefined) q = q.where('link_id', '=', linkId);
      const rows = await q.groupBy('status').execute();
      const out: Record<OutboxStatus, number> = { pending: 0, leased: 0, done: 0, dead: 0 };
      for (const r of rows) out[r.status as OutboxStatus] = Number(r.n);
      return out;
    },
    async nextReadyAt() {
      const now = ctx.now();
      // Rows held behind an urgent row are ready no sooner than it: leaving them out keeps an
      // idle dispatcher from waking every few milliseconds for rows it may not lease yet.
      const r = await db
        .selectFrom('outbox as o')
        .select((eb) => eb.fn.min('o.next_attempt_at').as('at'))
        .where('o.status', '=', 'pending')
        .where((eb) =>
          eb.or([eb('o.priority', '<=', PRIORITY.urgent), eb.not(eb.exists(urgentWaiting(eb, now)))]),
        )
        .executeTakeFirst();
      return r?.at === null || r?.at === undefined ? undefined : Number(r.at);
    },
  };
  return repo;
}

// ---------------------------------------------------------------------------------------------
// Conflicts and review items: what waits for a human (design rule 7).

/** `column` of the human-queue row `id` in `table`: both sides' values and the resolution chosen are patient data. */
export const queueAad = (
  table: 'conflicts' | 'review_items' | 'dead_letters',
  column: 'fields' | 'payload' | 'resolution',
  id: string,
): string => aad(table, column, id);
const openJson = <T>(seal: Seal, stored: string, where: string): T => fromJson<T>(seal.open(stored, where));

const toConflict = (r: ConflictsTable, seal: Seal): Conflict => ({
  id: r.id,
  practiceId: r.practice_id,
  kind: r.kind as ResourceKind,
  recordId: r.record_id,
  fields: openJson<ConflictField[]>(seal, r.fields, queueAad('conflicts', 'fields', r.id)),
  status: r.status as ConflictStatus,
  reason: r.reason,
  resolution:
    r.resolution === null
      ? null
      : openJson<JsonObject>(seal, r.resolution, queueAad('conflicts', 'resolution', r.id)),
  resolvedBy: r.resolved_by,
  createdAt: iso(r.created_at),
  resolvedAt: isoOrNull(r.resolved_at),
});

export interface ConflictsRepo {
  open(input: {
    practiceId: string;
    kind: ResourceKind;
    recordId: string;
    fields: readonly ConflictField[];
    reason?: string;
  }): Promise<Conflict>;
  get(id: string): Promise<Conflict | undefined>;
  list(filter?: {
    practiceId?: string;
    status?: ConflictStatus;
    recordId?: string;
    limit?: number;
  }): Promise<Conflict[]>;
  /** Only an open conflict can be closed; a second resolve gets ERR_CONFLICT. */
  close(
    id: string,
    outcome: { status: Exclude<ConflictStatus, 'open'>; resolution: JsonObject; by: string },
  ): Promise<Conflict>;
}

export function conflictsRepo(ctx: RepoContext): ConflictsRepo {
  const { db, seal } = ctx;
  const get = async (id: string) => {
    const r = await db.selectFrom('conflicts').selectAll().where('id', '=', id).executeTakeFirst();
    return r && toConflict(r, seal);
  };
  return {
    async open(input) {
      const id = newId();
      const row: ConflictsTable = {
        id,
        practice_id: input.practiceId,
        kind: input.kind,
        record_id: input.recordId,
        fields: seal.text(toJson(input.fields), queueAad('conflicts', 'fields', id)),
        status: 'open',
        reason: input.reason ?? null,
        resolution: null,
        resolved_by: null,
        created_at: ctx.now(),
        resolved_at: null,
      };
      await db.insertInto('conflicts').values(row).execute();
      return {
        ...toConflict({ ...row, fields: '[]' }, seal),
        fields: fromJson<ConflictField[]>(toJson(input.fields)),
      };
    },
    get,
    async list(f = {}) {
      let q = db.selectFrom('conflicts').selectAll();
      if (f.practiceId !== undefined) q = q.where('practice_id', '=', f.practiceId);
      if (f.status !== undefined) q = q.where('status', '=', f.status);
      if (f.recordId !== undefined) q = q.where('record_id', '=', f.recordId);
      return (
        await q
          .orderBy('created_at')
          .orderBy('id')
          .limit(f.limit ?? 100)
          .execute()
      ).map((r) => toConflict(r, seal));
    },
    async close(id, o) {
      const res = await db
        .updateTable('conflicts')
        .set({
          status: o.status,
          resolution: seal.text(toJson(o.resolution), queueAad('conflicts', 'resolution', id)),
          resolved_by: o.by,
          resolved_at: ctx.now(),
        })
        .where('id', '=', id)
        .where('status', '=', 'open')
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) !== 1) {
        if (!(await get(id))) throw notFound('conflict', id);
        throw new PasserelleError('ERR_CONFLICT', `conflict ${id} is already closed`);
      }
      return (await get(id)) as Conflict;
    },
  };
}

const toReview = (r: ReviewItemsTable, seal: Seal): ReviewItem => ({
  id: r.id,
  practiceId: r.practice_id,
  type: r.type,
  recordId: r.record_id,
  payload: openJson<JsonObject>(seal, r.payload, queueAad('review_items', 'payload', r.id)),
  status: r.status as ConflictStatus,
  resolution:
    r.resolution === null
      ? null
      : openJson<JsonObject>(seal, r.resolution, queueAad('review_items', 'resolution', r.id)),
  resolvedBy: r.resolved_by,
  createdAt: iso(r.created_at),
  resolvedAt: isoOrNull(r.resolved_at),
});

export interface ReviewsRepo {
  /** The item returned carries `payload` as given (not a parsed copy of what was stored). */
  open(input: {
    practiceId: string;
    type: string;
    recordId?: string | null;
    payload: JsonObject;
  }): Promise<ReviewItem>;
  get(id: string): Promise<ReviewItem | undefined>;
  list(filter?: {
    practiceId?: string;
    status?: ConflictStatus;
    type?: string;
    recordId?: string;
    limit?: number;
  }): Promise<ReviewItem[]>;
  close(
    id: string,
    outcome: { status: Exclude<ConflictStatus, 'open'>; resolution: JsonObject; by: string },
  ): Promise<ReviewItem>;
}

const REVIEW_COLUMNS = [
  'id',
  'practice_id',
  'type',
  'record_id',
  'payload',
  'status',
  'resolution',
  'resolved_by',
  'created_at',
  'resolved_at',
] as const;
/** Compiled once (compiled.ts): an initial load may open one review per patient. */
const insertReview = compiled<(typeof REVIEW_COLUMNS)[number]>((db, p) =>
  db.insertInto('review_items').values(rowOf<ReviewItemsTable>(REVIEW_COLUMNS, p)),
);

export function reviewsRepo(ctx: RepoContext): ReviewsRepo {
  const { db, seal } = ctx;
  const get = async (id: string) => {
    const r = await db.selectFrom('review_items').selectAll().where('id', '=', id).executeTakeFirst();
    return r && toReview(r, seal);
  };
  return {
    async open(input) {
      const id = newId();
      const row: ReviewItemsTable = {
        id,
        practice_id: input.practiceId,
        type: input.type,
        record_id: input.recordId ?? null,
        payload: seal.text(toJson(input.payload), queueAad('review_items', 'payload', id)),
        status: 'open',
        resolution: null,
        resolved_by: null,
        created_at: ctx.now(),
        resolved_at: null,
      };
      await insertReview.run(ctx, row);
      // The payload as given, not parsed back: on an initial load it lists every candidate.
      return { ...toReview({ ...row, payload: '{}' }, seal), payload: input.payload };
    },
    get,
    async list(f = {}) {
      let q = db.selectFrom('review_items').selectAll();
      if (f.practiceId !== undefined) q = q.where('practice_id', '=', f.practiceId);
      if (f.status !== undefined) q = q.where('status', '=', f.status);
      if (f.type !== undefined) q = q.where('type', '=', f.type);
      if (f.recordId !== undefined) q = q.where('record_id', '=', f.recordId);
      return (
        await q
          .orderBy('created_at')
          .orderBy('id')
          .limit(f.limit ?? 100)
          .execute()
      ).map((r) => toReview(r, seal));
    },
    async close(id, o) {
      const res = await db
        .updateTable('review_items')
        .set({
          status: o.status,
          resolution: seal.text(toJson(o.resolution), queueAad('review_items', 'resolution', id)),
          resolved_by: o.by,
          resolved_at: ctx.now(),
        })
        .where('id', '=', id)
        .where('status', '=', 'open')
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) !== 1) {
        if (!(await get(id))) throw notFound('review item', id);
        throw new PasserelleError('ERR_CONFLICT', `review item ${id} is already closed`);
      }
      return (await get(id)) as ReviewItem;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Dead letters: what could not be applied or delivered, with its reason (design rule 9).

const toDeadLetter = (r: DeadLettersTable, seal: Seal): DeadLetter => ({
  id: r.id,
  practiceId: r.practice_id,
  linkId: r.link_id,
  source: r.source as DeadLetter['source'],
  ref: r.ref,
  kind: r.kind,
  recordId: r.record_id,
  reasonCode: r.reason_code,
  reason: r.reason,
  payload:
    r.payload === null
      ? null
      : openJson<JsonObject>(seal, r.payload, queueAad('dead_letters', 'payload', r.id)),
  attempts: r.attempts,
  status: r.status as DeadLetterStatus,
  resolvedBy: r.resolved_by,
  createdAt: iso(r.created_at),
  updatedAt: iso(r.updated_at),
});

export interface DeadLettersRepo {
  add(input: DeadLetterInput): Promise<DeadLetter>;
  get(id: string): Promise<DeadLetter | undefined>;
  list(filter?: {
    status?: DeadLetterStatus;
    linkId?: string;
    practiceId?: string;
    source?: DeadLetter['source'];
    recordId?: string;
    reasonCode?: string;
    limit?: number;
  }): Promise<DeadLetter[]>;
  setStatus(id: string, status: DeadLetterStatus, by: string): Promise<DeadLetter>;
  count(filter?: { status?: DeadLetterStatus; linkId?: string }): Promise<number>;
}

export function deadLettersRepo(ctx: RepoContext): DeadLettersRepo {
  const { db, seal } = ctx;
  const get = async (id: string) => {
    const r = await db.selectFrom('dead_letters').selectAll().where('id', '=', id).executeTakeFirst();
    return r && toDeadLetter(r, seal);
  };
  return {
    async add(input) {
      const now = ctx.now();
      const id = newId();
      const row: DeadLettersTable = {
        id,
        practice_id: input.practiceId,
        link_id: input.linkId,
        source: input.source,
        ref: input.ref,
        kind: input.kind,
        record_id: input.recordId,
        reason_code: input.reasonCode,
        reason: input.reason,
        payload:
          input.payload === null
            ? null
            : seal.text(toJson(input.payload), queueAad('dead_letters', 'payload', id)),
        attempts: input.attempts ?? 0,
        status: 'open',
        resolved_by: null,
        created_at: now,
        updated_at: now,
      };
      await db.insertInto('dead_letters').values(row).execute();
      return {
        ...toDeadLetter({ ...row, payload: null }, seal),
        payload: input.payload === null ? null : fromJson<JsonObject>(toJson(input.payload)),
      };
    },
    get,
    async list(f = {}) {
      let q = db.selectFrom('dead_letters').selectAll();
      if (f.status !== undefined) q = q.where('status', '=', f.status);
      if (f.linkId !== undefined) q = q.where('link_id', '=', f.linkId);
      if (f.practiceId !== undefined) q = q.where('practice_id', '=', f.practiceId);
      if (f.source !== undefined) q = q.where('source', '=', f.source);
      if (f.recordId !== undefined) q = q.where('record_id', '=', f.recordId);
      if (f.reasonCode !== undefined) q = q.where('reason_code', '=', f.reasonCode);
      return (
        await q
          .orderBy('created_at')
          .orderBy('id')
          .limit(f.limit ?? 100)
          .execute()
      ).map((r) => toDeadLetter(r, seal));
    },
    async setStatus(id, status, by) {
      const res = await db
        .updateTable('dead_letters')
        .set({ status, resolved_by: by, updated_at: ctx.now() })
        .where('id', '=', id)
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) !== 1) throw notFound('dead letter', id);
      return (await get(id)) as DeadLetter;
    },
    async count(f = {}) {
      let q = db.selectFrom('dead_letters').select((eb) => eb.fn.countAll<number>().as('n'));
      if (f.status !== undefined) q = q.where('status', '=', f.status);
      if (f.linkId !== undefined) q = q.where('link_id', '=', f.linkId);
      return Number((await q.executeTakeFirstOrThrow()).n);
    },
  };
}
