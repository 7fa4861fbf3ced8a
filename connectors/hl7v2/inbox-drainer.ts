/**
 * Applies the messages a link committed to the inbox and acknowledged with an accept ACK
 * before applying them (`acceptAck: commit`, HL7 v2.5.1 §2.9.3: CA means "committed to safe
 * storage"). One pass takes the oldest stored messages, maps each again from its stored bytes
 * (the running profile) and applies them in one transaction, in arrival order; it repeats until
 * none is left. Only one pass runs per link (and, on PostgreSQL, per link across instances: the
 * `inbox:<link>` lease). Whatever a crash, a stop or a failing store leaves behind stays stored
 * and is applied by the next pass — at the next message, after a back-off, or when the link
 * starts again — exactly once: a message is marked applied in the transaction that applies it.
 */
import type { DeferredIngest, InboundMessage, StoredMessage } from '../../src/connector/contract.js';
import { isPasserelleError, PasserelleError } from '../../src/errors.js';
import type { Logger } from '../../src/log/logger.js';

export interface InboxDrainerOptions {
  readonly deferred: DeferredIngest;
  /** The message for stored bytes (parse + the link's current mapping). */
  readonly remap: (body: Buffer) => InboundMessage;
  readonly log: Logger;
  /**
   * Messages per transaction (default 25): a SQLite transaction runs without yielding, so a
   * smaller batch keeps the accept ACKs of new messages flowing while stored ones are applied.
   */
  readonly batch?: number;
  /** Wait before trying again after a failed pass (store down, passerelle stopping). */
  readonly retryMs?: number;
}

export class InboxDrainer {
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private retry: NodeJS.Timeout | undefined;
  /** Messages applied (or set aside) by this drainer: for tests and health. */
  applied = 0;
  lastError: string | undefined;

  constructor(private readonly options: InboxDrainerOptions) {}

  /** Something was stored (or the link started): make sure a pass runs. */
  kick(): void {
    if (this.stopped) return;
    if (this.retry) {
      clearTimeout(this.retry);
      this.retry = undefined;
    }
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.passes().finally(() => {
      this.running = undefined;
      if (this.again) this.kick();
    });
  }

  /** Resolves once no pass is running (what was stored before is applied, or waits for a retry). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Applies what is stored now (a pass waiting to retry runs at once), then resolves. */
  async drained(): Promise<void> {
    if (this.busy) this.kick();
    await this.idle();
  }

  /** Whether messages may be waiting (a pass is running or due). */
  get busy(): boolean {
    return this.running !== undefined || this.retry !== undefined;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    this.retry = undefined;
    await this.idle();
  }

  private async passes(): Promise<void> {
    const { deferred, log } = this.options;
    const batch = this.options.batch ?? 25;
    for (;;) {
      this.again = false;
      let done: number;
      try {
        const r = await deferred.exclusive(async () => {
          const rows = await deferred.pending(batch);
          if (rows.length === 0) return 0;
          await deferred.apply(rows.map((row) => ({ id: row.id, message: this.messageOf(row) })));
          return rows.length;
        });
        if (!r.acquired) {
          // Another pass holds the link (another instance): look again later.
          this.later();
          return;
        }
        done = r.result ?? 0;
      } catch (e) {
        this.lastError = isPasserelleError(e) ? e.code : 'ERR_INTERNAL';
        log.warn('stored hl7 messages not applied yet; trying again', { code: this.lastError });
        this.later();
        return;
      }
      this.lastError = undefined;
      this.applied += done;
      if (done === 0 && !this.again) return;
      if (this.stopped) return;
      // Let the sockets' messages of this turn in before the next batch.
      await new Promise((r) => setImmediate(r));
    }
  }

  private later(): void {
    if (this.stopped || this.retry) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      this.kick();
    }, this.options.retryMs ?? 1000);
    this.retry.unref();
  }

  private messageOf(row: StoredMessage): InboundMessage {
    if (!row.body) {
      const error = new PasserelleError('ERR_INTERNAL', `stored message ${row.id} has no body left to apply`);
      return { dedupe: null, records: [], error };
    }
    try {
      return this.options.remap(row.body);
    } catch (e) {
      const error = isPasserelleError(e)
        ? e
        : new PasserelleError('ERR_INTERNAL', 'the stored message could not be mapped', { cause: e });
      return { dedupe: null, records: [], error };
    }
  }
}
