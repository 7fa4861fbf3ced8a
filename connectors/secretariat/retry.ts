/** Retry timing for calls to the secretariat platform: exponential backoff, full jitter, Retry-After. */

export interface RetryPolicy {
  /** Attempts in all, the first one included. */
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** A Retry-After longer than this is capped: a peer must not park a link for hours. */
  readonly maxRetryAfterSeconds: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxAttempts: 5, baseDelayMs: 250, maxDelayMs: 30_000, maxRetryAfterSeconds: 120 };

/**
 * "Full jitter" (AWS Architecture Blog, *Exponential Backoff and Jitter*, 2015): a uniformly
 * random delay in [0, min(cap, base·2^attempt)), which spreads retries of many links apart.
 * `attempt` is 0 for the first retry.
 */
export function backoffDelayMs(policy: RetryPolicy, attempt: number, random: () => number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
  return Math.floor(random() * ceiling);
}

/**
 * Seconds to wait from a Retry-After header (RFC 9110 §10.2.3): either delay-seconds or an
 * HTTP-date. Returns undefined when absent or unreadable; never negative; capped.
 */
export function parseRetryAfter(value: string | undefined, nowMs: number, capSeconds: number): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  let seconds: number;
  if (/^\d+$/.test(v)) seconds = Number(v);
  else {
    // IMF-fixdate and the obsolete forms; Date.parse reads them all.
    const at = Date.parse(v);
    if (Number.isNaN(at) || !/[A-Za-z]/.test(v)) return undefined;
    seconds = Math.max(0, Math.ceil((at - nowMs) / 1000));
  }
  return Math.min(seconds, capSeconds);
}

/** Waits `ms`, or rejects at once when `signal` aborts (a stopped link does not sleep on). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
