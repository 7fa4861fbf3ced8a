/**
 * Fault knobs for tests and demos: latency, shares of 429 (with Retry-After) and 500 answers,
 * dropped, duplicated or stale webhooks. Shares are drawn from a seeded PRNG so a given mix
 * plays out identically on every run; `script` gives exact answers to the next requests.
 */
import { seededRandom } from './prng.js';

/** One scripted answer for the next API request, before any normal processing. */
export type ScriptedFault =
  | { readonly status: 429 | 500 | 502 | 503 | 504; readonly retryAfter?: string }
  /** Delays the next request by this long, then processes it normally (a client timeout). */
  | { readonly latencyMs: number };

export interface FaultSettings {
  /** PRNG seed for the shares below. */
  readonly seed: number;
  /** Added to every API request before it is processed. */
  readonly latencyMs: number;
  /** Share (0..1) of API requests answered 429 with `retryAfter`. */
  readonly rate429Share: number;
  /** Retry-After value sent with a 429: delay-seconds or an HTTP-date. */
  readonly retryAfter: string;
  /** Share (0..1) of API requests answered 500. */
  readonly error500Share: number;
  /** Share (0..1) of webhooks never sent (the change feed still has them). */
  readonly dropWebhookShare: number;
  /** Share (0..1) of webhooks sent twice with the same webhook-id. */
  readonly duplicateWebhookShare: number;
  /** Added to webhook-timestamp (seconds): beyond ±600 passerelle refuses (WEBHOOK_RECEIVE_TOLERANCE_SECONDS). */
  readonly webhookTimestampSkewSeconds: number;
  /** Exact answers for the next API requests, consumed in order. */
  readonly script: readonly ScriptedFault[];
}

export const NO_FAULTS: FaultSettings = {
  seed: 1,
  latencyMs: 0,
  rate429Share: 0,
  retryAfter: '1',
  error500Share: 0,
  dropWebhookShare: 0,
  duplicateWebhookShare: 0,
  webhookTimestampSkewSeconds: 0,
  script: [],
};

export type ApiFault =
  | { readonly kind: 'none'; readonly latencyMs: number }
  | {
      readonly kind: 'status';
      readonly status: number;
      readonly retryAfter?: string;
      readonly latencyMs: number;
    };

export class Faults {
  private settings: FaultSettings = NO_FAULTS;
  private script: ScriptedFault[] = [];
  private apiRandom: () => number = seededRandom(NO_FAULTS.seed);
  private webhookRandom: () => number = seededRandom(NO_FAULTS.seed + 1);

  constructor(initial?: Partial<FaultSettings>) {
    if (initial) this.set(initial);
  }

  /** Replaces the given knobs; a new seed restarts the PRNG sequences; a script replaces the queue. */
  set(partial: Partial<FaultSettings>): void {
    this.settings = { ...this.settings, ...partial };
    if (partial.seed !== undefined) {
      this.apiRandom = seededRandom(partial.seed);
      this.webhookRandom = seededRandom(partial.seed + 1);
    }
    if (partial.script !== undefined) this.script = [...partial.script];
  }

  get current(): FaultSettings {
    return { ...this.settings, script: [...this.script] };
  }

  /** Decides what happens to the next API request. */
  nextApi(): ApiFault {
    const scripted = this.script.shift();
    if (scripted !== undefined) {
      if ('latencyMs' in scripted)
        return { kind: 'none', latencyMs: this.settings.latencyMs + scripted.latencyMs };
      return {
        kind: 'status',
        status: scripted.status,
        ...(scripted.retryAfter !== undefined && { retryAfter: scripted.retryAfter }),
        latencyMs: this.settings.latencyMs,
      };
    }
    const r = this.apiRandom();
    const { rate429Share, error500Share, latencyMs, retryAfter } = this.settings;
    if (r < rate429Share) return { kind: 'status', status: 429, retryAfter, latencyMs };
    if (r < rate429Share + error500Share) return { kind: 'status', status: 500, latencyMs };
    return { kind: 'none', latencyMs };
  }

  /** Decides the fate of the next webhook: dropped, sent twice, or sent once. */
  nextWebhook(): { readonly drop: boolean; readonly duplicate: boolean; readonly skewSeconds: number } {
    const r = this.webhookRandom();
    const { dropWebhookShare, duplicateWebhookShare, webhookTimestampSkewSeconds } = this.settings;
    return {
      drop: r < dropWebhookShare,
      duplicate: r >= dropWebhookShare && r < dropWebhookShare + duplicateWebhookShare,
      skewSeconds: webhookTimestampSkewSeconds,
    };
  }
}
