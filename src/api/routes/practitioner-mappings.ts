/**
 * Practitioner mappings per link (issue 18 point 1): the practice software's id of a
 * practitioner → a canonical practitioner, and their review queue (the ids a link named that
 * nobody has mapped yet, with the appointments held for them). Integrators read and decide;
 * each decision is audited by the operator (sync/operator.ts). Practitioner ids and names are
 * professional directory data: no patient data here.
 */
import { z } from 'zod';

import { OID } from '../../model/identifiers.js';
import type { Practitioner } from '../../model/resources.js';
import { PRACTITIONER_MAPPING_RESOLUTIONS, PRACTITIONER_MAPPING_STATUSES } from '../../store/index.js';
import type { Actor, PractitionerMappingDecision } from '../../sync/operator.js';
import type { SyncRuntime } from '../../sync/runtime.js';
import { type AnyRoute, type AuthInfo, defineRoute } from '../route.js';

const id = z.string().regex(/^[A-Za-z0-9._:-]{1,100}$/, { error: 'not an id' });
/** A practice software's own id: printable, as HL7 XCN.1 or a FHIR logical id carries it. */
const localId = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[\p{L}\p{N} ._:/@#+-]+$/u, { error: 'not a practitioner id' });
const rpps = z.string().regex(/^\d{11}$/, { error: 'not an RPPS number (11 digits)' });
const limit = z.coerce.number().int().min(1).max(1000).optional();

const MappingView = z.object({
  practiceId: z.string(),
  linkId: z.string(),
  localId: z.string(),
  status: z.enum(PRACTITIONER_MAPPING_STATUSES),
  practitionerId: z.string().nullable(),
  proposal: z.record(z.string(), z.unknown()).nullable(),
  resolution: z.enum(PRACTITIONER_MAPPING_RESOLUTIONS).nullable(),
  resolvedBy: z.string().nullable(),
  held: z.number(),
  createdAt: z.string(),
  updatedAt: z.string(),
  resolvedAt: z.string().nullable(),
});
const ResolvedView = MappingView.extend({ released: z.array(z.string()) });

const ResolveBody = z.union([
  z.strictObject({ practitionerId: id }),
  z.strictObject({ rpps }),
  z.strictObject({
    create: z.literal(true),
    family: z.string().trim().min(1).max(100).optional(),
    given: z.string().trim().min(1).max(100).optional(),
    rpps: rpps.optional(),
  }),
]);

const PractitionerView = z.object({
  id: z.string(),
  practiceId: z.string(),
  /** « Dr Martin Claire »: prefix, family, given names of the first name given. */
  displayName: z.string(),
  family: z.string().nullable(),
  given: z.array(z.string()),
  prefix: z.array(z.string()),
  /** The RPPS number (11 digits) from the national identifier, when the practitioner has one. */
  rpps: z.string().nullable(),
});

/** Directory data only: names and the RPPS, nothing else the canonical record holds. */
function practitionerView(id: string, practiceId: string, p: Practitioner): z.infer<typeof PractitionerView> {
  const name = p.name?.find((n) => n.use === 'official' || n.use === 'usual') ?? p.name?.[0];
  const family = name?.family ?? null;
  const given = name?.given ?? [];
  const prefix = name?.prefix ?? [];
  const idnps = (p.identifier ?? []).find((i) => i.system === OID.idnps && i.value?.startsWith('8'));
  const displayName =
    [...prefix, family ?? '', ...given].filter((x) => x !== '').join(' ') || name?.text || id;
  return { id, practiceId, displayName, family, given, prefix, rpps: idnps?.value?.slice(1) ?? null };
}

function actorOf(auth: AuthInfo | null, requestId: string): Actor {
  return { id: auth?.keyId ?? 'anonymous', role: auth?.role ?? null, requestId, via: 'api' };
}

export function practitionerMappingRoutes(runtime: SyncRuntime): AnyRoute[] {
  const store = runtime.engine.store;
  const { operator } = runtime;
  return [
    defineRoute({
      method: 'get',
      path: '/api/v1/practitioners',
      summary:
        "List a practice's canonical practitioners (id, name, RPPS) to pick one by name; without practiceId, every practice the key may see",
      tags: ['sync'],
      access: 'viewer',
      scope: { list: { from: 'query', field: 'practiceId' } },
      query: z.object({ practiceId: id.optional() }),
      responses: {
        200: {
          description: 'Practitioners, by name',
          schema: z.object({ items: z.array(PractitionerView) }),
        },
      },
      handler: async ({ scope }) => {
        const practiceIds =
          scope.practiceId !== null
            ? [scope.practiceId]
            : (scope.practiceIds ?? (await store.practices.list()).map((p) => p.id));
        const items: z.infer<typeof PractitionerView>[] = [];
        for (const practiceId of practiceIds) {
          for (const r of await store.resources.list({ practiceId, kind: 'Practitioner' }))
            items.push(practitionerView(r.id, practiceId, r.data as unknown as Practitioner));
        }
        items.sort((a, b) => a.displayName.localeCompare(b.displayName, 'fr') || a.id.localeCompare(b.id));
        return { items };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/v1/practitioner-mappings',
      summary:
        'List practitioner mappings of every link of a practice; status=open is the review queue (ids no one has mapped yet, with the appointments they hold)',
      tags: ['sync'],
      access: 'integrator',
      scope: { list: { from: 'query', field: 'practiceId' } },
      query: z.object({
        practiceId: id.optional(),
        linkId: id.optional(),
        status: z.enum(PRACTITIONER_MAPPING_STATUSES).optional(),
        limit,
      }),
      responses: {
        200: { description: 'Practitioner mappings', schema: z.object({ items: z.array(MappingView) }) },
      },
      handler: async ({ query, scope }) => {
        const practiceId = scope.practiceId ?? undefined;
        const items = await store.practitionerMappings.list({
          ...(practiceId !== undefined && { practiceId }),
          ...(query.linkId !== undefined && { linkId: query.linkId }),
          ...(query.status !== undefined && { status: query.status }),
          limit: query.limit ?? 100,
        });
        return { items };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/v1/links/:id/practitioner-mappings',
      summary: "List a link's practitioner mappings; status=open is its review queue",
      tags: ['sync', 'links'],
      access: 'integrator',
      scope: { resource: 'link', from: 'params', field: 'id' },
      params: z.object({ id }),
      query: z.object({ status: z.enum(PRACTITIONER_MAPPING_STATUSES).optional(), limit }),
      responses: {
        200: { description: 'Practitioner mappings', schema: z.object({ items: z.array(MappingView) }) },
      },
      handler: async ({ params, query }) => {
        await store.links.require(params.id);
        const items = await store.practitionerMappings.list({
          linkId: params.id,
          ...(query.status !== undefined && { status: query.status }),
          limit: query.limit ?? 100,
        });
        return { items };
      },
    }),
    defineRoute({
      method: 'post',
      path: '/api/v1/links/:id/practitioner-mappings/:localId/resolve',
      summary:
        'Decide a practitioner mapping review: {"practitionerId":…} or {"rpps":"…"} maps the id to that practitioner of the practice, {"create":true[,"family","given","rpps"]} makes a new one (from what the link said of it); the held appointments get the practitioner and go to the other side, later messages map without review',
      tags: ['sync', 'links'],
      access: 'integrator',
      scope: { resource: 'link', from: 'params', field: 'id' },
      params: z.object({ id, localId }),
      body: ResolveBody,
      responses: {
        200: { description: 'Mapped', schema: ResolvedView },
        404: { description: 'No such link or mapping' },
        409: { description: 'Already decided' },
      },
      handler: async ({ params, body, auth, requestId }) => {
        return operator.resolvePractitionerMapping(
          params.id,
          params.localId,
          body as PractitionerMappingDecision,
          actorOf(auth, requestId),
        );
      },
    }),
  ];
}
