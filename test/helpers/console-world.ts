/**
 * The console's test world: `passerelle serve --demo`'s world in this process (the service with
 * its simulators and demo traffic, on a temporary SQLite file and free ports), and keys of each
 * role, limited to one practice or not. Browser tests drive the console against it.
 *
 *   const w = await startConsoleWorld();       // ≈ 10–20 s: give beforeAll 120 s
 *   w.url, w.adminKey                          // the service and its admin key
 *   w.key({ role, practiceId? })               // a new API key (admin API), for sign-in
 *   w.api(path, init?)                         // fetch with the admin key
 *   w.demo                                     // RunningDemo: service, world (peers, simulators)
 *   w.dispose()
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { loadConfig } from '../../src/config/load.js';
import { DEMO_PRACTICES } from '../../src/demo/demo-data.js';
import { type RunningDemo, startDemo } from '../../src/demo/index.js';
import { createApiKey } from '../../src/security/api-keys.js';
import { tempDir } from './stores.js';

export interface ConsoleWorld {
  readonly url: string;
  readonly adminKey: string;
  readonly demo: RunningDemo;
  readonly practices: typeof DEMO_PRACTICES;
  key(options: {
    role: 'admin' | 'integrator' | 'viewer';
    practiceId?: string;
    label?: string;
  }): Promise<string>;
  api(path: string, init?: RequestInit & { json?: unknown; key?: string }): Promise<Response>;
  dispose(): Promise<void>;
}

export interface ConsoleWorldOptions {
  /** Extra top-level configuration sections (`console: { oidc: … }`), written to the world's config file. */
  readonly config?: Readonly<Record<string, unknown>>;
}

export async function startConsoleWorld(options: ConsoleWorldOptions = {}): Promise<ConsoleWorld> {
  const dir = tempDir('passerelle-console-');
  const file = join(dir.path, 'passerelle.yaml');
  // JSON is YAML: the config file takes it as is.
  writeFileSync(file, JSON.stringify({ http: { port: 0 }, log: { level: 'warn' }, ...options.config }));
  const { config } = loadConfig({ file, env: {}, cwd: dir.path });
  const demo = await startDemo({ config, dir: join(dir.path, 'demo'), print: () => undefined });
  const url = demo.service.url;
  const newKey: ConsoleWorld['key'] = async ({ role, practiceId, label }) =>
    (
      await createApiKey(demo.service.store, {
        role,
        label: label ?? `test ${role}${practiceId ? ` ${practiceId}` : ''}`,
        practiceId: practiceId ?? null,
        createdBy: 'test',
        via: 'test',
      })
    ).key;
  const keyLine = await newKey({ role: 'admin', label: 'test admin' });
  const api: ConsoleWorld['api'] = (path, init = {}) => {
    const { json, key, ...rest } = init;
    const headers = new Headers(rest.headers);
    headers.set('Authorization', `Bearer ${key ?? keyLine}`);
    if (json !== undefined) headers.set('Content-Type', 'application/json');
    return fetch(`${url}${path}`, {
      ...rest,
      headers,
      ...(json !== undefined && { body: JSON.stringify(json) }),
    });
  };
  return {
    url,
    adminKey: keyLine,
    demo,
    practices: DEMO_PRACTICES,
    api,
    key: newKey,
    dispose: async () => {
      await demo.stop();
      dir.remove();
    },
  };
}
