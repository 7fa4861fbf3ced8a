/**
 * The `urgent` service module (issue 21 points 1 and 2): the consignes routes, the urgent-message routes, and the escalation
 * pass as a component — a node-cron task every minute (noOverlap; one instance at a time by
 * the store lease), started after the HTTP server, stopped before the store closes.
 */
import cron, { type ScheduledTask } from 'node-cron';

import { consignesRoutes } from '../../api/routes/consignes.js';
import { urgentRoutes } from '../../api/routes/urgent.js';
import { cronLogger } from '../../log/cron.js';
import { ConsignesService } from '../../sync/consignes.js';
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
          const log = ctx.logger.child({ component: 'urgent' });
          // A plain function: node-cron checks `instanceof Function`.
          const run = () =>
            r.escalation
              .runOnce()
              .catch((e: unknown) => log.error('urgent escalation pass failed', { err: e }));
          r.task = cron.schedule(URGENT_SCHEDULE, run, {
            name: 'urgent-escalation',
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
