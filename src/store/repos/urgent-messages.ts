/**
 * Urgent call messages waiting for the practice's acknowledgement, and their timelines
 * (0012_urgent_messages, issue 21 point 2). Ids, codes and times only: nothing is sealed.
 * State changes are compare-and-set updates, so two instances sharing a store never run one
 * escalation step twice, and an acknowledgement is counted once.
 */
import type { UrgentMessagesTable } from '../schema.js';
import type { JsonObject } from '../types.js';
import { fromJson, iso, isoOrNull, isUniqueViolation, type RepoContext, toJson } from './context.js';

export const URGENT_STATES = ['waiting', 'acknowledged'] as const;
export type UrgentState = (typeof URGENT_STATES)[number];

/** How the practice acknowledged an urgent message. */
export const ACK_VIAS = ['practice-software', 'hl7-accept-ack', 'api', 'signed-link'] as const;
export type AckVia = (typeof ACK_VIAS)[number];

export interface UrgentMessage {
  readonly communicationId: string;
  readonly practiceId: string;
  readonly priority: string;
  /** When the secretariat took the message (the canonical record's creation). */
  readonly takenAt: string;
  /** When the escalation starts without an acknowledgement. */
  readonly dueAt: string;
  readonly state: UrgentState;
  /** 0: no step ran; 1: the practice's gateway was notified; 2: the secretariat was asked to call back. */
  readonly step: number;
  /** When the next step runs; null when none is left (or acknowledged). */
  readonly nextAt: string | null;
  /** Failed tries of the current step. */
  readonly attempts: number;
  readonly acknowledgedAt: string | null;
  readonly ackVia: AckVia | null;
  readonly ackBy: string | null;
  /** The one-time link's nonce (never shown by the API). */
  readonly linkNonce: string;
  readonly linkUsedAt: string | null;
  /** The version of the practice's consignes in force when the message was taken (null: none). */
  readonly consignesVersion: number | null;
}

export interface UrgentEvent {
  readonly id: number;
  readonly at: string;
  /** tracked | gateway-webhook | secretariat-callback | acknowledged | link-refused */
  readonly kind: string;
  /** ok | failed | skipped | refused */
  readonly outcome: string;
  readonly details: JsonObject;
}

export interface UrgentTrackInput {
  readonly communicationId: string;
  readonly practiceId: string;
  readonly priority: string;
  readonly takenAt: number;
  readonly dueAt: number;
  readonly linkNonce: string;
  readonly consignesVersion?: number | null;
}

export interface UrgentMessagesRepo {
  /** Starts tracking a message; false when it already was (nothing changes then). */
  track(input: UrgentTrackInput): Promise<boolean>;
  get(communicationId: string): Promise<UrgentMessage | undefined>;
  /** A practice's messages taken in [since, until), oldest first. */
  list(filter: {
    readonly practiceId: string;
    readonly since?: number;
    readonly until?: number;
    readonly state?: UrgentState;
    readonly limit?: number;
  }): Promise<UrgentMessage[]>;
  /** Waiting messages whose next step is due at `now`, every practice, soonest first. */
  due(now: number, limit: number): Promise<UrgentMessage[]>;
  /**
   * Moves a waiting message from step `from` to `to` (compare-and-set); false when another
   * instance did first or it was acknowledged meanwhile.
   */
  advance(communicationId: string, from: number, to: number, nextAt: number | null): Promise<boolean>;
  /** A failed try of the current step: counts it and sets when to try again. */
  retryLater(communicationId: string, step: number, nextAt: number | null): Promise<void>;
  /** Marks it acknowledged (compare-and-set on waiting); false when it already was. */
  acknowledge(
    communicationId: string,
    ack: { readonly at: number; readonly via: AckVia; readonly by: string | null },
  ): Promise<boolean>;
  /** Spends the one-time link (compare-and-set on its nonce, unused); false when spent or unknown. */
  spendLink(communicationId: string, nonce: string, at: number): Promise<boolean>;
  addEvent(
    communicationId: string,
    practiceId: string,
    event: { readonly kind: string; readonly outcome: string; readonly details?: JsonObject },
  ): Promise<void>;
  /** The message's timeline, oldest first. */
  events(communicationId: string): Promise<UrgentEvent[]>;
}

const toMessage = (r: UrgentMessagesTable): UrgentMessage => ({
  communicationId: r.communication_id,
  practiceId: r.practice_id,
  priority: r.priority,
  takenAt: iso(Number(r.taken_at)),
  dueAt: iso(Number(r.due_at)),
  state: r.state as UrgentState,
  step: Number(r.step),
  nextAt: isoOrNull(r.next_at === null ? null : Number(r.next_at)),
  attempts: Number(r.attempts),
  acknowledgedAt: isoOrNull(r.acknowledged_at === null ? null : Number(r.acknowledged_at)),
  ackVia: r.ack_via as AckVia | null,
  ackBy: r.ack_by,
  linkNonce: r.link_nonce,
  linkUsedAt: isoOrNull(r.link_used_at === null ? null : Number(r.link_used_at)),
  consignesVersion: r.consignes_version === null ? null : Number(r.consignes_version),
});

export function urgentMessagesRepo(ctx: RepoContext): UrgentMessagesRepo {
  const { db } = ctx;
  return {
    async track(input) {
      const now = ctx.now();
      try {
        await db
          .insertInto('urgent_messages')
          .values({
            communication_id: input.communicationId,
            practice_id: input.practiceId,
            priority: input.priority,
            taken_at: input.takenAt,
            due_at: input.dueAt,
            state: 'waiting',
            step: 0,
            next_at: input.dueAt,
            attempts: 0,
            acknowledged_at: null,
            ack_via: null,
            ack_by: null,
            link_nonce: input.linkNonce,
            link_used_at: null,
            consignes_version: input.consignesVersion ?? null,
            created_at: now,
            updated_at: now,
          })
          .execute();
        return true;
      } catch (e) {
        if (isUniqueViolation(e)) return false;
        throw e;
      }
    },
    async get(communicationId) {
      const r = await db
        .selectFrom('urgent_messages')
        .selectAll()
        .where('communication_id', '=', communicationId)
        .executeTakeFirst();
      return r && toMessage(r);
    },
    async list(f) {
      let q = db.selectFrom('urgent_messages').selectAll().where('practice_id', '=', f.practiceId);
      if (f.since !== undefined) q = q.where('taken_at', '>=', f.since);
      if (f.until !== undefined) q = q.where('taken_at', '<', f.until);
      if (f.state !== undefined) q = q.where('state', '=', f.state);
      const rows = await q
        .orderBy('taken_at')
        .orderBy('communication_id')
        .limit(f.limit ?? 1000)
        .execute();
      return rows.map(toMessage);
    },
    async due(now, limit) {
      const rows = await db
        .selectFrom('urgent_messages')
        .selectAll()
        .where('state', '=', 'waiting')
        .where('next_at', 'is not', null)
        .where('next_at', '<=', now)
        .orderBy('next_at')
        .limit(limit)
        .execute();
      return rows.map(toMessage);
    },
    async advance(communicationId, from, to, nextAt) {
      const res = await db
        .updateTable('urgent_messages')
        .set({ step: to, next_at: nextAt, attempts: 0, updated_at: ctx.now() })
        .where('communication_id', '=', communicationId)
        .where('state', '=', 'waiting')
        .where('step', '=', from)
        .executeTakeFirst();
      return Number(res.numUpdatedRows) > 0;
    },
    async retryLater(communicationId, step, nextAt) {
      await db
        .updateTable('urgent_messages')
        .set((eb) => ({ attempts: eb('attempts', '+', 1), next_at: nextAt, updated_at: ctx.now() }))
        .where('communication_id', '=', communicationId)
        .where('state', '=', 'waiting')
        .where('step', '=', step)
        .execute();
    },
    async acknowledge(communicationId, ack) {
      const res = await db
        .updateTable('urgent_messages')
        .set({
          state: 'acknowledged',
          next_at: null,
          acknowledged_at: ack.at,
          ack_via: ack.via,
          ack_by: ack.by,
          updated_at: ctx.now(),
        })
        .where('communication_id', '=', communicationId)
        .where('state', '=', 'waiting')
        .executeTakeFirst();
      return Number(res.numUpdatedRows) > 0;
    },
    async spendLink(communicationId, nonce, at) {
      const res = await db
        .updateTable('urgent_messages')
        .set({ link_used_at: at, updated_at: ctx.now() })
        .where('communication_id', '=', communicationId)
        .where('link_nonce', '=', nonce)
        .where('link_used_at', 'is', null)
        .executeTakeFirst();
      return Number(res.numUpdatedRows) > 0;
    },
    async addEvent(communicationId, practiceId, event) {
      await db
        .insertInto('urgent_message_events')
        .values({
          communication_id: communicationId,
          practice_id: practiceId,
          at: ctx.now(),
          kind: event.kind,
          outcome: event.outcome,
          details: toJson(event.details ?? {}),
        })
        .execute();
    },
    async events(communicationId) {
      const rows = await db
        .selectFrom('urgent_message_events')
        .selectAll()
        .where('communication_id', '=', communicationId)
        .orderBy('id')
        .execute();
      return rows.map((r) => ({
        id: Number(r.id),
        at: iso(Number(r.at)),
        kind: r.kind,
        outcome: r.outcome,
        details: fromJson<JsonObject>(r.details),
      }));
    },
  };
}
