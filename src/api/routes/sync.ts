/**
 * Supervision of the sync (design rules 7 and 9): conflicts, dead letters, patient-match
 * reviews and link status. Viewers read; integrators resolve, replay and discard. Lists carry
 * ids, paths and reasons; values (patient data) only in a conflict's detail, whose reading is
 * audited (design rule 11).
 */
import { z } from 'zod';

import { CONFLICT_STATUSES, DEAD_LETTER_STATUSES } from '../../store/types.js';
import type { Actor, DeadLetterFilter } from '../../sync/operator.js';
import type { SyncRuntime } from '../../sync/runtime.js';
import { type AnyRoute, type AuthInfo, defineRoute } from '../route.js';

const id = z.string().regex(/^[A-Za-z0-9._:-]{1,100}$/, { error: 'not an id' });
const IdParams = z.object({ id });
const limit = z.coerce.number().int().min(1).max(1000).optional();

const ConflictSummary = z.object({
  id: z.string(),
  practiceId: z.string(),
  kind: z.string(),
  recordId: z.string(),
  paths: z.array(z.string()),
  status: z.enum(CONFLICT_STATUSES),
  reason: z.string().nullable(),
  resolution: z.record(z.string(), z.unknown()).nullable(),
  resolvedBy: z.string().nullable(),
  createdAt: z.string(),
  resolvedAt: z.string().nullable(),
});
const ConflictDetailView = ConflictSummary.extend({
  fields: z.array(
    z.object({
      path: z.string(),
      base: z.unknown(),
      practice: z.unknown(),
      secretariat: z.unknown(),
      current: z.unknown(),
    }),
  ),
});
const ResolveConflictBody = z.union([
  z.strictObject({ side: z.enum(['practice', 'secretariat']) }),
  z.strictObject({ values: z.record(z.string(), z.unknown()) }),
]);

const DeadLetterView = z.object({
  id: z.string(),
  practiceId: z.string().nullable(),
  linkId: z.string().nullable(),
  source: z.enum(['inbox', 'outbox']),
  ref: z.string().nullable(),
  kind: z.string().nullable(),
  recordId: z.string().nullable(),
  reasonCode: z.string(),
  reason: z.string(),
  attempts: z.number(),
  status: z.enum(DEAD_LETTER_STATUSES),
  resolvedBy: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
const ReplayFilter = z.strictObject({
  practiceId: id.optional(),
  linkId: id.optional(),
  source: z.enum(['inbox', 'outbox']).optional(),
  reasonCode: z
    .string()
    .regex(/^ERR_[A-Z0-9_]+$/)
    .optional(),
  limit: z.number().int().min(1).max(1000).optional(),
});
const ReplayOutcome = z.object({ id: z.string(), outcome: z.string(), error: z.string().optional() });

const ReviewView = z.object({
  id: z.string(),
  practiceId: z.string(),
  type: z.string(),
  recordId: z.string().nullable(),
  payload: z.record(z.string(), z.unknown()),
  status: z.enum(CONFLICT_STATUSES),
  resolution: z.record(z.string(), z.unknown()).nullable(),
  resolvedBy: z.string().nullable(),
  createdAt: z.string(),
  resolvedAt: z.string().nullable(),
});
const ResolveReviewBody = z.discriminatedUnion('action', [
  z.strictObject({ action: z.literal('link'), patientId: id }),
  z.strictObject({ action: z.literal('create') }),
]);

const LinkStatusView = z.object({
  linkId: z.string(),
  practiceId: z.string(),
  connector: z.string(),
  role: z.string(),
  state: z.enum(['running', 'failed', 'stopped', 'disabled']),
  errors: z.array(z.object({ path: z.string(), message: z.string() }).passthrough()),
  errorCode: z.string().nullable(),
  startedAt: z.string().nullable(),
  cursors: z.array(
    z.object({
      stream: z.string(),
      cursor: z.string().nullable(),
      lastSuccessAt: z.string().nullable(),
      lastError: z.string().nullable(),
    }),
  ),
  lastSuccessAt: z.string().nullable(),
  lastPushAt: z.string().nullable(),
  pollLagSeconds: z.number().nullable(),
  outboxLagSeconds: z.number(),
  outbox: z.record(z.string(), z.number()),
  deadLetters: z.number(),
  nextPollAt: z.string().nullable(),
  health: z
    .object({
      ok: z.boolean(),
      checks: z.array(z.object({ name: z.string(), ok: z.boolean(), detail: z.string().optional() })),
    })
    .nullable(),
});

function actorOf(auth: AuthInfo | null, requestId: string): Actor {
  return { id: auth?.keyId ?? 'anonymous', role: auth?.role ?? null, requestId, via: 'api' };
}

const summary = (c: { fields: readonly { path: string }[] } & Record<string, unknown>) => {
  const { fields, ...rest } = c;
  return { ...rest, paths: fields.map((f) => f.path) };
};

export function syncRoutes(runtime: SyncRuntime): AnyRoute[] {
  const store = runtime.engine.store;
  const { operator } = runtime;
  return [
    defineRoute({
      method: 'get',
      path: '/api/v1/conflicts',
      summary: 'List conflicts (fields changed differently on both sides)',
      tags: ['sync'],
      access: 'viewer',
      scope: { list: { from: 'query', field: 'practiceId' } },
      query: z.object({
        practiceId: id.optional(),
        status: z.enum(CONFLICT_STATUSES).optional(),
        recordId: id.optional(),
        limit,
      }),
      responses: {
        200: {
          description: 'Conflicts, field paths only',
          schema: z.object({ items: z.array(ConflictSummary) }),
        },
      },
      handler: async ({ query, scope }) => {
        const practiceId = scope.practiceId ?? undefined;
        const items = await store.conflicts.list({
          ...(practiceId !== undefined && { practiceId }),
          ...(query.status !== undefined && { status: query.status }),
          ...(query.recordId !== undefined && { recordId: query.recordId }),
          limit: query.limit ?? 100,
        });
        return { items: items.map((c) => summary(c as unknown as Parameters<typeof summary>[0])) };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/v1/conflicts/:id',
      summary:
        'Show a conflict: per field the merge base, the practice value, the secretariat value and the current one',
      tags: ['sync'],
      access: 'viewer',
      scope: { resource: 'conflict', from: 'params', field: 'id' },
      params: IdParams,
      responses: {
        200: { description: 'The conflict with its values (reading is audited)', schema: ConflictDetailView },
      },
      handler: async ({ params, auth, requestId }) => {
        const detail = await operator.conflictDetail(params.id, actorOf(auth, requestId));
        return {
          ...summary(detail.conflict as unknown as Parameters<typeof summary>[0]),
          fields: detail.fields,
        };
      },
    }),
    defineRoute({
      method: 'post',
      path: '/api/v1/conflicts/:id/resolve',
      summary:
        'Resolve a conflict by side ({"side":"practice"}) or by value ({"values":{"<path>":<value>}}); the result is synced to both sides',
      tags: ['sync'],
      access: 'integrator',
      scope: { resource: 'conflict', from: 'params', field: 'id' },
      params: IdParams,
      body: ResolveConflictBody,
      responses: {
        200: { description: 'Resolved', schema: ConflictSummary },
        409: { description: 'Already resolved' },
      },
      handler: async ({ params, body, auth, requestId }) => {
        const closed = await operator.resolveConflict(params.id, body, actorOf(auth, requestId));
        return summary(closed as unknown as Parameters<typeof summary>[0]);
      },
    }),

    defineRoute({
      method: 'get',
      path: '/api/v1/dead-letters',
      summary: 'List dead letters (changes that could not be applied or delivered) with their reason',
      tags: ['sync'],
      access: 'viewer',
      scope: { list: { from: 'query', field: 'practiceId' } },
      query: z.object({
        practiceId: id.optional(),
        linkId: id.optional(),
        status: z.enum(DEAD_LETTER_STATUSES).optional(),
        source: z.enum(['inbox', 'outbox']).optional(),
        reasonCode: z.string().optional(),
        limit,
      }),
      responses: {
        200: {
          description: 'Dead letters, without their payload',
          schema: z.object({ items: z.array(DeadLetterView) }),
        },
      },
      handler: async ({ query, scope }) => {
        const practiceId = scope.practiceId ?? undefined;
        const items = await store.deadLetters.list({
          ...(practiceId !== undefined && { practiceId }),
          ...(query.linkId !== undefined && { linkId: query.linkId }),
          ...(query.status !== undefined && { status: query.status }),
          ...(query.source !== undefined && { source: query.source }),
          ...(query.reasonCode !== undefined && { reasonCode: query.reasonCode }),
          limit: query.limit ?? 100,
        });
        return { items: items.map(({ payload: _payload, ...rest }) => rest) };
      },
    }),
    defineRoute({
      method: 'post',
      path: '/api/v1/dead-letters/replay',
      summary: 'Replay every open dead letter matching a filter (oldest first, idempotent)',
      tags: ['sync'],
      access: 'integrator',
      scope: { list: { from: 'body', field: 'practiceId' } },
      body: ReplayFilter,
      responses: {
        200: {
          description: 'One outcome per dead letter',
          schema: z.object({ items: z.array(ReplayOutcome) }),
        },
      },
      handler: async ({ body, auth, requestId, scope }) => {
        const practiceId = scope.practiceId ?? undefined;
        const filter = Object.fromEntries(
          Object.entries({ ...body, practiceId }).filter(([, v]) => v !== undefined),
        ) as DeadLetterFilter;
        return operator.replayMany(filter, actorOf(auth, requestId));
      },
    }),
    defineRoute({
      method: 'post',
      path: '/api/v1/dead-letters/:id/replay',
      summary: 'Replay one dead letter with the current state and mapping (idempotent)',
      tags: ['sync'],
      access: 'integrator',
      scope: { resource: 'deadLetter', from: 'params', field: 'id' },
      params: IdParams,
      responses: {
        200: {
          description: 'Replayed',
          schema: z.object({ deadLetter: DeadLetterView, outcome: z.string() }),
        },
        409: { description: 'Discarded, or nothing to replay' },
      },
      handler: async ({ params, auth, requestId }) => {
        const { deadLetter, outcome } = await operator.replayDeadLetter(params.id, actorOf(auth, requestId));
        const { payload: _payload, ...rest } = deadLetter;
        return { deadLetter: rest, outcome };
      },
    }),
    defineRoute({
      method: 'post',
      path: '/api/v1/dead-letters/:id/discard',
      summary: 'Discard one dead letter (audited)',
      tags: ['sync'],
      access: 'integrator',
      scope: { resource: 'deadLetter', from: 'params', field: 'id' },
      params: IdParams,
      responses: {
        200: { description: 'Discarded', schema: DeadLetterView },
        409: { description: 'Not open' },
      },
      handler: async ({ params, auth, requestId }) => {
        const { payload: _payload, ...rest } = await operator.discardDeadLetter(
          params.id,
          actorOf(auth, requestId),
        );
        return rest;
      },
    }),

    defineRoute({
      method: 'get',
      path: '/api/v1/links/:id/status',
      summary:
        'Sync status of a link: state, cursors, last success, lag, outbox depth, dead letters, connector health',
      tags: ['sync', 'links'],
      access: 'viewer',
      scope: { resource: 'link', from: 'params', field: 'id' },
      params: IdParams,
      responses: { 200: { description: 'Status', schema: LinkStatusView } },
      handler: async ({ params }) => {
        await store.links.require(params.id);
        return runtime.status(params.id);
      },
    }),

    defineRoute({
      method: 'get',
      path: '/api/v1/reviews',
      summary: 'List review items (patients that look like known ones, never merged automatically)',
      tags: ['sync'],
      access: 'viewer',
      scope: { list: { from: 'query', field: 'practiceId' } },
      query: z.object({
        practiceId: id.optional(),
        status: z.enum(CONFLICT_STATUSES).optional(),
        type: z.string().optional(),
        limit,
      }),
      responses: { 200: { description: 'Review items', schema: z.object({ items: z.array(ReviewView) }) } },
      handler: async ({ query, scope }) => {
        const practiceId = scope.practiceId ?? undefined;
        return {
          items: await store.reviews.list({
            ...(practiceId !== undefined && { practiceId }),
            ...(query.status !== undefined && { status: query.status }),
            ...(query.type !== undefined && { type: query.type }),
            limit: query.limit ?? 100,
          }),
        };
      },
    }),
    defineRoute({
      method: 'post',
      path: '/api/v1/reviews/:id/resolve',
      summary:
        'Resolve a patient-match review: {"action":"link","patientId":…} merges into that patient, {"action":"create"} keeps a new patient',
      tags: ['sync'],
      access: 'integrator',
      scope: { resource: 'review', from: 'params', field: 'id' },
      params: IdParams,
      body: ResolveReviewBody,
      responses: {
        200: { description: 'Resolved', schema: ReviewView },
        409: { description: 'Already resolved' },
      },
      handler: async ({ params, body, auth, requestId }) => {
        return operator.resolveReview(params.id, body, actorOf(auth, requestId));
      },
    }),
  ];
}
