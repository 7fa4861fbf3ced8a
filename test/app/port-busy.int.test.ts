/**
 * Issue 16, point 8: `serve` on a port another program holds fails with one line naming the
 * address and the setting to change, a non-zero exit, and nothing written: no store file or
 * schema, no generated credentials key, no first admin key printed for nobody.
 */
import { existsSync, readdirSync } from 'node:fs';
import type { Server } from 'node:net';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';

import { startService } from '../../src/app/service.js';
import { loadConfig } from '../../src/config/load.js';
import { isPasserelleError, type PasserelleError } from '../../src/errors.js';
import { createLogger } from '../../src/log/logger.js';
import { runCli } from '../helpers/cli.js';
import { holdPort } from '../helpers/held-port.js';
import { createPgDatabase, tempDir } from '../helpers/stores.js';

describe('serve on a port already in use', () => {
  let holder: Server;
  let port: number;
  const dir = tempDir('passerelle-port-');

  beforeAll(async () => {
    ({ server: holder, port } = await holdPort());
  });
  afterAll(async () => {
    await new Promise((resolve) => holder.close(resolve));
    dir.remove();
  });

  const startOn = async (env: Record<string, string>, cwd: string): Promise<PasserelleError> => {
    const { config } = loadConfig({ env: { PASSERELLE_HTTP_PORT: String(port), ...env }, cwd });
    try {
      const s = await startService({ config, cwd, logger: createLogger({ silent: true }) });
      await s.stop();
    } catch (e) {
      if (isPasserelleError(e)) return e;
      throw e;
    }
    throw new Error('expected the start to fail');
  };

  it('rejects with ERR_HTTP_LISTEN_FAILED naming 127.0.0.1:<port> and http.port / PASSERELLE_HTTP_PORT, and creates no SQLite file nor key', async () => {
    const cwd = join(dir.path, 'sqlite');
    const e = await startOn({ PASSERELLE_STORE_SQLITE_PATH: join(cwd, 'data', 'passerelle.db') }, dir.path);
    expect(e.code).toBe('ERR_HTTP_LISTEN_FAILED');
    expect(e.message).toBe(
      `cannot listen on 127.0.0.1:${port}: the address is already in use (another passerelle, or another program); change http.port (PASSERELLE_HTTP_PORT)`,
    );
    expect(existsSync(cwd)).toBe(false);
    expect(readdirSync(dir.path)).toEqual([]);
  });

  it('leaves a PostgreSQL database untouched: no migration, no table, no admin key', async () => {
    const db = await createPgDatabase();
    try {
      const e = await startOn(
        {
          PASSERELLE_STORE_DRIVER: 'postgres',
          PASSERELLE_STORE_POSTGRES_URL: db.url,
          PASSERELLE_SECURITY_ENCRYPTION_KEY: Buffer.alloc(32, 1).toString('base64'),
          PASSERELLE_AUDIT_KEY: Buffer.alloc(32, 2).toString('base64'),
        },
        dir.path,
      );
      expect(e.code).toBe('ERR_HTTP_LISTEN_FAILED');
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      const tables = await c.query<{ table_name: string }>(
        "SELECT table_name FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema')",
      );
      await c.end();
      expect(tables.rows).toEqual([]);
    } finally {
      await db.drop();
    }
  });

  it('makes `passerelle serve` print one line on stderr, nothing on stdout, and exit 1', async () => {
    const cwd = join(dir.path, 'cli');
    const r = await runCli(['serve'], {
      cwd: dir.path,
      env: { PASSERELLE_HTTP_PORT: String(port), PASSERELLE_STORE_SQLITE_PATH: join(cwd, 'passerelle.db') },
    });
    expect([r.code, r.stdout, r.stderr]).toEqual([
      1,
      '',
      `passerelle: cannot listen on 127.0.0.1:${port}: the address is already in use (another passerelle, or another program); change http.port (PASSERELLE_HTTP_PORT)\n`,
    ]);
    expect(existsSync(cwd)).toBe(false);
  });
});
