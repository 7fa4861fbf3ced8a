/**
 * A link's mapping profile, live: read it with its history, replace it (validated first: an
 * invalid profile is refused with every issue and the running one stays active), try a profile
 * on a sample without side effects, roll back to an earlier version. Every change is a new
 * version and an audit event (design rules 9 and 11).
 */
import { z } from 'zod';

import { PasserelleError } from '../../errors.js';
import {
  type ConnectorProfiles,
  DIRECTIONS,
  dryRun,
  type FhirResource,
  formatReportTable,
  getActivePlan,
  loadProfileText,
  type MappingIssue,
  type MappingPlan,
  notifyMappingChange,
  planFromText,
  PROTOCOLS,
  shippedProfileOf,
  shippedProfileText,
} from '../../mapping/index.js';
import type { Store } from '../../store/index.js';
import type { Link } from '../../store/types.js';
import { type AnyRoute, defineRoute, reply, type RouteContext } from '../route.js';

const id = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, { error: 'not an id (1-64 of A-Z a-z 0-9 . _ -)' });
const LinkParams = z.object({ id });
const VersionParams = z.object({ id, version: z.coerce.number().int().positive() });

const VersionView = z.object({
  version: z.number(),
  name: z.string(),
  hash: z.string(),
  createdBy: z.string().nullable(),
  createdAt: z.string(),
  active: z.boolean(),
  comment: z.string().nullable(),
});
const MappingView = z.object({
  linkId: z.string(),
  active: z.object({
    source: z.enum(['custom', 'shipped']),
    name: z.string(),
    protocol: z.string(),
    version: z.number().nullable(),
    hash: z.string(),
    yaml: z.string(),
  }),
  history: z.array(VersionView),
});
const PutJson = z.strictObject({ profile: z.string().min(1), comment: z.string().max(500).optional() });
const DryRunBody = z.strictObject({
  /** A profile to try; the link's active one when omitted. */
  profile: z.string().min(1).optional(),
  /** HL7 message text, FHIR resource (JSON text or object), or canonical resource(s) from-canonical. */
  input: z.union([
    z.string().min(1),
    z.record(z.string(), z.unknown()),
    z.array(z.record(z.string(), z.unknown())).min(1),
  ]),
  /** `base64` for HL7 bytes that are not UTF-8 (Latin-1 messages). */
  inputEncoding: z.enum(['text', 'base64']).optional(),
  direction: z.enum(DIRECTIONS).optional(),
  /** The peer's current FHIR resource, for a from-canonical update. */
  current: z.record(z.string(), z.unknown()).optional(),
});
const RollbackBody = z.strictObject({
  version: z.number().int().positive(),
  comment: z.string().max(500).optional(),
});

function invalid(issues: readonly MappingIssue[]): PasserelleError {
  const errors = issues.filter((i) => i.severity === 'error');
  const first = errors[0];
  return new PasserelleError(
    'ERR_MAPPING_INVALID',
    `invalid mapping profile: ${first ? `${first.location ?? ''} ${first.path}: ${first.message}`.trim() : 'no details'}${errors.length > 1 ? ` (and ${errors.length - 1} more)` : ''}`,
    { issues },
  );
}

function checkProtocol(profiles: ConnectorProfiles, link: Link, plan: MappingPlan): void {
  const expected = profiles.get(link.connector)?.protocol;
  if (!expected)
    throw new PasserelleError(
      'ERR_MAPPING_PROTOCOL_MISMATCH',
      `link ${link.id} uses connector ${link.connector}, which takes no mapping profile`,
    );
  if (plan.protocol !== expected) {
    throw new PasserelleError(
      'ERR_MAPPING_PROTOCOL_MISMATCH',
      `link ${link.id} uses connector ${link.connector}; its profile must be ${expected}, not ${plan.protocol}`,
      {
        issues: [
          {
            path: 'protocol',
            message: `must be ${expected} for a ${link.connector} link`,
            severity: 'error',
            code: 'ERR_MAPPING_PROTOCOL_MISMATCH',
          },
        ],
      },
    );
  }
}

/** A profile text → plan, or ERR_MAPPING_INVALID with every issue located in the text. */
function compileOrRefuse(text: string): { plan: MappingPlan; warnings: readonly MappingIssue[] } {
  const r = loadProfileText(text, { label: 'profile' });
  if (!r.ok) throw invalid(r.issues);
  return { plan: r.plan, warnings: r.warnings };
}

/** The PUT body: YAML text, or JSON `{ profile, comment }`. */
function putBody(
  req: RouteContext<unknown, unknown, Buffer>['req'],
  body: Buffer,
): { text: string; comment: string | undefined } {
  if (body.length === 0)
    throw new PasserelleError(
      'ERR_VALIDATION',
      'body: the profile (YAML text, or JSON { "profile": "…" }) is required',
    );
  const type = (req.get('content-type') ?? '').toLowerCase();
  if (type.includes('json')) {
    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch {
      throw new PasserelleError('ERR_VALIDATION', 'body: not valid JSON');
    }
    const parsed = PutJson.safeParse(json);
    if (!parsed.success) {
      // An unknown field explains a missing one (`profil` for `profile`): name it first.
      const issue = parsed.error.issues.find((i) => i.code === 'unrecognized_keys') ?? parsed.error.issues[0];
      throw new PasserelleError(
        'ERR_VALIDATION',
        `body${issue?.path.length ? `.${issue.path.join('.')}` : ''}: ${issue?.code === 'unrecognized_keys' ? `unknown field ${issue.keys.join(', ')}` : (issue?.message ?? 'invalid')}`,
      );
    }
    return { text: parsed.data.profile, comment: parsed.data.comment };
  }
  return { text: body.toString('utf8'), comment: undefined };
}

const ValidationIssue = z.object({
  line: z.number().int().nullable().describe('1-based line in the text given (null: not located in it)'),
  column: z.number().int().nullable(),
  path: z.string().describe('Path in the profile (`appointment.inbound.start`)'),
  message: z.string(),
  severity: z.enum(['error', 'warning']),
  code: z.string().optional(),
});
const ValidationView = z.object({ ok: z.boolean(), issues: z.array(ValidationIssue) });
type ValidationIssue = z.infer<typeof ValidationIssue>;

/** `profile:12:5` → line 12, column 5 of the text given; an issue in a parent profile is not in it. */
function located(issue: MappingIssue): ValidationIssue {
  const m = /^profile:(\d+):(\d+)$/.exec(issue.location ?? '');
  return {
    line: m ? Number(m[1]) : null,
    column: m ? Number(m[2]) : null,
    path: issue.path,
    message: m || issue.location === undefined ? issue.message : `${issue.location}: ${issue.message}`,
    severity: issue.severity,
    code: issue.code,
  };
}

/**
 * Validation as you type: compiles the text as PUT would (every issue at once, located) and
 * stores nothing. With `protocol`, a profile of another protocol is an error at `protocol`.
 */
export function validateProfileText(text: string, protocol?: string): z.infer<typeof ValidationView> {
  if (text.trim() === '')
    return {
      ok: false,
      issues: [{ line: 1, column: 1, path: '', message: 'the profile is empty', severity: 'error' }],
    };
  const r = loadProfileText(text, { label: 'profile' });
  if (!r.ok) return { ok: false, issues: r.issues.map(located) };
  const issues = r.warnings.map(located);
  if (protocol !== undefined && r.plan.protocol !== protocol)
    issues.unshift({
      line: null,
      column: null,
      path: 'protocol',
      message: `must be ${protocol}, not ${r.plan.protocol}`,
      severity: 'error',
      code: 'ERR_MAPPING_PROTOCOL_MISMATCH',
    });
  return { ok: !issues.some((i) => i.severity === 'error'), issues };
}

export interface MappingRoutesDeps {
  readonly store: Store;
  /** The connectors that take a profile (the registry's profiles()). */
  readonly profiles: ConnectorProfiles;
  /** The plan cache running links read: reloaded before a change is answered, so the next message runs it. */
  readonly plans?: { reload(linkId: string): Promise<unknown> };
}

export function mappingRoutes(deps: MappingRoutesDeps): AnyRoute[] {
  const { store, profiles } = deps;
  // Committed already: a failed reload is retried by the cache's own refresh, not answered as an error.
  const reloadPlan = (linkId: string) => deps.plans?.reload(linkId).catch(() => undefined);
  const linkFor = (linkId: string) => store.links.require(linkId);
  return [
    defineRoute({
      method: 'post',
      path: '/api/v1/mapping/validate',
      summary:
        'Validate a mapping profile (YAML text as the body) without storing anything: every issue with its line and column',
      description:
        'For validation as you type in the console. The body is the profile text (any content type; JSON `{ "profile": "…" }` too). `protocol` (fhir-r4, hl7v2) makes a profile of another protocol an error. Always 200: `ok` false lists the errors, warnings come with `ok` true. Nothing is stored or audited: the text is not tied to a practice.',
      tags: ['mapping'],
      access: 'integrator',
      // Touches no practice's data: a key limited to a practice may use it as well.
      scope: 'list',
      query: z.object({ protocol: z.enum(PROTOCOLS).optional() }),
      bodyType: 'raw',
      bodyLimit: '1mb',
      responses: { 200: { description: 'The issues, located in the text given', schema: ValidationView } },
      handler: async ({ body, req, query }) => {
        const { text } = putBody(req, body as Buffer);
        return validateProfileText(text, query.protocol);
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/v1/links/:id/mapping',
      summary: 'The mapping profile a link runs, with the history of its versions',
      tags: ['mapping'],
      access: 'viewer',
      scope: { resource: 'link', from: 'params', field: 'id' },
      params: LinkParams,
      responses: { 200: { description: 'Active profile and history (newest first)', schema: MappingView } },
      handler: async ({ params }) => {
        const link = await linkFor(params.id);
        const active = await getActivePlan(store, params.id, profiles);
        const history = await store.mappingProfiles.list(params.id);
        const custom = history.find((v) => v.active);
        return {
          linkId: params.id,
          active: {
            source: active.source,
            name: active.plan.name,
            protocol: active.plan.protocol,
            version: active.version,
            hash: active.hash,
            yaml: custom?.yaml ?? shippedProfileText(shippedProfileOf(link, profiles)),
          },
          history: history.map(({ yaml: _yaml, linkId: _l, ...v }) => v),
        };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/v1/links/:id/mapping/versions/:version',
      summary: "One stored version of a link's mapping profile, with its YAML",
      tags: ['mapping'],
      access: 'viewer',
      scope: { resource: 'link', from: 'params', field: 'id' },
      params: VersionParams,
      responses: { 200: { description: 'The version', schema: VersionView.extend({ yaml: z.string() }) } },
      handler: async ({ params }) => {
        await linkFor(params.id);
        const v = await store.mappingProfiles.get(params.id, params.version);
        if (!v)
          throw new PasserelleError(
            'ERR_NOT_FOUND',
            `link ${params.id} has no mapping profile version ${params.version}`,
          );
        const { linkId: _l, ...view } = v;
        return view;
      },
    }),
    defineRoute({
      method: 'put',
      path: '/api/v1/links/:id/mapping',
      summary:
        "Replace a link's mapping profile (YAML body, or JSON { profile, comment }); invalid → 422 with every issue, the running profile unchanged",
      tags: ['mapping'],
      access: 'integrator',
      scope: { resource: 'link', from: 'params', field: 'id' },
      params: LinkParams,
      bodyType: 'raw',
      bodyLimit: '1mb',
      responses: {
        200: { description: 'The profile is the active one (a new version, or unchanged when identical)' },
        422: {
          description:
            'ERR_MAPPING_INVALID with details.issues (file:line:column, path, message), or ERR_MAPPING_PROTOCOL_MISMATCH',
        },
      },
      handler: async ({ params, body, req, auth, requestId, audit }) => {
        const link = await linkFor(params.id);
        const { text, comment } = putBody(req, body as Buffer);
        let compiled;
        try {
          compiled = compileOrRefuse(text);
          checkProtocol(profiles, link, compiled.plan);
        } catch (e) {
          const errors =
            e instanceof PasserelleError ? e.issues.filter((i) => i.severity !== 'warning').length : 0;
          await audit({
            action: 'mapping.put',
            resourceType: 'Link',
            resourceId: link.id,
            outcome: 'failure',
            details: { code: e instanceof PasserelleError ? e.code : 'ERR_INTERNAL', errors },
          });
          throw e;
        }
        const { plan, warnings } = compiled;
        const current = await store.mappingProfiles.active(link.id);
        if (current?.hash === plan.hash) {
          await audit({
            action: 'mapping.put',
            resourceType: 'Link',
            resourceId: link.id,
            outcome: 'success',
            details: { version: current.version, hash: plan.hash, unchanged: true },
          });
          return {
            linkId: link.id,
            version: current.version,
            name: plan.name,
            hash: plan.hash,
            unchanged: true,
            warnings,
          };
        }
        const v = await store.transaction(async (tx) => {
          const added = await tx.mappingProfiles.add({
            linkId: link.id,
            name: plan.name,
            yaml: text,
            hash: plan.hash,
            createdBy: auth?.keyId ?? null,
            comment: comment ?? null,
          });
          await tx.audit.append({
            actor: auth?.keyId ?? 'anonymous',
            role: auth?.role ?? null,
            action: 'mapping.put',
            resourceType: 'Link',
            resourceId: link.id,
            outcome: 'success',
            requestId,
            via: 'api',
            details: {
              version: added.version,
              hash: plan.hash,
              name: plan.name,
              previous: current?.version ?? null,
            },
          });
          return added;
        });
        planFromText(text, `link ${link.id} v${v.version}`);
        notifyMappingChange({ linkId: link.id, version: v.version, hash: plan.hash });
        await reloadPlan(link.id);
        return {
          linkId: link.id,
          version: v.version,
          name: plan.name,
          hash: plan.hash,
          unchanged: false,
          warnings,
        };
      },
    }),
    defineRoute({
      method: 'post',
      path: '/api/v1/links/:id/mapping/dry-run',
      summary:
        "Map a sample with the link's profile (or the one given) without side effects: canonical result, rendering, field table",
      tags: ['mapping'],
      access: 'integrator',
      scope: { resource: 'link', from: 'params', field: 'id' },
      params: LinkParams,
      body: DryRunBody,
      bodyLimit: '2mb',
      responses: {
        200: { description: 'The result (ok false when a rule or record failed)' },
        422: { description: 'ERR_MAPPING_INVALID for an invalid profile' },
      },
      handler: async ({ params, body, audit }) => {
        const link = await linkFor(params.id);
        const active = await getActivePlan(store, link.id, profiles);
        let plan = active.plan;
        if (body.profile !== undefined) {
          plan = compileOrRefuse(body.profile).plan;
          checkProtocol(profiles, link, plan);
        }
        const input =
          typeof body.input === 'string'
            ? body.inputEncoding === 'base64'
              ? Buffer.from(body.input, 'base64')
              : body.input
            : body.input;
        const r = dryRun(plan, input, {
          ...(body.direction && { direction: body.direction }),
          ctx: active.context,
          ...(body.current && { current: body.current as FhirResource }),
        });
        await audit({
          action: 'mapping.dry-run',
          resourceType: 'Link',
          resourceId: link.id,
          outcome: r.ok ? 'success' : 'failure',
          details: { direction: r.direction, messageType: r.messageType ?? null, profileHash: plan.hash },
        });
        return {
          ...r,
          profile: {
            name: plan.name,
            parents: plan.parents,
            hash: plan.hash,
            source: body.profile !== undefined ? 'request' : active.source,
          },
          table: formatReportTable(r.report),
        };
      },
    }),
    defineRoute({
      method: 'post',
      path: '/api/v1/links/:id/mapping/rollback',
      summary: 'Make an earlier version the running profile again (recorded as a new version)',
      tags: ['mapping'],
      access: 'integrator',
      scope: { resource: 'link', from: 'params', field: 'id' },
      params: LinkParams,
      body: RollbackBody,
      responses: { 200: { description: 'The new active version' }, 404: { description: 'No such version' } },
      handler: async ({ params, body, auth, requestId }) => {
        const link = await linkFor(params.id);
        const target = await store.mappingProfiles.get(link.id, body.version);
        if (!target)
          throw new PasserelleError(
            'ERR_NOT_FOUND',
            `link ${link.id} has no mapping profile version ${body.version}`,
          );
        const { plan } = compileOrRefuse(target.yaml);
        checkProtocol(profiles, link, plan);
        const v = await store.transaction(async (tx) => {
          const previous = await tx.mappingProfiles.active(link.id);
          const added = await tx.mappingProfiles.add({
            linkId: link.id,
            name: target.name,
            yaml: target.yaml,
            hash: target.hash,
            createdBy: auth?.keyId ?? null,
            comment: body.comment ?? `rollback to version ${target.version}`,
          });
          await tx.audit.append({
            actor: auth?.keyId ?? 'anonymous',
            role: auth?.role ?? null,
            action: 'mapping.rollback',
            resourceType: 'Link',
            resourceId: link.id,
            outcome: 'success',
            requestId,
            via: 'api',
            details: {
              version: added.version,
              restored: target.version,
              hash: target.hash,
              previous: previous?.version ?? null,
            },
          });
          return added;
        });
        notifyMappingChange({ linkId: link.id, version: v.version, hash: v.hash });
        await reloadPlan(link.id);
        return reply(200, {
          linkId: link.id,
          version: v.version,
          restored: target.version,
          name: v.name,
          hash: v.hash,
        });
      },
    }),
  ];
}
