/**
 * Issue 23, rolling restart: `/readyz` tells a balancer "ready" only while the service runs —
 * not while its modules are still starting (the HTTP listener already serves, a link's
 * listener may not exist yet), not once a stop began (the instance drains and refuses new
 * work). A module whose component start and stop wait on the test stands for a slow link. And
 * a stop completes while a keep-alive client keeps asking (its connection is never idle).
 */
import http from 'node:http';
import net from 'node:net';

import { describe, expect, it } from '@jest/globals';

import type { ServiceModule } from '../../src/app/service.js';
import { startTestService } from '../helpers/service.js';
import { until } from '../helpers/until.js';

function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

interface Readyz {
  status: string;
  problems?: string[];
  down?: { kind: string; id?: string; code: string; reason?: string }[];
}

/** Whether a new TCP connection to the service is refused (its listener stopped accepting). */
function refuses(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname, port: Number(port) });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

const ask = async (url: string, key?: string) => {
  const res = await fetch(`${url}/readyz`, { headers: key ? { authorization: `Bearer ${key}` } : {} });
  return { status: res.status, body: (await res.json()) as Readyz };
};

describe('/readyz while the service starts and stops', () => {
  it('answers 503 while a component is still starting and while the service stops, 200 in between', async () => {
    const starting = gate();
    const startMayEnd = gate();
    const stopping = gate();
    const stopMayEnd = gate();
    let url = '';
    const slow: ServiceModule = {
      name: 'slow',
      components: (ctx) => [
        {
          name: 'slow',
          start: async () => {
            url = ctx.baseUrl();
            starting.open();
            await startMayEnd.opened;
          },
          stop: async () => {
            stopping.open();
            await stopMayEnd.opened;
          },
        },
      ],
    };
    const started = startTestService({ modules: [slow] });
    await starting.opened;

    const whileStarting = await ask(url);
    expect(whileStarting.status).toBe(503);
    // Anonymous: the kind and the code only.
    expect(whileStarting.body.problems).toEqual(['a service is down (ERR_SYNC_NOT_RUNNING)']);

    startMayEnd.open();
    const t = await started;
    try {
      expect(await ask(t.url)).toEqual({ status: 200, body: { status: 'ready', store: 'sqlite' } });

      const stop = t.service.stop();
      await stopping.opened;
      const whileStopping = await ask(t.url, t.adminKey);
      expect(whileStopping.status).toBe(503);
      expect(whileStopping.body.down?.map((d) => [d.kind, d.id, d.code, d.reason])).toEqual([
        [
          'service',
          'self',
          'ERR_SYNC_NOT_RUNNING',
          'passerelle is stopping: it finishes what it holds and takes no new work',
        ],
      ]);
      stopMayEnd.open();
      await stop;
    } finally {
      stopMayEnd.open();
      await t.dispose();
    }
  });

  it('stops while a keep-alive client keeps asking: answers from then on close their connection', async () => {
    // A request held until the listener stopped accepting: its connection is busy when the stop
    // begins, so closing idle connections does not end it.
    const held = gate();
    const arrived = gate();
    const slowRoute: ServiceModule = {
      name: 'slow-route',
      http: () => (req, res, next) => {
        if (req.path !== '/test-held') return next();
        res.locals['route'] = '/test-held';
        arrived.open();
        void held.opened.then(() => res.json({ held: true }));
      },
    };
    const t = await startTestService({ modules: [slowRoute] });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const answers: { path: string; status: number; connection: string | undefined }[] = [];
    const ask1 = (path: string) =>
      new Promise<void>((resolve, reject) => {
        const req = http.get(`${t.url}${path}`, { agent }, (res) => {
          res.resume();
          res.on('end', () => {
            answers.push({ path, status: res.statusCode ?? 0, connection: res.headers.connection });
            resolve();
          });
        });
        req.on('error', reject);
      });
    try {
      const first = ask1('/test-held');
      // Then /readyz again and again on the same connection (one socket), without pause.
      const poll = (async () => {
        await first;
        for (;;) await ask1('/readyz');
      })().catch(() => undefined); // ends when the connection is closed and the listener refuses
      await arrived.opened;
      const stop = t.service.stop();
      await until('the listener refusing new connections', () => refuses(t.url), 10_000, { everyMs: 20 });
      held.open();
      await stop;
      await poll;
      expect(answers[0]).toMatchObject({ path: '/test-held', status: 200 });
      // The next answer on that connection closed it: the stop could complete.
      expect(answers[1]).toMatchObject({ path: '/readyz', status: 503, connection: 'close' });
      expect(answers).toHaveLength(2);
    } finally {
      held.open();
      agent.destroy();
      await t.dispose();
    }
  });
});
