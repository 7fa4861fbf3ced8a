import { describe, expect, it } from '@jest/globals';

import { backoffDelay } from '../../src/sync/dispatcher.js';

describe('retry backoff', () => {
  const options = (r: number) => ({ baseMs: 1000, capMs: 60_000, random: () => r });

  it('doubles the ceiling with each failed attempt, up to the cap', () => {
    const ceilings = [1, 2, 3, 4, 5, 6, 7, 8].map((attempt) => backoffDelay(attempt, options(0.999999)));
    expect(ceilings).toEqual([999, 1999, 3999, 7999, 15_999, 31_999, 59_999, 59_999]);
  });

  it('spreads retries over the whole window (full jitter)', () => {
    expect(backoffDelay(4, options(0))).toBe(0);
    expect(backoffDelay(4, options(0.5))).toBe(4000);
  });

  it('never retries sooner than the peer’s Retry-After', () => {
    expect(backoffDelay(1, options(0.1), 120)).toBe(120_000);
    expect(backoffDelay(7, options(0.9), 1)).toBe(54_000);
  });

  it('stays finite for absurd attempt counts', () => {
    expect(backoffDelay(10_000, options(0.999999))).toBe(59_999);
  });
});
