/**
 * Retry delays for the outbox (design rule 3): exponential backoff with full jitter, as in
 * "Exponential Backoff And Jitter" (AWS Architecture Blog, 2015): a random delay in
 * [0, min(cap, base·2^(attempt-1))], so many failed changes do not retry in lock-step.
 * A peer's Retry-After (RFC 9110 §10.2.3) is a floor: never retry sooner than it asks.
 */
export interface BackoffOptions {
  readonly baseMs: number;
  readonly capMs: number;
  /** Injected for tests; Math.random by default. */
  readonly random?: () => number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 1000, capMs: 10 * 60_000 };

/** Delay before attempt `attempt + 1`, after `attempt` failed attempts (1-based). */
export function backoffDelay(attempt: number, options: BackoffOptions = DEFAULT_BACKOFF, retryAfterSeconds?: number): number {
  const exp = Math.min(options.capMs, options.baseMs * 2 ** Math.max(0, Math.min(attempt - 1, 30)));
  const jittered = Math.floor((options.random ?? Math.random)() * exp);
  const floor = retryAfterSeconds !== undefined && retryAfterSeconds > 0 ? Math.ceil(retryAfterSeconds * 1000) : 0;
  return Math.max(jittered, floor);
}
