import { describe, expect, it } from '@jest/globals';

import { backoffDelayMs, DEFAULT_RETRY_POLICY, parseRetryAfter, sleep } from '../../../connectors/secretariat/retry.js';

const NOW = Date.parse('2026-11-23T09:00:00Z');

describe('retry timing', () => {
  it('reads Retry-After as delay-seconds', () => {
    expect(parseRetryAfter('7', NOW, 120)).toBe(7);
    expect(parseRetryAfter(' 0 ', NOW, 120)).toBe(0);
  });

  it('reads Retry-After as an HTTP-date, relative to the injected clock', () => {
    expect(parseRetryAfter('Mon, 23 Nov 2026 09:00:42 GMT', NOW, 120)).toBe(42);
    // A date in the past means "now", never a negative wait.
    expect(parseRetryAfter('Mon, 23 Nov 2026 08:00:00 GMT', NOW, 120)).toBe(0);
  });

  it('caps a long Retry-After and ignores an unreadable one', () => {
    expect(parseRetryAfter('86400', NOW, 120)).toBe(120);
    expect(parseRetryAfter('soon', NOW, 120)).toBeUndefined();
    expect(parseRetryAfter('-3', NOW, 120)).toBeUndefined();
    expect(parseRetryAfter(undefined, NOW, 120)).toBeUndefined();
  });

  it('draws full-jitter backoff in [0, min(cap, base·2^attempt))', () => {
    const policy = { ...DEFAULT_RETRY_POLICY, baseDelayMs: 100, maxDelayMs: 1000 };
    expect(backoffDelayMs(policy, 0, () => 0)).toBe(0);
    expect(backoffDelayMs(policy, 0, () => 0.999)).toBe(99);
    expect(backoffDelayMs(policy, 3, () => 0.5)).toBe(400);
    expect(backoffDelayMs(policy, 10, () => 0.999)).toBe(999);
  });

  it('stops sleeping at once when the link is stopped', async () => {
    const controller = new AbortController();
    const started = sleep(60_000, controller.signal);
    controller.abort(new Error('stopped'));
    await expect(started).rejects.toThrow('stopped');
  });
});
