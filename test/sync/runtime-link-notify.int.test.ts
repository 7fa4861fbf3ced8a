/**
 * Issue 23: a link created, changed or disabled by one instance reaches the others at once on
 * PostgreSQL (migration 0011's NOTIFY, Store.watch), not at their next periodic re-read — here
 * the re-read is off (`refreshMs: 0`), so only the notification can start or stop the link.
 * Two stores on one database stand for two instances.
 */
import { randomBytes } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { createRegistry } from '../../src/connector/registry.js';
import { createLogger } from '../../src/log/logger.js';
import { SecretBox } from '../../src/security/secrets.js';
import { openPostgresStore, type Store } from '../../src/store/index.js';
import { SyncRuntime } from '../../src/sync/runtime.js';
import { memoryConnector, MemoryWorld } from '../helpers/memory-connector.js';
import { createPgDatabase, testSealing } from '../helpers/stores.js';
import { untilWith } from '../helpers/until.js';

const until = untilWith({ ms: 10_000 });

describe('link changes on PostgreSQL reach another instance through LISTEN/NOTIFY', () => {
  let db: { url: string; drop: () => Promise<void> };
  let writer: Store;
  let other: Store;
  let runtime: SyncRuntime;
  let practiceId: string;

  beforeAll(async () => {
    db = await createPgDatabase();
    const sealing = testSealing();
    writer = await openPostgresStore({ url: db.url, poolSize: 3, sealing });
    await writer.migrate();
    other = await openPostgresStore({ url: db.url, poolSize: 3, sealing });
    runtime = new SyncRuntime({
      store: other,
      logger: createLogger({ silent: true }),
      secrets: new SecretBox(randomBytes(32)),
      registry: createRegistry([memoryConnector(new MemoryWorld())]),
      schedulePolls: false,
      autoDispatch: false,
      refreshMs: 0,
    });
    await runtime.start();
    practiceId = (await writer.practices.create({ name: 'Cabinet des Deux Instances' })).id;
  });

  afterAll(async () => {
    await runtime?.stop();
    await other?.close();
    await writer?.close();
    await db?.drop();
  });

  it('starts a link the other instance created, then restarts it at its new version and stops it once disabled', async () => {
    const link = await writer.links.create({
      practiceId,
      role: 'practice',
      connector: 'memory',
      name: 'Logiciel',
      config: { peer: 'prac' },
      isTest: true,
    });
    await until('the link running on the other instance', () => runtime.isRunning(link.id));
    const started = (await runtime.status(link.id, { health: false })).startedAt;

    const renamed = await writer.links.update(link.id, { name: 'Logiciel du cabinet' }, link.version);
    expect(renamed.version).toBeGreaterThan(link.version);
    await until('the link restarted at its new version', async () => {
      const s = await runtime.status(link.id, { health: false });
      return s.state === 'running' && s.startedAt !== started;
    });

    await writer.links.update(link.id, { enabled: false }, renamed.version);
    await until('the link stopped on the other instance', () => !runtime.isRunning(link.id));
    expect((await runtime.status(link.id, { health: false })).state).toBe('disabled');
  });
});
