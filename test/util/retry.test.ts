import { describe, expect, it } from '@jest/globals';

import {
  backoffDelayMs,
  classifyTransportError,
  isRetryableStatus,
  parseRetryAfterMs,
  sleep,
} from '../../src/util/retry.js';

const NOW = Date.parse('2026-11-23T09:00:00.000Z');

describe('Retry-After (RFC 9110 §10.2.3)', () => {
  it('reads delay-seconds', () => {
    expect(parseRetryAfterMs('120', NOW)).toBe(120_000);
    expect(parseRetryAfterMs('7', NOW)).toBe(7000);
    expect(parseRetryAfterMs(' 0 ', NOW)).toBe(0);
  });

  it('reads an HTTP-date, relative to the injected clock', () => {
    expect(parseRetryAfterMs('Mon, 23 Nov 2026 09:00:30 GMT', NOW)).toBe(30_000);
    expect(parseRetryAfterMs('Mon, 23 Nov 2026 09:00:42 GMT', NOW)).toBe(42_000);
    // A date in the past means "now", never a negative wait.
    expect(parseRetryAfterMs('Mon, 23 Nov 2026 08:00:00 GMT', NOW)).toBe(0);
  });

  it('caps a long Retry-After when asked', () => {
    expect(parseRetryAfterMs('86400', NOW, 120_000)).toBe(120_000);
    expect(parseRetryAfterMs('Mon, 23 Nov 2026 10:00:00 GMT', NOW, 120_000)).toBe(120_000);
    expect(parseRetryAfterMs('7', NOW, 120_000)).toBe(7000);
    expect(parseRetryAfterMs('86400', NOW)).toBe(86_400_000);
  });

  it('ignores an absent or unreadable one', () => {
    expect(parseRetryAfterMs('soon', NOW)).toBeUndefined();
    expect(parseRetryAfterMs('-3', NOW)).toBeUndefined();
    expect(parseRetryAfterMs('2026-11-23', NOW)).toBeUndefined();
    expect(parseRetryAfterMs(null, NOW)).toBeUndefined();
    expect(parseRetryAfterMs(undefined, NOW)).toBeUndefined();
  });
});

describe('backoff', () => {
  it('equal jitter: doubles the step per retry up to the cap, with half of it jittered', () => {
    const policy = { baseDelayMs: 100, maxDelayMs: 1000, jitter: 'equal' } as const;
    expect([1, 2, 3, 4, 5].map((n) => backoffDelayMs(n, policy, () => 0))).toEqual([50, 100, 200, 400, 500]);
    expect([1, 2, 3, 4, 5].map((n) => backoffDelayMs(n, policy, () => 0.999999))).toEqual([
      100, 200, 400, 800, 1000,
    ]);
  });

  it('full jitter: draws in [0, min(cap, base·2^(retry-1)))', () => {
    const policy = { baseDelayMs: 100, maxDelayMs: 1000, jitter: 'full' } as const;
    expect(backoffDelayMs(1, policy, () => 0)).toBe(0);
    expect(backoffDelayMs(1, policy, () => 0.999)).toBe(99);
    expect(backoffDelayMs(4, policy, () => 0.5)).toBe(400);
    expect(backoffDelayMs(11, policy, () => 0.999)).toBe(999);
  });

  it('full jitter: doubles the ceiling with each retry up to the cap, over the whole window', () => {
    const policy = { baseDelayMs: 1000, maxDelayMs: 60_000, jitter: 'full' } as const;
    const ceilings = [1, 2, 3, 4, 5, 6, 7, 8].map((n) => backoffDelayMs(n, policy, () => 0.999999));
    expect(ceilings).toEqual([999, 1999, 3999, 7999, 15_999, 31_999, 59_999, 59_999]);
    expect(backoffDelayMs(4, policy, () => 0)).toBe(0);
    expect(backoffDelayMs(4, policy, () => 0.5)).toBe(4000);
  });

  it('stays finite for absurd retry counts', () => {
    expect(
      backoffDelayMs(10_000, { baseDelayMs: 1000, maxDelayMs: 60_000, jitter: 'full' }, () => 0.999999),
    ).toBe(59_999);
    expect(
      backoffDelayMs(10_000, { baseDelayMs: 1000, maxDelayMs: 60_000, jitter: 'equal' }, () => 0.999999),
    ).toBe(60_000);
  });
});

describe('sleep', () => {
  it('stops sleeping at once when the link is stopped', async () => {
    const controller = new AbortController();
    const started = sleep(60_000, controller.signal);
    controller.abort(new Error('stopped'));
    await expect(started).rejects.toThrow('stopped');
  });

  it('does not start when already aborted, and resolves after the delay otherwise', async () => {
    await expect(sleep(60_000, AbortSignal.abort(new Error('gone')))).rejects.toThrow('gone');
    await expect(sleep(1, new AbortController().signal)).resolves.toBeUndefined();
  });
});

describe('what is worth another try', () => {
  it('retries 408, 429 and server errors except 501 and 505', () => {
    expect([408, 429, 500, 502, 503, 504].every(isRetryableStatus)).toBe(true);
    expect([400, 401, 404, 409, 410, 412, 422, 501, 505].some(isRetryableStatus)).toBe(false);
  });

  it('tells a timeout from a network failure and keeps the code, not the message', () => {
    const refused = Object.assign(new TypeError('fetch failed'), {
      cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }),
    });
    expect(classifyTransportError(refused)).toEqual({ kind: 'network', code: 'ECONNREFUSED' });
    expect(classifyTransportError(Object.assign(new Error('reset'), { code: 'ECONNRESET' }))).toEqual({
      kind: 'network',
      code: 'ECONNRESET',
    });
    expect(
      classifyTransportError(Object.assign(new Error('timeout of 10ms exceeded'), { code: 'ECONNABORTED' })),
    ).toEqual({ kind: 'timeout', code: 'ECONNABORTED' });
    expect(classifyTransportError(new Error('no code'))).toEqual({ kind: 'network', code: undefined });
    expect(classifyTransportError(null)).toEqual({ kind: 'network', code: undefined });
  });

  it('lets the caller’s own deadline decide when it has one', () => {
    const aborted = Object.assign(new Error('aborted'), { code: 'ETIMEDOUT' });
    expect(classifyTransportError(new Error('aborted'), { timedOut: true }).kind).toBe('timeout');
    expect(classifyTransportError(aborted, { timedOut: false }).kind).toBe('network');
  });
});
