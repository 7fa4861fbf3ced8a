import {
  closeSync,
  constants,
  existsSync,
  fchmodSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';

import axios from 'axios';

import { PasserelleError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { Store } from '../store/index.js';
import { stableStringify } from '../store/index.js';
import { auditMac, sameHex } from '../store/repos/audit.js';
import type { Clock } from '../store/repos/context.js';
import type { AuditCheckpointRef, AuditVerifyResult } from '../store/types.js';
import { auditKeyId } from './audit-key.js';

/**
 * A signed checkpoint, one JSON line of the checkpoint file: "the chain's event #seq had this
 * hash at this time", with an HMAC under the audit key. Kept outside the store, it is what
 * catches what the chain alone cannot: events removed from the end with the head moved back,
 * or the whole chain recomputed (with plain SHA-256 or another key) — the event a checkpoint
 * names no longer exists, or no longer has that hash.
 */
export interface AuditCheckpoint {
  readonly v: 1;
  readonly seq: number;
  readonly hash: string;
  readonly at: string;
  /** Which passerelle instance wrote it (several share a PostgreSQL store). */
  readonly instance: string;
  /** auditKeyId of the signing key: tells "another key" apart from "forged". */
  readonly keyId: string;
  readonly sig: string;
}

export function signCheckpoint(
  key: Buffer,
  body: Omit<AuditCheckpoint, 'v' | 'keyId' | 'sig'>,
): AuditCheckpoint {
  const unsigned = {
    v: 1 as const,
    seq: body.seq,
    hash: body.hash,
    at: body.at,
    instance: body.instance,
    keyId: auditKeyId(key),
  };
  return { ...unsigned, sig: auditMac(key, 'checkpoint', stableStringify(unsigned)) };
}

export interface CheckpointProblem {
  /** 1-based line of the checkpoint file. */
  readonly line: number;
  /** The event the line claims to cover, when it can be read. */
  readonly seq: number | null;
  readonly reason: string;
}

/** Reads and authenticates every line; a line that does not verify is a problem, never skipped silently. */
export function readCheckpoints(
  file: string,
  key: Buffer,
): { exists: boolean; checkpoints: AuditCheckpointRef[]; problems: CheckpointProblem[] } {
  if (!existsSync(file)) return { exists: false, checkpoints: [], problems: [] };
  const checkpoints: AuditCheckpointRef[] = [];
  const problems: CheckpointProblem[] = [];
  const keyId = auditKeyId(key);
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((text, i) => {
      if (text.trim() === '') return;
      let c: Partial<AuditCheckpoint>;
      try {
        c = JSON.parse(text) as Partial<AuditCheckpoint>;
      } catch {
        problems.push({ line: i + 1, seq: null, reason: 'not JSON' });
        return;
      }
      const seq = typeof c.seq === 'number' ? c.seq : null;
      if (
        c.v !== 1 ||
        seq === null ||
        typeof c.hash !== 'string' ||
        typeof c.at !== 'string' ||
        typeof c.instance !== 'string' ||
        typeof c.sig !== 'string'
      ) {
        problems.push({ line: i + 1, seq, reason: 'not a checkpoint' });
        return;
      }
      const expected = signCheckpoint(key, { seq, hash: c.hash, at: c.at, instance: c.instance });
      if (c.keyId !== keyId)
        problems.push({
          line: i + 1,
          seq,
          reason: `signed with another audit key (${String(c.keyId)}, configured ${keyId})`,
        });
      else if (!sameHex(c.sig, expected.sig))
        problems.push({
          line: i + 1,
          seq,
          reason: 'its signature does not verify (the line was forged or edited)',
        });
      else checkpoints.push({ seq, hash: c.hash, at: c.at });
    });
  return { exists: true, checkpoints, problems };
}

/**
 * `passerelle audit verify`: the chain under the key, and every signed checkpoint against it.
 * A missing or empty checkpoint file fails once the chain has events: without it a truncated
 * chain cannot be told from a short one.
 */
export async function verifyAuditTrail(
  store: Store,
  options: { key: Buffer; checkpointFile: string },
): Promise<AuditVerifyResult> {
  const read = readCheckpoints(options.checkpointFile, options.key);
  const bad = read.problems[0];
  if (bad) {
    return {
      ok: false,
      checked: 0,
      firstBrokenSeq: bad.seq ?? 0,
      reason: `checkpoint file ${options.checkpointFile} line ${bad.line}: ${bad.reason}`,
    };
  }
  const head = await store.audit.head();
  if (read.checkpoints.length === 0 && head.seq > 0) {
    return {
      ok: false,
      checked: 0,
      firstBrokenSeq: 1,
      reason: `no signed checkpoint in ${options.checkpointFile}: truncation and re-chaining cannot be ruled out`,
    };
  }
  return store.audit.verify({ checkpoints: read.checkpoints });
}

export interface AuditCheckpointerOptions {
  readonly store: Store;
  readonly key: Buffer;
  readonly file: string;
  readonly everyEvents: number;
  readonly everyMs: number;
  /** How often the head is looked at; 0 = never by itself (tests call `check()`). */
  readonly checkMs: number;
  readonly webhookUrl?: string;
  readonly webhookTimeoutMs?: number;
  readonly logger: Logger;
  readonly now: Clock;
  readonly instance?: string;
}

/**
 * Writes checkpoints of the chain head: at start, every `everyEvents` events, `everyMs` after
 * the last one if the chain grew, and at stop. The file is opened O_APPEND (every write lands at
 * the end, whatever else writes to it) and created 0600; each line is fsynced before it counts.
 * Events after the last checkpoint are not covered: the two thresholds bound that window.
 */
export class AuditCheckpointer {
  readonly name = 'audit-checkpoints';
  private fd: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private last: { seq: number; hash: string; atMs: number } | undefined;
  private running: Promise<unknown> = Promise.resolve();
  private readonly instance: string;
  /** Webhook deliveries in flight, awaited at stop. */
  private readonly posts = new Set<Promise<void>>();

  constructor(private readonly options: AuditCheckpointerOptions) {
    this.instance = options.instance ?? `${hostname()}:${process.pid}`;
  }

  async start(): Promise<void> {
    const { file } = this.options;
    try {
      mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
      this.fd = openSync(file, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, 0o600);
      // The mode above is cut by the umask and ignored for an existing file.
      fchmodSync(this.fd, 0o600);
    } catch (e) {
      throw new PasserelleError(
        'ERR_AUDIT_CHECKPOINT_UNWRITABLE',
        `cannot open the audit checkpoint file ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'} (audit.checkpoint.file)`,
        { cause: e },
      );
    }
    await this.checkpoint();
    if (this.options.checkMs > 0) {
      this.timer = setInterval(
        () =>
          void this.check().catch((e: unknown) =>
            this.options.logger.error('audit checkpoint failed', { err: e }),
          ),
        this.options.checkMs,
      );
      this.timer.unref();
    }
  }

  /** Writes a checkpoint if a threshold was crossed; resolves when it is on disk. */
  check(): Promise<AuditCheckpoint | undefined> {
    return this.serial(async () => {
      const head = await this.options.store.audit.head();
      const last = this.last;
      if (last && head.seq === last.seq && head.hash === last.hash) return undefined;
      if (
        last &&
        head.seq - last.seq < this.options.everyEvents &&
        this.options.now() - last.atMs < this.options.everyMs
      )
        return undefined;
      return this.write(head);
    });
  }

  /** Writes a checkpoint of the current head now (start, stop, `passerelle audit checkpoint`). */
  checkpoint(): Promise<AuditCheckpoint> {
    return this.serial(async () => this.write(await this.options.store.audit.head()));
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.fd === undefined) return;
    try {
      const head = await this.options.store.audit.head();
      if (!this.last || head.seq !== this.last.seq || head.hash !== this.last.hash) await this.checkpoint();
    } finally {
      await this.running.catch(() => undefined);
      await Promise.all(this.posts);
      closeSync(this.fd);
      this.fd = undefined;
    }
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.running.catch(() => undefined).then(fn);
    this.running = next;
    return next;
  }

  private write(head: { seq: number; hash: string }): AuditCheckpoint {
    if (this.fd === undefined)
      throw new PasserelleError('ERR_AUDIT_CHECKPOINT_UNWRITABLE', 'the audit checkpoint file is not open');
    const atMs = this.options.now();
    const cp = signCheckpoint(this.options.key, {
      seq: head.seq,
      hash: head.hash,
      at: new Date(atMs).toISOString(),
      instance: this.instance,
    });
    writeSync(this.fd, `${JSON.stringify(cp)}\n`);
    fsyncSync(this.fd);
    this.last = { ...head, atMs };
    if (this.options.webhookUrl) this.post(this.options.webhookUrl, cp);
    return cp;
  }

  /** A copy on another host; the file stays the reference, so a failed POST is logged, not retried. */
  private post(url: string, cp: AuditCheckpoint): void {
    const p = axios
      .post(url, cp, {
        timeout: this.options.webhookTimeoutMs ?? 10_000,
        maxRedirects: 0,
        validateStatus: () => true,
      })
      .then((res) => {
        if (res.status < 200 || res.status >= 300)
          this.options.logger.warn('audit checkpoint webhook refused', {
            seq: cp.seq,
            httpStatus: res.status,
          });
      })
      .catch((e: unknown) =>
        this.options.logger.warn('audit checkpoint webhook failed', {
          seq: cp.seq,
          code: (e as { code?: string }).code ?? 'error',
        }),
      )
      .finally(() => this.posts.delete(p));
    this.posts.add(p);
  }
}
