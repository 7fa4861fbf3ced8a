/**
 * The FHIR R4 connector: a practice software exposing a FHIR R4 API (FR Core, ANS shared-agenda
 * profiles), for one `fhir` link. Everything it reads and writes goes through the link's mapping
 * profile (default mappings/fhir-r4-fr-core.yaml).
 * - pull (pull.ts): paged searches by `_lastUpdated` with an overlap window, deletions from
 *   type-level `_history` where offered, else from existence checks of the link's known ids,
 *   edge validation (validate-edge.ts) of every resource;
 * - push (push.ts): conditional update on the appointment's business identifier (ANS flow 6b),
 *   If-Match updates, 412 → the current resource for a re-merge, cancellations as a status;
 * - receiveHttp (subscription.ts): Subscription rest-hook notifications as poll hints;
 * - `passerelle link test <id>` (link-test.ts): the server's CapabilityStatement against what
 *   the profile needs.
 * Credentials come from ctx.secrets (config.ts): password, token or privateKey for the auth,
 * subscriptionSecret for notifications.
 */
import {
  type Connector,
  type ConnectorContext,
  defineConnector,
  type HealthReport,
  type InboundMessage,
  type LinkMapping,
} from '../../src/connector/contract.js';
import { isPasserelleError, PasserelleError } from '../../src/errors.js';
import type { FhirResource } from '../../src/mapping/run/types.js';
import { shippedPlan } from '../../src/mapping/runtime.js';
import type { JsonObject, Link } from '../../src/store/types.js';
import { readCapabilities, type ServerCapabilities } from './capabilities.js';
import { createFhirClient, type FhirClientOptions } from './client/index.js';
import { FhirConfig, FhirSecrets, pullKinds, readSecrets } from './config.js';
import { formatLinkTest, type LinkTestReport, runLinkTest } from './link-test.js';
import { OwnWrites } from './own-writes.js';
import { fhirSimulator } from './peer/command.js';
import { createPull } from './pull.js';
import { createPush } from './push.js';
import { REMINDER_IDENTIFIER_SYSTEM, reminderCommunication } from './reminder-outcome.js';
import { receiveNotification } from './subscription.js';
import { mapInbound } from './validate-edge.js';

export { FhirConfig, FhirSecrets } from './config.js';
export { formatLinkTest, type LinkTestReport } from './link-test.js';

/** Every 30 seconds, like the secretariat feed: a round costs one search per kind when nothing changed. */
export const DEFAULT_POLL_SCHEDULE = '*/30 * * * * *';
/** The shipped profile a fhir link runs when its `profile` is null. */
export const DEFAULT_PROFILE = 'fhir-r4-fr-core';
/** The CapabilityStatement is read again after this long (a server upgrade may add interactions). */
const CAPABILITIES_TTL_MS = 60 * 60_000;

/** What tests inject instead of real waiting, clocks and randomness. */
export interface FhirDeps {
  readonly sleep?: FhirClientOptions['sleep'];
  readonly random?: () => number;
}

/** The link's plan: the runtime's accessor, else (no store at hand) its shipped profile. */
function mappingOf(ctx: ConnectorContext): () => Promise<LinkMapping> {
  const get =
    ctx.mapping ??
    (async () => ({
      plan: shippedPlan(ctx.link.profile ?? DEFAULT_PROFILE),
      context: { timezone: ctx.timezone, testLink: ctx.link.isTest },
    }));
  return async () => {
    const m = await get();
    if (m.plan.protocol !== 'fhir-r4') {
      throw new PasserelleError(
        'ERR_MAPPING_PROTOCOL_MISMATCH',
        `link ${ctx.link.id} runs profile ${m.plan.name} (${m.plan.protocol}); a fhir link needs a fhir-r4 profile`,
        { details: { linkId: ctx.link.id } },
      );
    }
    return m;
  };
}

export function createFhirConnector(
  config: FhirConfig,
  ctx: ConnectorContext,
  deps: FhirDeps = {},
): Connector {
  const { auth, subscriptionSecret } = readSecrets(config, ctx.secrets, ctx.link.id);
  const log = ctx.log.child({ connector: 'fhir' });
  const stopper = new AbortController();
  const signal = AbortSignal.any([ctx.signal, stopper.signal]);
  const options: FhirClientOptions = {
    baseUrl: config.baseUrl,
    auth,
    timeoutMs: config.timeoutMs,
    retry: config.retry,
    logger: log,
    now: ctx.now,
    ...(deps.sleep && { sleep: deps.sleep }),
    ...(deps.random && { random: deps.random }),
  };
  const client = createFhirClient(options);
  // Health answers fast: one attempt, no retry.
  const probe = createFhirClient({ ...options, retry: { ...config.retry, max: 0 } });
  const mapping = mappingOf(ctx);
  const ownWrites = new OwnWrites(ctx.now);

  let caps: { at: number; value: Promise<ServerCapabilities> } | undefined;
  const capabilities = (): Promise<ServerCapabilities> => {
    if (caps === undefined || ctx.now() - caps.at > CAPABILITIES_TTL_MS) {
      const value = client
        .capabilities({ signal })
        .then((r) => readCapabilities(r.resource as Parameters<typeof readCapabilities>[0]));
      caps = { at: ctx.now(), value };
      value.catch(() => {
        if (caps?.value === value) caps = undefined;
      });
    }
    return caps.value;
  };

  const pull = createPull({
    client,
    config,
    kinds: pullKinds(config),
    mapping,
    capabilities,
    ownWrites,
    ...(ctx.knownIds && { knownIds: ctx.knownIds }),
    log,
    now: ctx.now,
    signal,
  });
  const push = createPush({
    client,
    mapping,
    capabilities,
    identifierSystem: config.identifierSystem,
    ownWrites,
    log,
    signal,
  });

  return {
    // The runtime's page size is generic; FHIR pages are config.pageSize (`_count`).
    pull: (cursor) => pull(cursor),
    push,

    /** Maps a dead-lettered resource again with the link's current profile (design rule 9). */
    async remap(stored): Promise<InboundMessage> {
      let resource: FhirResource;
      try {
        resource = JSON.parse(stored.body.toString('utf8')) as FhirResource;
      } catch (e) {
        return {
          dedupe: null,
          records: [],
          error: new PasserelleError('ERR_FHIR_RESPONSE_INVALID', 'the stored FHIR resource is not JSON', {
            cause: e,
          }),
        };
      }
      const m = await mapping();
      const r = mapInbound(m.plan, m.context, resource);
      if (!r.ok) return { dedupe: null, records: [], error: r.error };
      return { dedupe: null, records: r.record ? [r.record] : [] };
    },

    async receiveHttp(delivery) {
      return receiveNotification(delivery, {
        enabled: config.subscription.enabled,
        header: config.subscription.header,
        secret: subscriptionSecret,
        requestPoll: ctx.requestPoll,
        log,
      });
    },

    /**
     * A reminder's outcome, as a Communication (reminder-outcome.ts says why); only when the
     * link's profile sends Communications to the server (a `from-canonical` Communication).
     */
    async recordReminderOutcome(outcome) {
      const m = await mapping();
      if (m.plan.kinds.Communication?.outbound !== true)
        throw new PasserelleError(
          'ERR_REMINDER_WRITEBACK_FAILED',
          `profile ${m.plan.name} sends no Communication to the practice software`,
          { retryable: false },
        );
      const res = await client.create(reminderCommunication(outcome), {
        ifNoneExist: { identifier: `${REMINDER_IDENTIFIER_SYSTEM}|${outcome.reference}` },
        signal,
      });
      return { id: res.id ?? '' };
    },

    async health(): Promise<HealthReport> {
      const checks: { name: string; ok: boolean; detail?: string }[] = [];
      try {
        const cs = readCapabilities(
          (await probe.capabilities({ signal })).resource as Parameters<typeof readCapabilities>[0],
        );
        const r4 = cs.fhirVersion?.startsWith('4.0') === true;
        checks.push(
          r4
            ? { name: 'fhir-server', ok: true, detail: `FHIR ${cs.fhirVersion}` }
            : {
                name: 'fhir-server',
                ok: false,
                detail: `FHIR ${cs.fhirVersion ?? 'version unknown'}; 4.0.x expected`,
              },
        );
      } catch (e) {
        checks.push({
          name: 'fhir-server',
          ok: false,
          detail: isPasserelleError(e) ? e.code : 'unreachable',
        });
      }
      try {
        await mapping();
        checks.push({ name: 'mapping-profile', ok: true });
      } catch (e) {
        checks.push({
          name: 'mapping-profile',
          ok: false,
          detail: isPasserelleError(e) ? e.code : 'unreadable',
        });
      }
      return { ok: checks.every((c) => c.ok), checks };
    },

    async stop(): Promise<void> {
      stopper.abort(new PasserelleError('ERR_FHIR_NETWORK', 'the link was stopped', { retryable: true }));
    },
  };
}

/** The kinds a fhir link may write (the definition's push capability). */
const PUSH_KINDS = ['Patient', 'Slot', 'Appointment', 'Communication'] as const;

/**
 * `passerelle link test <id>`: the link's server checked against what its profile needs, with
 * the link's own configuration and credentials (one attempt per request, no retries).
 */
export async function testFhirLink(
  link: Link,
  secrets: JsonObject | null,
  mapping: LinkMapping,
): Promise<LinkTestReport> {
  const parsed = FhirConfig.safeParse(link.config);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => ({
      path: ['config', ...i.path.map(String)].join('.'),
      message: i.message,
    }));
    throw new PasserelleError(
      'ERR_CONNECTOR_CONFIG_INVALID',
      `link ${link.id}: ${issues[0]?.path}: ${issues[0]?.message}`,
      { issues, details: { linkId: link.id } },
    );
  }
  const config = parsed.data;
  const { auth } = readSecrets(config, secrets, link.id);
  const client = createFhirClient({
    baseUrl: config.baseUrl,
    auth,
    timeoutMs: config.timeoutMs,
    retry: { ...config.retry, max: 0 },
  });
  return runLinkTest(client, mapping, config, { pushKinds: PUSH_KINDS });
}

export default defineConnector<FhirConfig>({
  name: 'fhir',
  protocol: 'fhir-r4',
  defaultProfile: DEFAULT_PROFILE,
  docs: 'connectors/fhir/README.md',
  configSchema: FhirConfig,
  secretsSchema: FhirSecrets,
  async linkTest(link, secrets, mapping) {
    const report = await testFhirLink(link, secrets, mapping);
    return {
      ok: report.ok,
      checks: report.items.map((i) => ({
        name: i.section === 'server' ? i.label : `${i.section} — ${i.label}`,
        ok: i.ok,
        required: i.required,
        ...(i.detail !== undefined && { detail: i.detail }),
      })),
      text: formatLinkTest(
        report,
        `passerelle link test ${link.id} — ${link.name} (fhir, profil / profile ${mapping.plan.name}${mapping.version !== null ? ` v${mapping.version}` : ''})`,
      ),
    };
  },
  simulator: fhirSimulator,
  outboundUrls: (config) => [
    { path: 'baseUrl', url: config.baseUrl },
    ...(config.auth.type === 'smart-backend' && config.auth.tokenEndpoint
      ? [{ path: 'auth.tokenEndpoint', url: config.auth.tokenEndpoint }]
      : []),
    ...(config.auth.type === 'smart-backend' && config.auth.jwksUrl
      ? [{ path: 'auth.jwksUrl', url: config.auth.jwksUrl }]
      : []),
  ],
  defaultPollSchedule: DEFAULT_POLL_SCHEDULE,
  capabilities: {
    kinds: [
      'Practitioner',
      'PractitionerRole',
      'Patient',
      'Schedule',
      'Slot',
      'Appointment',
      'Communication',
    ],
    pull: true,
    receive: true,
    // What the shipped profile writes; a link's own profile may write less (push refuses the rest).
    push: PUSH_KINDS,
  },
  create: (config, ctx) => createFhirConnector(config, ctx),
});
