/**
 * Consignes and scripts (issue 21 point 1): the version in force, every version with its author
 * and diff, a new version (published to the secretariat platform at once), and a publication
 * sent again. Writing them is the integrator's (or the admin's) part; viewers read them.
 */
import { z } from 'zod';

import type { ConsignesService } from '../../sync/consignes.js';
import { type AnyRoute, defineRoute, ifMatchVersion, reply } from '../route.js';

const id = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, { error: 'not an id (1-64 of A-Z a-z 0-9 . _ -)' });
const Params = z.object({ practiceId: id });
const scope = { practice: { from: 'params', field: 'practiceId' } } as const;

export function consignesRoutes(service: ConsignesService): AnyRoute[] {
  return [
    defineRoute({
      method: 'get',
      path: '/api/v1/practices/:practiceId/consignes',
      summary: "The practice's consignes and scripts in force, with whether the platform has them",
      tags: ['consignes'],
      access: 'viewer',
      scope,
      params: Params,
      responses: { 200: { description: 'The version in force' }, 404: { description: 'None yet' } },
      handler: async ({ params }) => {
        const c = await service.current(params.practiceId);
        return reply(200, c, { ETag: `"${c.version}"` });
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/v1/practices/:practiceId/consignes/versions',
      summary: 'Every version of the consignes, newest first, each with its author and diff',
      tags: ['consignes'],
      access: 'viewer',
      scope,
      params: Params,
      responses: { 200: { description: '{ items }' } },
      handler: async ({ params }) => ({ items: await service.versions(params.practiceId) }),
    }),
    defineRoute({
      method: 'put',
      path: '/api/v1/practices/:practiceId/consignes',
      summary:
        'A new version of the consignes (If-Match: the version in force, 0 for the first): audited with author and diff, published to the platform',
      tags: ['consignes'],
      access: 'integrator',
      scope,
      params: Params,
      body: z.unknown(),
      responses: {
        200: { description: 'The new version, its diff, and its publication' },
        409: { description: 'Another change came first' },
      },
      handler: async ({ params, body, req, auth, requestId }) => {
        const c = await service.update(
          params.practiceId,
          body,
          { actor: auth?.keyId ?? 'anonymous', role: auth?.role ?? null, requestId },
          ifMatchVersion(req.get('if-match')),
        );
        return reply(200, c, { ETag: `"${c.version}"` });
      },
    }),
    defineRoute({
      method: 'post',
      path: '/api/v1/practices/:practiceId/consignes/publish',
      summary: 'Sends the version in force to the secretariat platform again (after a failed publication)',
      tags: ['consignes'],
      access: 'integrator',
      scope,
      params: Params,
      bodyType: 'none',
      responses: { 200: { description: 'The version in force and its publication' } },
      handler: async ({ params }) => service.publish(params.practiceId),
    }),
  ];
}
