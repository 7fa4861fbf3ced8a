/**
 * A practice whose software is the FHIR peer (through the fault proxy) and whose secretariat is
 * the secretariat simulator, both over real HTTP on 127.0.0.1, wired into the whole service
 * (mapping + sync modules, default connector registry) with its links created through the admin
 * API. Polls run when a test asks (links scheduled yearly) or on a Subscription hint.
 */
import { Writable } from 'node:stream';

import type { Resource } from '@medplum/fhirtypes';

import {
  DEMO_APPOINTMENT_SYSTEM,
  demoPractice,
  type FaultProxy,
  type FhirPeer,
  type FhirPeerOptions,
  startFaultProxy,
  startFhirPeer,
} from '../../connectors/fhir/peer/index.js';
import {
  type SecretariatSimulator,
  startSecretariatSimulator,
} from '../../connectors/secretariat/simulator/index.js';
import { defaultConnectorRegistry } from '../../src/app/connectors.js';
import { mappingModule } from '../../src/app/features/mapping.js';
import { type SyncModule, syncModule } from '../../src/app/features/sync.js';
import type { ServiceModule } from '../../src/app/service.js';
import { createLogger } from '../../src/log/logger.js';
import type { ResourceKind } from '../../src/model/resources.js';
import { createApiKey } from '../../src/security/api-keys.js';
import { generateWebhookSecret } from '../../src/security/webhook-signature.js';
import type { Clock } from '../../src/store/repos/context.js';
import type { SyncRuntime } from '../../src/sync/runtime.js';
import { startTestService, type TestService } from './service.js';
import { until } from './until.js';

/** A schedule that does not fire during a test: polls are the test's own (or hinted). */
export const YEARLY = '0 0 1 1 *';
// The shared bounded wait; re-exported for the tests that import it from here.
export { until };

export const SUBSCRIPTION_SECRET = 'abonnement-secret-de-test-0123456789';
export const APPOINTMENT_SYSTEM = DEMO_APPOINTMENT_SYSTEM;

/** Plain FHIR JSON over HTTP to `base` (as the practice software's own users would call it). */
export async function fhirRequest<T = Resource>(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: T; etag: string | null }> {
  const res = await fetch(`${base}/${path}`, {
    method,
    headers: {
      accept: 'application/fhir+json',
      ...(body !== undefined && { 'content-type': 'application/fhir+json' }),
      ...headers,
    },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return {
    status: res.status,
    body: (text ? JSON.parse(text) : undefined) as T,
    etag: res.headers.get('etag'),
  };
}

export interface LogLine {
  readonly level: string;
  readonly message: string;
  readonly [key: string]: unknown;
}

export interface FhirWorld {
  readonly peer: FhirPeer;
  readonly proxy: FaultProxy;
  readonly sim: SecretariatSimulator;
  readonly t: TestService;
  readonly runtime: SyncRuntime;
  readonly integrator: string;
  readonly practiceId: string;
  readonly fhirLinkId: string;
  readonly secLinkId: string;
  /** Every log line of the service (JSON), for checks on what was logged. */
  readonly logs: LogLine[];
  /** The peer's id of a record known on the secretariat, and the reverse. */
  onFhir(kind: ResourceKind, simId: string): Promise<string | undefined>;
  onSim(kind: ResourceKind, fhirId: string): Promise<string | undefined>;
  /** Plain HTTP to the peer itself (the practice software's own users), bypassing the proxy. */
  fhir<T = Resource>(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: T; etag: string | null }>;
  /** Waits until both links' outboxes are empty. */
  settled(): Promise<void>;
  dispose(): Promise<void>;
}

export async function startFhirWorld(options: {
  store?: 'sqlite' | 'postgres';
  day0: Date;
  fhirConfig?: Record<string, unknown>;
  peer?: FhirPeerOptions;
  /** The service's and the secretariat simulator's clock (the FHIR peer keeps real time). */
  now?: Clock;
  /** More service modules, built with the world's sync module (issue 21: the urgent module). */
  extraModules?: (sync: SyncModule) => ServiceModule[];
}): Promise<FhirWorld> {
  const peer = await startFhirPeer(options.peer);
  await peer.seed(demoPractice(options.day0));
  const proxy = await startFaultProxy({ target: peer.url });
  const sim = await startSecretariatSimulator({
    port: 0,
    host: '127.0.0.1',
    seed: 'empty',
    ...(options.now && { now: options.now }),
  });
  const logs: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n'))
        if (line.trim()) logs.push(JSON.parse(line) as LogLine);
      done();
    },
  });
  const mapping = mappingModule();
  const module = syncModule({
    registry: defaultConnectorRegistry(),
    ownership: mapping.ownership,
    plans: mapping.plansOf,
    // Agenda publications go at once and only when a test asks for the ones time changes (its clock).
    runtime: { refreshMs: 0, agendaPublish: { debounceMs: 0, horizonDays: 9 } },
    agendaSchedule: false,
    dispatcher: {
      backoff: { baseMs: 50, capMs: 500 },
      idleWakeMs: 100,
      dependencyWaitMs: 20,
      maxAttempts: 8,
      pushTimeoutMs: 15_000,
    },
  });
  const t = await startTestService({
    ...(options.store && { store: options.store }),
    modules: [mapping, module, ...(options.extraModules?.(module) ?? [])],
    ...(options.now && { now: options.now }),
    logger: createLogger({ level: 'debug', stream: sink }),
  });
  const runtime = module.runtimeOf(t.service.context);
  const json = async <T>(res: Response, status: number): Promise<T> => {
    const body = await res.text();
    if (res.status !== status) throw new Error(`expected HTTP ${status}, got ${res.status}: ${body}`);
    return (body ? JSON.parse(body) : undefined) as T;
  };
  const integrator = (
    await createApiKey(t.service.store, { role: 'integrator', createdBy: 'test', via: 'test' })
  ).key;
  const practiceId = (
    await json<{ id: string }>(
      await t.api('/api/v1/practices', { method: 'POST', json: { name: 'Maison de santé des Essais' } }),
      201,
    )
  ).id;
  const link = async (body: object) =>
    (
      await json<{ id: string }>(
        await t.api('/api/v1/links', {
          method: 'POST',
          key: integrator,
          json: { practiceId, isTest: true, schedule: YEARLY, ...body },
        }),
        201,
      )
    ).id;
  const webhookSecret = generateWebhookSecret();
  const secLinkId = await link({
    role: 'secretariat',
    connector: 'secretariat',
    name: 'Télésecrétariat',
    config: {
      baseUrl: sim.url,
      platformPracticeId: sim.practiceId,
      timeoutMs: 2000,
      retry: { maxAttempts: 2, baseDelayMs: 20, maxDelayMs: 200, maxRetryAfterSeconds: 5 },
    },
    secrets: { apiToken: sim.apiToken, webhookSecret },
  });
  const fhirLinkId = await link({
    role: 'practice',
    connector: 'fhir',
    name: 'Logiciel du cabinet (FHIR)',
    config: {
      baseUrl: proxy.url,
      timeoutMs: 1000,
      retry: { max: 3, baseDelayMs: 20, maxDelayMs: 2000 },
      pageSize: 50,
      ...options.fhirConfig,
    },
    secrets: { subscriptionSecret: SUBSCRIPTION_SECRET },
  });
  sim.setWebhook({
    url: `${t.url}/hooks/secretariat/${secLinkId}`,
    secrets: [webhookSecret],
    retryDelaysMs: [50, 200],
  });
  await runtime.refresh();

  const store = t.service.store;
  const across = async (from: string, to: string, kind: ResourceKind, id: string) => {
    const canonical = await store.identityMap.findCanonical(from, kind, id);
    return canonical === undefined
      ? undefined
      : (await store.identityMap.findExternal(to, kind, canonical))[0];
  };
  const settled = async (): Promise<void> => {
    await until('the outboxes to drain', async () => {
      const [a, b] = [await store.outbox.depth(secLinkId), await store.outbox.depth(fhirLinkId)];
      return a.pending + a.leased + b.pending + b.leased === 0;
    });
  };
  return {
    peer,
    proxy,
    sim,
    t,
    runtime,
    integrator,
    practiceId,
    fhirLinkId,
    secLinkId,
    logs,
    onFhir: (kind, simId) => across(secLinkId, fhirLinkId, kind, simId),
    onSim: (kind, fhirId) => across(fhirLinkId, secLinkId, kind, fhirId),
    fhir: (method, path, body, headers) => fhirRequest(peer.url, method, path, body, headers),
    settled,
    async dispose() {
      await t.dispose();
      await sim.close();
      await proxy.close();
      await peer.close();
    },
  };
}
