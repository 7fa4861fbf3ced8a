import { z } from 'zod';

import type { Store } from '../../store/index.js';
import type { Metrics } from '../metrics.js';
import { type AnyRoute, defineRoute, reply } from '../route.js';

export function healthRoutes(deps: { store: Store; metrics: Metrics; version: string }): AnyRoute[] {
  return [
    defineRoute({
      method: 'get',
      path: '/healthz',
      summary: 'Liveness: the process answers',
      tags: ['health'],
      access: 'public',
      scope: 'public',
      responses: { 200: { description: 'Alive', schema: z.object({ status: z.literal('ok'), version: z.string() }) } },
      handler: async () => ({ status: 'ok', version: deps.version }),
    }),
    defineRoute({
      method: 'get',
      path: '/readyz',
      summary: 'Readiness: the store answers and its schema is current',
      tags: ['health'],
      access: 'public',
      scope: 'public',
      responses: {
        200: { description: 'Ready', schema: z.object({ status: z.literal('ready'), store: z.string() }) },
        503: { description: 'Not ready, with the reasons' },
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
        return problems.length === 0 ? { status: 'ready', store: deps.store.dialect } : reply(503, { status: 'not-ready', problems });
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
        res.set('Content-Type', deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
      },
    }),
  ];
}
