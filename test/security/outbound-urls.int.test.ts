/**
 * The runtime starts a link only when its outbound URLs are https, or the link is a test link,
 * or the peer is on loopback (issue 16 point 9); otherwise the link reports why, naming the
 * config path. A real store and the real runtime; the connector is a one-URL test connector.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { z } from 'zod';

import { defineConnector } from '../../src/connector/contract.js';
import { createRegistry } from '../../src/connector/registry.js';
import { createLogger } from '../../src/log/logger.js';
import { SecretBox } from '../../src/security/secrets.js';
import { SyncRuntime } from '../../src/sync/runtime.js';
import { openTestStore, type TestStore } from '../helpers/stores.js';

const urlPeer = defineConnector({
  name: 'url-peer',
  protocol: 'url-peer',
  configSchema: z.strictObject({ url: z.url() }),
  capabilities: { kinds: [], pull: false, receive: false, push: [] },
  outboundUrls: (config) => [{ path: 'url', url: config.url }],
  create: () => ({
    push: () => Promise.reject(new Error('not used')),
    health: () => Promise.resolve({ ok: true, checks: [] }),
    stop: () => Promise.resolve(),
  }),
});

describe('outbound URLs checked before a link starts', () => {
  let t: TestStore;
  let runtime: SyncRuntime;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    t = await openTestStore('sqlite');
    const practice = await t.store.practices.create({ name: 'Cabinet des Essais' });
    const link = async (name: string, url: string, isTest: boolean) => {
      ids[name] = (
        await t.store.links.create({
          practiceId: practice.id,
          role: 'secretariat',
          connector: 'url-peer',
          name,
          config: { url },
          isTest,
        })
      ).id;
    };
    await link('remote-http', 'http://plateforme.example.fr/api', false);
    await link('remote-https', 'https://plateforme.example.fr/api', false);
    await link('loopback-http', 'http://127.0.0.1:4010/api', false);
    await link('test-http', 'http://plateforme.example.fr/api', true);
    runtime = new SyncRuntime({
      store: t.store,
      logger: createLogger({ silent: true }),
      secrets: new SecretBox(Buffer.alloc(32, 3)),
      registry: createRegistry([urlPeer]),
      schedulePolls: false,
      autoDispatch: false,
      refreshMs: 0,
    });
    await runtime.start();
  });
  afterAll(async () => {
    await runtime.stop();
    await t.dispose();
  });

  it('does not start a live link that would send to a remote host over plain http, and says which key', async () => {
    const status = await runtime.status(ids['remote-http'] as string);
    expect(status.state).toBe('failed');
    expect(status.errorCode).toBe('ERR_CONNECTOR_CONFIG_INVALID');
    expect(status.errors).toEqual([
      expect.objectContaining({
        path: 'config.url',
        message: 'must be https unless the link is a test link or the host is loopback',
      }),
    ]);
  });

  it('starts links to https, to loopback over http, and test links over http', () => {
    expect(
      ['remote-https', 'loopback-http', 'test-http'].map((n) => [n, runtime.isRunning(ids[n] as string)]),
    ).toEqual([
      ['remote-https', true],
      ['loopback-http', true],
      ['test-http', true],
    ]);
  });
});
