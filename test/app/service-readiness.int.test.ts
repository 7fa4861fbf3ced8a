/**
 * Issue 23, rolling restart: `/readyz` tells a balancer "ready" only while the service runs —
 * not while its modules are still starting (the HTTP listener already serves, a link's
 * listener may not exist yet), not once a stop began (the instance drains and refuses new
 * work). A module whose component start and stop wait on the test stands for a slow link.
 */
import { describe, expect, it } from '@jest/globals';

import type { ServiceModule } from '../../src/app/service.js';
import { startTestService } from '../helpers/service.js';

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
});
