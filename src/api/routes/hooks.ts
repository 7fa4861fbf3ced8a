/**
 * Webhooks and other push notifications from peers: `POST /hooks/<connector>/<link id>`. The
 * route is public because the connector authenticates each delivery itself, on the exact bytes
 * received, before parsing (design: "webhook signatures checked on the raw bytes"); it answers
 * only after the engine committed (design rule 1).
 */
import { z } from 'zod';

import type { SyncRuntime } from '../../sync/runtime.js';
import { type AnyRoute, defineRoute, reply } from '../route.js';

const flat = (v: unknown): string | undefined =>
  Array.isArray(v) ? v.join(', ') : typeof v === 'string' ? v : undefined;

export function hookRoutes(runtime: SyncRuntime): AnyRoute[] {
  return [
    defineRoute({
      method: 'post',
      path: '/hooks/:connector/:linkId',
      summary: 'Receive a webhook for a link; its connector checks the signature on the raw body',
      tags: ['webhooks'],
      access: 'public',
      scope: 'public',
      bodyType: 'raw',
      bodyLimit: '5mb',
      params: z.object({
        connector: z.string().regex(/^[a-z0-9-]{1,40}$/),
        linkId: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/),
      }),
      responses: {
        200: { description: 'Committed; the connector’s answer' },
        401: {
          description:
            'Not authenticated: bad or missing signature, or no running link of this connector (one answer for all, so link ids cannot be probed)',
        },
        503: { description: 'The link failed to start, or passerelle is stopping; retry later' },
      },
      handler: async ({ params, body, req }) => {
        const headers: Record<string, string | undefined> = {};
        for (const [k, v] of Object.entries(req.headers)) headers[k] = flat(v);
        const query: Record<string, string | undefined> = {};
        for (const [k, v] of Object.entries(req.query)) query[k] = flat(v);
        const answer = await runtime.receiveHttp(params.connector, params.linkId, {
          headers,
          query,
          body: body as Buffer,
        });
        return reply(answer.status, answer.body, answer.headers ? { ...answer.headers } : undefined);
      },
    }),
  ];
}
