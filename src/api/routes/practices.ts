import cron from 'node-cron';
import { z } from 'zod';

import { maskConfig, secretConfigPaths, unmaskConfig } from '../../connector/config-schema.js';
import type { ConnectorRegistry } from '../../connector/registry.js';
import { PasserelleError } from '../../errors.js';
import { shippedPlan, shippedProfileNames } from '../../mapping/runtime.js';
import { validateCallThresholdSettings } from '../../reports/call-kpis.js';
import { digestWebhookView, sealDigestWebhook } from '../../reports/webhook.js';
import { endpointChanges } from '../../security/endpoint.js';
import { outboundUrlIssues } from '../../security/outbound-urls.js';
import type { SecretBox } from '../../security/secrets.js';
import type { Store } from '../../store/index.js';
import { newId } from '../../store/repos/context.js';
import { type JsonObject, type Link, LINK_ROLES, type Practice } from '../../store/types.js';
import { checkReminderSettings } from '../../sync/reminder-settings.js';
import { sealUrgentSettings, urgentSettingsView } from '../../sync/urgent-settings.js';
import { didYouMean } from '../../util/suggest.js';
import { type AnyRoute, defineRoute, ifMatchVersion, reply } from '../route.js';

const ianaZone = z.string().refine(
  (tz) => {
    try {
      new Intl.DateTimeFormat('en', { timeZone: tz });
      return true;
    } catch {
      return false;
    }
  },
  { error: 'not an IANA time zone (e.g. Europe/Paris)' },
);
const id = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, { error: 'not an id (1-64 of A-Z a-z 0-9 . _ -)' });
const IdParams = z.object({ id });

export const PracticeBody = z.strictObject({
  id: id.optional(),
  name: z.string().min(1).max(200),
  timezone: ianaZone.optional(),
  settings: z.record(z.string(), z.unknown()).optional(),
});
const PracticePatch = PracticeBody.omit({ id: true }).partial();
export const PracticeView = z.object({
  id: z.string(),
  name: z.string(),
  timezone: z.string(),
  settings: z.record(z.string(), z.unknown()),
  version: z.number(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

export const LinkBody = z.strictObject({
  id: id.optional(),
  practiceId: id,
  role: z.enum(LINK_ROLES),
  connector: z.string().min(1),
  name: z.string().min(1).max(200),
  profile: z.string().min(1).nullable().optional(),
  config: z.record(z.string(), z.unknown()).optional(),
  /** Credentials; encrypted at rest and never returned. */
  secrets: z.record(z.string(), z.unknown()).nullable().optional(),
  schedule: z
    .string()
    .refine((s) => cron.validate(s), { error: 'not a valid cron expression' })
    .nullable()
    .optional(),
  isTest: z.boolean().optional(),
  enabled: z.boolean().optional(),
});
const LinkPatch = LinkBody.omit({ id: true, practiceId: true }).partial();
export const LinkView = z.object({
  id: z.string(),
  practiceId: z.string(),
  role: z.enum(LINK_ROLES),
  connector: z.string(),
  name: z.string(),
  profile: z.string().nullable(),
  config: z.record(z.string(), z.unknown()),
  hasSecrets: z.boolean(),
  schedule: z.string().nullable(),
  isTest: z.boolean(),
  enabled: z.boolean(),
  version: z.number(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

/** The digest webhook's sealed secret is shown as `hasSecret` only. */
export function practiceView(p: Practice): Practice {
  return { ...p, settings: urgentSettingsView(digestWebhookView(p.settings)) };
}

/** The config with its secret fields (writeOnly in the connector's schema) masked. */
function shownConfig(l: Link, registry?: ConnectorRegistry): JsonObject {
  const definition = registry?.get(l.connector);
  return definition ? maskConfig(l.config, secretConfigPaths(definition)) : l.config;
}

/** What the audit keeps of a link's state: its settings, never its secrets (only whether it has some). */
function auditedLink(l: Link, registry?: ConnectorRegistry): JsonObject {
  return {
    name: l.name,
    connector: l.connector,
    profile: l.profile,
    config: shownConfig(l, registry),
    schedule: l.schedule,
    isTest: l.isTest,
    enabled: l.enabled,
    hasSecrets: l.secrets !== null,
  };
}

/**
 * Never hand out the (encrypted) credentials, nor a secret written in the config (an inline TLS
 * private key): with the registry, those show as MASKED.
 */
export function linkView(l: Link, registry?: ConnectorRegistry): z.infer<typeof LinkView> {
  const { secrets, ...rest } = l;
  return { ...rest, config: shownConfig(l, registry), hasSecrets: secrets !== null };
}

const etag = (version: number) => ({ ETag: `"${version}"` });

export interface PracticeRoutesDeps {
  readonly store: Store;
  readonly secrets: SecretBox;
  /** The connectors links may use (one folder under connectors/ each, and a test's own). */
  readonly registry: ConnectorRegistry;
}

export function practiceRoutes(deps: PracticeRoutesDeps): AnyRoute[] {
  const { store, registry } = deps;
  const visible = (p: Practice, practiceIds: readonly string[] | null) =>
    practiceIds === null || practiceIds.includes(p.id);
  /**
   * A link's connector, config and profile through the registry, before anything is stored:
   * ERR_CONNECTOR_CONFIG_INVALID (422) naming each bad field (`body.config.<path>`,
   * `body.profile`), so a link that could never start is refused up front.
   */
  const checkLink = (link: {
    readonly connector: string;
    readonly config: unknown;
    readonly profile: string | null;
    readonly isTest: boolean;
  }) => {
    const definition = registry.get(link.connector);
    if (!definition) {
      const known = registry.names().join(', ');
      throw new PasserelleError(
        'ERR_CONNECTOR_CONFIG_INVALID',
        `body.connector: unknown connector ${link.connector}; known: ${known}`,
        {
          issues: [{ path: 'body.connector', message: `must be one of ${known}` }],
        },
      );
    }
    const issues: { path: string; message: string }[] = [];
    const parsed = definition.configSchema.safeParse(link.config);
    if (!parsed.success)
      issues.push(
        ...parsed.error.issues.map((i) => ({
          path: ['body', 'config', ...i.path.map(String)].join('.'),
          message: i.message,
        })),
      );
    // The https rule of outbound URLs, here as at link start: a link that could never start is
    // refused before it is stored (plain http only on a test link or to loopback).
    else
      issues.push(
        ...outboundUrlIssues(definition.outboundUrls?.(parsed.data) ?? [], link).map((i) => ({
          path: `body.${i.path}`,
          message: i.message,
        })),
      );
    if (link.profile !== null) {
      const takes = registry.profiles().get(link.connector);
      const shipped = shippedProfileNames();
      if (!takes)
        issues.push({
          path: 'body.profile',
          message: `connector ${link.connector} takes no mapping profile`,
        });
      else if (!shipped.includes(link.profile))
        issues.push({
          path: 'body.profile',
          message: `no shipped mapping profile ${link.profile}${didYouMean(link.profile, shipped)}`,
        });
      else {
        const protocol = shippedPlan(link.profile).protocol;
        if (protocol !== takes.protocol)
          issues.push({
            path: 'body.profile',
            message: `profile ${link.profile} is ${protocol}; a ${link.connector} link needs a ${takes.protocol} profile`,
          });
      }
    }
    const first = issues[0];
    if (first)
      throw new PasserelleError(
        'ERR_CONNECTOR_CONFIG_INVALID',
        `${first.path}: ${first.message}${issues.length > 1 ? ` (and ${issues.length - 1} more)` : ''}`,
        { issues },
      );
  };
  return [
    defineRoute({
      method: 'get',
      path: '/api/v1/practices',
      summary: 'List practices',
      tags: ['practices'],
      access: 'viewer',
      scope: 'list',
      responses: { 200: { description: 'Practices', schema: z.object({ items: z.array(PracticeView) }) } },
      handler: async ({ scope }) => ({
        items: (await store.practices.list()).filter((p) => visible(p, scope.practiceIds)).map(practiceView),
      }),
    }),
    defineRoute({
      method: 'post',
      path: '/api/v1/practices',
      summary: 'Create a practice',
      tags: ['practices'],
      access: 'admin',
      scope: 'global',
      body: PracticeBody,
      responses: { 201: { description: 'Created', schema: PracticeView } },
      handler: async ({ body, requestId, auth }) => {
        // The id is chosen here: it binds the sealed webhook secret to this practice.
        const practiceId = body.id ?? newId();
        const settings =
          body.settings &&
          sealUrgentSettings(
            sealDigestWebhook(
              checkReminderSettings(validateCallThresholdSettings(body.settings as JsonObject)),
              null,
              deps.secrets,
              practiceId,
            ),
            null,
            deps.secrets,
            practiceId,
          );
        const p = await store.transaction(async (tx) => {
          const created = await tx.practices.create({
            name: body.name,
            id: practiceId,
            ...(body.timezone !== undefined && { timezone: body.timezone }),
            ...(settings !== undefined && { settings }),
          });
          await tx.audit.append({
            actor: auth?.keyId ?? 'anonymous',
            role: auth?.role ?? null,
            action: 'practice.create',
            resourceType: 'Practice',
            resourceId: created.id,
            outcome: 'success',
            requestId,
            via: 'api',
          });
          return created;
        });
        return reply(201, practiceView(p), { ...etag(p.version), Location: `/api/v1/practices/${p.id}` });
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/v1/practices/:id',
      summary: 'Show a practice',
      tags: ['practices'],
      access: 'viewer',
      scope: { practice: { from: 'params', field: 'id' } },
      params: IdParams,
      responses: { 200: { description: 'The practice', schema: PracticeView } },
      handler: async ({ params }) => {
        const p = await store.practices.require(params.id);
        return reply(200, practiceView(p), etag(p.version));
      },
    }),
    defineRoute({
      method: 'patch',
      path: '/api/v1/practices/:id',
      summary: 'Change a practice (If-Match: its version, to avoid overwriting a concurrent change)',
      tags: ['practices'],
      access: 'admin',
      scope: { practice: { from: 'params', field: 'id' } },
      params: IdParams,
      body: PracticePatch,
      responses: {
        200: { description: 'Updated', schema: PracticeView },
        409: { description: 'Version mismatch' },
      },
      handler: async ({ params, body, req, audit }) => {
        const expected = ifMatchVersion(req.get('if-match'));
        const previous = body.settings && (await store.practices.require(params.id)).settings;
        const settings =
          body.settings &&
          sealUrgentSettings(
            sealDigestWebhook(
              checkReminderSettings(validateCallThresholdSettings(body.settings as JsonObject)),
              previous ?? null,
              deps.secrets,
              params.id,
            ),
            previous ?? null,
            deps.secrets,
            params.id,
          );
        const p = await store.practices.update(
          params.id,
          {
            ...(body.name !== undefined && { name: body.name }),
            ...(body.timezone !== undefined && { timezone: body.timezone }),
            ...(settings !== undefined && { settings }),
          },
          expected,
        );
        await audit({
          action: 'practice.update',
          resourceType: 'Practice',
          resourceId: p.id,
          outcome: 'success',
          details: { fields: Object.keys(body) },
        });
        return reply(200, practiceView(p), etag(p.version));
      },
    }),
    defineRoute({
      method: 'delete',
      path: '/api/v1/practices/:id',
      summary: 'Delete a practice without links',
      tags: ['practices'],
      access: 'admin',
      scope: { practice: { from: 'params', field: 'id' } },
      params: IdParams,
      responses: { 204: { description: 'Deleted' }, 409: { description: 'The practice still has links' } },
      handler: async ({ params, audit }) => {
        await store.practices.delete(params.id);
        await audit({
          action: 'practice.delete',
          resourceType: 'Practice',
          resourceId: params.id,
          outcome: 'success',
        });
        return reply(204);
      },
    }),

    defineRoute({
      method: 'get',
      path: '/api/v1/links',
      summary: 'List links (connections of a practice to its software or to the secretariat)',
      tags: ['links'],
      access: 'viewer',
      scope: { list: { from: 'query', field: 'practiceId' } },
      query: z.object({ practiceId: id.optional() }),
      responses: { 200: { description: 'Links', schema: z.object({ items: z.array(LinkView) }) } },
      handler: async ({ scope }) => {
        const practiceId = scope.practiceId;
        return {
          items: (await store.links.list(practiceId ? { practiceId } : {})).map((l) => linkView(l, registry)),
        };
      },
    }),
    defineRoute({
      method: 'post',
      path: '/api/v1/links',
      summary: 'Create a link',
      tags: ['links'],
      access: 'integrator',
      scope: { practice: { from: 'body', field: 'practiceId' } },
      body: LinkBody,
      responses: {
        201: { description: 'Created', schema: LinkView },
        422: {
          description:
            'ERR_CONNECTOR_CONFIG_INVALID: unknown connector, config failing its schema, a plain-http URL on a link that is not a test link (loopback excepted), or unknown or incompatible mapping profile; details.issues name each field (body.config.<path>, body.profile); nothing stored',
        },
      },
      handler: async ({ body, audit }) => {
        checkLink({
          connector: body.connector,
          config: body.config ?? {},
          profile: body.profile ?? null,
          isTest: body.isTest ?? false,
        });
        const linkId = body.id ?? crypto.randomUUID();
        const l = await store.links.create({
          id: linkId,
          practiceId: body.practiceId,
          role: body.role,
          connector: body.connector,
          name: body.name,
          profile: body.profile ?? null,
          config: body.config ?? {},
          secrets: body.secrets ? deps.secrets.sealJson(body.secrets, linkId) : null,
          schedule: body.schedule ?? null,
          isTest: body.isTest ?? false,
          enabled: body.enabled ?? true,
        });
        await audit({
          action: 'link.create',
          resourceType: 'Link',
          resourceId: l.id,
          outcome: 'success',
          details: { connector: l.connector, practiceId: l.practiceId },
        });
        return reply(201, linkView(l, registry), { ...etag(l.version), Location: `/api/v1/links/${l.id}` });
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/v1/links/:id',
      summary: 'Show a link (credentials are never returned)',
      tags: ['links'],
      access: 'viewer',
      scope: { resource: 'link', from: 'params', field: 'id' },
      params: IdParams,
      responses: { 200: { description: 'The link', schema: LinkView } },
      handler: async ({ params }) => {
        const l = await store.links.require(params.id);
        return reply(200, linkView(l, registry), etag(l.version));
      },
    }),
    defineRoute({
      method: 'patch',
      path: '/api/v1/links/:id',
      summary: 'Change a link (If-Match: its version)',
      tags: ['links'],
      access: 'integrator',
      scope: { resource: 'link', from: 'params', field: 'id' },
      params: IdParams,
      body: LinkPatch,
      responses: {
        200: { description: 'Updated', schema: LinkView },
        409: { description: 'Version mismatch' },
        422: {
          description:
            "ERR_CONNECTOR_CONFIG_INVALID: the changed link's connector, config or profile is refused (as for POST); nothing stored",
        },
      },
      handler: async ({ params, body, req, audit }) => {
        const before = await store.links.require(params.id);
        // A form sent back with a secret still MASKED keeps the stored value (config-schema.ts).
        const definition = registry.get(body.connector ?? before.connector);
        const config =
          body.config !== undefined && definition
            ? unmaskConfig(body.config, before.config, secretConfigPaths(definition))
            : body.config;
        const { secrets, ...rest } = { ...body, ...(config !== undefined && { config }) };
        const patch = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined));
        // What the link would become; a change of anything else leaves a stored link as it is.
        if (
          body.connector !== undefined ||
          body.config !== undefined ||
          body.profile !== undefined ||
          body.isTest !== undefined
        ) {
          checkLink({
            connector: body.connector ?? before.connector,
            config: config ?? before.config,
            profile: body.profile !== undefined ? body.profile : before.profile,
            isTest: body.isTest ?? before.isTest,
          });
        }
        // Secrets follow their endpoint: a new URL, host or port without the secrets again drops them.
        const moved = config === undefined ? [] : endpointChanges(before.config, config);
        const dropSecrets = moved.length > 0 && secrets === undefined && before.secrets !== null;
        const l = await store.links.update(
          params.id,
          {
            ...patch,
            ...(secrets !== undefined && {
              secrets: secrets === null ? null : deps.secrets.sealJson(secrets, params.id),
            }),
            ...(dropSecrets && { secrets: null }),
          },
          ifMatchVersion(req.get('if-match')) ?? before.version,
        );
        await audit({
          action: 'link.update',
          resourceType: 'Link',
          resourceId: l.id,
          outcome: 'success',
          details: {
            fields: Object.keys(body),
            before: auditedLink(before, registry),
            after: auditedLink(l, registry),
            ...(moved.length > 0 && { endpointChanged: moved }),
            ...(dropSecrets && { secretsDropped: true }),
          },
        });
        return reply(200, linkView(l, registry), etag(l.version));
      },
    }),
    defineRoute({
      method: 'delete',
      path: '/api/v1/links/:id',
      summary: 'Delete a link whose outbox is empty',
      tags: ['links'],
      access: 'integrator',
      scope: { resource: 'link', from: 'params', field: 'id' },
      params: IdParams,
      responses: { 204: { description: 'Deleted' }, 409: { description: 'Undelivered changes remain' } },
      handler: async ({ params, audit }) => {
        await store.links.delete(params.id);
        await audit({
          action: 'link.delete',
          resourceType: 'Link',
          resourceId: params.id,
          outcome: 'success',
        });
        return reply(204);
      },
    }),
  ];
}
