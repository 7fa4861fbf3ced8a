/** scheduledJob: the runtime the reminders and urgent modules share (one job per service, scheduled, stopped). */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';

import { scheduledJob } from '../../../src/app/features/scheduled-job.js';
import type { ServiceContext } from '../../../src/app/service.js';
import { createLogger } from '../../../src/log/logger.js';
import type { Store } from '../../../src/store/index.js';
import { openTestStore } from '../../helpers/stores.js';
import { until } from '../../helpers/until.js';

describe('scheduledJob', () => {
  let store: Store;
  let dispose: () => Promise<void>;
  let ctx: ServiceContext;
  beforeEach(async () => {
    ({ store, dispose } = await openTestStore('sqlite'));
    // The runtime only reads the store and the logger of the service context.
    ctx = { store, logger: createLogger({ silent: true }) } as unknown as ServiceContext;
  });
  afterEach(async () => {
    await dispose();
  });

  const job = (schedule: boolean, runs: AbortSignal[]) =>
    scheduledJob({
      component: 'test-job',
      job: 'test-job',
      // node-cron's six-field form: every second.
      expression: () => '* * * * * *',
      schedule,
      create: (_ctx, signal) => ({ signal, id: Symbol('job') }),
      run: async (j) => {
        runs.push(j.signal);
      },
    });

  it('builds one job per service, whoever asks first', () => {
    const j = job(false, []);
    const other = { ...ctx } as ServiceContext;
    expect(j.of(ctx)).toBe(j.of(ctx));
    expect(j.of(other)).not.toBe(j.of(ctx));
    expect(j.component(ctx).name).toBe('test-job');
  });

  it('runs the job on its schedule once started, and aborts its signal when stopped', async () => {
    const runs: AbortSignal[] = [];
    const j = job(true, runs);
    const component = j.component(ctx);
    await component.start();
    await until('a scheduled run', () => runs.length > 0);
    expect(runs[0]).toBe(j.of(ctx).signal);
    expect(j.of(ctx).signal.aborted).toBe(false);
    await component.stop();
    expect(j.of(ctx).signal.aborted).toBe(true);
  });

  it('schedules nothing when told not to (tests run the job themselves); stopping still aborts', async () => {
    const runs: AbortSignal[] = [];
    const j = job(false, runs);
    const component = j.component(ctx);
    await component.start();
    await component.stop();
    expect(j.of(ctx).signal.aborted).toBe(true);
    expect(runs).toEqual([]);
  });
});
