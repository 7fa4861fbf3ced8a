import { createHash } from 'node:crypto';

import type { AuditEventsTable } from '../schema.js';
import type { AuditEvent, AuditInput, AuditOutcome, AuditVerifyResult, JsonObject } from '../types.js';
import { readAuditAnchor } from './audit-retention.js';
import { compiled, rowOf } from './compiled.js';
import { fromJson, iso, type RepoContext, toJson } from './context.js';
import { stableStringify } from './records.js';

export const GENESIS_HASH = '0'.repeat(64);

type AuditRow = Omit<AuditEventsTable, 'seq'> & { seq: number };

/**
 * Each row's hash covers the previous row's hash and its own content, so editing, deleting or
 * reordering any row breaks every hash after it. The sequence number is not hashed (PostgreSQL
 * identities may skip values after a rollback); order comes from the chain itself.
 */
export function auditHash(prevHash: string, row: Omit<AuditRow, 'seq' | 'hash' | 'prev_hash'>): string {
  const content = stableStringify({
    at: Number(row.at),
    actor: row.actor,
    role: row.role,
    action: row.action,
    resource_type: row.resource_type,
    resource_id: row.resource_id,
    patient_id: row.patient_id,
    outcome: row.outcome,
    request_id: row.request_id,
    via: row.via,
    details: row.details,
  });
  return createHash('sha256').update(prevHash).update('\n').update(content).digest('hex');
}

const toEvent = (r: AuditRow): AuditEvent => ({
  seq: Number(r.seq),
  at: iso(Number(r.at)),
  actor: r.actor,
  role: r.role,
  action: r.action,
  resourceType: r.resource_type,
  resourceId: r.resource_id,
  patientId: r.patient_id,
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
  list(filter?: { patientId?: string; resourceId?: string; action?: string; afterSeq?: number; limit?: number }): Promise<AuditEvent[]>;
  /** Recomputes the whole chain and names the first row that does not verify. */
  verify(): Promise<AuditVerifyResult>;
}

// append's statements, compiled once (compiled.ts): one event per applied record on ingest.
const EVENT_COLUMNS = ['at', 'actor', 'role', 'action', 'resource_type', 'resource_id', 'patient_id', 'outcome', 'request_id', 'via', 'details', 'prev_hash', 'hash'] as const;
const readHead = compiled((db, _p, dialect) => {
  // The head row serializes appenders: FOR UPDATE on PostgreSQL; SQLite has one writer.
  const q = db.selectFrom('audit_head').selectAll().where('id', '=', 1);
  return dialect === 'postgres' ? q.forUpdate() : q;
});
const insertEvent = compiled<(typeof EVENT_COLUMNS)[number]>((db, p) =>
  db
    .insertInto('audit_events')
    .values(rowOf<Omit<AuditRow, 'seq'>>(EVENT_COLUMNS, p))
    .returning('seq'),
);
const moveHead = compiled<'seq' | 'hash'>((db, p) => db.updateTable('audit_head').set({ seq: p<number>('seq'), hash: p('hash') }).where('id', '=', 1));

export function auditRepo(ctx: RepoContext): AuditRepo {
  const { db } = ctx;
  return {
    async append(input) {
      // A page of an ingest appends one event per record: after the first, the head is the one
      // this transaction just wrote (PostgreSQL: still locked by the first read's FOR UPDATE).
      const cache = ctx.txCache;
      const head = cache?.auditHead ?? (await readHead.run<{ seq: number; hash: string }>(ctx, {})).rows[0];
      if (!head) throw new Error('audit_head has no row');
      // Forgotten until both writes succeed: a failed one leaves the row as it was.
      if (cache) cache.auditHead = undefined;
      const content = {
        at: ctx.now(),
        actor: input.actor,
        role: input.role ?? null,
        action: input.action,
        resource_type: input.resourceType ?? null,
        resource_id: input.resourceId ?? null,
        patient_id: input.patientId ?? null,
        outcome: input.outcome,
        request_id: input.requestId ?? null,
        via: input.via ?? null,
        details: toJson(input.details ?? {}),
      };
      const hash = auditHash(head.hash, content);
      const row = { ...content, prev_hash: head.hash, hash };
      const seq = (await insertEvent.run<{ seq: number }>(ctx, row)).rows[0]?.seq;
      await moveHead.run(ctx, { seq: Number(seq), hash });
      if (cache) cache.auditHead = { seq: Number(seq), hash };
      return toEvent({ ...row, seq: Number(seq) });
    },
    async list(f = {}) {
      let q = db.selectFrom('audit_events').selectAll();
      if (f.patientId !== undefined) q = q.where('patient_id', '=', f.patientId);
      if (f.resourceId !== undefined) q = q.where('resource_id', '=', f.resourceId);
      if (f.action !== undefined) q = q.where('action', '=', f.action);
      if (f.afterSeq !== undefined) q = q.where('seq', '>', f.afterSeq);
      return ((await q.orderBy('seq').limit(f.limit ?? 100).execute()) as AuditRow[]).map(toEvent);
    },
    async verify() {
      // After a retention purge the chain starts at its anchor (audit-retention.ts), not at genesis.
      const anchor = await readAuditAnchor(db);
      let prev = anchor?.hash ?? GENESIS_HASH;
      let checked = 0;
      let lastSeq = anchor?.seq ?? 0;
      const pageSize = 1000;
      for (;;) {
        const rows = (await db.selectFrom('audit_events').selectAll().where('seq', '>', lastSeq).orderBy('seq').limit(pageSize).execute()) as AuditRow[];
        for (const r of rows) {
          const seq = Number(r.seq);
          if (r.prev_hash !== prev) return { ok: false, checked, firstBrokenSeq: seq, reason: 'prev_hash does not match the previous row (a row was removed or reordered)' };
          if (auditHash(prev, r) !== r.hash) return { ok: false, checked, firstBrokenSeq: seq, reason: 'content does not match its hash (the row was edited)' };
          prev = r.hash;
          lastSeq = seq;
          checked++;
        }
        if (rows.length < pageSize) break;
      }
      const head = await db.selectFrom('audit_head').selectAll().where('id', '=', 1).executeTakeFirstOrThrow();
      if (head.hash !== prev) {
        return { ok: false, checked, firstBrokenSeq: lastSeq + 1, reason: 'the chain ends before the recorded head (rows were removed from the end)' };
      }
      return { ok: true, checked };
    },
  };
}
