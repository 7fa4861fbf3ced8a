/**
 * HL7 transport test helpers: fixtures as bytes, a raw MLLP socket that records every block it
 * receives, and a running HL7 v2 link (real store, real engine, real listener on 127.0.0.1:0)
 * with the shipped mapping profile (the link's, or the connector's default).
 */
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';

import { hl7v2Connector, type Hl7v2ConnectorOptions, type Hl7v2Link } from '../../connectors/hl7v2/index.js';
import type { ConnectorDefinition, InboundHandler } from '../../src/connector/contract.js';
import { type AnyConnectorDefinition, createRegistry } from '../../src/connector/registry.js';
import { MllpDecoder } from '../../src/hl7/framing.js';
import { type Hl7Message, parseHl7 } from '../../src/hl7/index.js';
import { createLogger, type Logger } from '../../src/log/logger.js';
import type { RefusalWatch } from '../../src/security/refusals.js';
import { SecretBox } from '../../src/security/secrets.js';
import type { Store } from '../../src/store/index.js';
import type { JsonObject, Link } from '../../src/store/types.js';
import { SyncRuntime } from '../../src/sync/runtime.js';
import { fixturePath } from './fixtures.js';
import { openTestStore, type StoreKind, type TestStore } from './stores.js';

export { controlIdOf, withControlId, withField } from '../../connectors/hl7v2/simulator/messages.js';

/** A fixture of test/fixtures/hl7 as the exact bytes on disk. */
export function hl7Fixture(name: string): Buffer {
  return readFileSync(fixturePath('hl7', name.endsWith('.hl7') ? name : `${name}.hl7`));
}

export function hl7FixtureNames(): string[] {
  return readdirSync(fixturePath('hl7'))
    .filter((f) => f.endsWith('.hl7'))
    .sort();
}

/** Segments joined with CR, as MLLP carries them. */
export function hl7(...segments: string[]): Buffer {
  return Buffer.from(`${segments.join('\r')}\r`, 'utf8');
}

export interface ParsedAck {
  readonly code: string | undefined;
  /** MSA-2. */
  readonly acknowledges: string | undefined;
  readonly message: Hl7Message;
}

export function parseAck(block: Buffer): ParsedAck {
  const message = parseHl7(block);
  return { code: message.get('MSA-1'), acknowledges: message.get('MSA-2'), message };
}

/** A raw MLLP connection for tests: writes anything, records the blocks it gets back. */
export class RawMllpSocket {
  readonly blocks: Buffer[] = [];
  /** Every byte received, as is. */
  received = Buffer.alloc(0);
  readonly closed: Promise<void>;
  private readonly decoder = new MllpDecoder({ maxMessageBytes: 1 << 24 });
  private waiters: (() => void)[] = [];
  private isClosed = false;

  private constructor(readonly socket: net.Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.received = Buffer.concat([this.received, chunk]);
      for (const e of this.decoder.push(chunk)) if (e.type === 'message') this.blocks.push(e.payload);
      this.wake();
    });
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.isClosed = true;
        this.wake();
        resolve();
      }),
    );
  }

  static connect(
    port: number,
    options: { host?: string; tls?: tls.ConnectionOptions } = {},
  ): Promise<RawMllpSocket> {
    const host = options.host ?? '127.0.0.1';
    return new Promise((resolve, reject) => {
      const socket = options.tls ? tls.connect({ host, port, ...options.tls }) : net.connect({ host, port });
      socket.once('error', reject);
      socket.once(options.tls ? 'secureConnect' : 'connect', () => {
        socket.off('error', reject);
        resolve(new RawMllpSocket(socket));
      });
    });
  }

  get isOpen(): boolean {
    return !this.isClosed;
  }

  write(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** Writes a payload inside <VT> … <FS><CR>. */
  send(payload: Buffer): void {
    this.socket.write(Buffer.concat([Buffer.from([0x0b]), payload, Buffer.from([0x1c, 0x0d])]));
  }

  /** Writes `bytes` one byte per write, each after the previous one was flushed. */
  async writeBytewise(bytes: Buffer): Promise<void> {
    for (let i = 0; i < bytes.length; i++) {
      await new Promise<void>((resolve, reject) =>
        this.socket.write(bytes.subarray(i, i + 1), (e) => (e ? reject(e) : resolve())),
      );
    }
  }

  /** Resolves once `n` blocks have arrived in total (or rejects at the deadline or on close). */
  async waitForBlocks(n: number, timeoutMs = 10_000): Promise<Buffer[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.blocks.length < n) {
      if (this.isClosed) throw new Error(`connection closed after ${this.blocks.length} of ${n} blocks`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`only ${this.blocks.length} of ${n} blocks within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.blocks.slice(0, n);
  }

  /** Sends one message and resolves with the next block received. */
  async request(payload: Buffer, timeoutMs = 10_000): Promise<Buffer> {
    const before = this.blocks.length;
    this.send(payload);
    return (await this.waitForBlocks(before + 1, timeoutMs))[before] as Buffer;
  }

  end(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}

export interface Hl7LinkHarness {
  readonly test: TestStore;
  readonly store: Store;
  readonly runtime: SyncRuntime;
  readonly link: Link;
  readonly connector: Hl7v2Link;
  /** The listener's port (when `mllp.listen` is configured). */
  readonly port: number;
  dispose(): Promise<void>;
}

export interface Hl7LinkOptions {
  readonly kind?: StoreKind;
  readonly config: JsonObject;
  readonly isTest?: boolean;
  /** The link's mapping profile (a shipped profile name); the connector's default otherwise. */
  readonly profile?: string;
  /** Wraps the handler the runtime gives the connector (fault injection in tests). */
  readonly wrapHandler?: (handler: InboundHandler) => InboundHandler;
  readonly connectorOptions?: Hl7v2ConnectorOptions;
  /** More connector definitions (a memory secretariat…). */
  readonly extra?: readonly AnyConnectorDefinition[];
  readonly logger?: Logger;
  readonly autoDispatch?: boolean;
  /** Counts and logs the connections the listener refuses. */
  readonly refusals?: RefusalWatch;
  /** Runs before the runtime starts (create more links…). */
  readonly before?: (store: Store, practiceId: string) => Promise<void>;
}

/** The shipped hl7v2 definition (each link's mapping profile), optionally with a handler wrapper. */
export function testHl7Definition(
  options: {
    wrapHandler?: (h: InboundHandler) => InboundHandler;
    connectorOptions?: Hl7v2ConnectorOptions;
  } = {},
): ConnectorDefinition<unknown> {
  const inner = hl7v2Connector(options.connectorOptions);
  const wrap = options.wrapHandler;
  if (!wrap) return inner as unknown as ConnectorDefinition<unknown>;
  return {
    ...inner,
    create(config, ctx) {
      const c = inner.create(config as never, ctx) as Hl7v2Link;
      const start = c.start.bind(c);
      c.start = (handler: InboundHandler) => start(wrap(handler));
      return c;
    },
  } as ConnectorDefinition<unknown>;
}

/** A practice with one running hl7v2 link (role practice) on a real store. */
export async function startHl7Link(options: Hl7LinkOptions): Promise<Hl7LinkHarness> {
  const test = await openTestStore(options.kind ?? 'sqlite');
  const store = test.store;
  const practice = await store.practices.create({ name: 'Cabinet test HL7' });
  const link = await store.links.create({
    practiceId: practice.id,
    role: 'practice',
    connector: 'hl7v2',
    name: 'logiciel HL7',
    config: options.config,
    isTest: options.isTest ?? true,
    ...(options.profile !== undefined && { profile: options.profile }),
  });
  if (options.before) await options.before(store, practice.id);
  const runtime = new SyncRuntime({
    store,
    logger: options.logger ?? createLogger({ level: 'error' }),
    secrets: new SecretBox(Buffer.alloc(32, 7)),
    registry: createRegistry([
      testHl7Definition({
        ...(options.wrapHandler && { wrapHandler: options.wrapHandler }),
        ...(options.connectorOptions && { connectorOptions: options.connectorOptions }),
      }),
      ...(options.extra ?? []),
    ]),
    schedulePolls: false,
    refreshMs: 0,
    autoDispatch: options.autoDispatch ?? false,
    ...(options.refusals && { refusals: options.refusals }),
  });
  await runtime.start();
  const connector = runtime.connectorOf(link.id) as Hl7v2Link | undefined;
  if (!connector) {
    const status = await runtime.status(link.id);
    await runtime.stop();
    await test.dispose();
    throw new Error(`hl7v2 link did not start: ${JSON.stringify(status.errors)}`);
  }
  return {
    test,
    store,
    runtime,
    link,
    connector,
    port: connector.mllpPort ?? 0,
    async dispose() {
      await runtime.stop();
      await test.dispose();
    },
  };
}

/** A listener config on 127.0.0.1, any free port. */
export function listenConfig(extra: JsonObject = {}, listen: JsonObject = {}): JsonObject {
  return { mllp: { listen: { host: '127.0.0.1', port: 0, ...listen } }, ...extra };
}
