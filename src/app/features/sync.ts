/**
 * The `sync` service module: the runtime as a component (started after the HTTP server,
 * stopped before the store closes), its supervision routes and the webhook route.
 */
import type { ScheduledTask } from 'node-cron';

import { agendaRoutes } from '../../api/routes/agenda.js';
import { connectorRoutes } from '../../api/routes/connectors.js';
import { dashboardRoutes } from '../../api/routes/dashboard.js';
import { fhirSlotRoutes } from '../../api/routes/fhir-slots.js';
import { hookRoutes } from '../../api/routes/hooks.js';
import { messageRoutes } from '../../api/routes/messages.js';
import { practitionerMappingRoutes } from '../../api/routes/practitioner-mappings.js';
import { syncRoutes } from '../../api/routes/sync.js';
import type { SyncConfig } from '../../config/schema.js';
import { type ConnectorRegistry } from '../../connector/registry.js';
import type { ActivePlans } from '../../mapping/active-plans.js';
import { DashboardWatch } from '../../reports/dashboard-watch.js';
import type { DispatcherTuning } from '../../sync/dispatcher.js';
import type { OwnershipResolver } from '../../sync/engine.js';
import { SyncRuntime, type SyncRuntimeOptions } from '../../sync/runtime.js';
import { scheduleClusterJob } from '../../sync/scheduler.js';
import { defaultConnectorRegistry } from '../connectors.js';
import type { ServiceContext, ServiceModule } from '../service.js';

export interface SyncModuleOptions {
  readonly registry?: ConnectorRegistry;
  /** Ownership overrides from a practice link's mapping profile (the mapping engine supplies it). */
  readonly ownership?: OwnershipResolver;
  /** The mapping module's plan cache (mappingModule().plansOf): one cache for the whole service. */
  readonly plans?: (ctx: ServiceContext) => ActivePlans;
  readonly dispatcher?: Partial<DispatcherTuning>;
  /** The console's live view (GET /api/v1/events): sweep and heartbeat periods (tests shorten them). */
  readonly events?: { readonly sweepMs?: number; readonly heartbeatMs?: number };
  readonly runtime?: Partial<
    Pick<
      SyncRuntimeOptions,
      | 'autoDispatch'
      | 'schedulePolls'
      | 'defaultSchedule'
      | 'pollPageSize'
      | 'maxPagesPerPoll'
      | 'refreshMs'
      | 'healthTimeoutMs'
      | 'restartBackoff'
      | 'agendaPublish'
    >
  >;
  /** Run the agenda publications time alone changes every minute (default). Tests call `runtime.agenda.due()`. */
  readonly agendaSchedule?: boolean;
}

/** Every minute: an urgent-only slot's release shows on the platform within the minute. */
export const AGENDA_PUBLISH_SCHEDULE = '* * * * *';

export interface SyncModule extends ServiceModule {
  /** The runtime of a running service (tests, the CLI's replay). */
  runtimeOf(ctx: ServiceContext): SyncRuntime;
  /** What GET /api/v1/events streams from (tests: its subscribers). */
  watchOf(ctx: ServiceContext): DashboardWatch;
}

/** The dispatcher settings of the config's `sync:` section. */
export function dispatcherTuningOf(sync: SyncConfig): Partial<DispatcherTuning> {
  return {
    maxAttempts: sync.maxAttempts,
    backoff: { baseMs: sync.retryBaseMs, capMs: sync.retryCapMs },
    pushTimeoutMs: sync.pushTimeoutMs,
    leaseMs: sync.outboxLeaseMs,
  };
}

export function syncModule(options: SyncModuleOptions = {}): SyncModule {
  const registry = options.registry ?? defaultConnectorRegistry();
  const runtimes = new WeakMap<ServiceContext, SyncRuntime>();
  const runtimeOf = (ctx: ServiceContext): SyncRuntime => {
    let runtime = runtimes.get(ctx);
    if (!runtime) {
      runtime = new SyncRuntime({
        store: ctx.store,
        logger: ctx.logger,
        secrets: ctx.secrets,
        registry,
        publicUrl: () => ctx.baseUrl(),
        refusals: ctx.refusals,
        ...(options.ownership && { ownership: options.ownership }),
        ...(options.plans && { plans: options.plans(ctx) }),
        // The config file's retry settings, then what the caller tunes (tests).
        dispatcher: { ...dispatcherTuningOf(ctx.config.sync), ...options.dispatcher },
        restartBackoff: { baseMs: 1000, capMs: ctx.config.sync.linkRestartCapMs },
        listenPortOffset: ctx.config.sync.listenPortOffset,
        leaseTtlMs: ctx.config.sync.leaseTtlMs,
        agendaPublish: {
          horizonDays: ctx.config.sync.agendaHorizonDays,
          debounceMs: ctx.config.sync.agendaDebounceMs,
        },
        ...options.runtime,
      });
      runtimes.set(ctx, runtime);
    }
    return runtime;
  };
  const watches = new WeakMap<ServiceContext, DashboardWatch>();
  const watchOf = (ctx: ServiceContext): DashboardWatch => {
    let watch = watches.get(ctx);
    if (!watch) {
      const runtime = runtimeOf(ctx);
      watch = new DashboardWatch({
        deps: { store: ctx.store, status: (id, o) => runtime.status(id, o) },
        bus: runtime.changes,
        logger: ctx.logger.child({ component: 'events' }),
        ...(options.events?.sweepMs !== undefined && { sweepMs: options.events.sweepMs }),
      });
      watches.set(ctx, watch);
    }
    return watch;
  };
  // Urgent-only slots released, the horizon moving on a day: publications time alone changes.
  const agendaTasks = new WeakMap<ServiceContext, ScheduledTask>();
  const agendaComponent = (ctx: ServiceContext) => ({
    name: 'agenda-publish',
    start: async () => {
      if (options.agendaSchedule === false) return;
      // Once per minute across the instances of a cluster (docs/cluster.md).
      agendaTasks.set(
        ctx,
        scheduleClusterJob({
          store: ctx.store,
          logger: ctx.logger.child({ component: 'agenda-publish' }),
          name: 'agenda-publish',
          expression: AGENDA_PUBLISH_SCHEDULE,
          run: async () => {
            if ((await runtimeOf(ctx).agenda.due()) > 0) runtimeOf(ctx).engine.notify();
          },
        }),
      );
    },
    stop: async () => {
      await agendaTasks.get(ctx)?.destroy();
    },
  });
  return {
    name: 'sync',
    registry,
    runtimeOf,
    watchOf,
    routes: (ctx) => [
      ...syncRoutes(runtimeOf(ctx)),
      ...messageRoutes(runtimeOf(ctx)),
      ...practitionerMappingRoutes(runtimeOf(ctx)),
      ...hookRoutes(runtimeOf(ctx)),
      ...connectorRoutes({ store: ctx.store, registry, secrets: ctx.secrets }),
      ...dashboardRoutes({
        store: ctx.store,
        status: (id, o) => runtimeOf(ctx).status(id, o),
        watch: watchOf(ctx),
        ...(options.events?.heartbeatMs !== undefined && { heartbeatMs: options.events.heartbeatMs }),
      }),
      ...agendaRoutes(runtimeOf(ctx).engine.store, {
        debounceMs: runtimeOf(ctx).agenda.settings.debounceMs,
        notify: () => runtimeOf(ctx).engine.notify(),
      }),
      ...fhirSlotRoutes(runtimeOf(ctx).engine.store, () => ctx.baseUrl()),
    ],
    components: (ctx) => [
      { name: 'sync', start: () => runtimeOf(ctx).start(), stop: () => runtimeOf(ctx).stop() },
      agendaComponent(ctx),
      // Listed after sync so it stops first: open event streams end before the runtime stops
      // and before the HTTP server waits for its connections.
      { name: 'events', start: async () => undefined, stop: async () => watchOf(ctx).stop() },
    ],
    readiness: (ctx) => () =>
      runtimeOf(ctx)
        .notReady()
        .map((d) => ({
          kind: 'link',
          id: d.linkId,
          code: d.code,
          reason: d.reason,
          since: d.since,
          ...(d.nextAttemptAt !== null && { nextAttemptAt: d.nextAttemptAt }),
        })),
  };
}
