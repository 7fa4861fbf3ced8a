import { describe, expect, it } from '@jest/globals';

import { backoffDelay, isRetryableStatus, parseRetryAfter } from '../../../../connectors/fhir/client/index.js';

const NOW = Date.parse('2026-11-23T09:00:00.000Z');

describe('Retry-After and backoff', () => {
  it('reads Retry-After as delay-seconds or an HTTP-date (RFC 9110 §10.2.3)', () => {
    expect(parseRetryAfter('120', NOW)).toBe(120_000);
    expect(parseRetryAfter('Mon, 23 Nov 2026 09:00:30 GMT', NOW)).toBe(30_000);
    expect(parseRetryAfter('Mon, 23 Nov 2026 08:00:00 GMT', NOW)).toBe(0);
    expect(parseRetryAfter('soon', NOW)).toBeUndefined();
    expect(parseRetryAfter(null, NOW)).toBeUndefined();
  });

  it('doubles the backoff step per retry up to the cap, with half of it jittered', () => {
    const retry = { max: 5, baseDelayMs: 100, maxDelayMs: 1000 };
    expect([1, 2, 3, 4, 5].map((n) => backoffDelay(n, retry, () => 0))).toEqual([50, 100, 200, 400, 500]);
    expect([1, 2, 3, 4, 5].map((n) => backoffDelay(n, retry, () => 0.999999))).toEqual([100, 200, 400, 800, 1000]);
  });

  it('retries 408, 429 and server errors except 501 and 505', () => {
    expect([408, 429, 500, 502, 503, 504].every(isRetryableStatus)).toBe(true);
    expect([400, 401, 404, 409, 410, 412, 422, 501, 505].some(isRetryableStatus)).toBe(false);
  });
});
