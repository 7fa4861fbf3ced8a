/**
 * The audit trail, read (docs/security.md): a filtered, paged list, and an export as
 * CSV or as a FHIR R4 Bundle of IHE BALP AuditEvents (security/audit-fhir.ts). An unrestricted
 * key needs the admin role to read the whole trail; a key limited to a practice (integrator or
 * admin) reads only its practice's events. Every read is itself an audited event.
 */
import { z } from 'zod';

import { CSV_CONTENT_TYPE, csvDocument } from '../../reports/csv.js';
import { toFhirAuditBundle } from '../../security/audit-fhir.js';
import type { Store } from '../../store/index.js';
import {
  AUDIT_OUTCOMES,
  type AuditEvent,
  type AuditListFilter,
  type AuditVerifyResult,
} from '../../store/types.js';
import { type AnyRoute, defineRoute, type RouteContext } from '../route.js';

const instant = z
  .string()
  .max(40)
  .refine((s) => /^\d{4}-\d{2}-\d{2}/.test(s) && !Number.isNaN(Date.parse(s)), {
    error: 'not an ISO-8601 date or date-time',
  })
  .describe('ISO-8601 date-time (2026-11-23T08:00:00Z), or a date (midnight UTC)');
const text = z.string().min(1).max(200);
const Filters = z.object({
  actor: text.optional().describe('API key id, `cli`, `system`, `link:<id>`…'),
  action: text.optional().describe('e.g. `sync.apply`, `conflict.read`, `audit.read`'),
  practice: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,64}$/, { error: 'not a practice id' })
    .optional(),
  patient: text.optional().describe('The canonical Patient id'),
  from: instant.optional().describe('Events at or after this instant'),
  to: instant.optional().describe('Events before this instant'),
  after: z.coerce
    .number()
    .int()
    .min(0)
    .optional()
    .describe('Paging: the `next` of the previous page (a sequence number)'),
});
type Filters = z.infer<typeof Filters>;

const AuditEventSchema = z.object({
  seq: z.number().int(),
  at: z.string(),
  actor: z.string(),
  role: z.string().nullable(),
  action: z.string(),
  resourceType: z.string().nullable(),
  resourceId: z.string().nullable(),
  patientId: z.string().nullable(),
  practiceId: z.string().nullable(),
  outcome: z.enum(AUDIT_OUTCOMES),
  requestId: z.string().nullable(),
  via: z.string().nullable(),
  details: z.record(z.string(), z.unknown()),
  prevHash: z.string(),
  hash: z.string(),
});

export interface AuditRoutesDeps {
  readonly store: Store;
  /** This passerelle instance, as BALP's `source.observer`. */
  readonly instance: () => string;
  /**
   * Recomputes the keyed chain and checks it against the signed checkpoints (what `passerelle
   * audit verify` runs: verifyAuditTrail with the service's audit key and checkpoint file).
   * Without it, POST /api/v1/audit/verify is not mounted.
   */
  readonly verify?: () => Promise<AuditVerifyResult>;
}

const VerifyView = z.object({
  ok: z.boolean(),
  checked: z.number().int().describe('Events whose link in the chain verified'),
  firstBadId: z
    .number()
    .int()
    .optional()
    .describe('Sequence number of the first event that does not verify (absent when ok)'),
  reason: z.string().optional().describe('Why it does not verify (no event content)'),
  checkpoints: z.number().int().optional().describe('Signed checkpoints that matched their event'),
});

function toFilter(q: Filters, visible: readonly string[] | null, limit: number): AuditListFilter {
  const practiceIds =
    q.practice === undefined ? visible : visible === null || visible.includes(q.practice) ? [q.practice] : [];
  return {
    ...(q.actor !== undefined && { actor: q.actor }),
    ...(q.action !== undefined && { action: q.action }),
    ...(q.patient !== undefined && { patientId: q.patient }),
    ...(practiceIds !== null && { practiceIds }),
    ...(q.from !== undefined && { fromMs: Date.parse(q.from) }),
    ...(q.to !== undefined && { toMs: Date.parse(q.to) }),
    ...(q.after !== undefined && { afterSeq: q.after }),
    limit,
  };
}

/** What was asked, for the audit event of the read itself (ids and dates only). */
const asked = (q: Filters): Record<string, string | number> =>
  Object.fromEntries(Object.entries(q).filter(([, v]) => v !== undefined)) as Record<string, string | number>;

const CSV_HEADER = [
  'seq',
  'at',
  'actor',
  'role',
  'action',
  'outcome',
  'resourceType',
  'resourceId',
  'patientId',
  'practiceId',
  'via',
  'requestId',
  'details',
  'hash',
] as const;
const csvRow = (e: AuditEvent) => [
  e.seq,
  e.at,
  e.actor,
  e.role,
  e.action,
  e.outcome,
  e.resourceType,
  e.resourceId,
  e.patientId,
  e.practiceId,
  e.via,
  e.requestId,
  JSON.stringify(e.details),
  e.hash,
];

export function auditRoutes(deps: AuditRoutesDeps): AnyRoute[] {
  const { store } = deps;

  /** Reads a page, then records the read: the caller's own read is never in what it gets back. */
  const read = async (
    ctx: RouteContext<unknown, Filters, unknown>,
    action: 'audit.read' | 'audit.export',
    limit: number,
    extra: Record<string, string> = {},
  ) => {
    const visible = ctx.scope.practiceIds;
    const events = await store.audit.list(toFilter(ctx.query, visible, limit));
    await ctx.audit({
      action,
      resourceType: 'AuditTrail',
      outcome: 'success',
      ...(ctx.query.patient !== undefined && { patientId: ctx.query.patient }),
      practiceId: ctx.query.practice ?? (visible?.length === 1 ? (visible[0] as string) : null),
      details: { ...asked(ctx.query), ...extra, returned: events.length },
    });
    const last = events[events.length - 1];
    return { events, next: events.length === limit && last ? last.seq : null };
  };

  const verifyRoutes: AnyRoute[] = [];
  const { verify } = deps;
  if (verify)
    verifyRoutes.push(
      defineRoute({
        method: 'post',
        path: '/api/v1/audit/verify',
        summary:
          'Verify the audit chain: every keyed link, and the signed checkpoints (no event is read out)',
        description:
          'Walks the whole chain, from its genesis or from the signed base left by a retention purge, to its head, and checks every signed checkpoint of the checkpoint file against it, as `passerelle audit verify` does. A range is not offered: a link of a hash chain is only as good as the links before it back to a signed anchor. The check is itself audited (`audit.verify`).',
        tags: ['audit'],
        access: 'admin',
        scope: 'global',
        responses: {
          200: {
            description: 'ok with the number of events checked, or the first event that does not verify',
            schema: VerifyView,
          },
        },
        handler: async (ctx) => {
          const r = await verify();
          await ctx.audit({
            action: 'audit.verify',
            resourceType: 'AuditTrail',
            outcome: r.ok ? 'success' : 'failure',
            details: { checked: r.checked, ...(!r.ok && { firstBadId: r.firstBrokenSeq }) },
          });
          return r.ok
            ? {
                ok: true,
                checked: r.checked,
                ...(r.checkpoints !== undefined && { checkpoints: r.checkpoints }),
              }
            : { ok: false, checked: r.checked, firstBadId: r.firstBrokenSeq, reason: r.reason };
        },
      }),
    );

  return [
    ...verifyRoutes,
    defineRoute({
      method: 'get',
      path: '/api/v1/audit',
      summary: 'Audit events, oldest first, filtered by actor, action, practice, patient and period',
      description:
        'Pages of at most `limit` events; pass the answer’s `next` as `after` for the following page (null: no more). A key limited to a practice sees only that practice’s events; an unrestricted key needs the admin role. The read is itself audited (`audit.read`).',
      tags: ['audit'],
      access: 'integrator',
      scope: { list: { from: 'query', field: 'practice' } },
      everyPracticeAccess: 'admin',
      query: Filters.extend({ limit: z.coerce.number().int().min(1).max(1000).optional() }),
      responses: {
        200: {
          description: 'One page of events',
          schema: z.object({ items: z.array(AuditEventSchema), next: z.number().int().nullable() }),
        },
        403: { description: 'An unrestricted key without the admin role' },
      },
      handler: async (ctx) => {
        const { events, next } = await read(ctx, 'audit.read', ctx.query.limit ?? 100);
        return { items: events, next };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/v1/audit/export',
      summary: 'Audit events as a FHIR R4 Bundle of IHE BALP AuditEvents (JSON) or as CSV',
      description:
        'Same filters as GET /api/v1/audit, up to `limit` events (default and most 10,000). JSON: a `collection` Bundle whose `next` link continues the export; CSV: `;`-separated UTF-8 with a BOM, its `X-Next-After` header continues it. The export is itself audited (`audit.export`).',
      tags: ['audit'],
      access: 'integrator',
      scope: { list: { from: 'query', field: 'practice' } },
      everyPracticeAccess: 'admin',
      query: Filters.extend({
        format: z.enum(['json', 'csv']).optional(),
        limit: z.coerce.number().int().min(1).max(10_000).optional(),
      }),
      responses: {
        200: { description: 'application/fhir+json Bundle of AuditEvent, or text/csv' },
        403: { description: 'An unrestricted key without the admin role' },
      },
      handler: async (ctx) => {
        const format = ctx.query.format ?? 'json';
        const { events, next } = await read(ctx, 'audit.export', ctx.query.limit ?? 10_000, { format });
        const headers: Record<string, string> = { 'Cache-Control': 'no-store' };
        if (format === 'csv') {
          if (next !== null) headers['X-Next-After'] = String(next);
          ctx.res
            .status(200)
            .set({
              ...headers,
              'Content-Type': CSV_CONTENT_TYPE,
              'Content-Disposition': 'attachment; filename="passerelle-audit.csv"',
            })
            .send(Buffer.from(csvDocument([CSV_HEADER, ...events.map(csvRow)]), 'utf8'));
          return;
        }
        let nextUrl: string | undefined;
        if (next !== null) {
          const params = new URLSearchParams(
            Object.entries({ ...asked(ctx.query), after: next }).map(([k, v]): [string, string] => [
              k,
              String(v),
            ]),
          );
          nextUrl = `${deps.instance()}/api/v1/audit/export?${params.toString()}`;
        }
        ctx.res
          .status(200)
          .set({ ...headers, 'Content-Type': 'application/fhir+json; charset=utf-8' })
          .send(JSON.stringify(toFhirAuditBundle(events, deps.instance(), new Date(store.now()), nextUrl)));
      },
    }),
  ];
}
