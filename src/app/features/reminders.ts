/**
 * The `reminders` service module (issue 21 point 3): the reminder routes, and the job as a
 * component — a node-cron task (`reminders.checkSchedule`, every 10 minutes by default; noOverlap)
 * calling the plain function `ReminderJob.runDue()`, which runs each practice's daily pass once
 * its local send time has come and collects outcomes. Started after the HTTP server, stopped
 * before the store closes.
 */
import cron, { type ScheduledTask } from 'node-cron';

import { reminderRoutes } from '../../api/routes/reminders.js';
import { cronLogger } from '../../log/cron.js';
import { ReminderJob } from '../../sync/reminders.js';
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
          const log = ctx.logger.child({ component: 'reminders' });
          // A plain function: node-cron checks `instanceof Function`.
          const run = () =>
            r.job.runDue().catch((e: unknown) => log.error('reminder job failed', { err: e }));
          r.task = cron.schedule(ctx.config.reminders.checkSchedule, run, {
            name: 'reminders',
            noOverlap: true,
            logger: cronLogger(log),
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
