/**
 * The `reminders` service module (issue 21 point 3): the reminder routes, and the job as a
 * component — a cluster-wide job (`reminders.checkSchedule`, every 10 minutes by default; one
 * instance per occurrence, sync/scheduler.ts scheduleClusterJob) calling the plain function
 * `ReminderJob.runDue()`, which runs each practice's daily pass once its local send time has come
 * and collects outcomes. Started after the HTTP server, stopped before the store closes.
 */
import type { ScheduledTask } from 'node-cron';

import { reminderRoutes } from '../../api/routes/reminders.js';
import { ReminderJob } from '../../sync/reminders.js';
import { scheduleClusterJob } from '../../sync/scheduler.js';
import type { ServiceContext, ServiceModule } from '../service.js';
import type { SyncModule } from './sync.js';

export interface RemindersModuleOptions {
  readonly sync: SyncModule;
  /** Schedule the job (default). Tests call `jobOf(ctx).runDue()` instead. */
  readonly schedule?: boolean;
}

export interface RemindersModule extends ServiceModule {
  jobOf(ctx: ServiceContext): ReminderJob;
}

export function remindersModule(options: RemindersModuleOptions): RemindersModule {
  const runtimes = new WeakMap<
    ServiceContext,
    { job: ReminderJob; stop: AbortController; task?: ScheduledTask }
  >();
  const runtimeOf = (ctx: ServiceContext) => {
    let r = runtimes.get(ctx);
    if (!r) {
      const stop = new AbortController();
      r = {
        stop,
        job: new ReminderJob({
          store: ctx.store,
          logger: ctx.logger.child({ component: 'reminders' }),
          connectorOf: (linkId) => options.sync.runtimeOf(ctx).connectorOf(linkId),
          signal: stop.signal,
        }),
      };
      runtimes.set(ctx, r);
    }
    return r;
  };
  return {
    name: 'reminders',
    jobOf: (ctx) => runtimeOf(ctx).job,
    routes: (ctx) => reminderRoutes({ store: ctx.store, job: runtimeOf(ctx).job }),
    components: (ctx) => [
      {
        name: 'reminders',
        start: async () => {
          if (options.schedule === false) return;
          const r = runtimeOf(ctx);
          // Once per occurrence across the instances of a cluster (docs/cluster.md); the pass's
          // own per-reminder keys keep a second run the same day from handing anything twice.
          r.task = scheduleClusterJob({
            store: ctx.store,
            logger: ctx.logger.child({ component: 'reminders' }),
            name: 'reminders',
            expression: ctx.config.reminders.checkSchedule,
            run: () => r.job.runDue(),
          });
        },
        stop: async () => {
          const r = runtimeOf(ctx);
          r.stop.abort();
          await r.task?.destroy();
        },
      },
    ],
  };
}
