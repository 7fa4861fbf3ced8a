/**
 * The message browser (issue 18 point 4): a link's messages with filters, one message's whole
 * path in one call, replay with the current mapping, and a dry run against a draft profile.
 * Viewers see everything but the raw body; the raw bytes go to integrators and up, and each
 * such read is audited (design rule 11).
 */
import { z } from 'zod';

import { PasserelleError } from '../../errors.js';
import { loadProfileText } from '../../mapping/index.js';
import { roleAllows } from '../../security/api-keys.js';
import { listMessages, MESSAGE_OUTCOMES, messageDetail, parseMessageId } from '../../sync/messages.js';
import type { SyncRuntime } from '../../sync/runtime.js';
import { type AnyRoute, defineRoute } from '../route.js';

const linkId = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, { error: 'not an id (1-64 of A-Z a-z 0-9 . _ -)' });
const messageId = z
  .string()
  .regex(/^(in|out)-[1-9][0-9]{0,14}$/, { error: 'not a message id (in-<n> or out-<n>)' });
const MessageParams = z.object({ id: messageId });
const ListQuery = z.object({
  direction: z.enum(['inbound', 'outbound']).optional(),
  since: z.iso.datetime({ offset: true }).optional(),
  until: z.iso.datetime({ offset: true }).optional(),
  type: z.string().min(1).max(64).optional(),
  outcome: z.enum(MESSAGE_OUTCOMES).optional(),
  controlId: z.string().min(1).max(200).optional(),
  patient: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,100}$/)
    .optional(),
  before: messageId.optional(),
  limit: z.coerce.number().int().min(1).max(500).optional(),
});
const DryRunBody = z.strictObject({ profile: z.string().min(1) });

export function messageRoutes(runtime: SyncRuntime): AnyRoute[] {
  const store = runtime.engine.store;
  return [
    defineRoute({
      method: 'get',
      path: '/api/v1/links/:id/messages',
      summary:
        "A link's messages, newest first: inbound (HL7, FHIR, webhooks) or outbound writes, filtered by period, type, outcome, control id and patient",
      tags: ['messages'],
      access: 'viewer',
      scope: { resource: 'link', from: 'params', field: 'id' },
      params: z.object({ id: linkId }),
      query: ListQuery,
      responses: {
        200: { description: 'One page; `next` is the `before` of the next page (null at the end)' },
      },
      handler: async ({ params, query }) => listMessages(store, params.id, query),
    }),
    defineRoute({
      method: 'get',
      path: '/api/v1/messages/:id',
      summary:
        "One message's whole path: metadata, HL7 tree, what the current profile makes of it, what it left, the ACK sent (raw bytes for integrators, audited)",
      tags: ['messages'],
      access: 'viewer',
      scope: { resource: 'message', from: 'params', field: 'id' },
      params: MessageParams,
      responses: { 200: { description: 'The message' }, 404: { description: 'No such message' } },
      handler: async ({ params, auth, audit, scope }) => {
        const raw = auth !== null && roleAllows(auth.role, 'integrator');
        const detail = await messageDetail(store, params.id, { raw, profiles: runtime.profiles });
        if (raw) {
          await audit({
            action: 'message.raw-read',
            practiceId: scope.practiceId,
            resourceType: 'Message',
            resourceId: params.id,
            outcome: 'success',
            details: { linkId: detail.message.linkId, bodyKept: detail.bodyKept },
          });
        }
        return detail;
      },
    }),
    defineRoute({
      method: 'post',
      path: '/api/v1/messages/:id/replay',
      summary:
        'Apply a message again with the current mapping (through its dead letter when it has one; idempotent)',
      tags: ['messages'],
      access: 'integrator',
      scope: { resource: 'message', from: 'params', field: 'id' },
      params: MessageParams,
      bodyType: 'none',
      responses: {
        200: { description: 'The outcome' },
        404: { description: 'No such message' },
        409: { description: 'Nothing to replay (still pending, body purged, link not running)' },
      },
      handler: async ({ params, auth, requestId }) => {
        const ref = parseMessageId(params.id);
        if (!ref) throw new PasserelleError('ERR_NOT_FOUND', `message ${params.id} not found`);
        const r = await runtime.operator.replayMessage(ref, {
          id: auth?.keyId ?? 'anonymous',
          role: auth?.role ?? null,
          requestId,
          via: 'api',
        });
        return { id: params.id, ...r };
      },
    }),
    defineRoute({
      method: 'post',
      path: '/api/v1/messages/:id/dry-run',
      summary:
        'Map a stored message with a draft profile given in the request: the result only, nothing written',
      tags: ['messages'],
      access: 'integrator',
      scope: { resource: 'message', from: 'params', field: 'id' },
      params: MessageParams,
      body: DryRunBody,
      bodyLimit: '2mb',
      responses: {
        200: { description: 'The mapping of the message with the draft' },
        422: { description: 'ERR_MAPPING_INVALID for an invalid profile' },
      },
      handler: async ({ params, body, audit, scope }) => {
        const loaded = loadProfileText(body.profile, { label: 'profile' });
        if (!loaded.ok) {
          const first = loaded.issues.find((i) => i.severity === 'error');
          throw new PasserelleError(
            'ERR_MAPPING_INVALID',
            `invalid mapping profile: ${first ? `${first.location ?? ''} ${first.path}: ${first.message}`.trim() : 'no details'}`,
            { issues: loaded.issues },
          );
        }
        const detail = await messageDetail(store, params.id, {
          raw: false,
          plan: loaded.plan,
          profiles: runtime.profiles,
        });
        await audit({
          action: 'message.dry-run',
          practiceId: scope.practiceId,
          resourceType: 'Message',
          resourceId: params.id,
          outcome: detail.mapping?.result?.ok ? 'success' : 'failure',
          details: { profileHash: loaded.plan.hash },
        });
        return { id: params.id, mapping: detail.mapping };
      },
    }),
  ];
}
