/**
 * Failed admin-API authentications, throttled and audited per client address (issue 16 point 7).
 *
 * - A client address that fails `maxFailures` times within a window (fixed, opened by its first
 *   failure) is blocked until that window ends: every request to a non-public route from it
 *   answers 429 ERR_RATE_LIMITED with Retry-After, *whatever key it presents*. Letting a valid
 *   key through would keep the lookup an oracle (429 = wrong guess, 200 = right one) at full
 *   speed; a legitimate client sharing that address waits at most one window.
 * - A success does not reset the count: interleaving a known key with guesses buys nothing.
 * - Audit rows are bounded: each failure is audited up to the threshold, then one
 *   `auth.throttled` event when the block is first enforced; the requests refused during the
 *   block are counted in the metric, not written. So one address writes at most
 *   `maxFailures + 1` rows per window, however many keys it tries.
 * - The key itself is never kept: the audit holds a 12-hex prefix of its SHA-256 (enough to
 *   tell "the same wrong key again" or a revoked key's owner, useless to rebuild it).
 *
 * In memory, per instance: behind several instances the bound is per instance.
 * The clock is the store's (injected in tests).
 */
import { PasserelleError } from '../errors.js';
import { hashSecret } from '../security/api-keys.js';
import type { RefusalKind, RefusalWatch } from '../security/refusals.js';
import type { Store } from '../store/index.js';

export interface AuthThrottleOptions {
  readonly store: Store;
  /** Failures from one address within the window that block it. Default 10. */
  readonly maxFailures?: number;
  /** Default 60. */
  readonly windowSeconds?: number;
  readonly watch?: RefusalWatch;
  /** Addresses remembered at once. Default 10,000. */
  readonly maxTracked?: number;
}

interface FailureWindow {
  readonly start: number;
  failures: number;
  throttleAudited: boolean;
}

export type AuthFailure = Extract<RefusalKind, 'no-key' | 'unknown-key' | 'revoked-key'>;

export class AuthThrottle {
  private readonly windows = new Map<string, FailureWindow>();
  private readonly store: Store;
  private readonly maxFailures: number;
  private readonly windowMs: number;
  private readonly maxTracked: number;

  constructor(private readonly options: AuthThrottleOptions) {
    this.store = options.store;
    this.maxFailures = options.maxFailures ?? 10;
    this.windowMs = (options.windowSeconds ?? 60) * 1000;
    this.maxTracked = options.maxTracked ?? 10_000;
  }

  /** Resolves when `client` may try to authenticate; rejects with ERR_RATE_LIMITED while it is blocked. */
  async admit(client: string | undefined, requestId: string): Promise<void> {
    const address = client ?? 'unknown';
    const w = this.current(address);
    if (!w || w.failures < this.maxFailures) return;
    const retryAfterSeconds = Math.max(1, Math.ceil((w.start + this.windowMs - this.store.now()) / 1000));
    this.options.watch?.refused('http-auth', address, 'throttled');
    if (!w.throttleAudited) {
      w.throttleAudited = true;
      await this.store.audit.append({
        actor: 'anonymous',
        action: 'auth.throttled',
        outcome: 'denied',
        requestId,
        via: 'api',
        details: { client: address, failures: w.failures, retryAfterSeconds },
      });
    }
    throw new PasserelleError(
      'ERR_RATE_LIMITED',
      `too many failed authentications from this address; retry in ${retryAfterSeconds} s`,
      {
        retryAfterSeconds,
      },
    );
  }

  /** Counts one failed authentication from `client` and audits it (up to the threshold). */
  async failed(
    client: string | undefined,
    presentedKey: string | undefined,
    requestId: string,
    kind: AuthFailure,
  ): Promise<void> {
    const address = client ?? 'unknown';
    let w = this.current(address);
    if (!w) {
      this.makeRoom();
      w = { start: this.store.now(), failures: 0, throttleAudited: false };
      this.windows.set(address, w);
    }
    w.failures += 1;
    this.options.watch?.refused('http-auth', address, kind);
    if (w.failures > this.maxFailures) return;
    await this.store.audit.append({
      actor: 'anonymous',
      action: 'auth.failed',
      outcome: 'failure',
      requestId,
      via: 'api',
      details: {
        client: address,
        failure: kind,
        keyHashPrefix: presentedKey ? hashSecret(presentedKey).slice(0, 12) : null,
      },
    });
  }

  private current(address: string): FailureWindow | undefined {
    const w = this.windows.get(address);
    if (w && this.store.now() - w.start >= this.windowMs) {
      this.windows.delete(address);
      return undefined;
    }
    return w;
  }

  private makeRoom(): void {
    if (this.windows.size < this.maxTracked) return;
    const now = this.store.now();
    for (const [k, w] of this.windows) if (now - w.start >= this.windowMs) this.windows.delete(k);
    while (this.windows.size >= this.maxTracked) {
      const oldest = this.windows.keys().next().value;
      if (oldest === undefined) break;
      this.windows.delete(oldest);
    }
  }
}
