/**
 * Issue 16, point 8 (and issue 23): a link that cannot start — its MLLP port held by another
 * process (EADDRINUSE) — is tried again with backoff; meanwhile `/readyz` answers 503 naming the
 * link and the reason, and once the port frees up the link starts and `/readyz` answers 200.
 */
import { connect, type Server } from 'node:net';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import type { Hl7v2Link } from '../../connectors/hl7v2/index.js';
import { defaultConnectorRegistry } from '../../src/app/connectors.js';
import { mappingModule } from '../../src/app/features/mapping.js';
import { syncModule } from '../../src/app/features/sync.js';
import { createApiKey } from '../../src/security/api-keys.js';
import type { SyncRuntime } from '../../src/sync/runtime.js';
import { holdPort } from '../helpers/held-port.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { STORE_KINDS } from '../helpers/stores.js';
import { until } from '../helpers/until.js';

interface Readyz {
  status: string;
  problems?: string[];
  down?: { kind: string; id: string; code: string; reason: string; since: string; nextAttemptAt?: string }[];
}

describe.each(STORE_KINDS)('a link whose listen port is taken (%s store)', (storeKind) => {
  let holder: Server;
  let port: number;
  let t: TestService;
  let runtime: SyncRuntime;
  let linkId: string;
  let practiceKey: string;

  beforeAll(async () => {
    ({ server: holder, port } = await holdPort());
    const mapping = mappingModule({ refreshMs: 0 });
    const sync = syncModule({
      registry: defaultConnectorRegistry(),
      ownership: mapping.ownership,
      plans: mapping.plansOf,
      runtime: { refreshMs: 0, restartBackoff: { baseMs: 20, capMs: 200 } },
    });
    t = await startTestService({ store: storeKind, modules: [mapping, sync] });
    runtime = sync.runtimeOf(t.service.context);
    const integrator = (
      await createApiKey(t.service.store, { role: 'integrator', createdBy: 'test', via: 'test' })
    ).key;
    const practiceId = (
      (await (
        await t.api('/api/v1/practices', { method: 'POST', json: { name: 'Cabinet des Essais' } })
      ).json()) as { id: string }
    ).id;
    const created = await t.api('/api/v1/links', {
      method: 'POST',
      key: integrator,
      json: {
        practiceId,
        role: 'practice',
        connector: 'hl7v2',
        name: 'Logiciel du cabinet',
        isTest: true,
        config: { mllp: { listen: { host: '127.0.0.1', port } } },
      },
    });
    expect(created.status).toBe(201);
    linkId = ((await created.json()) as { id: string }).id;
    // A key limited to the link's own practice: still not an operator of the whole instance.
    practiceKey = (
      await createApiKey(t.service.store, { role: 'integrator', practiceId, createdBy: 'test', via: 'test' })
    ).key;
    await runtime.refresh();
  });
  afterAll(async () => {
    await t.dispose();
    if (holder.listening) await new Promise((resolve) => holder.close(resolve));
  });

  /** As an operator (the admin key) unless `anonymous`: only operators see link ids and reasons. */
  const readyz = async (anonymous = false, key = t.adminKey) => {
    const res = await fetch(`${t.url}/readyz`, {
      headers: anonymous ? {} : { authorization: `Bearer ${key}` },
    });
    return { status: res.status, body: (await res.json()) as Readyz };
  };

  it('answers 503 on /readyz to an anonymous caller with the code only: no link id, no address', async () => {
    const { status, body } = await readyz(true);
    expect(status).toBe(503);
    expect(body.down?.map((d) => [d.kind, d.id, d.code, d.reason])).toEqual([
      ['link', undefined, 'ERR_MLLP_CONNECTION', undefined],
    ]);
    expect(body.problems).toEqual(['a link is down (ERR_MLLP_CONNECTION)']);
    expect(JSON.stringify(body)).not.toContain(linkId);
  });

  it('gives a key limited to one practice the anonymous answer, and an unknown key too', async () => {
    for (const key of [practiceKey, 'psk_not-a-key']) {
      const { status, body } = await readyz(false, key);
      expect([status, body.problems]).toEqual([503, ['a link is down (ERR_MLLP_CONNECTION)']]);
      expect(JSON.stringify(body)).not.toContain(linkId);
    }
  });

  it('answers 503 on /readyz to an operator naming the link, its error code and the address in use', async () => {
    const { status, body } = await readyz();
    expect(status).toBe(503);
    expect(body.status).toBe('not-ready');
    expect(body.down?.map((d) => [d.kind, d.id, d.code])).toEqual([['link', linkId, 'ERR_MLLP_CONNECTION']]);
    expect(body.down?.[0]?.reason).toBe(`MLLP listener cannot listen on 127.0.0.1:${port}: EADDRINUSE`);
    expect(body.problems).toEqual([
      `link ${linkId} is down: MLLP listener cannot listen on 127.0.0.1:${port}: EADDRINUSE`,
    ]);
  });

  it('keeps trying while the port is taken, each attempt scheduled later, and stays not ready', async () => {
    const first = runtime.notReady()[0];
    const later = await until('a later failed attempt', () => {
      const d = runtime.notReady()[0];
      return d !== undefined && d.attempts >= (first?.attempts ?? 0) + 2 && d;
    });
    expect(later.since).toBe(first?.since);
    expect(Date.parse(later.nextAttemptAt as string)).toBeGreaterThanOrEqual(
      Date.parse(first?.nextAttemptAt as string),
    );
    expect(runtime.isRunning(linkId)).toBe(false);
    expect((await readyz()).status).toBe(503);
  });

  it('starts the link once the port is free, and /readyz answers 200', async () => {
    await new Promise((resolve) => holder.close(resolve));
    const ready = await until('/readyz to answer 200', async () => {
      const r = await readyz();
      return r.status === 200 && r;
    });
    expect(ready.body).toEqual({ status: 'ready', store: storeKind });
    expect(runtime.notReady()).toEqual([]);
    expect((runtime.connectorOf(linkId) as Hl7v2Link).mllpPort).toBe(port);
    // A real MLLP client gets through to the listener now.
    await new Promise<void>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', reject);
    });
  });

  it('stops trying and counts the link as ready again once it is disabled', async () => {
    const { server: other, port: busy } = await holdPort();
    try {
      const moved = await t.api(`/api/v1/links/${linkId}`, {
        method: 'PATCH',
        json: { config: { mllp: { listen: { host: '127.0.0.1', port: busy } } } },
      });
      expect(moved.status).toBe(200);
      await runtime.refresh();
      const down = await readyz();
      expect([down.status, down.body.down?.map((d) => [d.id, d.reason])]).toEqual([
        503,
        [[linkId, `MLLP listener cannot listen on 127.0.0.1:${busy}: EADDRINUSE`]],
      ]);
      const disabled = await t.api(`/api/v1/links/${linkId}`, { method: 'PATCH', json: { enabled: false } });
      expect(disabled.status).toBe(200);
      await runtime.refresh();
      expect(runtime.notReady()).toEqual([]);
      expect(await readyz()).toEqual({ status: 200, body: { status: 'ready', store: storeKind } });
    } finally {
      await new Promise((resolve) => other.close(resolve));
    }
  });
});
