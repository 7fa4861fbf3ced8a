import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import cron, { type ScheduledTask } from 'node-cron';

import { createApp } from '../api/app.js';
import { createMetrics, type Metrics } from '../api/metrics.js';
import type { AnyRoute } from '../api/route.js';
import { healthRoutes } from '../api/routes/health.js';
import { practiceRoutes } from '../api/routes/practices.js';
import type { Config } from '../config/schema.js';
import { createLogger, type Logger } from '../log/logger.js';
import { createApiKey } from '../security/api-keys.js';
import type { SecretBox } from '../security/secrets.js';
import type { Store } from '../store/index.js';
import type { Clock } from '../store/repos/context.js';
import { openConfiguredStore, openSecretBox } from './open-store.js';
import { VERSION } from './version.js';

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
  /** The URL the service answers on, known once it listens. */
  baseUrl(): string;
}

/** A feature plugs in routes and components (the sync runtime, iCal feeds, webhooks…). */
export interface ServiceModule {
  readonly name: string;
  /** Connector names this module makes available to links. */
  readonly connectors?: readonly string[];
  routes?(ctx: ServiceContext): AnyRoute[];
  components?(ctx: ServiceContext): Component[];
}

export interface ServiceOptions {
  readonly config: Config;
  readonly logger?: Logger;
  readonly now?: Clock;
  readonly cwd?: string;
  readonly modules?: readonly ServiceModule[];
  /** Open this store instead of the configured one (tests). */
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
  stop(): Promise<void>;
}

/** Connectors the foundation knows by name; modules add the ones they implement. */
export const BUILTIN_CONNECTORS: readonly string[] = ['secretariat', 'fhir', 'hl7v2'];

/**
 * Start order: store (migrated) → key → HTTP → components → schedules. Stop order is the reverse,
 * and the store closes last so in-flight work can still commit.
 */
export async function startService(options: ServiceOptions): Promise<RunningService> {
  const { config } = options;
  const logger = options.logger ?? createLogger({ level: config.log.level });
  const now = options.now ?? Date.now;
  // The key first: the store seals patient data with it.
  const { box, created, keyFile } = openSecretBox(config, { ...(options.cwd && { cwd: options.cwd }) });
  if (created) logger.warn('generated an encryption key; set security.encryptionKey in production', { keyFile });
  const store = options.store ?? (await openConfiguredStore(config, { now, keyring: box.keyring, ...(options.cwd && { cwd: options.cwd }) }));
  const stoppers: Array<() => Promise<void>> = [];
  try {
    const applied = await store.migrate();
    if (applied.length > 0) logger.info('store migrated', { applied, dialect: store.dialect });

    let bootstrapKey: string | undefined;
    if (config.security.bootstrapAdminKey && (await store.apiKeys.countActive()) === 0) {
      bootstrapKey = (await createApiKey(store, { role: 'admin', label: 'bootstrap', createdBy: 'system', via: 'serve' })).key;
    }

    const metrics = createMetrics(store);
    let url = '';
    const ctx: ServiceContext = { config, store, logger, metrics, secrets: box, now, baseUrl: () => config.http.publicUrl ?? url };
    const modules = options.modules ?? [];
    const connectors = [...new Set([...BUILTIN_CONNECTORS, ...modules.flatMap((m) => m.connectors ?? [])])];
    const routes: AnyRoute[] = [
      ...healthRoutes({ store, metrics, version: VERSION }),
      ...practiceRoutes({ store, secrets: box, connectors }),
      ...modules.flatMap((m) => m.routes?.(ctx) ?? []),
    ];
    const app = createApp({ store, logger, metrics, routes, version: VERSION, accessLog: config.http.accessLog, trustProxy: config.http.trustProxy, ...(config.http.publicUrl && { publicUrl: config.http.publicUrl }) });

    const server: Server = await new Promise((resolve, reject) => {
      const s = app.listen(config.http.port, config.http.host, () => resolve(s));
      s.once('error', reject);
    });
    // Calendar apps and proxies keep connections open; let stop() end idle ones at once.
    server.keepAliveTimeout = 5000;
    const address = server.address() as AddressInfo;
    url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
    stoppers.push(
      () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
        }),
    );

    for (const component of modules.flatMap((m) => m.components?.(ctx) ?? [])) {
      await component.start();
      stoppers.push(() => component.stop());
      logger.info('component started', { component: component.name });
    }

    const purge: ScheduledTask = cron.schedule(
      config.retention.purgeSchedule,
      async () => {
        const purged = await store.inbox.purgeBodies(now() - config.retention.messageBodiesDays * 86_400_000);
        if (purged > 0) logger.info('purged message bodies past retention', { purged, days: config.retention.messageBodiesDays });
        const events = await store.activity.purgeBefore(now() - config.retention.activityDays * 86_400_000);
        if (events > 0) logger.info('purged activity events past retention', { purged: events, days: config.retention.activityDays });
      },
      { name: 'retention-purge', noOverlap: true },
    );
    stoppers.push(async () => {
      await purge.destroy();
    });

    logger.info('passerelle started', { url, version: VERSION, store: store.dialect });
    let stopped: Promise<void> | undefined;
    return {
      url,
      store,
      context: ctx,
      bootstrapKey,
      createdKeyFile: created ? keyFile : undefined,
      stop() {
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
