import { describe, expect, it } from '@jest/globals';

import { nearestRank, summarize } from '../../src/reports/percentiles.js';

describe('nearest-rank percentiles', () => {
  // The worked example of the nearest-rank method: 15, 20, 35, 40, 50.
  const values = [15, 20, 35, 40, 50];

  it('gives the value of rank ⌈p/100 · N⌉, always one of the values measured', () => {
    expect(nearestRank(values, 5)).toBe(15);
    expect(nearestRank(values, 30)).toBe(20);
    expect(nearestRank(values, 40)).toBe(20);
    expect(nearestRank(values, 50)).toBe(35);
    expect(nearestRank(values, 100)).toBe(50);
  });

  it('takes the lower middle value as the median of an even count, never an average', () => {
    expect(nearestRank([100, 200, 300, 400], 50)).toBe(200);
  });

  it('puts p95 of twenty values on the nineteenth and of twenty-one on the twentieth', () => {
    const twenty = Array.from({ length: 20 }, (_, i) => (i + 1) * 10);
    expect(nearestRank(twenty, 95)).toBe(190);
    expect(nearestRank([...twenty, 210], 95)).toBe(200);
  });

  it('answers null for no values and refuses a percentile outside (0, 100]', () => {
    expect(nearestRank([], 50)).toBeNull();
    expect(() => nearestRank(values, 0)).toThrow(RangeError);
    expect(() => nearestRank(values, 101)).toThrow(RangeError);
  });

  it('summarizes unsorted latencies into count, p50, p95 and max', () => {
    expect(summarize([900, 100, 5000, 300, 200])).toEqual({ count: 5, p50: 300, p95: 5000, max: 5000 });
    expect(summarize([])).toEqual({ count: 0, p50: null, p95: null, max: null });
    expect(summarize([42])).toEqual({ count: 1, p50: 42, p95: 42, max: 42 });
  });
});
