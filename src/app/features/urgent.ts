/**
 * The `urgent` service module (issue 21 points 1 and 2): the consignes routes, the urgent-message routes, and the escalation
 * pass as a component — a node-cron task every minute (noOverlap; each minute on one instance
 * of a cluster, sync/scheduler.ts scheduleClusterJob), started after the HTTP server, stopped
 * before the store closes.
 */
import type { ScheduledTask } from 'node-cron';

import { consignesRoutes } from '../../api/routes/consignes.js';
import { urgentRoutes } from '../../api/routes/urgent.js';
import { ConsignesService } from '../../sync/consignes.js';
import { scheduleClusterJob } from '../../sync/scheduler.js';
import { UrgentEscalation } from '../../sync/urgent.js';
import type { ServiceContext, ServiceModule } from '../service.js';
import type { SyncModule } from './sync.js';

export const URGENT_SCHEDULE = '* * * * *';

export interface UrgentModuleOptions {
  readonly sync: SyncModule;
  /** Run the pass every minute (default). Tests call `escalationOf(ctx).runOnce()` instead. */
  readonly schedule?: boolean;
}

export interface UrgentModule extends ServiceModule {
  escalationOf(ctx: ServiceContext): UrgentEscalation;
}

export function urgentModule(options: UrgentModuleOptions): UrgentModule {
  const runtimes = new WeakMap<
    ServiceContext,
    { escalation: UrgentEscalation; stop: AbortController; task?: ScheduledTask }
  >();
  const runtimeOf = (ctx: ServiceContext) => {
    let r = runtimes.get(ctx);
    if (!r) {
      const stop = new AbortController();
      r = {
        stop,
        escalation: new UrgentEscalation({
          store: ctx.store,
          secrets: ctx.secrets,
          logger: ctx.logger,
          publicUrl: () => ctx.baseUrl(),
          connectorOf: (linkId) => options.sync.runtimeOf(ctx).connectorOf(linkId),
          signal: stop.signal,
        }),
      };
      runtimes.set(ctx, r);
    }
    return r;
  };
  return {
    name: 'urgent',
    escalationOf: (ctx) => runtimeOf(ctx).escalation,
    routes: (ctx) => [
      ...urgentRoutes(runtimeOf(ctx).escalation),
      ...consignesRoutes(
        new ConsignesService({
          store: ctx.store,
          connectorOf: (linkId) => options.sync.runtimeOf(ctx).connectorOf(linkId),
        }),
      ),
    ],
    components: (ctx) => [
      {
        name: 'urgent',
        start: async () => {
          if (options.schedule === false) return;
          const r = runtimeOf(ctx);
          // Once per minute across the instances of a cluster (docs/cluster.md); the pass's own
          // store lease stays for passes started elsewhere.
          r.task = scheduleClusterJob({
            store: ctx.store,
            logger: ctx.logger.child({ component: 'urgent' }),
            name: 'urgent-escalation',
            expression: URGENT_SCHEDULE,
            run: () => r.escalation.runOnce(),
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
