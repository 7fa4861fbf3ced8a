/**
 * The runtime of a feature's scheduled job (reminders, urgent escalation): one job object per
 * service (routes() and components() are asked separately for one service, so it is kept per
 * context), an abort signal the job sees when the service stops, and a component whose start
 * schedules the job once per occurrence across the cluster (sync/scheduler.ts
 * scheduleClusterJob) and whose stop aborts the job and destroys the task before the store
 * closes.
 */
import type { ScheduledTask } from 'node-cron';

import { scheduleClusterJob } from '../../sync/scheduler.js';
import type { Component, ServiceContext } from '../service.js';

export interface ScheduledJobOptions<J> {
  /** The component's name, and the `component` of the schedule's log lines. */
  readonly component: string;
  /** The job's name in the cluster's claim table (docs/cluster.md). */
  readonly job: string;
  /** node-cron expression, read in the server's zone. */
  readonly expression: (ctx: ServiceContext) => string;
  /** false: the component schedules nothing (tests run the job themselves). */
  readonly schedule: boolean;
  /** Builds the job of a service; `signal` aborts when the service stops. */
  readonly create: (ctx: ServiceContext, signal: AbortSignal) => J;
  /** One occurrence. */
  readonly run: (job: J) => Promise<unknown>;
}

export interface ScheduledJob<J> {
  /** The service's job (built at the first call). */
  of(ctx: ServiceContext): J;
  /** Schedules the job after the HTTP server, stops it before the store closes. */
  component(ctx: ServiceContext): Component;
}

export function scheduledJob<J>(options: ScheduledJobOptions<J>): ScheduledJob<J> {
  const runtimes = new WeakMap<ServiceContext, { job: J; stop: AbortController; task?: ScheduledTask }>();
  const runtimeOf = (ctx: ServiceContext) => {
    let r = runtimes.get(ctx);
    if (!r) {
      const stop = new AbortController();
      r = { stop, job: options.create(ctx, stop.signal) };
      runtimes.set(ctx, r);
    }
    return r;
  };
  return {
    of: (ctx) => runtimeOf(ctx).job,
    component: (ctx) => ({
      name: options.component,
      start: async () => {
        if (!options.schedule) return;
        const r = runtimeOf(ctx);
        r.task = scheduleClusterJob({
          store: ctx.store,
          logger: ctx.logger.child({ component: options.component }),
          name: options.job,
          expression: options.expression(ctx),
          run: () => options.run(r.job),
        });
      },
      stop: async () => {
        const r = runtimeOf(ctx);
        r.stop.abort();
        await r.task?.destroy();
      },
    }),
  };
}
