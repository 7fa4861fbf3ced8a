/**
 * The call KPI catch-up at start (issue 21 point 4 follow-up): the daily pass runs with the
 * digests at 06:05 local, so a service that was down then would miss yesterday's figures for a
 * day; at start, practices without yesterday's row get one pass, once per zone and day across
 * the cluster.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';

import { reportsModule } from '../../src/app/features/reports.js';
import type { SyncModule } from '../../src/app/features/sync.js';
import type { ServiceContext } from '../../src/app/service.js';
import { loadConfig } from '../../src/config/load.js';
import type { Connector } from '../../src/connector/contract.js';
import { PasserelleError } from '../../src/errors.js';
import { createLogger } from '../../src/log/logger.js';
import { catchUpCallKpis } from '../../src/reports/call-kpis.js';
import type { Store } from '../../src/store/index.js';
import type { CallKpis } from '../../src/store/types.js';
import { openTestStore, tempDir, testClock } from '../helpers/stores.js';

const figures = (day: string): CallKpis => ({
  day,
  received: 10,
  answered: 9,
  abandoned: 1,
  answeredWithin: { '60': 8 },
  waitSeconds: { p50: 12, p95: 70 },
  outcomes: { booked: 4, message: 4, urgent: 1, redirected: 0 },
  satisfaction: null,
});

describe.each(['sqlite', 'postgres'] as const)('call KPI catch-up at start (%s)', (kind) => {
  // Wednesday 2 December 2026, 11:00 in Paris: the practices are created then.
  const clock = testClock(Date.parse('2026-12-02T10:00:00.000Z'));
  let store: Store;
  let dispose: () => Promise<void>;
  /** Days each practice's platform was asked for, by link id. */
  let asked: Map<string, string[]>;
  /** The platform answers nothing. */
  let down = false;
  let practiceA: string;
  let practiceB: string;
  const logger = createLogger({ silent: true });
  const connectorOf = (linkId: string) =>
    ({
      callStatistics: async (day: string) => {
        asked.set(linkId, [...(asked.get(linkId) ?? []), day]);
        if (down) throw new PasserelleError('ERR_CONNECTOR_UNAVAILABLE', 'platform down');
        return figures(day);
      },
    }) as unknown as Connector;
  const options = () => ({ store, logger, now: clock, connectorOf });
  const linkOf = (practiceId: string) => `${practiceId}-secretariat`;

  beforeEach(async () => {
    clock.set(Date.parse('2026-12-02T10:00:00.000Z'));
    asked = new Map();
    down = false;
    ({ store, dispose } = await openTestStore(kind, { now: clock }));
    for (const name of ['Cabinet A', 'Cabinet B']) {
      const p = await store.practices.create({ name, timezone: 'Europe/Paris' });
      await store.links.create({
        id: linkOf(p.id),
        practiceId: p.id,
        role: 'secretariat',
        connector: 'secretariat',
        name: 'Plateforme',
      });
      if (name === 'Cabinet A') practiceA = p.id;
      else practiceB = p.id;
    }
    // Two days later, 05:00 in Paris: before the 06:05 run.
    clock.set(Date.parse('2026-12-04T04:00:00.000Z'));
    // B has yesterday's figures already; A has none.
    await store.callKpis.upsert({
      practiceId: practiceB,
      linkId: linkOf(practiceB),
      kpis: figures('2026-12-03'),
    });
  });
  afterEach(async () => {
    await dispose();
  });

  it('fetches the figures of a practice missing yesterday’s, and only of that practice', async () => {
    const [paris, ...others] = await catchUpCallKpis(options());
    expect(others).toEqual([]);
    expect(paris).toMatchObject({ zone: 'Europe/Paris', day: '2026-12-03', ran: true });
    expect(paris?.practices).toEqual([
      { practiceId: practiceA, stored: ['2026-12-02', '2026-12-03', '2026-12-04'], failed: [] },
    ]);
    // Never a day before the practice existed; B's platform is not asked at all.
    expect(asked.get(linkOf(practiceA))).toEqual(['2026-12-02', '2026-12-03', '2026-12-04']);
    expect(asked.has(linkOf(practiceB))).toBe(false);
    expect((await store.callKpis.list(practiceA, '2026-12-03', '2026-12-04')).map((k) => k.received)).toEqual(
      [10],
    );
  });

  it('does nothing when every practice has yesterday’s figures, or did not exist yesterday', async () => {
    await store.callKpis.upsert({
      practiceId: practiceA,
      linkId: linkOf(practiceA),
      kpis: figures('2026-12-03'),
    });
    await store.practices.create({ name: 'Cabinet neuf', timezone: 'America/Martinique' });
    const runs = await catchUpCallKpis(options());
    expect(runs.map((r) => [r.zone, r.ran])).toEqual([
      ['America/Martinique', false],
      ['Europe/Paris', false],
    ]);
    expect(asked.size).toBe(0);
  });

  if (kind === 'postgres')
    it('runs once per zone and day across instances starting together, and not again that day', async () => {
      down = true;
      const runs = (await Promise.all([catchUpCallKpis(options()), catchUpCallKpis(options())])).flat();
      expect(runs.map((r) => r.ran).sort()).toEqual([false, true]);
      expect(runs.find((r) => r.ran)?.practices[0]?.failed).toHaveLength(3);
      expect(asked.get(linkOf(practiceA))).toEqual(['2026-12-02', '2026-12-03', '2026-12-04']);
      // A restart later that day, the platform back: yesterday is still missing, the day's claim
      // stands (the 06:05 run fetches it with the others).
      down = false;
      clock.advance(6 * 3_600_000);
      expect((await catchUpCallKpis(options()))[0]).toMatchObject({ day: '2026-12-03', ran: false });
      expect(asked.get(linkOf(practiceA))).toHaveLength(3);
    });

  it('starts with the reports component, in the background, and its stop waits for it', async () => {
    const dir = tempDir();
    try {
      const { config } = loadConfig({ env: {}, cwd: dir.path });
      const ctx = { store, logger, config, now: clock, secrets: undefined } as unknown as ServiceContext;
      const sync = { runtimeOf: () => ({ connectorOf }) } as unknown as SyncModule;
      const reports = reportsModule({ sync, refreshMs: 0 });
      const [component] = reports.components?.(ctx) ?? [];
      await component?.start();
      const runs = await reports.catchUpOf(ctx);
      await component?.stop();
      expect(runs?.[0]).toMatchObject({ day: '2026-12-03', ran: true });
      expect(asked.get(linkOf(practiceA))).toContain('2026-12-03');
      expect(reportsModule({ sync, scheduleDigests: false }).catchUpOf(ctx)).toBeUndefined();
    } finally {
      dir.remove();
    }
  });
});
