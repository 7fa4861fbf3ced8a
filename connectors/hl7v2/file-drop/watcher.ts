/**
 * Inbound file drop: polls a folder the practice software writes HL7 files into.
 *
 * - **Complete files only.** A file is taken once its size and modification time are the same
 *   at two polls and at least `settleMs` old, and its last byte ends a segment (CR or LF). A file
 *   that stays unchanged but cut mid-segment for 10 × `settleMs` is taken anyway (its writer is
 *   gone; the parser will say what is wrong). Hidden files and `*.tmp` / `*.part` are skipped:
 *   writers that write-then-rename are never seen half-written.
 * - Each message of the file (split.ts) goes through the receiver (parse, translate, commit), in
 *   file order. Then the file moves to `processed/` if every message was applied (or was a
 *   resend), else to `error/` with `<name>.reason.json` saying, per message, its MSH-10, type,
 *   outcome and error code and text (never patient data).
 * - If a message cannot be committed (store unavailable), the file stays where it is and is
 *   taken again at a later poll; messages already committed come back as duplicates (dedupe).
 * - One poll at a time; files in name order.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { PasserelleError } from '../../../src/errors.js';
import type { Logger } from '../../../src/log/logger.js';
import type { ReceiveResult } from '../receiver.js';
import { splitMessages } from './split.js';
import { syncDir } from './writer.js';

export const PROCESSED_DIR = 'processed';
export const ERROR_DIR = 'error';

export interface FileDropWatcherOptions {
  readonly dir: string;
  readonly pollMs: number;
  readonly settleMs: number;
  readonly log: Logger;
  /** Commits one message and says what happened (Hl7Receiver.receive with the link's handler). */
  readonly receive: (raw: Buffer) => Promise<ReceiveResult>;
  /** Called after each file is moved (tests and the simulator await it). */
  readonly onFile?: (report: FileReport) => void;
}

export interface MessageReport {
  readonly index: number;
  readonly controlId: string | null;
  readonly messageType: string | null;
  readonly status: ReceiveResult['status'];
  readonly code: string | null;
  readonly error: string | null;
}

export interface FileReport {
  readonly name: string;
  readonly movedTo: 'processed' | 'error' | 'left';
  readonly messages: readonly MessageReport[];
  readonly reason?: string;
}

interface Seen {
  readonly size: number;
  readonly mtimeMs: number;
}

export class FileDropWatcher {
  private readonly seen = new Map<string, Seen>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> = Promise.resolve();
  private stopped = false;
  /** Polls done, for health and tests. */
  polls = 0;
  lastError: string | undefined;

  constructor(private readonly options: FileDropWatcherOptions) {}

  async start(): Promise<void> {
    try {
      await mkdir(join(this.options.dir, PROCESSED_DIR), { recursive: true });
      await mkdir(join(this.options.dir, ERROR_DIR), { recursive: true });
    } catch (e) {
      throw new PasserelleError(
        'ERR_FILEDROP_IO',
        `file drop: cannot prepare the inbound folder (${(e as NodeJS.ErrnoException).code ?? 'error'})`,
        { cause: e },
      );
    }
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.pollOnce()
        .catch((e: unknown) => {
          this.lastError = (e as Error).message;
          this.options.log.warn('file drop poll failed', {
            code: (e as PasserelleError).code ?? 'ERR_FILEDROP_IO',
          });
        })
        .finally(() => this.schedule(this.options.pollMs));
    }, ms);
    this.timer.unref();
  }

  /** One pass over the folder: takes the files that are complete. */
  async pollOnce(): Promise<FileReport[]> {
    const { dir, settleMs } = this.options;
    let names: string[];
    try {
      names = (await readdir(dir, { withFileTypes: true })).filter((d) => d.isFile()).map((d) => d.name);
    } catch (e) {
      throw new PasserelleError(
        'ERR_FILEDROP_IO',
        `file drop: cannot list the inbound folder (${(e as NodeJS.ErrnoException).code ?? 'error'})`,
        { cause: e },
      );
    }
    names = names.filter((n) => !n.startsWith('.') && !n.endsWith('.tmp') && !n.endsWith('.part')).sort();
    const present = new Set(names);
    for (const n of [...this.seen.keys()]) if (!present.has(n)) this.seen.delete(n);
    const reports: FileReport[] = [];
    for (const name of names) {
      if (this.stopped) break;
      const path = join(dir, name);
      let st;
      try {
        st = await stat(path);
      } catch {
        continue; // gone meanwhile
      }
      const before = this.seen.get(name);
      this.seen.set(name, { size: st.size, mtimeMs: st.mtimeMs });
      const age = Date.now() - st.mtimeMs;
      if (!before || before.size !== st.size || before.mtimeMs !== st.mtimeMs || age < settleMs) continue;
      const bytes = await readFile(path);
      const last = bytes[bytes.length - 1];
      const endsSegment = last === 0x0d || last === 0x0a;
      if (!endsSegment && bytes.length > 0 && age < 10 * Math.max(settleMs, this.options.pollMs)) continue;
      const report = await this.take(name, bytes);
      this.seen.delete(name);
      reports.push(report);
      this.options.onFile?.(report);
    }
    this.polls++;
    return reports;
  }

  private async take(name: string, bytes: Buffer): Promise<FileReport> {
    const { log } = this.options;
    const { messages, strayBytes } = splitMessages(bytes);
    if (messages.length === 0) {
      const reason =
        bytes.length === 0
          ? 'the file is empty'
          : 'the file holds no HL7 message (no line starting with MSH)';
      return this.move(name, 'error', [], `ERR_FILEDROP_NO_MESSAGE: ${reason}`);
    }
    const reports: MessageReport[] = [];
    for (const [i, raw] of messages.entries()) {
      const r = await this.options.receive(raw);
      reports.push({
        index: i + 1,
        controlId: r.controlId ?? null,
        messageType: r.messageType ?? null,
        status: r.status,
        code: r.error?.code ?? null,
        error: r.error?.message ?? null,
      });
      if (r.status === 'unavailable') {
        log.warn('file drop: a message could not be committed; the file will be taken again', {
          file: fileTag(name),
          message: i + 1,
          code: r.error?.code,
        });
        return { name, movedTo: 'left', messages: reports, reason: 'not committed; retried at a later poll' };
      }
    }
    const ok = reports.every((m) => m.status === 'applied' || m.status === 'duplicate');
    if (ok && strayBytes === 0) return this.move(name, 'processed', reports);
    const reason =
      strayBytes > 0 && ok
        ? `ERR_FILEDROP_NO_MESSAGE: ${strayBytes} bytes before the first MSH are not part of any message`
        : 'some messages were not applied (see messages)';
    return this.move(name, 'error', reports, reason);
  }

  private async move(
    name: string,
    to: 'processed' | 'error',
    messages: MessageReport[],
    reason?: string,
  ): Promise<FileReport> {
    const dir = this.options.dir;
    const target = await freeName(join(dir, to), name);
    try {
      if (to === 'error') {
        const body = { file: name, movedAt: new Date().toISOString(), reason: reason ?? null, messages };
        await writeFile(join(dir, to, `${target}.reason.json`), `${JSON.stringify(body, null, 2)}\n`);
      }
      await rename(join(dir, name), join(dir, to, target));
      await syncDir(join(dir, to));
      await syncDir(dir);
    } catch (e) {
      throw new PasserelleError(
        'ERR_FILEDROP_IO',
        `file drop: cannot move a file to ${to}/ (${(e as NodeJS.ErrnoException).code ?? 'error'})`,
        { cause: e },
      );
    }
    const meta = {
      file: fileTag(name),
      messages: messages.length,
      controlIds: messages.map((m) => m.controlId),
    };
    if (to === 'error') this.options.log.warn('file drop: file moved to error/', meta);
    else this.options.log.info('file drop: file moved to processed/', meta);
    return { name, movedTo: to, messages, ...(reason !== undefined && { reason }) };
  }
}

/** File names may hold patient names (some software names files that way): logs get a hash. */
export function fileTag(name: string): string {
  return createHash('sha256').update(name).digest('hex').slice(0, 12);
}

/** `name`, or `name.<n>` if a file of that name is already there (a file dropped twice). */
async function freeName(dir: string, name: string): Promise<string> {
  for (let n = 0; ; n++) {
    const candidate = n === 0 ? name : `${name}.${n}`;
    try {
      await stat(join(dir, candidate));
    } catch {
      return candidate;
    }
  }
}
