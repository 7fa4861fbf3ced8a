/**
 * The MLLP sender (passerelle → practice): one connection, **one message in flight** — the
 * next message is written only after the previous one was acknowledged or given up (HL7 v2.5.1
 * §2.9.2: the initiator waits for the acknowledgment). TCP or TLS (server certificate checked
 * against `ca`, optional client certificate).
 *
 * `send` resolves with the acknowledgment whose MSA-2 is the message's MSH-10; other answers
 * (a late ACK of a message given up on) are skipped. A timeout, a connection closed before the
 * answer, or an answer that is not an ACK closes the connection, since what arrives next on it
 * can no longer be trusted to match; the next `send` reconnects. Retrying with backoff is the
 * outbox dispatcher's job (the errors say `retryable`).
 */
import net from 'node:net';
import tls from 'node:tls';

import { isPasserelleError, PasserelleError } from '../../../src/errors.js';
import { encodeFrame, MllpDecoder } from '../../../src/hl7/framing.js';
import { ACK_CODES, type AckCode, type Hl7Message, parseHl7 } from '../../../src/hl7/index.js';
import type { Logger } from '../../../src/log/logger.js';

export interface MllpClientTls {
  /** CAs trusted for the server certificate (default: the system's). */
  readonly ca?: string | Buffer | undefined;
  /** Client certificate and key, for servers that ask for one. */
  readonly cert?: string | Buffer | undefined;
  readonly key?: string | Buffer | undefined;
  /** Name checked against the server certificate (default: host). */
  readonly servername?: string | undefined;
}

export interface MllpClientOptions {
  readonly host: string;
  readonly port: number;
  readonly tls?: MllpClientTls | undefined;
  /** How long to wait for the acknowledgment of one message. */
  readonly ackTimeoutMs: number;
  /** How long to wait for the connection (and TLS handshake). Default: ackTimeoutMs. */
  readonly connectTimeoutMs?: number;
  /** Largest answer accepted. Default 1 MiB. */
  readonly maxAnswerBytes?: number;
  readonly log: Logger;
}

export interface MllpAnswer {
  /** MSA-1. */
  readonly code: AckCode;
  /** The acknowledgment that settled the exchange. */
  readonly ack: Hl7Message;
  /** Every answer to this message, in order (an accept ACK before an application ACK). */
  readonly answers: readonly Hl7Message[];
}

export interface MllpSendOptions {
  /** MSH-10 of the message: the answer's MSA-2 must equal it. */
  readonly controlId: string;
  /**
   * Enhanced mode with MSH-16 = AL: a CA only says the peer stored the message; wait for the
   * application ACK (AA / AE / AR) that follows on the same connection.
   */
  readonly waitForApplicationAck?: boolean;
}

interface Waiter {
  readonly socket: net.Socket;
  readonly controlId: string;
  readonly waitForApplicationAck: boolean;
  readonly answers: Hl7Message[];
  resolve(answer: MllpAnswer): void;
  reject(error: PasserelleError): void;
}

export class MllpClient {
  private socket: net.Socket | undefined;
  private connecting: Promise<net.Socket> | undefined;
  private waiter: Waiter | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  private closed = false;
  /** Messages sent and answered, for health reporting. */
  lastAckAt: number | undefined;

  constructor(private readonly options: MllpClientOptions) {}

  get connected(): boolean {
    return this.socket !== undefined && !this.socket.destroyed;
  }

  /** Sends one message (without framing) and resolves with its acknowledgment. */
  send(message: Buffer, options: MllpSendOptions): Promise<MllpAnswer> {
    const run = this.chain.then(() => this.exchange(message, options));
    this.chain = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.chain;
    this.socket?.destroy();
    this.socket = undefined;
  }

  private async exchange(message: Buffer, options: MllpSendOptions): Promise<MllpAnswer> {
    if (this.closed) throw new PasserelleError('ERR_MLLP_CONNECTION', 'the MLLP sender is closed');
    const socket = await this.connect();
    return new Promise<MllpAnswer>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(
          new PasserelleError(
            'ERR_MLLP_ACK_TIMEOUT',
            `no acknowledgment for MSH-10 ${options.controlId} within ${this.options.ackTimeoutMs} ms`,
            { details: { controlId: options.controlId } },
          ),
        );
      }, this.options.ackTimeoutMs);
      this.waiter = {
        socket,
        controlId: options.controlId,
        waitForApplicationAck: options.waitForApplicationAck ?? false,
        answers: [],
        resolve: (a) => {
          clearTimeout(timer);
          this.waiter = undefined;
          this.lastAckAt = Date.now();
          resolve(a);
        },
        reject: (e) => {
          clearTimeout(timer);
          this.waiter = undefined;
          reject(e);
        },
      };
      socket.write(encodeFrame(message));
    });
  }

  /** Ends the current exchange with `error` and drops its connection. */
  private fail(error: PasserelleError, socket?: net.Socket): void {
    const w = this.waiter;
    const s = socket ?? w?.socket ?? this.socket;
    s?.destroy();
    if (this.socket === s) this.socket = undefined;
    if (w && (socket === undefined || w.socket === socket)) w.reject(error);
  }

  private connect(): Promise<net.Socket> {
    if (this.socket && !this.socket.destroyed) return Promise.resolve(this.socket);
    this.connecting ??= this.open().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private open(): Promise<net.Socket> {
    const o = this.options;
    const where = `${o.host}:${o.port}`;
    return new Promise<net.Socket>((resolve, reject) => {
      const t = o.tls;
      const socket = t
        ? tls.connect({
            host: o.host,
            port: o.port,
            ...(t.ca !== undefined && { ca: t.ca }),
            ...(t.cert !== undefined && { cert: t.cert }),
            ...(t.key !== undefined && { key: t.key }),
            servername: t.servername ?? (net.isIP(o.host) ? undefined : o.host),
            minVersion: 'TLSv1.2',
          })
        : net.connect({ host: o.host, port: o.port });
      let settled = false;
      const timer = setTimeout(() => {
        socket.destroy();
        done(
          new PasserelleError(
            'ERR_MLLP_CONNECTION',
            `MLLP peer ${where} did not accept the connection within ${o.connectTimeoutMs ?? o.ackTimeoutMs} ms`,
          ),
        );
      }, o.connectTimeoutMs ?? o.ackTimeoutMs);
      const done = (error?: PasserelleError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (error) reject(error);
        else resolve(socket);
      };
      socket.once('error', (e: NodeJS.ErrnoException) => {
        done(
          new PasserelleError(
            'ERR_MLLP_CONNECTION',
            `MLLP peer ${where}: ${e.code ?? e.message.slice(0, 120)}`,
            { cause: e },
          ),
        );
      });
      socket.once(t ? 'secureConnect' : 'connect', () => {
        socket.setNoDelay(true);
        socket.setKeepAlive(true, 60_000);
        this.attach(socket);
        this.socket = socket;
        o.log.debug('mllp sender connected', { peer: where });
        done();
      });
    });
  }

  private attach(socket: net.Socket): void {
    const decoder = new MllpDecoder({ maxMessageBytes: this.options.maxAnswerBytes ?? 1 << 20 });
    socket.on('data', (chunk: Buffer) => {
      for (const event of decoder.push(chunk)) {
        if (event.type === 'message') this.onAnswer(event.payload);
        else if (event.type === 'oversize')
          this.fail(
            new PasserelleError(
              'ERR_MLLP_ACK_INVALID',
              `the answer is larger than ${this.options.maxAnswerBytes ?? 1 << 20} bytes`,
            ),
            socket,
          );
        else if (event.type === 'unterminated')
          this.fail(
            new PasserelleError(
              'ERR_MLLP_ACK_INVALID',
              'the answer block was cut short by another start block',
            ),
            socket,
          );
      }
    });
    socket.on('error', (e: NodeJS.ErrnoException) =>
      this.options.log.debug('mllp sender connection error', { code: e.code }),
    );
    socket.on('close', () => {
      if (this.socket === socket) this.socket = undefined;
      const w = this.waiter;
      if (w?.socket === socket)
        this.fail(
          new PasserelleError(
            'ERR_MLLP_CONNECTION',
            `MLLP peer ${this.options.host}:${this.options.port} closed the connection before acknowledging MSH-10 ${w.controlId}`,
          ),
          socket,
        );
    });
  }

  private onAnswer(payload: Buffer): void {
    const w = this.waiter;
    if (!w) {
      this.options.log.warn('mllp answer with no message waiting; skipped', { bytes: payload.length });
      return;
    }
    let ack: Hl7Message;
    let code: string | undefined;
    let answers: string | undefined;
    try {
      ack = parseHl7(payload);
      code = ack.get('MSA-1');
      answers = ack.get('MSA-2');
    } catch (e) {
      this.fail(
        new PasserelleError(
          'ERR_MLLP_ACK_INVALID',
          `the answer to MSH-10 ${w.controlId} is not an HL7 message${isPasserelleError(e) ? ` (${e.message})` : ''}`,
          { cause: e },
        ),
      );
      return;
    }
    if (code === undefined || !(ACK_CODES as readonly string[]).includes(code)) {
      this.fail(
        new PasserelleError(
          'ERR_MLLP_ACK_INVALID',
          `the answer to MSH-10 ${w.controlId} has no acknowledgment code in MSA-1`,
        ),
      );
      return;
    }
    if (answers !== w.controlId) {
      // A late answer to a message given up on (its connection is normally dropped, but a peer
      // may answer twice): not ours.
      this.options.log.warn('mllp acknowledgment for another message skipped', {
        expected: w.controlId,
        got: answers?.slice(0, 40),
      });
      return;
    }
    w.answers.push(ack);
    if (code === 'CA' && w.waitForApplicationAck) return;
    w.resolve({ code: code as AckCode, ack, answers: [...w.answers] });
  }
}
