/**
 * The secretariat platform simulator: the whole contract of ../openapi.yaml over HTTP, its own
 * persistent state, signed webhooks to a configured URL, fault knobs, and agent helpers.
 * Run alone with `passerelle simulate secretariat --port N --seed demo`.
 */
import { EventEmitter } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import type { ResourceOfType, ResourceType } from '../contract.js';
import { SimulatorAgent } from './agent.js';
import { createSimulatorApp, type SimRoute } from './app.js';
import { Faults, type FaultSettings } from './faults.js';
import { Platform } from './platform.js';
import { applySeed, DEMO_PRACTICE_ID, type SeedName } from './seed.js';
import { type ChangeRecord, type SimulatorCounters, SimulatorState } from './state.js';
import { type WebhookEvent, WebhookSender, type WebhookTarget } from './webhooks.js';

export { AgentRequestError, SimulatorAgent } from './agent.js';
export { type FaultSettings, NO_FAULTS, type ScriptedFault } from './faults.js';
export {
  DEMO_AGENTS,
  DEMO_APPOINTMENT_TYPES,
  DEMO_PRACTICE_ID,
  fictitiousPatients,
  type SeedName,
  SEEDS,
} from './seed.js';
export type { WebhookEvent, WebhookTarget } from './webhooks.js';

export const DEFAULT_SIMULATOR_TOKEN = 'sim-token';

export interface SecretariatSimulatorOptions {
  /** 0 (the default) lets the OS pick a free port. */
  readonly port?: number;
  readonly host?: string;
  /** JSON file holding the state; reused when it exists (the seed then applies only to a new file). */
  readonly stateFile?: string;
  readonly seed?: SeedName;
  readonly practiceId?: string;
  /** Bearer token the API expects. */
  readonly apiToken?: string;
  readonly webhook?: WebhookTarget;
  readonly faults?: Partial<FaultSettings>;
  /** Clock for updatedAt, takenAt of seeds and webhook timestamps. */
  readonly now?: () => number;
}

/** What tests and the demo read from the simulator; writes go through the HTTP API. */
export interface SimulatorStateView {
  get<K extends ResourceType>(type: K, id: string, practiceId?: string): ResourceOfType[K] | undefined;
  list<K extends ResourceType>(type: K, practiceId?: string): ResourceOfType[K][];
  changes(practiceId?: string): ChangeRecord[];
  /** Idempotency-Keys seen on writes, each applied once: the status it got and how often it was replayed. */
  idempotencyKeys(practiceId?: string): { key: string; status: number; replays: number }[];
  readonly counters: Readonly<SimulatorCounters>;
}

export interface SecretariatSimulatorEvents {
  change: [ChangeRecord];
  webhook: [WebhookEvent];
}

export interface SecretariatSimulator {
  /** `http://127.0.0.1:<port>`: the platform's base URL (the API lives under /v1). */
  readonly url: string;
  readonly apiToken: string;
  readonly practiceId: string;
  readonly state: SimulatorStateView;
  readonly events: EventEmitter<SecretariatSimulatorEvents>;
  readonly routes: readonly SimRoute[];
  setFaults(faults: Partial<FaultSettings>): void;
  setWebhook(target: WebhookTarget | null): void;
  /** An agent of the secretariat, acting through the HTTP API. */
  agent(agentId?: string, practiceId?: string): SimulatorAgent;
  /** Resolves when every queued webhook was delivered, dropped or given up. */
  webhooksIdle(): Promise<void>;
  close(): Promise<void>;
}

export async function startSecretariatSimulator(
  options: SecretariatSimulatorOptions = {},
): Promise<SecretariatSimulator> {
  const now = options.now ?? Date.now;
  const practiceId = options.practiceId ?? DEMO_PRACTICE_ID;
  const apiToken = options.apiToken ?? DEFAULT_SIMULATOR_TOKEN;
  const state = new SimulatorState(options.stateFile);
  const faults = new Faults(options.faults);
  const events = new EventEmitter<SecretariatSimulatorEvents>();

  let sender: WebhookSender | null = null;
  const platform = new Platform(state, now, (change, quiet) => {
    events.emit('change', change);
    if (quiet !== true) sender?.enqueue(change);
  });
  // The seed goes into the feed but is not sent as webhooks: nobody listened yet.
  if (!state.restored) {
    applySeed(options.seed ?? 'empty', { state, platform, practiceId, now: now() });
    state.save();
  } else if (state.practice(practiceId) === undefined) {
    applySeed('empty', { state, platform, practiceId, now: now() });
    state.save();
  }
  sender = new WebhookSender(
    options.webhook ?? null,
    faults,
    state.counters,
    now,
    events as EventEmitter,
    (change) => {
      if (change.type === 'message' && change.op === 'upsert' && change.data['status'] === 'new') {
        platform.markDelivered(change.practiceId, change.id);
        state.save();
      }
    },
  );

  const { app, routes } = createSimulatorApp({
    state,
    platform,
    faults,
    apiToken,
    persist: () => state.save(),
  });
  const server: Server = createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;
  const webhookSender = sender;

  return {
    url,
    apiToken,
    practiceId,
    events,
    routes,
    state: {
      get: (type, id, p = practiceId) => state.get(p, type, id),
      list: (type, p = practiceId) => state.list(p, type),
      changes: (p = practiceId) => state.allChanges(p),
      idempotencyKeys: (p = practiceId) => state.idempotencyKeys(p),
      get counters() {
        return { ...state.counters };
      },
    },
    setFaults: (f) => faults.set(f),
    setWebhook: (t) => webhookSender.setTarget(t),
    agent: (agentId = 'agent-test', p = practiceId) => new SimulatorAgent(url, apiToken, p, agentId),
    webhooksIdle: () => webhookSender.idle(),
    async close() {
      webhookSender.close();
      await webhookSender.idle();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      state.save();
    },
  };
}
