import type { RequestHandler } from 'express';
import type { ScheduledTask } from 'node-cron';

import { createApp } from '../api/app.js';
import { AuthThrottle } from '../api/auth-throttle.js';
import { createMetrics, type Metrics } from '../api/metrics.js';
import type { ReadinessCheck } from '../api/readiness.js';
import type { AnyRoute } from '../api/route.js';
import { auditRoutes } from '../api/routes/audit.js';
import { healthRoutes } from '../api/routes/health.js';
import { practiceRoutes } from '../api/routes/practices.js';
import { sessionSettings } from '../api/session.js';
import type { Config } from '../config/schema.js';
import {
  type AnyConnectorDefinition,
  type ConnectorRegistry,
  createRegistry,
} from '../connector/registry.js';
import { createLogger, type Logger } from '../log/logger.js';
import { purgeExpired } from '../privacy/retention.js';
import { createApiKey } from '../security/api-keys.js';
import { AuditCheckpointer, verifyAuditTrail } from '../security/audit-checkpoints.js';
import { RefusalWatch } from '../security/refusals.js';
import type { SecretBox } from '../security/secrets.js';
import type { Store } from '../store/index.js';
import type { Clock } from '../store/repos/context.js';
import { scheduleClusterJob } from '../sync/scheduler.js';
import { VERSION } from '../util/version.js';
import { defaultConnectorDefinitions } from './connectors.js';
import { bindHttp } from './http-listener.js';
import { auditCheckpointFile, openAuditKey, openConfiguredStore, openSecretBox } from './open-store.js';

/** Something with a life: started after the store and the HTTP server, stopped before them. */
export interface Component {
  readonly name: string;
  start(): Promise<void>;
  /** Stops taking new work, finishes what is in flight, releases resources. */
  stop(): Promise<void>;
}

/** What components and extra routes may use; built once per service. */
export interface ServiceContext {
  readonly config: Config;
  readonly store: Store;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly secrets: SecretBox;
  readonly now: Clock;
  /** Counts and logs refusals at the doors (failed authentications, MLLP connections over caps). */
  readonly refusals: RefusalWatch;
  /** Failed admin-API authentications, throttled and audited per client address (a sign-in form uses it too). */
  readonly authThrottle: AuthThrottle;
  /** The URL the service answers on, known once it listens. */
  baseUrl(): string;
}

/** A feature plugs in routes and components (the sync runtime, iCal feeds, webhooks…). */
export interface ServiceModule {
  readonly name: string;
  /** The connectors this module runs links of (the sync module's registry). */
  readonly registry?: ConnectorRegistry;
  routes?(ctx: ServiceContext): AnyRoute[];
  /**
   * Plain express handlers (an `express.Router()`: pages, static assets, redirects), mounted
   * after every API route and before the 404. Unlike `routes`, nothing is authenticated or
   * scoped for them: a handler serving anything but public files must check itself. Set
   * `res.locals.route` to a path *pattern* for the access log and metrics (never the URL).
   */
  http?(ctx: ServiceContext): RequestHandler | Promise<RequestHandler>;
  components?(ctx: ServiceContext): Component[];
  /** What `/readyz` should also check (the sync module: links that failed to start). */
  readiness?(ctx: ServiceContext): ReadinessCheck;
}

export interface ServiceOptions {
  readonly config: Config;
  readonly logger?: Logger;
  readonly now?: Clock;
  readonly cwd?: string;
  readonly modules?: readonly ServiceModule[];
  /** Open this store instead of the configured one (tests); open it with openAuditKey's key. */
  readonly store?: Store;
}

export interface RunningService {
  readonly url: string;
  readonly store: Store;
  readonly context: ServiceContext;
  /** A new admin key when none existed (shown once). */
  readonly bootstrapKey: string | undefined;
  /** Where the generated credentials key was written, when one was generated. */
  readonly createdKeyFile: string | undefined;
  /** Reads `http.tls` files again (SIGHUP); false when TLS is off or the new files are unusable. */
  reloadTls(): boolean;
  stop(): Promise<void>;
}

/**
 * The connectors links may use: the shipped ones (src/app/connectors.ts) and those of the
 * modules' registries (a test's own connectors; a module's definition wins over a shipped one
 * of the same name).
 */
export function serviceRegistry(modules: readonly ServiceModule[]): ConnectorRegistry {
  const byName = new Map<string, AnyConnectorDefinition>();
  for (const d of [
    ...defaultConnectorDefinitions(),
    ...modules.flatMap((m) => m.registry?.definitions() ?? []),
  ])
    byName.set(d.name, d);
  return createRegistry([...byName.values()]);
}

/**
 * Start order: HTTP socket → store (migrated) → key → app → components → schedules. The socket
 * comes first so a taken port fails the start before anything is written. Stop order is the
 * reverse, and the store closes last so in-flight work can still commit.
 */
export async function startService(options: ServiceOptions): Promise<RunningService> {
  const { config } = options;
  const logger = options.logger ?? createLogger({ level: config.log.level });
  const now = options.now ?? Date.now;
  const listener = await bindHttp(config.http, logger);
  const cwd = options.cwd === undefined ? {} : { cwd: options.cwd };
  let auditKey: ReturnType<typeof openAuditKey>;
  let secretBox: ReturnType<typeof openSecretBox>;
  let store: Store;
  try {
    // After the bind: a taken port must fail the start before a key file is created. The keys
    // before the store: it seals patient data and keys its audit chain with them.
    auditKey = openAuditKey(config, { ...cwd, create: true });
    secretBox = openSecretBox(config, cwd);
    store =
      options.store ??
      (await openConfiguredStore(config, {
        now,
        ...cwd,
        auditKey: auditKey.key,
        keyring: secretBox.box.keyring,
      }));
  } catch (e) {
    await listener.close();
    throw e;
  }
  const stoppers: Array<() => Promise<void>> = [() => listener.close()];
  try {
    const applied = await store.migrate();
    if (applied.length > 0) logger.info('store migrated', { applied, dialect: store.dialect });
    const { box, created, keyFile } = secretBox;
    if (created)
      logger.warn('generated an encryption key; set security.encryptionKey in production', { keyFile });
    if (auditKey.created)
      logger.warn(
        'generated an audit key; keep it out of the store and its backups, set audit.key in production',
        { keyPath: auditKey.keyPath },
      );
    // The chain is HMAC'd from here on if it was not yet; a key that is not the chain's stops here.
    if ((await store.audit.adoptKey()).anchored) logger.info('audit chain keyed from its current head');

    let bootstrapKey: string | undefined;
    if (config.security.bootstrapAdminKey && (await store.apiKeys.countActive()) === 0) {
      bootstrapKey = (
        await createApiKey(store, { role: 'admin', label: 'bootstrap', createdBy: 'system', via: 'serve' })
      ).key;
    }

    const metrics = createMetrics(store);
    const url = listener.url;
    const refusals = new RefusalWatch({ logger, registry: metrics.registry, now });
    const authThrottle = new AuthThrottle({ store, ...config.http.authThrottle, watch: refusals });
    const ctx: ServiceContext = {
      config,
      store,
      logger,
      metrics,
      secrets: box,
      now,
      refusals,
      authThrottle,
      baseUrl: () => config.http.publicUrl ?? url,
    };
    const modules = options.modules ?? [];
    const registry = serviceRegistry(modules);
    // /readyz says "ready" only between the end of the start and the beginning of a stop: the
    // HTTP listener serves before the modules have started their links (a link's listener is
    // not there yet) and until after they stopped (the instance refuses new messages while it
    // drains). A balancer or orchestrator must not send work then (rolling restart,
    // docs/cluster.md).
    let phase: { name: 'starting' | 'running' | 'stopping'; since: string } = {
      name: 'starting',
      since: new Date(now()).toISOString(),
    };
    const phaseCheck: ReadinessCheck = () =>
      phase.name === 'running'
        ? []
        : [
            {
              kind: 'service',
              id: 'self',
              code: 'ERR_SYNC_NOT_RUNNING',
              reason:
                phase.name === 'starting'
                  ? 'passerelle is starting: its links are not all started yet'
                  : 'passerelle is stopping: it finishes what it holds and takes no new work',
              since: phase.since,
            },
          ];
    const routes: AnyRoute[] = [
      ...healthRoutes({
        store,
        metrics,
        version: VERSION,
        readiness: [phaseCheck, ...modules.flatMap((m) => (m.readiness ? [m.readiness(ctx)] : []))],
      }),
      ...practiceRoutes({ store, secrets: box, registry }),
      ...auditRoutes({
        store,
        instance: () => ctx.baseUrl(),
        verify: () =>
          verifyAuditTrail(store, {
            key: auditKey.key,
            checkpointFile: auditCheckpointFile(config, { ...(options.cwd && { cwd: options.cwd }) }),
          }),
      }),
      ...modules.flatMap((m) => m.routes?.(ctx) ?? []),
    ];
    // Built once at start (the console is bundled here when running from sources).
    const handlers: RequestHandler[] = [];
    for (const m of modules) if (m.http) handlers.push(await m.http(ctx));
    const app = createApp({
      store,
      logger,
      metrics,
      routes,
      version: VERSION,
      accessLog: config.http.accessLog,
      trustProxy: config.http.trustProxy,
      authThrottle,
      sessions: sessionSettings(config.console),
      http: handlers,
      ...(config.http.publicUrl && { publicUrl: config.http.publicUrl }),
    });
    listener.serve(app);

    const checkpoints = new AuditCheckpointer({
      store,
      key: auditKey.key,
      file: auditCheckpointFile(config, { ...(options.cwd && { cwd: options.cwd }) }),
      everyEvents: config.audit.checkpoint.everyEvents,
      everyMs: config.audit.checkpoint.everyMinutes * 60_000,
      checkMs: config.audit.checkpoint.checkSeconds * 1000,
      ...(config.audit.checkpoint.webhookUrl && { webhookUrl: config.audit.checkpoint.webhookUrl }),
      webhookTimeoutMs: config.audit.checkpoint.webhookTimeoutMs,
      logger,
      now,
    });
    await checkpoints.start();
    // Stopped last, after everything that may still append events.
    stoppers.unshift(() => checkpoints.stop());

    for (const component of modules.flatMap((m) => m.components?.(ctx) ?? [])) {
      await component.start();
      stoppers.push(() => component.stop());
      logger.info('component started', { component: component.name });
    }

    // Once per occurrence across the instances sharing a PostgreSQL store (docs/cluster.md);
    // the lease inside keeps a purge started elsewhere (CLI) from running alongside.
    const purge: ScheduledTask = scheduleClusterJob({
      store,
      logger,
      name: 'retention-purge',
      expression: config.retention.purgeSchedule,
      run: () => store.withLease('retention-purge', () => purgeExpired(store, config.retention, { logger })),
    });
    stoppers.push(async () => {
      await purge.destroy();
    });

    phase = { name: 'running', since: new Date(now()).toISOString() };
    logger.info('passerelle started', { url, version: VERSION, store: store.dialect });
    let stopped: Promise<void> | undefined;
    return {
      url,
      store,
      context: ctx,
      bootstrapKey,
      createdKeyFile: created ? keyFile : undefined,
      reloadTls: () => listener.reloadTls(),
      stop() {
        if (phase.name !== 'stopping') phase = { name: 'stopping', since: new Date(now()).toISOString() };
        stopped ??= (async () => {
          for (const stop of stoppers.reverse()) {
            try {
              await stop();
            } catch (e) {
              logger.error('error while stopping', { err: e });
            }
          }
          if (!options.store) await store.close();
          logger.info('passerelle stopped');
        })();
        return stopped;
      },
    };
  } catch (e) {
    for (const stop of stoppers.reverse()) await stop().catch(() => undefined);
    if (!options.store) await store.close().catch(() => undefined);
    throw e;
  }
}
