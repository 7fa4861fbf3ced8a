/**
 * The `reports` service module: the report and digest routes, and the daily digest schedule as
 * a component (started after the HTTP server, stopped before the store closes).
 */
import { reportRoutes } from '../../api/routes/reports.js';
import { isPasserelleError } from '../../errors.js';
import {
  type CallKpiCatchUpResult,
  type CallKpiIngestResult,
  catchUpCallKpis,
  ingestCallKpis,
} from '../../reports/call-kpis.js';
import { DigestJob, DigestScheduler } from '../../reports/digest.js';
import type { Practice } from '../../store/types.js';
import type { ServiceContext, ServiceModule } from '../service.js';
import type { SyncModule } from './sync.js';

export interface ReportsModuleOptions {
  /**
   * Schedule the daily digest with node-cron, and catch up yesterday's missing call KPIs at start
   * (default). Tests may call `jobOf(ctx)` instead.
   */
  readonly scheduleDigests?: boolean;
  /** How often practices' zones are looked at again for new digest tasks (default 5 minutes). */
  readonly refreshMs?: number;
  /** The sync module whose running secretariat links give the call KPIs (none: no KPI pass). */
  readonly sync?: SyncModule;
}

export interface ReportsModule extends ServiceModule {
  /** The digest job of a running service (tests, the CLI). */
  jobOf(ctx: ServiceContext): DigestJob;
  /** Its schedule, once the component started (undefined when digests are not scheduled). */
  schedulerOf(ctx: ServiceContext): DigestScheduler | undefined;
  /**
   * The call KPI catch-up started with the component (call-kpis.ts catchUpCallKpis), once it
   * started: undefined without a sync module or with digests unscheduled. Never rejects.
   */
  catchUpOf(ctx: ServiceContext): Promise<CallKpiCatchUpResult[]> | undefined;
  /** One call KPI pass for a practice (the daily run makes one for each before its digests). */
  callKpisOf(ctx: ServiceContext): (practice: Practice) => Promise<CallKpiIngestResult>;
}

interface ReportsRuntime {
  readonly job: DigestJob;
  readonly stop: AbortController;
  scheduler: DigestScheduler | undefined;
  catchUp: Promise<CallKpiCatchUpResult[]> | undefined;
}

export function reportsModule(options: ReportsModuleOptions = {}): ReportsModule {
  // routes() and components() are called separately for one service: one runtime per service.
  const runtimes = new WeakMap<ServiceContext, ReportsRuntime>();
  const runtimeOf = (ctx: ServiceContext): ReportsRuntime => {
    let r = runtimes.get(ctx);
    if (!r) {
      const stop = new AbortController();
      const sync = options.sync;
      r = {
        job: new DigestJob({
          store: ctx.store,
          logger: ctx.logger,
          config: ctx.config.reports,
          now: ctx.now,
          secrets: ctx.secrets,
          signal: stop.signal,
          ...(sync && { beforePractice: kpis(ctx, sync) }),
        }),
        stop,
        scheduler: undefined,
        catchUp: undefined,
      };
      runtimes.set(ctx, r);
    }
    return r;
  };
  const kpiOptions = (ctx: ServiceContext, sync: SyncModule) => ({
    store: ctx.store,
    logger: ctx.logger,
    now: ctx.now,
    connectorOf: (linkId: string) => sync.runtimeOf(ctx).connectorOf(linkId),
  });
  const kpis = (ctx: ServiceContext, sync: SyncModule) => (practice: Practice) =>
    ingestCallKpis(practice, kpiOptions(ctx, sync));
  return {
    name: 'reports',
    callKpisOf: (ctx) =>
      options.sync ? kpis(ctx, options.sync) : async (p) => ({ practiceId: p.id, stored: [], failed: [] }),
    catchUpOf: (ctx) => runtimeOf(ctx).catchUp,
    jobOf: (ctx) => runtimeOf(ctx).job,
    schedulerOf: (ctx) => runtimeOf(ctx).scheduler,
    routes: (ctx) => reportRoutes({ store: ctx.store, config: ctx.config.reports, now: ctx.now }),
    components: (ctx) => [
      {
        name: 'reports',
        start: async () => {
          if (options.scheduleDigests === false) return;
          const r = runtimeOf(ctx);
          r.scheduler = new DigestScheduler({
            job: r.job,
            store: ctx.store,
            logger: ctx.logger,
            schedule: ctx.config.reports.digestSchedule,
            ...(options.refreshMs !== undefined && { refreshMs: options.refreshMs }),
          });
          await r.scheduler.start();
          // In the background: the platform may be slow, and the service is ready without it.
          // The sync component started before this one, so the secretariat links are running.
          if (options.sync)
            r.catchUp = catchUpCallKpis(kpiOptions(ctx, options.sync)).catch((e: unknown) => {
              ctx.logger.error('call KPI catch-up failed', {
                component: 'reports',
                code: isPasserelleError(e) ? e.code : 'ERR_INTERNAL',
                err: e,
              });
              return [];
            });
        },
        stop: async () => {
          const r = runtimeOf(ctx);
          r.stop.abort();
          await r.catchUp;
          await r.scheduler?.stop();
        },
      },
    ],
  };
}
