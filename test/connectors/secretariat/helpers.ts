/* Builders for the secretariat connector tests: a link context, recorded waits, a captured log,
 * the engine's stand-in for InboundHandler, and a real HTTP route in front of receiveHttp. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';

import express from 'express';

import {
  createSecretariatConnector,
  SecretariatConfig,
  type SecretariatDeps,
} from '../../../connectors/secretariat/index.js';
import type { SecretariatSimulator } from '../../../connectors/secretariat/simulator/index.js';
import type {
  Connector,
  ConnectorContext,
  HttpAnswer,
  InboundHandler,
  InboundMessage,
  IngestResult,
} from '../../../src/connector/contract.js';
import { PasserelleError } from '../../../src/errors.js';
import { createLogger, type Logger, silentLogger } from '../../../src/log/logger.js';
import type { Clock } from '../../../src/store/repos/context.js';
import type { JsonObject, Link } from '../../../src/store/types.js';
import { until } from '../../helpers/until.js';

export const NEW_SECRET = `whsec_${Buffer.alloc(32, 0x2a).toString('base64')}`;
export const OLD_SECRET = `whsec_${Buffer.alloc(32, 0x17).toString('base64')}`;

export function testLink(overrides: Partial<Link> = {}): Link {
  return {
    id: 'link-secretariat-1',
    practiceId: 'practice-1',
    role: 'secretariat',
    connector: 'secretariat',
    name: 'Secrétariat (test)',
    profile: null,
    config: {},
    secrets: null,
    schedule: null,
    isTest: true,
    enabled: true,
    version: 1,
    createdAt: '2026-11-01T00:00:00.000Z',
    updatedAt: '2026-11-01T00:00:00.000Z',
    ...overrides,
  };
}

export function connectorContext(
  options: { secrets?: JsonObject | null; log?: Logger; now?: Clock; signal?: AbortSignal } = {},
): ConnectorContext {
  return {
    link: testLink(),
    secrets:
      options.secrets === undefined
        ? { apiToken: 'sim-token', webhookSecret: NEW_SECRET, webhookSecretPrevious: OLD_SECRET }
        : options.secrets,
    log: options.log ?? silentLogger,
    now: options.now ?? Date.now,
    signal: options.signal ?? new AbortController().signal,
    timezone: 'Europe/Paris',
    publicUrl: 'http://127.0.0.1:0',
  };
}

/** A sleep that records the wait asked for and returns at once (assert durations, not wall time). */
export function recordingSleep(): { sleep: NonNullable<SecretariatDeps['sleep']>; waits: number[] } {
  const waits: number[] = [];
  return { waits, sleep: async (ms) => void waits.push(ms) };
}

/** A JSON-lines logger at debug level whose output the test can read. */
export function capturedLogger(): { log: Logger; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  return { log: createLogger({ level: 'debug', stream }), text: () => chunks.join('') };
}

export function connectorFor(
  sim: SecretariatSimulator,
  options: {
    config?: Partial<SecretariatConfig>;
    ctx?: Parameters<typeof connectorContext>[0];
    deps?: SecretariatDeps;
  } = {},
): Connector {
  const config = SecretariatConfig.parse({
    baseUrl: sim.url,
    platformPracticeId: sim.practiceId,
    timeoutMs: 5000,
    ...options.config,
  });
  return createSecretariatConnector(
    config,
    connectorContext(options.ctx),
    options.deps ?? { sleep: recordingSleep().sleep },
  );
}

/**
 * The engine's stand-in for InboundHandler: commits a message once per dedupe key (here, in
 * memory) and answers a resend with the stored response, as the inbox does in one transaction.
 */
export function engineStandIn(): {
  handler: InboundHandler;
  calls: InboundMessage[];
  committed: Map<string, Buffer | null>;
  failNext: (n: number) => void;
} {
  const calls: InboundMessage[] = [];
  const committed = new Map<string, Buffer | null>();
  let failures = 0;
  const handler: InboundHandler = async (message): Promise<IngestResult> => {
    calls.push(message);
    if (failures > 0) {
      failures -= 1;
      throw new PasserelleError('ERR_STORE_UNAVAILABLE', 'the store cannot be reached', {
        retryAfterSeconds: 1,
      });
    }
    const key = message.dedupe?.key ?? `no-key-${calls.length}`;
    if (committed.has(key)) return { outcome: 'duplicate', response: committed.get(key) ?? null, flags: [] };
    const outcome = message.error
      ? { status: 'invalid' as const, error: message.error, flags: [] }
      : { status: 'applied' as const, flags: [] };
    const response = message.respond?.(outcome) ?? null;
    committed.set(key, response);
    return { outcome: outcome.status, response, flags: [] };
  };
  return { handler, calls, committed, failNext: (n) => void (failures = n) };
}

export interface HookServer {
  readonly url: string;
  /** Every request as received: headers and exact bytes, for replays. */
  readonly received: { headers: Record<string, string>; body: Buffer; answer: HttpAnswer }[];
  close(): Promise<void>;
}

/** The engine's webhook route in miniature: raw bytes in, connector.receiveHttp, its answer out. */
export async function startHookServer(connector: Connector, handler: InboundHandler): Promise<HookServer> {
  const received: HookServer['received'] = [];
  const app = express();
  app.post(
    '/hooks/secretariat/:linkId',
    express.raw({ type: () => true, limit: '1mb' }),
    async (req, res) => {
      const headers = Object.fromEntries(
        Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : (v ?? '')]),
      );
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const answer = await (connector.receiveHttp as NonNullable<Connector['receiveHttp']>)(
        { headers, body, query: {} },
        handler,
      );
      received.push({ headers, body, answer });
      res
        .status(answer.status)
        .set(answer.headers ?? {})
        .send(answer.body === undefined ? '' : JSON.stringify(answer.body));
    },
  );
  const server: Server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/secretariat/link-secretariat-1`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Polls a condition with a bounded deadline (no fixed sleeps). */
export async function eventually(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  await until(what, check, timeoutMs, { everyMs: 10 });
}
