/**
 * Sends one signed webhook per change, in order, to the configured URL (Standard Webhooks:
 * headers webhook-id / webhook-timestamp / webhook-signature, signed with every active secret).
 * A delivery that gets no 2xx is retried with the same id and a fresh timestamp, then given up:
 * the change feed still holds it (a webhook is a hint, the feed is the truth).
 */
import type { EventEmitter } from 'node:events';

import { signWebhook, WEBHOOK_HEADERS } from '../../../src/security/webhook-signature.js';
import { sleep } from '../../../src/util/retry.js';
import type { WebhookPayload } from '../contract.js';
import type { Faults } from './faults.js';
import type { ChangeRecord, SimulatorCounters } from './state.js';

export interface WebhookTarget {
  readonly url: string;
  /** Current secret first; during a rotation, the previous one too (both signatures are sent). */
  readonly secrets: readonly string[];
  /** Waits between attempts; the number of entries is the number of retries. */
  readonly retryDelaysMs?: readonly number[];
  readonly timeoutMs?: number;
}

export type WebhookOutcome = 'delivered' | 'retrying' | 'failed' | 'dropped';

export interface WebhookEvent {
  readonly webhookId: string;
  readonly seq: number;
  readonly type: string;
  readonly attempt: number;
  readonly outcome: WebhookOutcome;
  readonly status?: number;
  /** The second copy of a duplicated delivery. */
  readonly duplicate?: boolean;
}

export class WebhookSender {
  private readonly queue: ChangeRecord[] = [];
  private running = false;
  private closed = false;
  private idleWaiters: (() => void)[] = [];
  private readonly controller = new AbortController();

  constructor(
    private target: WebhookTarget | null,
    private readonly faults: Faults,
    private readonly counters: SimulatorCounters,
    private readonly now: () => number,
    readonly events: EventEmitter,
    /** Called when a delivery got a 2xx (the platform marks new messages delivered). */
    private readonly onDelivered: (change: ChangeRecord) => void,
  ) {}

  setTarget(target: WebhookTarget | null): void {
    this.target = target;
  }

  enqueue(change: ChangeRecord): void {
    if (this.target === null || this.closed) return;
    this.queue.push(change);
    if (!this.running) void this.run();
  }

  /** Resolves when every queued webhook was delivered, dropped or given up. */
  idle(): Promise<void> {
    if (!this.running && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  close(): void {
    this.closed = true;
    this.queue.length = 0;
    this.controller.abort();
  }

  private async run(): Promise<void> {
    this.running = true;
    try {
      for (
        let change = this.queue.shift();
        change !== undefined && !this.closed;
        change = this.queue.shift()
      ) {
        await this.deliver(change);
      }
    } finally {
      this.running = false;
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  private emit(e: WebhookEvent): void {
    this.events.emit('webhook', e);
  }

  private async deliver(change: ChangeRecord): Promise<void> {
    const target = this.target;
    if (target === null) return;
    const id = `evt_${change.seq}`;
    const type = `${change.type}.${change.op}`;
    const fate = this.faults.nextWebhook();
    if (fate.drop) {
      this.counters.webhooksDropped += 1;
      this.emit({ webhookId: id, seq: change.seq, type, attempt: 0, outcome: 'dropped' });
      return;
    }
    const { practiceId, ...entry } = change;
    const payload: WebhookPayload = {
      type,
      timestamp: new Date(this.now()).toISOString(),
      practiceId,
      data: entry,
    };
    const body = Buffer.from(JSON.stringify(payload));
    const delays = target.retryDelaysMs ?? [100, 500, 2000, 5000];
    for (let attempt = 1; attempt <= delays.length + 1 && !this.closed; attempt++) {
      const status = await this.post(target, id, body, fate.skewSeconds);
      const ok = status !== undefined && status >= 200 && status < 300;
      if (ok) {
        this.counters.webhooksDelivered += 1;
        this.emit({ webhookId: id, seq: change.seq, type, attempt, outcome: 'delivered', status });
        this.onDelivered(change);
        if (fate.duplicate && !this.closed) {
          this.counters.webhooksDuplicated += 1;
          const again = await this.post(target, id, body, fate.skewSeconds);
          this.emit({
            webhookId: id,
            seq: change.seq,
            type,
            attempt: attempt + 1,
            outcome: again !== undefined && again < 300 ? 'delivered' : 'failed',
            ...(again !== undefined && { status: again }),
            duplicate: true,
          });
        }
        return;
      }
      const last = attempt === delays.length + 1;
      this.emit({
        webhookId: id,
        seq: change.seq,
        type,
        attempt,
        outcome: last ? 'failed' : 'retrying',
        ...(status !== undefined && { status }),
      });
      if (last) {
        this.counters.webhooksFailed += 1;
        return;
      }
      await sleep(delays[attempt - 1] ?? 0, this.controller.signal).catch(() => undefined);
    }
  }

  /** One attempt; undefined when the request itself failed (refused, timeout). */
  private async post(
    target: WebhookTarget,
    id: string,
    body: Buffer,
    skewSeconds: number,
  ): Promise<number | undefined> {
    // Each attempt has its own timestamp (Standard Webhooks: "the timestamp of the attempt").
    const timestamp = Math.floor(this.now() / 1000) + skewSeconds;
    try {
      const res = await fetch(target.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          [WEBHOOK_HEADERS.id]: id,
          [WEBHOOK_HEADERS.timestamp]: String(timestamp),
          [WEBHOOK_HEADERS.signature]: signWebhook(target.secrets, id, timestamp, body),
        },
        body,
        signal: AbortSignal.any([this.controller.signal, AbortSignal.timeout(target.timeoutMs ?? 10_000)]),
      });
      await res.arrayBuffer();
      return res.status;
    } catch {
      return undefined;
    }
  }
}
