import { z } from 'zod';

import type { Store } from '../../store/index.js';
import type { Metrics } from '../metrics.js';
import type { ReadinessCheck } from '../readiness.js';
import { type AnyRoute, defineRoute, reply } from '../route.js';

export function healthRoutes(deps: {
  store: Store;
  metrics: Metrics;
  version: string;
  readiness?: readonly ReadinessCheck[];
}): AnyRoute[] {
  return [
    defineRoute({
      method: 'get',
      path: '/healthz',
      summary: 'Liveness: the process answers',
      tags: ['health'],
      access: 'public',
      scope: 'public',
      responses: {
        200: { description: 'Alive', schema: z.object({ status: z.literal('ok'), version: z.string() }) },
      },
      handler: async () => ({ status: 'ok', version: deps.version }),
    }),
    defineRoute({
      method: 'get',
      path: '/readyz',
      summary: 'Readiness: the store answers, its schema is current and every enabled link runs',
      tags: ['health'],
      access: 'public',
      scope: 'public',
      responses: {
        200: { description: 'Ready', schema: z.object({ status: z.literal('ready'), store: z.string() }) },
        503: {
          description:
            'Not ready, with the reasons; `down` names each link that should run and does not, with its error code and reason',
        },
      },
      handler: async () => {
        const problems: string[] = [];
        try {
          await deps.store.ping();
          const m = await deps.store.migrationStatus();
          if (!m.current) problems.push(`store schema is behind: pending migrations ${m.pending.join(', ')}`);
        } catch {
          problems.push('store is not reachable');
        }
        const down = (await Promise.all((deps.readiness ?? []).map((check) => check()))).flat();
        for (const d of down) problems.push(`${d.kind} ${d.id} is down: ${d.reason}`);
        return problems.length === 0
          ? { status: 'ready', store: deps.store.dialect }
          : reply(503, { status: 'not-ready', problems, ...(down.length > 0 && { down }) });
      },
    }),
    defineRoute({
      method: 'get',
      path: '/metrics',
      summary: 'Prometheus metrics (no patient data)',
      tags: ['health'],
      access: 'public',
      scope: 'public',
      responses: { 200: { description: 'Prometheus text format', contentType: 'text/plain' } },
      handler: async ({ res }) => {
        res
          .set('Content-Type', deps.metrics.registry.contentType)
          .send(await deps.metrics.registry.metrics());
      },
    }),
  ];
}
