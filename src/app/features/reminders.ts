/**
 * The `reminders` service module (issue 21 point 3): the reminder routes, and the job as a
 * component — a cluster-wide job (`reminders.checkSchedule`, every 10 minutes by default; one
 * instance per occurrence, sync/scheduler.ts scheduleClusterJob) calling the plain function
 * `ReminderJob.runDue()`, which runs each practice's daily pass once its local send time has come
 * and collects outcomes. Started after the HTTP server, stopped before the store closes.
 */
import { reminderRoutes } from '../../api/routes/reminders.js';
import { ReminderJob } from '../../sync/reminders.js';
import type { ServiceContext, ServiceModule } from '../service.js';
import { scheduledJob } from './scheduled-job.js';
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
  // Once per occurrence across the instances of a cluster (docs/cluster.md); the pass's own
  // per-reminder keys keep a second run the same day from handing anything twice.
  const reminders = scheduledJob({
    component: 'reminders',
    job: 'reminders',
    expression: (ctx) => ctx.config.reminders.checkSchedule,
    schedule: options.schedule !== false,
    create: (ctx, signal) =>
      new ReminderJob({
        store: ctx.store,
        logger: ctx.logger.child({ component: 'reminders' }),
        connectorOf: (linkId) => options.sync.runtimeOf(ctx).connectorOf(linkId),
        signal,
      }),
    run: (job) => job.runDue(),
  });
  return {
    name: 'reminders',
    jobOf: (ctx) => reminders.of(ctx),
    routes: (ctx) => reminderRoutes({ store: ctx.store, job: reminders.of(ctx) }),
    components: (ctx) => [reminders.component(ctx)],
  };
}
