/**
 * The protocol-neutral pieces of retrying a remote call, shared by every HTTP peer (FHIR
 * client, secretariat client) and by the outbox dispatcher: backoff with jitter, Retry-After
 * (RFC 9110 §10.2.3), an abortable sleep, and which failures are worth another try. Each
 * caller keeps its own loop (a FHIR 401 refreshes a token, the outbox retries across restarts)
 * and its own caps; all delays here are milliseconds.
 */

/**
 * How retries spread out (AWS Architecture Blog, *Exponential Backoff and Jitter*, 2015):
 * - `full`: a uniformly random delay in [0, step), which spreads many failed callers widest;
 * - `equal`: half the step plus a random half, so a retry never comes right back.
 */
export type Jitter = 'full' | 'equal';

export interface BackoffPolicy {
  readonly baseDelayMs: number;
  /** Cap of one step, before jitter. */
  readonly maxDelayMs: number;
  readonly jitter: Jitter;
}

/**
 * Delay before retry number `retry` (1 for the first retry, i.e. after one failed attempt):
 * step = min(maxDelayMs, baseDelayMs·2^(retry-1)), then jittered. Finite for any `retry`.
 */
export function backoffDelayMs(
  retry: number,
  policy: BackoffPolicy,
  random: () => number = Math.random,
): number {
  // 2^30 steps of any base exceed every sane cap; clamping keeps the arithmetic finite.
  const exponent = Math.max(0, Math.min(retry - 1, 30));
  const step = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** exponent);
  if (policy.jitter === 'equal') return Math.round(step / 2 + (step / 2) * random());
  return Math.floor(random() * step);
}

/**
 * Milliseconds to wait from a Retry-After header (RFC 9110 §10.2.3): delay-seconds or an
 * HTTP-date (IMF-fixdate and the obsolete forms, relative to `nowMs`). A date in the past
 * means 0, never a negative wait. Undefined when absent or unreadable (a bare number with a
 * sign is neither form). Capped at `maxMs` when given: a peer must not park a link for hours.
 */
export function parseRetryAfterMs(
  value: string | null | undefined,
  nowMs: number,
  maxMs?: number,
): number | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  let ms: number;
  if (/^[0-9]+$/.test(text)) ms = Number(text) * 1000;
  else {
    const at = Date.parse(text);
    // Date.parse also reads "-3" or "2026" as dates; an HTTP-date always names a day or month.
    if (Number.isNaN(at) || !/[A-Za-z]/.test(text)) return undefined;
    ms = Math.max(0, at - nowMs);
  }
  return maxMs === undefined ? ms : Math.min(ms, maxMs);
}

/** Waits `ms`, or rejects with the signal's reason at once when it aborts (a stopped link does not sleep on). */
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
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * HTTP statuses worth another try (RFC 9110 §15): 408 and 429 (the request was not
 * processed), and server errors other than 501 and 505, which the same request will meet again.
 */
export function isRetryableStatus(status: number): boolean {
  return (
    status === 408 || status === 429 || (status >= 500 && status <= 599 && status !== 501 && status !== 505)
  );
}

/** A call that got no HTTP answer: always worth another try (unless the caller itself gave up). */
export interface TransportFailure {
  readonly kind: 'timeout' | 'network';
  /** The system or library code (ECONNREFUSED, ECONNRESET, UND_ERR_SOCKET…), never its message. */
  readonly code: string | undefined;
}

/** Codes an HTTP library uses for its own per-request timeout (axios: ECONNABORTED, ETIMEDOUT). */
const TIMEOUT_CODES = new Set(['ECONNABORTED', 'ETIMEDOUT']);

/**
 * Classifies a call that threw before any HTTP answer. `timedOut` says the caller's own
 * deadline fired (an AbortSignal.timeout); otherwise a library timeout code says so. The code
 * is the error's own (axios) or its cause's (fetch: `TypeError: fetch failed` with a cause).
 */
export function classifyTransportError(
  error: unknown,
  options: { readonly timedOut?: boolean } = {},
): TransportFailure {
  const code = errorCode(error) ?? errorCode((error as { cause?: unknown } | null)?.cause);
  const timeout =
    options.timedOut === true ||
    (options.timedOut === undefined && code !== undefined && TIMEOUT_CODES.has(code));
  return { kind: timeout ? 'timeout' : 'network', code };
}

function errorCode(error: unknown): string | undefined {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
}
