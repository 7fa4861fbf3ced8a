/**
 * A practice-software peer for demos and tests (`passerelle simulate hl7 --port N`):
 *
 * - **MLLP server**: receives what passerelle sends (SIU, ADT, MDM…), records it, answers an ACK
 *   (AA by default) — or misbehaves on purpose: answer AE/AR/CE/CR, drop ACKs, delay them,
 *   close the connection in the middle of an ACK block.
 * - **MLLP client**: sends messages (fixtures, or a script) to passerelle's listener and records
 *   the ACKs.
 * - **Folder mode**: drops messages into passerelle's inbound folder (temp file + rename; one or
 *   several per file; CR, LF or CRLF), and collects the files passerelle writes to its outbound
 *   folder (recorded, then deleted, as practice software consumes them).
 *
 * It uses the codec for ACKs and its own socket handling (not MllpServer), so that it can see
 * whether a sender waits for each ACK (`pipelined` counts blocks that arrived while one was
 * still unanswered on the same connection) and can cut a block in half.
 */
import { readdir, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import { dirname, isAbsolute, join } from 'node:path';
import tls from 'node:tls';

import { encodeFrame, MllpDecoder } from '../../../src/hl7/framing.js';
import { type AckCode, buildAck, buildRejectAck, type Hl7Message, parseHl7 } from '../../../src/hl7/index.js';
import type { Logger } from '../../../src/log/logger.js';
import { silentLogger } from '../../../src/log/logger.js';
import { splitMessages } from '../file-drop/split.js';
import { safeName, writeFileAtomically } from '../file-drop/writer.js';
import { MllpClient, type MllpClientTls } from '../mllp/client.js';
import type { MllpServerTls } from '../mllp/server.js';
import { controlIdOf, withControlId } from './messages.js';

export { controlIdOf, withControlId, withField } from './messages.js';

export interface Hl7SimulatorFaults {
  /** Code of every ACK (default AA). */
  answer: AckCode;
  /** ERR-8 / MSA-3 text of negative ACKs. */
  errorText: string;
  /** Record but do not answer the next N messages. */
  dropAcks: number;
  /** Wait this long before each answer. */
  delayMs: number;
  /** For the next N messages: write half of the ACK block, then close the connection. */
  closeMidFrame: number;
}

export interface ReceivedHl7 {
  readonly via: 'mllp' | 'file';
  readonly controlId: string | undefined;
  readonly messageType: string | undefined;
  readonly raw: Buffer;
  /** What was answered (null: no answer, dropped, cut, or a file). */
  readonly answered: AckCode | null;
  readonly at: number;
}

export interface SentHl7 {
  readonly controlId: string | undefined;
  /** MSA-1 of the answer, or the error code when there was none. */
  readonly result: string;
  readonly ack: Hl7Message | undefined;
}

export interface Hl7SimulatorOptions {
  readonly host?: string;
  /** 0 (default): any free port. */
  readonly port?: number;
  readonly tls?: MllpServerTls;
  /** Collect the files passerelle writes into this folder. */
  readonly collectFrom?: string;
  readonly pollMs?: number;
  readonly log?: Logger;
  /** Called for each message received (the CLI prints a line). */
  readonly onMessage?: (m: ReceivedHl7) => void;
  readonly faults?: Partial<Hl7SimulatorFaults>;
}

export interface MllpTarget {
  readonly host: string;
  readonly port: number;
  readonly tls?: MllpClientTls;
}

export type ScriptStep = { readonly send: string; readonly times: number } | { readonly pause: number };

/**
 * A script is one step per line: `send <file.hl7> [xN]` (N copies with MSH-10 suffixed -1…-N),
 * `pause <ms>`; `#` starts a comment. Relative paths are relative to the script.
 */
export function parseScript(text: string, scriptPath?: string): ScriptStep[] {
  const base = scriptPath ? dirname(scriptPath) : process.cwd();
  const steps: ScriptStep[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/#.*/, '').trim();
    if (line === '') return;
    const [verb, arg, times] = line.split(/\s+/);
    if (verb === 'send' && arg) {
      const n = times === undefined ? 1 : Number(/^x(\d+)$/.exec(times)?.[1]);
      if (!Number.isInteger(n) || n < 1) throw new Error(`script line ${i + 1}: expected "send <file> [xN]"`);
      steps.push({ send: isAbsolute(arg) ? arg : join(base, arg), times: n });
    } else if (verb === 'pause' && arg && /^\d+$/.test(arg)) {
      steps.push({ pause: Number(arg) });
    } else {
      throw new Error(`script line ${i + 1}: expected "send <file> [xN]" or "pause <ms>"`);
    }
  });
  return steps;
}

export class Hl7Simulator {
  readonly received: ReceivedHl7[] = [];
  readonly faults: Hl7SimulatorFaults;
  /** Blocks that arrived while an earlier one on the same connection was still unanswered. */
  pipelined = 0;
  /** Connections accepted so far. */
  connections = 0;
  private readonly sockets = new Set<net.Socket>();
  private waiters: (() => void)[] = [];
  private collector: NodeJS.Timeout | undefined;
  private collecting: Promise<void> = Promise.resolve();
  private ackSeq = 0;
  private readonly log: Logger;

  private constructor(
    private readonly server: net.Server,
    private readonly options: Hl7SimulatorOptions,
  ) {
    this.log = options.log ?? silentLogger;
    this.faults = {
      answer: 'AA',
      errorText: 'Refused by the simulator',
      dropAcks: 0,
      delayMs: 0,
      closeMidFrame: 0,
      ...options.faults,
    };
  }

  static async start(options: Hl7SimulatorOptions = {}): Promise<Hl7Simulator> {
    const t = options.tls;
    const server = t
      ? tls.createServer({
          cert: t.cert,
          key: t.key,
          ...(t.ca !== undefined && { ca: t.ca }),
          requestCert: t.requestClientCert ?? false,
          rejectUnauthorized: t.requestClientCert ?? false,
        })
      : net.createServer();
    const sim = new Hl7Simulator(server, options);
    server.on(t ? 'secureConnection' : 'connection', (s: net.Socket) => sim.serve(s));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    if (options.collectFrom) sim.scheduleCollect(0);
    return sim;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  get host(): string {
    return (this.server.address() as net.AddressInfo).address;
  }

  /** Resolves once `n` messages have been received in total. */
  async waitForMessages(n: number, timeoutMs = 10_000): Promise<ReceivedHl7[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.received.length < n) {
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(
          `the simulator received ${this.received.length} of ${n} messages within ${timeoutMs} ms`,
        );
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 100));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.received.slice(0, n);
  }

  private record(m: ReceivedHl7): void {
    this.received.push(m);
    this.options.onMessage?.(m);
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private serve(socket: net.Socket): void {
    this.connections++;
    this.sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
    const decoder = new MllpDecoder({ maxMessageBytes: 16 << 20 });
    let busy = false;
    const queue: Buffer[] = [];
    const pump = async () => {
      if (busy) return;
      busy = true;
      while (queue.length > 0 && !socket.destroyed) await this.answer(socket, queue.shift() as Buffer);
      busy = false;
    };
    socket.on('data', (chunk: Buffer) => {
      for (const e of decoder.push(chunk)) {
        if (e.type !== 'message') continue;
        if (busy || queue.length > 0) this.pipelined++;
        queue.push(e.payload);
      }
      void pump();
    });
  }

  private async answer(socket: net.Socket, payload: Buffer): Promise<void> {
    const f = this.faults;
    let msg: Hl7Message | undefined;
    try {
      msg = parseHl7(payload);
    } catch {
      msg = undefined;
    }
    const base = {
      via: 'mllp' as const,
      controlId: msg?.header.controlId ?? controlIdOf(payload),
      messageType: msg?.header.messageType,
      raw: payload,
      at: Date.now(),
    };
    if (f.delayMs > 0) await new Promise((r) => setTimeout(r, f.delayMs));
    if (f.dropAcks > 0) {
      f.dropAcks--;
      this.record({ ...base, answered: null });
      return;
    }
    const code: AckCode = msg ? f.answer : 'AR';
    const positive = code === 'AA' || code === 'CA';
    const options = {
      controlId: `SIM${String(++this.ackSeq).padStart(8, '0')}`,
      timestamp: new Date(),
      sendingApplication: 'LOGICIEL-SIMULE',
      sendingFacility: 'CABINET-SIMULE',
    };
    const error = positive ? undefined : { hl7ErrorCode: '207' as const, message: f.errorText };
    const ack = msg
      ? buildAck(msg, { code, ...(error && { error }) }, options)
      : buildRejectAck(
          payload,
          { code: 'AR', error: { hl7ErrorCode: '100', message: 'the message cannot be parsed' } },
          options,
        );
    const block = encodeFrame(ack.bytes);
    if (f.closeMidFrame > 0) {
      f.closeMidFrame--;
      this.record({ ...base, answered: null });
      socket.write(block.subarray(0, Math.floor(block.length / 2)), () => socket.destroy());
      return;
    }
    this.record({ ...base, answered: code });
    socket.write(block);
  }

  /** Sends each message and waits for its ACK (one in flight), like practice software. */
  async send(
    target: MllpTarget,
    messages: readonly Buffer[],
    options: { ackTimeoutMs?: number } = {},
  ): Promise<SentHl7[]> {
    const client = new MllpClient({
      host: target.host,
      port: target.port,
      ...(target.tls && { tls: target.tls }),
      ackTimeoutMs: options.ackTimeoutMs ?? 10_000,
      log: this.log,
    });
    const out: SentHl7[] = [];
    try {
      for (const m of messages) {
        const controlId = controlIdOf(m);
        try {
          const a = await client.send(m, { controlId: controlId ?? '' });
          out.push({ controlId, result: a.code, ack: a.ack });
        } catch (e) {
          out.push({ controlId, result: (e as { code?: string }).code ?? 'error', ack: undefined });
        }
      }
    } finally {
      await client.close();
    }
    return out;
  }

  /** Runs a script (parseScript) against passerelle's listener. */
  async runScript(
    target: MllpTarget,
    steps: readonly ScriptStep[],
    onSent?: (s: SentHl7) => void,
  ): Promise<SentHl7[]> {
    const all: SentHl7[] = [];
    for (const step of steps) {
      if ('pause' in step) {
        await new Promise((r) => setTimeout(r, step.pause));
        continue;
      }
      const raw = await readFile(step.send);
      const copies =
        step.times === 1
          ? [raw]
          : Array.from({ length: step.times }, (_, i) =>
              withControlId(raw, `${controlIdOf(raw) ?? 'SIM'}-${i + 1}`),
            );
      for (const s of await this.send(target, copies)) {
        all.push(s);
        onSent?.(s);
      }
    }
    return all;
  }

  /**
   * Writes messages into `dir` as practice software drops them: `perFile` messages per file,
   * segments ending with `lineEnding`, written to a temp file then renamed. Returns the names.
   */
  async dropFiles(
    dir: string,
    messages: readonly Buffer[],
    options: { perFile?: number; lineEnding?: '\r' | '\n' | '\r\n'; prefix?: string } = {},
  ): Promise<string[]> {
    const per = options.perFile ?? 1;
    const names: string[] = [];
    for (let i = 0; i < messages.length; i += per) {
      const group = messages
        .slice(i, i + per)
        .map((m) => (options.lineEnding ? relineBytes(m, options.lineEnding) : m));
      const name = `${safeName(options.prefix ?? 'sim')}-${String(i / per + 1).padStart(6, '0')}.hl7`;
      await writeFileAtomically(dir, name, Buffer.concat(group));
      names.push(name);
    }
    return names;
  }

  private scheduleCollect(ms: number): void {
    this.collector = setTimeout(() => {
      this.collecting = this.collectOnce()
        .catch((e: unknown) => this.log.warn('simulator: collecting files failed', { err: e }))
        .finally(() => this.scheduleCollect(this.options.pollMs ?? 100));
    }, ms);
    this.collector.unref();
  }

  /** Reads, records and deletes the complete files in the collect folder. */
  async collectOnce(): Promise<void> {
    const dir = this.options.collectFrom as string;
    let names: string[];
    try {
      names = (await readdir(dir)).filter((n) => !n.startsWith('.')).sort();
    } catch {
      return;
    }
    for (const name of names) {
      const bytes = await readFile(join(dir, name));
      // Consumed first, as practice software does, then recorded.
      await rm(join(dir, name), { force: true });
      for (const m of splitMessages(bytes).messages) {
        let h;
        try {
          h = parseHl7(m).header;
        } catch {
          h = undefined;
        }
        this.record({
          via: 'file',
          controlId: h?.controlId ?? controlIdOf(m),
          messageType: h?.messageType,
          raw: m,
          answered: null,
          at: Date.now(),
        });
      }
    }
  }

  async close(): Promise<void> {
    if (this.collector) clearTimeout(this.collector);
    await this.collecting;
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** The same message with every segment ending in `ending` (what a file writer on Windows does). */
export function relineBytes(raw: Buffer, ending: '\r' | '\n' | '\r\n'): Buffer {
  return Buffer.from(raw.toString('latin1').replace(/\r\n|\r|\n/g, ending), 'latin1');
}
