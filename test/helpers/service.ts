import { join } from 'node:path';

import { type RunningService, type ServiceModule, startService } from '../../src/app/service.js';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { createLogger, type Logger } from '../../src/log/logger.js';
import type { Clock } from '../../src/store/repos/context.js';
import { createPgDatabase, tempDir } from './stores.js';

export interface TestService {
  readonly service: RunningService;
  readonly url: string;
  /** The first admin key printed at start. */
  readonly adminKey: string;
  api(path: string, init?: RequestInit & { key?: string | null; json?: unknown }): Promise<Response>;
  dispose(): Promise<void>;
}

/**
 * The whole service on 127.0.0.1 with an OS-chosen port, on a temp SQLite file or a throwaway
 * PostgreSQL database.
 */
export async function startTestService(
  options: {
    store?: 'sqlite' | 'postgres';
    env?: Record<string, string>;
    modules?: ServiceModule[];
    now?: Clock;
    logger?: Logger;
  } = {},
): Promise<TestService> {
  const dir = tempDir('passerelle-svc-');
  let dropDb: (() => Promise<void>) | undefined;
  const env: Record<string, string> = {
    PASSERELLE_HTTP_PORT: '0',
    PASSERELLE_STORE_SQLITE_PATH: join(dir.path, 'data', 'passerelle.db'),
    ...options.env,
  };
  if (options.store === 'postgres') {
    const db = await createPgDatabase();
    dropDb = db.drop;
    Object.assign(
      env,
      {
        PASSERELLE_STORE_DRIVER: 'postgres',
        PASSERELLE_STORE_POSTGRES_URL: db.url,
        PASSERELLE_SECURITY_ENCRYPTION_KEY: Buffer.alloc(32, 1).toString('base64'),
        PASSERELLE_AUDIT_KEY: Buffer.alloc(32, 2).toString('base64'),
      },
      options.env,
    );
  }
  const { config }: { config: Config } = loadConfig({ env, cwd: dir.path });
  const service = await startService({
    config,
    cwd: dir.path,
    logger: options.logger ?? createLogger({ silent: true }),
    ...(options.modules && { modules: options.modules }),
    ...(options.now && { now: options.now }),
  });
  const adminKey = service.bootstrapKey as string;
  return {
    service,
    url: service.url,
    adminKey,
    api(path, init = {}) {
      const { key, json, ...rest } = init;
      const headers = new Headers(rest.headers);
      if (key !== null) headers.set('authorization', `Bearer ${key ?? adminKey}`);
      if (json !== undefined) headers.set('content-type', 'application/json');
      return fetch(`${service.url}${path}`, {
        ...rest,
        headers,
        ...(json !== undefined && { body: JSON.stringify(json) }),
      });
    },
    async dispose() {
      await service.stop();
      await dropDb?.();
      dir.remove();
    },
  };
}
