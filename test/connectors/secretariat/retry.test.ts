import { describe, expect, it } from '@jest/globals';

import { DEFAULT_RETRY_POLICY, isPlatformRetryableStatus } from '../../../connectors/secretariat/client.js';
import { isRetryableStatus } from '../../../src/util/retry.js';

describe('secretariat retry policy', () => {
  it('retries only the statuses the contract answers for "try again", all retryable in HTTP terms', () => {
    expect([429, 500, 502, 503, 504].every(isPlatformRetryableStatus)).toBe(true);
    expect([429, 500, 502, 503, 504].every(isRetryableStatus)).toBe(true);
    // Off-contract answers are the platform's bug: retrying does not repair them.
    expect([400, 401, 403, 404, 408, 409, 412, 422, 501, 505, 507].some(isPlatformRetryableStatus)).toBe(
      false,
    );
  });

  it('defaults to five attempts, full jitter from 250 ms, Retry-After capped at two minutes', () => {
    expect(DEFAULT_RETRY_POLICY).toEqual({
      maxAttempts: 5,
      baseDelayMs: 250,
      maxDelayMs: 30_000,
      maxRetryAfterSeconds: 120,
    });
  });
});
