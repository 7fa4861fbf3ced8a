import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from '@jest/globals';

import { configLeaves, envName, loadConfig } from '../../src/config/load.js';
import type { PasserelleError } from '../../src/errors.js';
import { tempDir } from '../helpers/stores.js';

const dir = tempDir('passerelle-config-');
afterAll(() => dir.remove());

function write(name: string, text: string): string {
  const p = join(dir.path, name);
  writeFileSync(p, text);
  return p;
}

function errorOf(fn: () => unknown): PasserelleError {
  try {
    fn();
  } catch (e) {
    return e as PasserelleError;
  }
  throw new Error('expected an error');
}

describe('configuration', () => {
  it('starts from safe defaults: SQLite in ./data, localhost only, Europe/Paris', () => {
    const { config, file } = loadConfig({ env: {}, cwd: dir.path });
    expect(file).toBeUndefined();
    expect(config.store).toMatchObject({ driver: 'sqlite', sqlite: { path: './data/passerelle.db' } });
    expect(config.http).toMatchObject({ host: '127.0.0.1', port: 8080 });
    expect(config.defaultTimezone).toBe('Europe/Paris');
  });

  it('takes the dispatcher’s retry settings from sync:, and refuses a cap below the base', () => {
    const { config } = loadConfig({
      env: { PASSERELLE_SYNC_MAX_ATTEMPTS: '4', PASSERELLE_SYNC_RETRY_BASE_MS: '500' },
      cwd: dir.path,
    });
    expect(config.sync).toEqual({
      maxAttempts: 4,
      retryBaseMs: 500,
      retryCapMs: 600_000,
      pushTimeoutMs: 30_000,
      outboxLeaseMs: 60_000,
      linkRestartCapMs: 30_000,
      listenPortOffset: 0,
      leaseTtlMs: 15_000,
      agendaHorizonDays: 28,
      agendaDebounceMs: 2_000,
    });
    // The agenda publication's horizon is validated (issue 20): 1 to 92 days.
    const horizon = errorOf(() =>
      loadConfig({ file: write('horizon.yaml', 'sync:\n  agendaHorizonDays: 400\n'), env: {} }),
    );
    expect(horizon.code).toBe('ERR_CONFIG_INVALID');
    expect(horizon.message).toContain('sync.agendaHorizonDays');
    const file = write('retry.yaml', 'sync:\n  retryBaseMs: 5000\n  retryCapMs: 1000\n');
    const e = errorOf(() => loadConfig({ file, env: {} }));
    expect(e.code).toBe('ERR_CONFIG_INVALID');
    expect(e.message).toContain('sync.retryCapMs: must not be below sync.retryBaseMs');
    // An outbox lease shorter than a push would let another instance send it again meanwhile.
    const lease = errorOf(() =>
      loadConfig({
        file: write('lease.yaml', 'sync:\n  pushTimeoutMs: 5000\n  outboxLeaseMs: 5000\n'),
        env: {},
      }),
    );
    expect(lease.code).toBe('ERR_CONFIG_INVALID');
    expect(lease.message).toContain('sync.outboxLeaseMs: must be above sync.pushTimeoutMs');
  });

  it('names the file, line, column and key of a typo, with a suggestion', () => {
    const file = write('typo.yaml', 'http:\n  prot: 9000\n');
    const e = errorOf(() => loadConfig({ file, env: {} }));
    expect(e.code).toBe('ERR_CONFIG_INVALID');
    expect(e.message).toBe(`invalid configuration: ${file}:2:3 http.prot: unknown key (did you mean port?)`);
  });

  it('reports every problem at once, each with the value that is wrong', () => {
    const file = write(
      'many.yaml',
      'http:\n  port: "eighty"\nstore:\n  driver: mysql\nretention:\n  purgeSchedule: "every night"\n',
    );
    const e = errorOf(() => loadConfig({ file, env: {} }));
    const byPath = Object.fromEntries(e.issues.map((i) => [i.path, i]));
    expect(Object.keys(byPath).sort()).toEqual(['http.port', 'retention.purgeSchedule', 'store.driver']);
    expect(byPath['http.port']).toMatchObject({
      location: `${file}:2:9`,
      message: expect.stringContaining('"eighty"'),
    });
    expect(byPath['store.driver']?.message).toContain('"mysql"');
    expect(byPath['retention.purgeSchedule']?.message).toContain('not a valid cron expression');
  });

  it('reports YAML syntax errors with their position', () => {
    const file = write('broken.yaml', 'http:\n  port: [8080\n');
    const e = errorOf(() => loadConfig({ file, env: {} }));
    expect(e.issues[0]?.location).toMatch(
      new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+$`),
    );
  });

  it('lets environment variables override file values, typed by the schema', () => {
    const file = write('base.yaml', 'http:\n  port: 9000\n');
    const { config, envOverrides } = loadConfig({
      file,
      env: {
        PASSERELLE_HTTP_PORT: '9100',
        PASSERELLE_HTTP_ACCESS_LOG: 'false',
        PASSERELLE_STORE_SQLITE_PATH: '/var/lib/p.db',
      },
    });
    expect(config.http.port).toBe(9100);
    expect(config.http.accessLog).toBe(false);
    expect(config.store.sqlite.path).toBe('/var/lib/p.db');
    expect([...envOverrides].sort()).toEqual([
      'PASSERELLE_HTTP_ACCESS_LOG',
      'PASSERELLE_HTTP_PORT',
      'PASSERELLE_STORE_SQLITE_PATH',
    ]);
  });

  it('reads secrets from *_FILE variables and never prints their values', () => {
    const keyFile = write('key', `${Buffer.alloc(32, 7).toString('base64')}\n`);
    const { config } = loadConfig({ env: { PASSERELLE_SECURITY_ENCRYPTION_KEY_FILE: keyFile } });
    expect(config.security.encryptionKey).toBe(Buffer.alloc(32, 7).toString('base64'));
    const bad = write('badkey', 'c2hvcnQ=\n');
    const e = errorOf(() => loadConfig({ env: { PASSERELLE_SECURITY_ENCRYPTION_KEY_FILE: bad } }));
    expect(e.issues[0]).toMatchObject({
      path: 'security.encryptionKey',
      location: 'environment PASSERELLE_SECURITY_ENCRYPTION_KEY_FILE',
    });
    expect(JSON.stringify(e.issues)).not.toContain('c2hvcnQ');
  });

  it('refuses *_FILE for keys that are not secrets, and unknown PASSERELLE_ variables', () => {
    const e = errorOf(() =>
      loadConfig({ env: { PASSERELLE_HTTP_PORT_FILE: '/x', PASSERELLE_HTTP_PROT: '1' } }),
    );
    expect(e.issues.map((i) => i.message)).toEqual([
      'http.port is not a secret; set PASSERELLE_HTTP_PORT directly',
      'unknown environment variable (did you mean PASSERELLE_HTTP_PORT?)',
    ]);
  });

  it('requires a URL and an encryption key when the store is PostgreSQL', () => {
    const e = errorOf(() => loadConfig({ env: { PASSERELLE_STORE_DRIVER: 'postgres' } }));
    expect(e.issues.map((i) => i.path)).toContain('store.postgres.url');
  });

  it('names a missing config file', () => {
    const e = errorOf(() => loadConfig({ file: join(dir.path, 'nope.yaml'), env: {} }));
    expect(e.code).toBe('ERR_CONFIG_FILE_UNREADABLE');
    expect(e.message).toContain('nope.yaml');
  });

  it('ships an example that parses and documents every key', () => {
    const { config } = loadConfig({ file: 'config/passerelle.example.yaml', env: {} });
    expect(config.http.port).toBe(8080);
    const text = readFileSync('config/passerelle.example.yaml', 'utf8');
    for (const leaf of configLeaves()) {
      const key = leaf.path[leaf.path.length - 1] as string;
      expect(text).toMatch(new RegExp(`^\\s*#?\\s*${key}:`, 'm'));
    }
  });

  it('derives one distinct environment variable per key', () => {
    const names = configLeaves().map((l) => l.env);
    expect(new Set(names).size).toBe(names.length);
    expect(envName(['store', 'postgres', 'poolSize'])).toBe('PASSERELLE_STORE_POSTGRES_POOL_SIZE');
  });
});
