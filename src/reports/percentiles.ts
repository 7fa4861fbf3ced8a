/**
 * Exact percentiles by the nearest-rank method (NIST/SEMATECH e-Handbook §7.2.5.2; also
 * "Percentile", nearest-rank definition): the p-th percentile of N sorted values is the value
 * of rank ⌈p/100 · N⌉. Every value of the period is kept and sorted: no estimate, no
 * interpolation, and the answer is always a latency that really happened.
 */

export interface LatencySummary {
  readonly count: number;
  /** Milliseconds; null when there was nothing to measure. */
  readonly p50: number | null;
  readonly p95: number | null;
  readonly max: number | null;
}

/** The nearest-rank `p`-th percentile (0 < p ≤ 100) of values sorted ascending, or null when empty. */
export function nearestRank(sorted: readonly number[], p: number): number | null {
  if (!(p > 0 && p <= 100)) throw new RangeError(`percentile must be in (0, 100], got ${p}`);
  if (sorted.length === 0) return null;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

export function summarize(values: readonly number[]): LatencySummary {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    count: sorted.length,
    p50: nearestRank(sorted, 50),
    p95: nearestRank(sorted, 95),
    max: sorted.length === 0 ? null : (sorted[sorted.length - 1] as number),
  };
}
