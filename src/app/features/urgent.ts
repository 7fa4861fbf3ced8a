/**
 * The `urgent` service module (issue 21 points 1 and 2): the consignes routes, the urgent-message routes, and the escalation
 * pass as a component — a node-cron task every minute (noOverlap; each minute on one instance
 * of a cluster, sync/scheduler.ts scheduleClusterJob), started after the HTTP server, stopped
 * before the store closes.
 */
import { consignesRoutes } from '../../api/routes/consignes.js';
import { urgentRoutes } from '../../api/routes/urgent.js';
import { ConsignesService } from '../../sync/consignes.js';
import { UrgentEscalation } from '../../sync/urgent.js';
import type { ServiceContext, ServiceModule } from '../service.js';
import { scheduledJob } from './scheduled-job.js';
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
  // Once per minute across the instances of a cluster (docs/cluster.md); the pass's own store
  // lease stays for passes started elsewhere.
  const escalation = scheduledJob({
    component: 'urgent',
    job: 'urgent-escalation',
    expression: () => URGENT_SCHEDULE,
    schedule: options.schedule !== false,
    create: (ctx, signal) =>
      new UrgentEscalation({
        store: ctx.store,
        secrets: ctx.secrets,
        logger: ctx.logger,
        publicUrl: () => ctx.baseUrl(),
        connectorOf: (linkId) => options.sync.runtimeOf(ctx).connectorOf(linkId),
        signal,
      }),
    run: (job) => job.runOnce(),
  });
  return {
    name: 'urgent',
    escalationOf: (ctx) => escalation.of(ctx),
    routes: (ctx) => [
      ...urgentRoutes(escalation.of(ctx)),
      ...consignesRoutes(
        new ConsignesService({
          store: ctx.store,
          connectorOf: (linkId) => options.sync.runtimeOf(ctx).connectorOf(linkId),
        }),
      ),
    ],
    components: (ctx) => [escalation.component(ctx)],
  };
}
