import { describe, expect, it } from '@jest/globals';

import { seriesBuckets } from '../../src/reports/series.js';

describe('series buckets', () => {
  it('cuts at local midnights, with a 25-hour day when Paris leaves summer time', () => {
    const b = seriesBuckets(
      { from: '2026-10-24T22:00:00.000Z', to: '2026-10-26T23:00:00.000Z' },
      'Europe/Paris',
      'day',
    );
    expect(b).toEqual([
      { from: '2026-10-24T22:00:00.000Z', to: '2026-10-25T23:00:00.000Z' },
      { from: '2026-10-25T23:00:00.000Z', to: '2026-10-26T23:00:00.000Z' },
    ]);
  });

  it('cuts weeks at local Monday midnight, the first and last clipped to the period', () => {
    // Wednesday 2026-11-18 to Wednesday 2026-12-02, Paris (UTC+1).
    const b = seriesBuckets(
      { from: '2026-11-17T23:00:00.000Z', to: '2026-12-01T23:00:00.000Z' },
      'Europe/Paris',
      'week',
    );
    expect(b.map((p) => p.from)).toEqual([
      '2026-11-17T23:00:00.000Z',
      '2026-11-22T23:00:00.000Z',
      '2026-11-29T23:00:00.000Z',
    ]);
    expect(b[b.length - 1]?.to).toBe('2026-12-01T23:00:00.000Z');
  });
});
