/**
 * What the console needs to make and check links (issue 19): the connectors this build has,
 * from the registry (the only list of connectors), with their configuration and credentials as
 * JSON Schema so it can generate forms (secret fields `writeOnly`, src/connector/config-schema.ts);
 * and a link's test (`passerelle link test <id>`), as a checklist.
 */
import { z } from 'zod';

import { secretsJsonSchema, toInputJsonSchema } from '../../connector/config-schema.js';
import type { LinkTestCheck } from '../../connector/contract.js';
import type { ConnectorRegistry } from '../../connector/registry.js';
import { isPasserelleError, PasserelleError } from '../../errors.js';
import { getActivePlan } from '../../mapping/runtime.js';
import type { SecretBox } from '../../security/secrets.js';
import type { Store } from '../../store/index.js';
import type { JsonObject } from '../../store/types.js';
import { type AnyRoute, defineRoute } from '../route.js';

const ConnectorView = z.object({
  name: z.string(),
  protocol: z.string(),
  defaultProfile: z.string().nullable().describe('The shipped mapping profile; null: it takes none'),
  docs: z.string().nullable().describe('Its README, from the repository root'),
  capabilities: z.object({
    kinds: z.array(z.string()),
    pull: z.boolean(),
    receive: z.boolean(),
    push: z.array(z.string()),
  }),
  linkTest: z.boolean().describe('Whether POST /api/v1/links/:id/test can test its links'),
  configSchema: z
    .record(z.string(), z.unknown())
    .describe('JSON Schema (2020-12) of link.config; a field holding a secret has writeOnly: true'),
  secretsSchema: z
    .record(z.string(), z.unknown())
    .nullable()
    .describe('JSON Schema of link.secrets (every field writeOnly); null: the connector takes none'),
});
const LinkTestView = z.object({
  ok: z.boolean().describe('Every required check passed'),
  checks: z.array(
    z.object({ name: z.string(), ok: z.boolean(), required: z.boolean(), detail: z.string().optional() }),
  ),
  text: z.string().describe('The checklist as `passerelle link test` prints it'),
});

export interface ConnectorRoutesDeps {
  readonly store: Store;
  readonly registry: ConnectorRegistry;
  readonly secrets: SecretBox;
}

export function connectorRoutes(deps: ConnectorRoutesDeps): AnyRoute[] {
  const { store, registry } = deps;
  // The schemas do not change while the service runs: made once, on first use.
  let views: z.infer<typeof ConnectorView>[] | undefined;
  const connectorViews = () =>
    (views ??= registry.definitions().map((d) => ({
      name: d.name,
      protocol: d.protocol,
      defaultProfile: d.defaultProfile ?? null,
      docs: d.docs ?? null,
      capabilities: {
        kinds: [...d.capabilities.kinds],
        pull: d.capabilities.pull,
        receive: d.capabilities.receive,
        push: [...d.capabilities.push],
      },
      linkTest: d.linkTest !== undefined,
      configSchema: toInputJsonSchema(d.configSchema),
      secretsSchema: d.secretsSchema ? secretsJsonSchema(d.secretsSchema) : null,
    })));
  return [
    defineRoute({
      method: 'get',
      path: '/api/v1/connectors',
      summary: 'The connectors of this build, with their link configuration and credentials as JSON Schema',
      tags: ['links', 'console'],
      access: 'viewer',
      // The same for every practice: a key limited to one reads it too.
      scope: 'list',
      responses: {
        200: {
          description: 'The connectors, in registry order',
          schema: z.object({ items: z.array(ConnectorView) }),
        },
      },
      handler: async () => ({ items: connectorViews() }),
    }),
    defineRoute({
      method: 'post',
      path: '/api/v1/links/:id/test',
      summary:
        'Test a link: connect with its configuration and credentials and check what its peer offers against what the link needs',
      description:
        'What `passerelle link test <id>` does (FHIR links: the CapabilityStatement, each interaction and search the profile needs, `_count` and `_sort` probed). A peer that cannot be reached is a failed check, not an error. The test is audited (`link.test`).',
      tags: ['links', 'console'],
      access: 'integrator',
      scope: { resource: 'link', from: 'params', field: 'id' },
      params: z.object({ id: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, { error: 'not a link id' }) }),
      responses: {
        200: { description: 'The checklist', schema: LinkTestView },
        409: { description: 'ERR_LINK_TEST_UNSUPPORTED: the link’s connector has no link test' },
      },
      handler: async ({ params, audit }) => {
        const link = await store.links.require(params.id);
        const definition = registry.get(link.connector);
        if (!definition?.linkTest) {
          const testable = registry
            .definitions()
            .filter((d) => d.linkTest)
            .map((d) => d.name);
          throw new PasserelleError(
            'ERR_LINK_TEST_UNSUPPORTED',
            `link ${link.id} uses connector ${link.connector}, which has no link test (${testable.join(', ') || 'none'} have one)`,
            { details: { linkId: link.id, connector: link.connector } },
          );
        }
        let result: { ok: boolean; checks: LinkTestCheck[]; text: string };
        try {
          const secrets = link.secrets ? deps.secrets.openJson<JsonObject>(link.secrets, link.id) : null;
          const r = await definition.linkTest(
            link,
            secrets,
            await getActivePlan(store, link.id, registry.profiles()),
          );
          result = {
            ok: r.ok,
            checks: r.checks
              ? [...r.checks]
              : [{ name: 'link test', ok: r.ok, required: true, detail: r.text }],
            text: r.text,
          };
        } catch (e) {
          // What stopped the test before any check (credentials, profile, an unreachable peer).
          const detail = isPasserelleError(e) ? `${e.code}: ${e.message}` : 'the test could not run';
          result = {
            ok: false,
            checks: [{ name: 'connexion / connection', ok: false, required: true, detail }],
            text: detail,
          };
        }
        await audit({
          action: 'link.test',
          resourceType: 'Link',
          resourceId: link.id,
          practiceId: link.practiceId,
          outcome: result.ok ? 'success' : 'failure',
          details: {
            checks: result.checks.length,
            failed: result.checks.filter((c) => !c.ok && c.required).length,
          },
        });
        return result;
      },
    }),
  ];
}
