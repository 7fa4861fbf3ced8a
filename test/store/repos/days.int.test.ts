/** rowsOfDays: the day-range read the call KPIs and the reminder passes share, on both stores. */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import type { Store } from '../../../src/store/index.js';
import type { CallKpis } from '../../../src/store/types.js';
import { openTestStore } from '../../helpers/stores.js';

const kpis = (day: string, received: number): CallKpis => ({
  day,
  received,
  answered: received,
  abandoned: 0,
  answeredWithin: { '60': received },
  waitSeconds: { p50: 10, p95: 40 },
  outcomes: { booked: 0, message: received, urgent: 0, redirected: 0 },
  satisfaction: null,
});

describe.each(['sqlite', 'postgres'] as const)('reads by local day (%s)', (kind) => {
  let store: Store;
  let dispose: () => Promise<void>;
  beforeAll(async () => {
    ({ store, dispose } = await openTestStore(kind));
    // Written out of order, around the month's end, for two practices.
    for (const day of ['2026-12-01', '2026-11-29', '2026-11-30', '2026-12-02', '2026-11-28']) {
      await store.callKpis.upsert({ practiceId: 'p1', linkId: 'l1', kpis: kpis(day, 1) });
      await store.reminders.startPass('p1', day);
    }
    await store.callKpis.upsert({ practiceId: 'p2', linkId: 'l2', kpis: kpis('2026-11-30', 9) });
    await store.reminders.startPass('p2', '2026-11-30');
  });
  afterAll(async () => {
    await dispose();
  });

  it('lists call KPIs of fromDay ≤ day < toDay, oldest first, of the one practice', async () => {
    const rows = await store.callKpis.list('p1', '2026-11-29', '2026-12-02');
    expect(rows.map((r) => r.day)).toEqual(['2026-11-29', '2026-11-30', '2026-12-01']);
    expect(rows.every((r) => r.practiceId === 'p1' && r.received === 1)).toBe(true);
  });

  it('lists reminder passes over the same half-open range, oldest first, of the one practice', async () => {
    const rows = await store.reminders.passes('p1', '2026-11-29', '2026-12-02');
    expect(rows.map((r) => r.day)).toEqual(['2026-11-29', '2026-11-30', '2026-12-01']);
    expect((await store.reminders.passes('p2', '2026-11-01', '2027-01-01')).map((r) => r.day)).toEqual([
      '2026-11-30',
    ]);
  });

  it('finds nothing for an empty range or another practice’s days', async () => {
    expect(await store.callKpis.list('p1', '2026-11-30', '2026-11-30')).toEqual([]);
    expect(await store.callKpis.list('p3', '2026-11-01', '2027-01-01')).toEqual([]);
    expect(await store.reminders.passes('p3', '2026-11-01', '2027-01-01')).toEqual([]);
  });
});
