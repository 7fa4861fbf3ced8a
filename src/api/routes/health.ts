import { z } from 'zod';

import { hashSecret } from '../../security/api-keys.js';
import type { Store } from '../../store/index.js';
import type { Metrics } from '../metrics.js';
import type { NotReady, ReadinessCheck } from '../readiness.js';
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
      description:
        'Public: a balancer or an orchestrator reads the status and, when not ready, what kind of part is down and its error code. ' +
        'With an API key not limited to one practice (Authorization: Bearer psk_…), each down part is named by id with its reason.',
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
      handler: async ({ req }) => {
        const problems: string[] = [];
        try {
          await deps.store.ping();
          const m = await deps.store.migrationStatus();
          if (!m.current) problems.push(`store schema is behind: pending migrations ${m.pending.join(', ')}`);
        } catch {
          problems.push('store is not reachable');
        }
        const down = (await Promise.all((deps.readiness ?? []).map((check) => check()))).flat();
        if (problems.length === 0 && down.length === 0) return { status: 'ready', store: deps.store.dialect };
        // Link ids and reasons (addresses, peers) are for operators: an anonymous caller learns
        // the kind and code of what is down, not which practice's link.
        const detailed = down.length > 0 && (await operatorAsks(deps.store, req.get('authorization')));
        for (const d of down)
          problems.push(
            detailed ? `${d.kind} ${d.id} is down: ${d.reason}` : `a ${d.kind} is down (${d.code})`,
          );
        const shown = detailed ? down : down.map(anonymous);
        return reply(503, { status: 'not-ready', problems, ...(down.length > 0 && { down: shown }) });
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

/** True when the request carries a valid API key that is not limited to one practice. */
async function operatorAsks(store: Store, header: string | undefined): Promise<boolean> {
  if (!header?.toLowerCase().startsWith('bearer ')) return false;
  const key = header.slice(7).trim();
  if (!key) return false;
  const record = await store.apiKeys.findByHash(hashSecret(key)).catch(() => undefined);
  return record !== undefined && record.revokedAt === null && record.practiceId === null;
}

function anonymous(d: NotReady): Omit<NotReady, 'id' | 'reason'> {
  return {
    kind: d.kind,
    code: d.code,
    since: d.since,
    ...(d.nextAttemptAt !== undefined && { nextAttemptAt: d.nextAttemptAt }),
  };
}
