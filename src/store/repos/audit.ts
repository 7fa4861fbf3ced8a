import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

import { PasserelleError } from '../../errors.js';
import { stableStringify } from '../../util/stable-stringify.js';
import type { AuditEventsTable, AuditHeadTable } from '../schema.js';
import type {
  AuditEvent,
  AuditInput,
  AuditListFilter,
  AuditOutcome,
  AuditVerifyOptions,
  AuditVerifyResult,
  JsonObject,
} from '../types.js';
import type { BufferedTable } from '../write-buffer.js';
import { compiled, rowOf } from './compiled.js';
import { fromJson, iso, type RepoContext, toJson } from './context.js';

export const GENESIS_HASH = '0'.repeat(64);

type AuditRow = Omit<AuditEventsTable, 'seq'> & { seq: number };
type HashedContent = Omit<AuditRow, 'seq' | 'hash' | 'prev_hash'>;

const contentOf = (row: HashedContent, withPractice: boolean): string =>
  stableStringify({
    at: Number(row.at),
    actor: row.actor,
    role: row.role,
    action: row.action,
    resource_type: row.resource_type,
    resource_id: row.resource_id,
    patient_id: row.patient_id,
    ...(withPractice && { practice_id: row.practice_id }),
    outcome: row.outcome,
    request_id: row.request_id,
    via: row.via,
    details: row.details,
  });

/**
 * The chain before the audit key (stores made before 0006, or opened without a key): each
 * row's hash covers the previous row's hash and its own content, so editing, deleting or
 * reordering a row breaks every hash after it — but anyone can recompute them all. The
 * sequence number is not hashed (PostgreSQL identities may skip values after a rollback);
 * order comes from the chain itself.
 */
export function auditHash(prevHash: string, row: HashedContent): string {
  return createHash('sha256').update(prevHash).update('\n').update(contentOf(row, false)).digest('hex');
}

/**
 * The keyed chain: the same link as `auditHash`, as HMAC-SHA256 (RFC 2104) under the audit
 * key, which lives outside the store. Rewriting rows and recomputing their hashes now needs
 * the key; the practice column is covered too, since the read API filters on it.
 */
export function keyedAuditHash(key: Buffer, prevHash: string, row: HashedContent): string {
  return createHmac('sha256', key).update(prevHash).update('\n').update(contentOf(row, true)).digest('hex');
}

/**
 * MACs of the chain's markers kept in the store (the keyed anchor, the purge base) and of the
 * checkpoints kept outside it. The leading word separates them from each other and from chain
 * links, whose input starts with 64 hex digits.
 */
export function auditMac(
  key: Buffer,
  kind: 'anchor' | 'base' | 'checkpoint',
  ...parts: readonly (string | number)[]
): string {
  return createHmac('sha256', key)
    .update([`passerelle-audit-${kind}`, ...parts].join('\n'))
    .digest('hex');
}

export const sameHex = (a: string | null, b: string): boolean =>
  a !== null && a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

const toEvent = (r: AuditRow): AuditEvent => ({
  seq: Number(r.seq),
  at: iso(Number(r.at)),
  actor: r.actor,
  role: r.role,
  action: r.action,
  resourceType: r.resource_type,
  resourceId: r.resource_id,
  patientId: r.patient_id,
  practiceId: r.practice_id,
  outcome: r.outcome as AuditOutcome,
  requestId: r.request_id,
  via: r.via,
  details: fromJson<JsonObject>(r.details),
  prevHash: r.prev_hash,
  hash: r.hash,
});

export interface AuditRepo {
  /** Appends one event to the chain. Atomic: call it inside the transaction of the audited change. */
  append(input: AuditInput): Promise<AuditEvent>;
  /**
   * The same, for a caller that does not need the event back (the ingest path): inside a
   * transaction the event is held and the group's events are chained and written together at
   * its end, the head moved once (../write-buffer.ts); outside, as `append`.
   */
  appendLater(input: AuditInput): Promise<void>;
  /** Oldest first; page with `afterSeq` = the last seq returned. */
  list(filter?: AuditListFilter): Promise<AuditEvent[]>;
  /**
   * Recomputes the chain from its start (genesis, or the purge base), under the audit key past
   * the keyed anchor, checks every signed checkpoint against its event, and names the first
   * event that does not verify.
   */
  verify(options?: AuditVerifyOptions): Promise<AuditVerifyResult>;
  /** The chain's last event as the store records it (what a checkpoint signs). */
  head(): Promise<{ seq: number; hash: string }>;
  /**
   * Start-up check with the audit key: keys the chain from here on if it was not yet (the
   * anchor), and throws ERR_AUDIT_KEY_MISMATCH if it was keyed under another key.
   */
  adoptKey(): Promise<{ anchored: boolean }>;
  /**
   * For a retention purge of the chain's prefix, in its transaction, before deleting events up
   * to `throughSeq`: records that event as the base verification starts from (MAC'd).
   */
  rebase(throughSeq: number): Promise<void>;
}

// append's statements, compiled once (compiled.ts): one event per applied record on ingest.
const EVENT_COLUMNS = [
  'at',
  'actor',
  'role',
  'action',
  'resource_type',
  'resource_id',
  'patient_id',
  'practice_id',
  'outcome',
  'request_id',
  'via',
  'details',
  'prev_hash',
  'hash',
] as const;
const readHead = compiled((db, _p, dialect) => {
  // The head row serializes appenders: FOR UPDATE on PostgreSQL; SQLite has one writer.
  const q = db.selectFrom('audit_head').selectAll().where('id', '=', 1);
  return dialect === 'postgres' ? q.forUpdate() : q;
});
const insertEvent = compiled<(typeof EVENT_COLUMNS)[number]>((db, p) =>
  db.insertInto('audit_events').values(rowOf<Omit<AuditRow, 'seq'>>(EVENT_COLUMNS, p)).returning('seq'),
);
const moveHead = compiled<'seq' | 'hash'>((db, p) =>
  db
    .updateTable('audit_head')
    .set({ seq: p<number>('seq'), hash: p('hash') })
    .where('id', '=', 1),
);

const keyRequired = () =>
  new PasserelleError(
    'ERR_AUDIT_KEY_REQUIRED',
    'the audit chain is keyed: this process needs the audit key (audit.key or audit.keyFile) to append to it or verify it',
  );

export function auditRepo(ctx: RepoContext): AuditRepo {
  const { db, auditKey: key } = ctx;
  const headRow = () =>
    db
      .selectFrom('audit_head')
      .selectAll()
      .where('id', '=', 1)
      .executeTakeFirstOrThrow() as Promise<AuditHeadTable>;

  const anchorUpdate = (head: { seq: number; hash: string }, k: Buffer) =>
    db
      .updateTable('audit_head')
      .set({
        anchor_seq: head.seq,
        anchor_hash: head.hash,
        anchor_mac: auditMac(k, 'anchor', head.seq, head.hash),
      })
      .where('id', '=', 1)
      .where('anchor_seq', 'is', null);
  const setAnchor = async (head: { seq: number; hash: string }, k: Buffer) => {
    await anchorUpdate(head, k).execute();
  };

  const eventContent = (input: AuditInput): HashedContent => {
    const details = input.details ?? {};
    return {
      at: ctx.now(),
      actor: input.actor,
      role: input.role ?? null,
      action: input.action,
      resource_type: input.resourceType ?? null,
      resource_id: input.resourceId ?? null,
      patient_id: input.patientId ?? null,
      // Callers that predate the column name the practice in details, or act on the practice itself.
      practice_id:
        input.practiceId ??
        (typeof details['practiceId'] === 'string'
          ? details['practiceId']
          : input.resourceType === 'Practice'
            ? (input.resourceId ?? null)
            : null),
      outcome: input.outcome,
      request_id: input.requestId ?? null,
      via: input.via ?? null,
      details: toJson(details),
    };
  };

  // The group's events, chained from the head when they are written (write-buffer.ts).
  const held: BufferedTable = {
    name: 'audit_events',
    columns: EVENT_COLUMNS,
    returning: 'seq',
    guards: ['audit_head'],
    async prepare(rows, exec) {
      const cache = ctx.txCache;
      let head = cache?.auditHead;
      if (!head) {
        const row = (await readHead.run<AuditHeadTable>({ ...ctx, exec }, {})).rows[0];
        if (!row) throw new Error('audit_head has no row');
        head = { seq: Number(row.seq), hash: row.hash, keyed: row.anchor_seq !== null };
      }
      if (head.keyed && !key) throw keyRequired();
      if (cache) cache.auditHead = undefined;
      if (key && !head.keyed) {
        const q = anchorUpdate(head, key).compile();
        await exec(q.sql, q.parameters);
      }
      let prev = head.hash;
      for (const r of rows) {
        const content = r as unknown as HashedContent;
        r['prev_hash'] = prev;
        prev = key ? keyedAuditHash(key, prev, content) : auditHash(prev, content);
        r['hash'] = prev;
      }
    },
    async after(rows, returned, exec) {
      // One statement assigns the rows' sequence numbers in the order of its VALUES list.
      const seq = returned.reduce((m, r) => Math.max(m, Number(r['seq'])), 0);
      const hash = rows.at(-1)?.['hash'] as string;
      await moveHead.run({ ...ctx, exec }, { seq, hash });
      if (ctx.txCache) ctx.txCache.auditHead = { seq, hash, keyed: key !== undefined };
    },
  };

  const repo: AuditRepo = {
    async appendLater(input) {
      if (!ctx.writes) {
        await repo.append(input);
        return;
      }
      ctx.writes.add(held, { ...eventContent(input), prev_hash: null, hash: null });
    },

    async append(input) {
      // Events held for the end of the group come first in the chain.
      if (ctx.writes?.holds('audit_events')) await ctx.writes.flush();
      // A page of an ingest appends one event per record: after the first, the head is the one
      // this transaction just wrote (PostgreSQL: still locked by the first read's FOR UPDATE).
      const cache = ctx.txCache;
      let head = cache?.auditHead;
      if (!head) {
        const row = (await readHead.run<AuditHeadTable>(ctx, {})).rows[0];
        if (!row) throw new Error('audit_head has no row');
        head = { seq: Number(row.seq), hash: row.hash, keyed: row.anchor_seq !== null };
      }
      if (head.keyed && !key) throw keyRequired();
      // Forgotten until both writes succeed: a failed one leaves the row as it was.
      if (cache) cache.auditHead = undefined;
      // Normally done at start-up (adoptKey); here for a process that appends before that.
      if (key && !head.keyed) await setAnchor(head, key);
      const content = eventContent(input);
      const hash = key ? keyedAuditHash(key, head.hash, content) : auditHash(head.hash, content);
      const row = { ...content, prev_hash: head.hash, hash };
      const seq = Number((await insertEvent.run<{ seq: number }>(ctx, row)).rows[0]?.seq);
      await moveHead.run(ctx, { seq, hash });
      if (cache) cache.auditHead = { seq, hash, keyed: key !== undefined };
      return toEvent({ ...row, seq });
    },

    async list(f = {}) {
      let q = db.selectFrom('audit_events').selectAll();
      if (f.patientId !== undefined) q = q.where('patient_id', '=', f.patientId);
      if (f.resourceId !== undefined) q = q.where('resource_id', '=', f.resourceId);
      if (f.action !== undefined) q = q.where('action', '=', f.action);
      if (f.actor !== undefined) q = q.where('actor', '=', f.actor);
      if (f.practiceIds !== undefined) {
        if (f.practiceIds.length === 0) return [];
        q = q.where('practice_id', 'in', [...f.practiceIds]);
      }
      if (f.fromMs !== undefined) q = q.where('at', '>=', f.fromMs);
      if (f.toMs !== undefined) q = q.where('at', '<', f.toMs);
      if (f.afterSeq !== undefined) q = q.where('seq', '>', f.afterSeq);
      return (
        (await q
          .orderBy('seq')
          .limit(f.limit ?? 100)
          .execute()) as AuditRow[]
      ).map(toEvent);
    },

    async head() {
      const h = await headRow();
      return { seq: Number(h.seq), hash: h.hash };
    },

    async adoptKey() {
      if (!key) throw keyRequired();
      const h = await headRow();
      if (h.anchor_seq === null) {
        await setAnchor({ seq: Number(h.seq), hash: h.hash }, key);
        return { anchored: true };
      }
      if (!sameHex(h.anchor_mac, auditMac(key, 'anchor', Number(h.anchor_seq), h.anchor_hash ?? ''))) {
        throw new PasserelleError(
          'ERR_AUDIT_KEY_MISMATCH',
          'the configured audit key is not the one this store’s audit chain was keyed with (audit.key / audit.keyFile)',
        );
      }
      return { anchored: false };
    },

    async rebase(throughSeq) {
      if (!key) throw keyRequired();
      const row = await db
        .selectFrom('audit_events')
        .select(['seq', 'hash'])
        .where('seq', '=', throughSeq)
        .executeTakeFirst();
      if (!row)
        throw new PasserelleError('ERR_NOT_FOUND', `audit event ${throughSeq} not found`, {
          details: { seq: throughSeq },
        });
      await db
        .updateTable('audit_head')
        .set({
          base_seq: throughSeq,
          base_hash: row.hash,
          base_mac: auditMac(key, 'base', throughSeq, row.hash),
        })
        .where('id', '=', 1)
        .execute();
    },

    async verify(options = {}) {
      const h = await headRow();
      let checked = 0;
      const broken = (firstBrokenSeq: number, reason: string): AuditVerifyResult => ({
        ok: false,
        checked,
        firstBrokenSeq,
        reason,
      });

      // Where the walk starts: the genesis, or after a purged prefix its MAC'd base.
      let prev = GENESIS_HASH;
      let lastSeq = 0;
      if (h.base_seq !== null) {
        lastSeq = Number(h.base_seq);
        if (!key)
          return broken(
            lastSeq + 1,
            'the chain starts after a purge: the audit key is needed to check where',
          );
        if (!sameHex(h.base_mac, auditMac(key, 'base', lastSeq, h.base_hash ?? ''))) {
          return broken(
            lastSeq + 1,
            'the purge base is not signed by the audit key (the start of the chain was moved)',
          );
        }
        prev = h.base_hash ?? '';
      }
      // Past the anchor every link is an HMAC; at or before it, plain SHA-256 (older events).
      const anchorSeq = h.anchor_seq === null ? null : Number(h.anchor_seq);
      if (anchorSeq !== null) {
        if (!key)
          return broken(
            anchorSeq + 1,
            'events after the anchor are keyed: the audit key is needed to verify them',
          );
        if (!sameHex(h.anchor_mac, auditMac(key, 'anchor', anchorSeq, h.anchor_hash ?? ''))) {
          return broken(
            anchorSeq + 1,
            'the keyed-chain anchor is not signed by this audit key (wrong key, or the anchor was moved)',
          );
        }
      }
      const checkpoints = [...(options.checkpoints ?? [])]
        .filter((c) => c.seq > lastSeq)
        .sort((a, b) => a.seq - b.seq);
      let ci = 0;
      let matched = 0;
      // The first event after one whose hash the head records: where a moved-back head stops.
      let pastHead: number | undefined;

      const pageSize = 1000;
      for (;;) {
        const rows = (await db
          .selectFrom('audit_events')
          .selectAll()
          .where('seq', '>', lastSeq)
          .orderBy('seq')
          .limit(pageSize)
          .execute()) as AuditRow[];
        for (const r of rows) {
          const seq = Number(r.seq);
          if (pastHead === undefined && prev === h.hash) pastHead = seq;
          const cp = checkpoints[ci];
          if (cp && cp.seq < seq)
            return broken(
              cp.seq,
              `event #${cp.seq}, signed in the checkpoint of ${cp.at}, is missing (removed)`,
            );
          if (r.prev_hash !== prev)
            return broken(seq, 'prev_hash does not match the previous row (a row was removed or reordered)');
          const keyed = anchorSeq !== null && seq > anchorSeq;
          if (keyed && prev !== h.anchor_hash && lastSeq <= (anchorSeq as number)) {
            return broken(seq, 'the first keyed event does not follow the anchor (the anchor was moved)');
          }
          if (keyed) {
            if (!sameHex(r.hash, keyedAuditHash(key as Buffer, prev, r)))
              return broken(
                seq,
                'content does not match its hash under the audit key (the row was edited, or re-chained without the key)',
              );
          } else if (auditHash(prev, r) !== r.hash)
            return broken(seq, 'content does not match its hash (the row was edited)');
          // Several instances may checkpoint the same head: every one of them must match.
          for (let c = checkpoints[ci]; c && c.seq === seq; c = checkpoints[++ci]) {
            if (r.hash !== c.hash)
              return broken(
                seq,
                `event #${seq} differs from the checkpoint signed at ${c.at}: the chain was rewritten at or before it`,
              );
            matched++;
          }
          prev = r.hash;
          lastSeq = seq;
          checked++;
        }
        if (rows.length < pageSize) break;
      }
      const missing = checkpoints[ci];
      if (missing)
        return broken(
          lastSeq + 1,
          `events after #${lastSeq} up to #${missing.seq}, signed in the checkpoint of ${missing.at}, are missing (the chain was truncated)`,
        );
      if (anchorSeq !== null && anchorSeq > lastSeq)
        return broken(
          lastSeq + 1,
          `the chain ends before its keyed anchor #${anchorSeq} (events were removed from the end)`,
        );
      if (h.hash !== prev) {
        if (pastHead !== undefined)
          return broken(
            pastHead,
            `the recorded head is an earlier event than the last one #${lastSeq} (the head was moved back)`,
          );
        return broken(
          lastSeq + 1,
          'the chain ends before the recorded head (rows were removed from the end)',
        );
      }
      if (key && anchorSeq === null && checked > 0) {
        return broken(
          lastSeq + 1,
          'the chain was never keyed: start the service once with the audit key, or the anchor was removed',
        );
      }
      return { ok: true, checked, ...(options.checkpoints && { checkpoints: matched }) };
    },
  };
  return repo;
}
