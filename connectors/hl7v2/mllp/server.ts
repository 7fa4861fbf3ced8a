/**
 * The MLLP listener (practice → passerelle): TCP or TLS, many connections at once, each one
 * handled strictly in order — a block is answered only after the previous one's answer was
 * written, and its answer is written only after `handle` resolved (which, for the connector,
 * is after the durable commit). Connections are independent, so the store's group commit
 * batches messages arriving on many connections together.
 *
 * - Framing: framing.ts (split blocks, several per chunk, junk, oversize).
 * - A sender that does not wait for ACKs (several blocks in flight) is served in order; past
 *   `maxPipelined` queued blocks, reading pauses until the queue drains (bounded memory).
 * - Idle connections are closed after `idleTimeoutMs` without a byte either way, never while a
 *   message is being processed.
 * - A block cut short (connection closed, or a new start block before its end) is not a
 *   message: it is logged (ERR_MLLP_FRAME) and dropped without an answer, so the sender, which
 *   has no ACK, sends it again. An oversize block goes to `handle` (answered AR) and the
 *   connection stays usable.
 * - Connections are capped per source address (`maxConnectionsPerAddress`) and in total
 *   (`maxConnections`), counted on the raw TCP connection, before any TLS handshake: past a
 *   cap the connection is closed at once, and the refusal counted and logged by address
 *   (RefusalWatch: a metric, one line per refusal up to a burst, then one warn line). A
 *   sender that opens connections and sends nothing cannot fill the listener silently.
 * - `close()` stops accepting, lets the message in progress on each connection finish and its
 *   answer go out, drops blocks not started (never acknowledged, so they will be sent again),
 *   then closes the sockets.
 */
import net from 'node:net';
import tls from 'node:tls';

import { PasserelleError } from '../../../src/errors.js';
import { MllpDecoder, type MllpEvent } from '../../../src/hl7/framing.js';
import type { Logger } from '../../../src/log/logger.js';
import { RefusalWatch } from '../../../src/security/refusals.js';

export type MllpInbound = Extract<MllpEvent, { type: 'message' } | { type: 'oversize' }>;

export interface MllpConnectionInfo {
  /** Per server, from 1. */
  readonly id: number;
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  /** TLS only: the client certificate's subject CN, when one was presented and verified. */
  readonly clientCertificate: string | undefined;
}

export interface MllpServerTls {
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
  /** CAs trusted for client certificates. */
  readonly ca?: string | Buffer | undefined;
  /** Ask for a client certificate and refuse connections without a valid one. */
  readonly requestClientCert?: boolean;
}

export interface MllpServerOptions {
  readonly host: string;
  /** 0: any free port (tests). */
  readonly port: number;
  readonly tls?: MllpServerTls | undefined;
  readonly maxMessageBytes: number;
  readonly idleTimeoutMs: number;
  /** Open connections at once, all senders together. Default 200. */
  readonly maxConnections?: number;
  /** Open connections at once from one source address. Default 20. */
  readonly maxConnectionsPerAddress?: number;
  /** Where refused connections are counted and logged; default: logged on `log` only. */
  readonly refusals?: RefusalWatch;
  /** Blocks queued on one connection before reading pauses. Default 32. */
  readonly maxPipelined?: number;
  readonly log: Logger;
  /** Resolves with the bytes to answer (already framed), or null for no answer. */
  handle(event: MllpInbound, connection: MllpConnectionInfo): Promise<Buffer | null>;
}

class Connection {
  private readonly decoder: MllpDecoder;
  private readonly queue: MllpInbound[] = [];
  private busy = false;
  private peerEnded = false;
  private closing = false;
  private paused = false;
  private lastActivity = Date.now();
  private idleTimer: NodeJS.Timeout | undefined;
  readonly closed: Promise<void>;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly socket: net.Socket,
    readonly info: MllpConnectionInfo,
    private readonly options: MllpServerOptions,
  ) {
    this.decoder = new MllpDecoder({ maxMessageBytes: options.maxMessageBytes });
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 60_000);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.onEnd());
    socket.on('error', (e: NodeJS.ErrnoException) =>
      options.log.debug('mllp connection error', { connectionId: info.id, code: e.code }),
    );
    socket.on('close', () => {
      if (this.idleTimer) clearTimeout(this.idleTimer);
      this.queue.length = 0;
      this.wakeIdle();
    });
    this.armIdle();
  }

  private onData(chunk: Buffer): void {
    this.lastActivity = Date.now();
    if (this.closing) return;
    for (const event of this.decoder.push(chunk)) this.accept(event);
    void this.pump();
  }

  private onEnd(): void {
    this.peerEnded = true;
    for (const event of this.decoder.end()) this.accept(event);
    if (!this.busy && this.queue.length === 0) this.socket.end();
    else void this.pump();
  }

  private accept(event: MllpEvent): void {
    const log = this.options.log;
    switch (event.type) {
      case 'message':
      case 'oversize':
        this.queue.push(event);
        if (this.queue.length >= (this.options.maxPipelined ?? 32) && !this.paused) {
          this.paused = true;
          this.socket.pause();
        }
        return;
      case 'junk':
        log.warn('mllp bytes outside a block skipped', {
          connectionId: this.info.id,
          code: 'ERR_MLLP_FRAME',
          bytes: event.bytes,
        });
        return;
      case 'unterminated':
        // Not a message: never acknowledged, so the sender sends it again.
        log.warn('mllp block cut short dropped', {
          connectionId: this.info.id,
          code: 'ERR_MLLP_FRAME',
          bytes: event.payload.length,
        });
        return;
      default:
        event satisfies never;
    }
  }

  private async pump(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      while (this.queue.length > 0 && !this.socket.destroyed) {
        const event = this.queue.shift() as MllpInbound;
        if (this.paused && this.queue.length < (this.options.maxPipelined ?? 32) / 2 && !this.closing) {
          this.paused = false;
          this.socket.resume();
        }
        let answer: Buffer | null = null;
        try {
          answer = await this.options.handle(event, this.info);
        } catch (e) {
          // handle() answers every failure itself; reaching here is a bug: close rather than guess.
          this.options.log.error('mllp handler failed; closing the connection', {
            connectionId: this.info.id,
            err: e,
          });
          this.socket.destroy();
          break;
        }
        this.lastActivity = Date.now();
        if (answer !== null && answer.length > 0 && !this.socket.destroyed && this.socket.writable)
          this.socket.write(answer);
      }
    } finally {
      this.busy = false;
      this.wakeIdle();
    }
    if ((this.peerEnded || this.closing) && this.queue.length === 0 && !this.socket.destroyed)
      this.socket.end();
  }

  private armIdle(): void {
    const timeout = this.options.idleTimeoutMs;
    if (timeout <= 0) return;
    const wait = Math.max(10, this.lastActivity + timeout - Date.now());
    this.idleTimer = setTimeout(() => {
      if (this.socket.destroyed) return;
      if (!this.busy && this.queue.length === 0 && Date.now() - this.lastActivity >= timeout) {
        this.options.log.info('mllp connection idle; closing', {
          connectionId: this.info.id,
          idleTimeoutMs: timeout,
          pendingBytes: this.decoder.pending,
        });
        this.socket.end();
        // A peer that never closes its side is cut off.
        setTimeout(() => this.socket.destroy(), 2000).unref();
        return;
      }
      this.armIdle();
    }, wait);
    this.idleTimer.unref();
  }

  private wakeIdle(): void {
    if (this.busy) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  /** Stops reading; the message in progress finishes and is answered; the rest is dropped. */
  async shutdown(): Promise<void> {
    this.closing = true;
    this.socket.pause();
    this.queue.length = 0;
    if (this.busy) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    if (!this.socket.destroyed) {
      this.socket.end();
      // The answer is flushed before our FIN; a peer that keeps its side open is cut shortly after.
      setTimeout(() => this.socket.destroy(), 500).unref();
    }
  }

  destroy(): void {
    this.socket.destroy();
  }
}

export class MllpServer {
  private readonly connections = new Set<Connection>();
  private nextId = 1;
  /** Raw TCP connections open, by source address (before TLS, so handshakes count too). */
  private readonly perAddress = new Map<string, number>();
  private open = 0;
  private readonly refusals: RefusalWatch;

  private constructor(
    private readonly server: net.Server,
    private readonly options: MllpServerOptions,
  ) {
    this.refusals = options.refusals ?? new RefusalWatch({ logger: options.log });
  }

  /** Starts listening; rejects with ERR_MLLP_CONNECTION if the address cannot be bound. */
  static async listen(options: MllpServerOptions): Promise<MllpServer> {
    const t = options.tls;
    const server: net.Server = t
      ? tls.createServer({
          cert: t.cert,
          key: t.key,
          ...(t.ca !== undefined && { ca: t.ca }),
          requestCert: t.requestClientCert ?? false,
          rejectUnauthorized: t.requestClientCert ?? false,
          allowHalfOpen: true,
          minVersion: 'TLSv1.2',
        })
      : net.createServer({ allowHalfOpen: true });
    const mllp = new MllpServer(server, options);
    if (t) {
      // Before tls.Server's own listener: a refused socket never starts a handshake.
      server.prependListener('connection', (socket: net.Socket) => void mllp.admit(socket));
      server.on('secureConnection', (socket: net.Socket) => mllp.onConnection(socket));
    } else {
      server.on('connection', (socket: net.Socket) => {
        if (mllp.admit(socket)) mllp.onConnection(socket);
      });
    }
    if (t) {
      server.on('tlsClientError', (e: NodeJS.ErrnoException) => {
        // A reset before the handshake is a peer hanging up (or a connection refused over a
        // cap, already counted and logged by address): not worth a warn line each.
        const level = e.code === 'ECONNRESET' ? 'debug' : 'warn';
        options.log[level]('mllp TLS handshake refused', {
          code: e.code ?? 'tls',
          reason: e.message.slice(0, 120),
        });
      });
    }
    await new Promise<void>((resolve, reject) => {
      const onError = (e: NodeJS.ErrnoException) =>
        reject(
          new PasserelleError(
            'ERR_MLLP_CONNECTION',
            `MLLP listener cannot listen on ${options.host}:${options.port}: ${e.code ?? e.message}`,
            { cause: e, retryable: false },
          ),
        );
      server.once('error', onError);
      server.listen(options.port, options.host, () => {
        server.off('error', onError);
        server.on('error', (e) => options.log.error('mllp listener error', { err: e }));
        resolve();
      });
    });
    return mllp;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  get host(): string {
    return (this.server.address() as net.AddressInfo).address;
  }

  /** Open connections. */
  get connectionCount(): number {
    return this.connections.size;
  }

  /** Counts a new TCP connection against the caps; false (and the socket destroyed) when over one. */
  private admit(socket: net.Socket): boolean {
    const address = socket.remoteAddress ?? 'unknown';
    const fromAddress = this.perAddress.get(address) ?? 0;
    const over =
      this.open >= (this.options.maxConnections ?? 200)
        ? 'total-cap'
        : fromAddress >= (this.options.maxConnectionsPerAddress ?? 20)
          ? 'per-address-cap'
          : undefined;
    if (over) {
      socket.destroy();
      this.refusals.refused('mllp', address, over);
      return false;
    }
    this.open += 1;
    this.perAddress.set(address, fromAddress + 1);
    socket.once('close', () => {
      this.open -= 1;
      const n = (this.perAddress.get(address) ?? 1) - 1;
      if (n <= 0) this.perAddress.delete(address);
      else this.perAddress.set(address, n);
    });
    return true;
  }

  private onConnection(socket: net.Socket): void {
    const cert = socket instanceof tls.TLSSocket ? socket.getPeerCertificate() : undefined;
    const cn = cert?.subject?.CN;
    const info: MllpConnectionInfo = {
      id: this.nextId++,
      remoteAddress: socket.remoteAddress,
      remotePort: socket.remotePort,
      clientCertificate: Array.isArray(cn) ? cn.join(',') : cn,
    };
    const c = new Connection(socket, info, this.options);
    this.connections.add(c);
    void c.closed.then(() => this.connections.delete(c));
    this.options.log.debug('mllp connection opened', { connectionId: info.id });
  }

  /**
   * Stops accepting connections, lets each connection finish (and answer) the message in
   * progress, then closes them; after `timeoutMs` the rest are cut.
   */
  async close(timeoutMs = 10_000): Promise<void> {
    const stopped = new Promise<void>((resolve) => this.server.close(() => resolve()));
    const all = [...this.connections];
    const graceful = Promise.all(
      all.map(async (c) => {
        await c.shutdown();
        await c.closed;
      }),
    );
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([graceful, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    if (timer) clearTimeout(timer);
    for (const c of this.connections) c.destroy();
    await stopped;
  }
}
