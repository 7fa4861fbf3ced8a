import { describe, expect, it } from '@jest/globals';

import { CallThresholds } from '../../src/config/schema.js';
import {
  checkCallThresholds,
  thresholdsOf,
  totalCallKpis,
  validateCallThresholdSettings,
} from '../../src/reports/call-kpis.js';
import type { CallKpis } from '../../src/store/types.js';

const day = (d: string, over: Partial<CallKpis> = {}): CallKpis => ({
  day: d,
  received: 100,
  answered: 95,
  abandoned: 5,
  answeredWithin: { '15': 60, '30': 80, '60': 91, '120': 94, '300': 95 },
  waitSeconds: { p50: 12, p95: 70 },
  outcomes: { booked: 50, message: 30, urgent: 5, redirected: 10 },
  satisfaction: { responses: 20, averageScore: 4.2 },
  ...over,
});
const contract = CallThresholds.parse({
  answeredWithin: { seconds: 60, minPercent: 90 },
  minAnsweredPercent: 95,
  maxAbandonedPercent: 5,
  maxWaitP95Seconds: 90,
  minSatisfaction: 4,
});

describe('call KPI thresholds', () => {
  it('flags nothing on a day that keeps every promise of the contract', () => {
    const checks = checkCallThresholds(totalCallKpis([day('2026-11-30')]), contract);
    expect(checks.map((c) => [c.key, c.value, c.missed])).toEqual([
      ['answeredWithin', 91, false],
      ['minAnsweredPercent', 95, false],
      ['maxAbandonedPercent', 5, false],
      ['maxWaitP95Seconds', 70, false],
      ['minSatisfaction', 4.2, false],
    ]);
  });

  it('flags "90 % answered within 60 s" missed when fewer calls were answered that fast, out of those received', () => {
    const slow = day('2026-12-01', {
      answeredWithin: { '15': 40, '30': 60, '60': 89, '120': 94, '300': 95 },
    });
    const [within] = checkCallThresholds(totalCallKpis([slow]), contract);
    expect(within).toEqual({ key: 'answeredWithin', target: 90, withinSeconds: 60, value: 89, missed: true });
  });

  it('flags the abandon rate, the p95 wait and the satisfaction when past their limits', () => {
    const bad = day('2026-12-02', {
      answered: 90,
      abandoned: 10,
      waitSeconds: { p50: 20, p95: 140 },
      satisfaction: { responses: 10, averageScore: 3.1 },
    });
    const missed = checkCallThresholds(totalCallKpis([bad]), contract)
      .filter((c) => c.missed)
      .map((c) => c.key);
    expect(missed).toEqual([
      'minAnsweredPercent',
      'maxAbandonedPercent',
      'maxWaitP95Seconds',
      'minSatisfaction',
    ]);
  });

  it('breaks no promise on a day without calls or without a survey: the value is null, not missed', () => {
    const empty = day('2026-12-06', {
      received: 0,
      answered: 0,
      abandoned: 0,
      answeredWithin: { '15': 0, '30': 0, '60': 0, '120': 0, '300': 0 },
      waitSeconds: { p50: null, p95: null },
      satisfaction: null,
    });
    const checks = checkCallThresholds(totalCallKpis([empty]), contract);
    expect(checks.every((c) => c.value === null && !c.missed)).toBe(true);
  });

  it('sums a period: counts added, p95 of the worst day, call-weighted median, response-weighted satisfaction', () => {
    const t = totalCallKpis([
      day('2026-11-30', {
        answered: 10,
        waitSeconds: { p50: 5, p95: 30 },
        satisfaction: { responses: 10, averageScore: 5 },
      }),
      day('2026-12-01', {
        answered: 90,
        waitSeconds: { p50: 40, p95: 200 },
        satisfaction: { responses: 30, averageScore: 3 },
      }),
      day('2026-12-02', { satisfaction: null }),
    ]);
    expect(t.received).toBe(300);
    expect(t.answeredWithin['60']).toBe(273);
    expect(t.waitP95Seconds).toBe(200);
    expect(t.waitP50Seconds).toBe(12);
    expect(t.satisfaction).toEqual({ responses: 40, averageScore: 3.5 });
    expect(t.outcomes).toEqual({ booked: 150, message: 90, urgent: 15, redirected: 30 });
  });

  it('takes the practice’s own thresholds over the service’s, and checks them when written', () => {
    expect(thresholdsOf({ callThresholds: { maxAbandonedPercent: 3 } }, contract)).toEqual({
      maxAbandonedPercent: 3,
    });
    expect(thresholdsOf({}, contract)).toBe(contract);
    expect(() => validateCallThresholdSettings({ callThresholds: { minSatisfaction: 7 } })).toThrow(
      expect.objectContaining({
        code: 'ERR_VALIDATION',
        message: expect.stringContaining('body.settings.callThresholds.minSatisfaction'),
      }),
    );
  });
});
