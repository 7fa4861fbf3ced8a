/**
 * Urgent call messages (issue 21 point 2): a practice's urgent messages with where each stands,
 * one message's timeline (tracked, escalation steps, acknowledgement), the acknowledgement from
 * the API or console, and the public one-time link of the escalation notification: GET shows a
 * page with one button (a link preview or a mail scanner fetching it acknowledges nothing),
 * POST acknowledges. The link carries its own proof (src/security/ack-link.ts).
 */
import { z } from 'zod';

import { isPasserelleError } from '../../errors.js';
import type { UrgentEscalation } from '../../sync/urgent.js';
import { type AnyRoute, defineRoute } from '../route.js';

const id = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, { error: 'not an id (1-64 of A-Z a-z 0-9 . _ -)' });
const PracticeParams = z.object({ practiceId: id });
const MessageParams = z.object({ practiceId: id, id });
const ListQuery = z.object({
  since: z.iso.datetime({ offset: true }).optional(),
  until: z.iso.datetime({ offset: true }).optional(),
  state: z.enum(['waiting', 'acknowledged']).optional(),
});
const TokenParams = z.object({ token: z.string().min(1).max(2048) });

const escape = (s: string) =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );

function page(title: string, body: string): string {
  return `<!doctype html><html lang="fr"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="robots" content="noindex"><title>${escape(title)}</title></head><body><main><h1>${escape(title)}</h1>${body}</main></body></html>`;
}

const REFUSAL: Record<string, string> = {
  expired: 'Ce lien a expiré. Acquittez le message depuis la console passerelle.',
  used: 'Ce lien a déjà servi. Le message a été acquitté.',
  tampered: 'Ce lien n’est pas valide. Acquittez le message depuis la console passerelle.',
};

export function urgentRoutes(escalation: UrgentEscalation): AnyRoute[] {
  return [
    defineRoute({
      method: 'get',
      path: '/api/v1/practices/:practiceId/urgent-messages',
      summary:
        "A practice's urgent call messages, oldest first: acknowledged or waiting, and the escalation step reached",
      tags: ['urgent'],
      access: 'viewer',
      scope: { practice: { from: 'params', field: 'practiceId' } },
      params: PracticeParams,
      query: ListQuery,
      responses: { 200: { description: '{ items }' } },
      handler: async ({ params, query }) => ({
        items: await escalation.list(params.practiceId, {
          ...(query.since !== undefined && { since: Date.parse(query.since) }),
          ...(query.until !== undefined && { until: Date.parse(query.until) }),
          ...(query.state !== undefined && { state: query.state }),
        }),
      }),
    }),
    defineRoute({
      method: 'get',
      path: '/api/v1/practices/:practiceId/urgent-messages/:id',
      summary:
        "One urgent message's state and timeline (tracked, gateway webhook, secretariat callback, acknowledgement)",
      tags: ['urgent'],
      access: 'viewer',
      scope: { practice: { from: 'params', field: 'practiceId' } },
      params: MessageParams,
      responses: {
        200: { description: '{ message, events }' },
        404: { description: 'No such urgent message' },
      },
      handler: async ({ params }) => escalation.timeline(params.practiceId, params.id),
    }),
    defineRoute({
      method: 'post',
      path: '/api/v1/practices/:practiceId/urgent-messages/:id/acknowledge',
      summary: 'The practice acknowledges an urgent message (the console button): its escalation stops',
      tags: ['urgent'],
      access: 'viewer',
      scope: { practice: { from: 'params', field: 'practiceId' } },
      params: MessageParams,
      bodyType: 'none',
      responses: {
        200: { description: '{ message, already }: `already` when it was acknowledged before' },
        404: { description: 'No such urgent message' },
      },
      handler: async ({ params, auth, requestId }) =>
        escalation.acknowledge(params.practiceId, params.id, {
          actor: auth?.keyId ?? 'anonymous',
          role: auth?.role ?? null,
          requestId,
        }),
    }),
    defineRoute({
      method: 'get',
      path: '/ack/urgent/:token',
      summary:
        'The one-time acknowledgement link of an escalation notification: a page with one button (nothing is acknowledged by opening it)',
      tags: ['urgent'],
      access: 'public',
      scope: 'public',
      params: TokenParams,
      responses: { 200: { description: 'HTML page', contentType: 'text/html' } },
      handler: async ({ params, res }) => {
        res
          .status(200)
          .type('html')
          .set('Cache-Control', 'no-store')
          .set('Referrer-Policy', 'no-referrer')
          .send(
            page(
              'Message urgent du secrétariat',
              `<p>Le secrétariat vous a transmis un message urgent. Lisez-le dans votre logiciel ou la console, puis confirmez.</p><form method="post" action="${escape(params.token)}"><button type="submit">J’ai pris connaissance du message</button></form>`,
            ),
          );
      },
    }),
    defineRoute({
      method: 'post',
      path: '/ack/urgent/:token',
      summary: 'Acknowledges an urgent message through its one-time link (valid once, until it expires)',
      tags: ['urgent'],
      access: 'public',
      scope: 'public',
      params: TokenParams,
      bodyType: 'none',
      responses: {
        200: { description: 'HTML page: acknowledged', contentType: 'text/html' },
        403: {
          description: 'HTML page: the link was altered, has expired or was already used',
          contentType: 'text/html',
        },
      },
      handler: async ({ params, res }) => {
        res.set('Cache-Control', 'no-store').set('Referrer-Policy', 'no-referrer');
        try {
          await escalation.acknowledgeByLink(params.token);
          res
            .status(200)
            .type('html')
            .send(
              page(
                'Message acquitté',
                '<p>Merci : le message est acquitté, le secrétariat ne relancera pas le cabinet.</p>',
              ),
            );
        } catch (e) {
          if (!isPasserelleError(e) || e.code !== 'ERR_URGENT_LINK_INVALID') throw e;
          const reason = String(e.details['reason'] ?? 'tampered');
          res
            .status(403)
            .type('html')
            .set('X-Error-Code', e.code)
            .send(
              page('Lien refusé', `<p>${escape(REFUSAL[reason] ?? (REFUSAL['tampered'] as string))}</p>`),
            );
        }
      },
    }),
  ];
}
