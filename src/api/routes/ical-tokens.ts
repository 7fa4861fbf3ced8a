import QRCode from 'qrcode';
import { z } from 'zod';

import { PasserelleError } from '../../errors.js';
import { feedUrl } from '../../ical/feed-token.js';
import {
  createFeedToken,
  type FeedTokenActor,
  feedTokenView,
  revokeFeedToken,
  rotateFeedToken,
  updateFeedToken,
} from '../../ical/tokens.js';
import type { Store } from '../../store/index.js';
import { ICAL_PRIVACY } from '../../store/types.js';
import { type AnyRoute, type AuthInfo, defineRoute, reply } from '../route.js';

export interface IcalTokenRouteDeps {
  readonly store: Store;
  /** The service's public base URL, for the feed URLs handed out. */
  readonly baseUrl: () => string;
}

const id = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, { error: 'not an id (1-64 of A-Z a-z 0-9 . _ -)' });
const IdParams = z.object({ id });
const dateTime = z.iso.datetime({ offset: true, error: 'not a date-time (e.g. 2027-01-31T00:00:00Z)' });

export const FeedTokenViewSchema = z.object({
  id: z.string(),
  practiceId: z.string(),
  practitionerId: z.string().nullable(),
  label: z.string().nullable(),
  privacy: z.enum(ICAL_PRIVACY),
  fullAllowed: z.boolean(),
  status: z.enum(['active', 'revoked', 'expired']),
  createdBy: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
  version: z.number(),
  expiresAt: z.string().nullable(),
  unusedExpiryDays: z.number().nullable(),
  lastUsedAt: z.string().nullable(),
  revokedAt: z.string().nullable(),
});
const Issued = z.object({
  feed: FeedTokenViewSchema,
  url: z.string().describe('The feed URL with its secret: shown this once, never again'),
  qrSvg: z
    .string()
    .describe(
      'The feed URL as an SVG QR code (image/svg+xml text), for a phone’s calendar app: shown this once too, the URL cannot be recovered later',
    ),
});

/**
 * The feed URL as a QR code. Only at creation and rotation: the store keeps the token's SHA-256,
 * never the token (docs/ical.md), so no later request can rebuild the URL — a
 * GET /api/v1/ical/tokens/:id/qr.svg could only ever answer "rotate it". Error correction M
 * (15 %), the usual choice for a URL shown on a screen.
 */
async function issued(
  feed: z.infer<typeof FeedTokenViewSchema>,
  url: string,
): Promise<z.infer<typeof Issued>> {
  const qrSvg = await QRCode.toString(url, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
  return { feed, url, qrSvg };
}

const CreateBody = z.strictObject({
  practiceId: id,
  practitionerId: z
    .string()
    .regex(/^[A-Za-z0-9\-.]{1,64}$/, { error: 'not a canonical Practitioner id' })
    .nullable()
    .optional(),
  label: z.string().max(200).nullable().optional(),
  privacy: z.enum(ICAL_PRIVACY).optional(),
  expiresAt: dateTime.nullable().optional(),
  unusedExpiryDays: z.number().int().min(1).max(3650).nullable().optional(),
});
const PatchBody = CreateBody.pick({ label: true, privacy: true, expiresAt: true, unusedExpiryDays: true });

const actorOf = (auth: AuthInfo | null, requestId: string): FeedTokenActor => ({
  id: auth?.keyId ?? 'anonymous',
  role: auth?.role ?? 'viewer',
  via: 'api',
  requestId,
});
// The response carries the secret: no cache may keep it (RFC 9111 §5.2.2.5).
const NO_STORE = { 'Cache-Control': 'no-store' };

export function icalTokenRoutes(deps: IcalTokenRouteDeps): AnyRoute[] {
  const { store } = deps;
  return [
    defineRoute({
      method: 'post',
      path: '/api/v1/ical/tokens',
      summary: 'Create an iCal feed for a practitioner (or a whole practice); returns its URL once',
      description: 'privacy defaults to busy (no patient data). Only an admin may create a full feed.',
      tags: ['ical'],
      access: 'integrator',
      scope: { practice: { from: 'body', field: 'practiceId' } },
      body: CreateBody,
      responses: {
        201: {
          description:
            'Created; `url` (and `qrSvg`, the same as a QR code) holds the secret and is not shown again',
          schema: Issued,
        },
      },
      handler: async ({ body, auth, requestId }) => {
        const { token, record } = await createFeedToken(
          store,
          {
            practiceId: body.practiceId,
            ...(body.practitionerId !== undefined && { practitionerId: body.practitionerId }),
            ...(body.label !== undefined && { label: body.label }),
            ...(body.privacy !== undefined && { privacy: body.privacy }),
            ...(body.expiresAt !== undefined && {
              expiresAt: body.expiresAt === null ? null : new Date(body.expiresAt).toISOString(),
            }),
            ...(body.unusedExpiryDays !== undefined && { unusedExpiryDays: body.unusedExpiryDays }),
          },
          actorOf(auth, requestId),
        );
        return reply(201, await issued(feedTokenView(record, store.now()), feedUrl(deps.baseUrl(), token)), {
          ...NO_STORE,
          Location: `/api/v1/ical/tokens/${record.id}`,
        });
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/v1/ical/tokens',
      summary: 'List iCal feeds (never their secrets)',
      tags: ['ical'],
      access: 'integrator',
      scope: { list: { from: 'query', field: 'practiceId' } },
      query: z.object({ practiceId: id.optional(), includeRevoked: z.enum(['true', 'false']).optional() }),
      responses: { 200: { description: 'Feeds', schema: z.object({ items: z.array(FeedTokenViewSchema) }) } },
      handler: async ({ query, scope }) => {
        const practiceId = scope.practiceId ?? undefined;
        const items = await store.icalTokens.list({
          ...(practiceId !== undefined && { practiceId }),
          includeRevoked: query.includeRevoked === 'true',
        });
        const now = store.now();
        return { items: items.map((t) => feedTokenView(t, now)) };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/v1/ical/tokens/:id',
      summary: 'Show an iCal feed (never its secret)',
      tags: ['ical'],
      access: 'integrator',
      scope: { resource: 'feed', from: 'params', field: 'id' },
      params: IdParams,
      responses: { 200: { description: 'The feed', schema: FeedTokenViewSchema } },
      handler: async ({ params }) => {
        const t = await store.icalTokens.get(params.id);
        if (!t)
          throw new PasserelleError('ERR_NOT_FOUND', `ical token ${params.id} not found`, {
            details: { icalToken: params.id },
          });
        return feedTokenView(t, store.now());
      },
    }),
    defineRoute({
      method: 'post',
      path: '/api/v1/ical/tokens/:id/rotate',
      summary: 'Give a feed a new secret URL; the old URL answers 404 at once',
      tags: ['ical'],
      access: 'integrator',
      scope: { resource: 'feed', from: 'params', field: 'id' },
      params: IdParams,
      responses: {
        200: { description: 'The new URL, shown once', schema: Issued },
        409: { description: 'The feed is revoked' },
      },
      handler: async ({ params, auth, requestId }) => {
        const { token, record } = await rotateFeedToken(store, params.id, actorOf(auth, requestId));
        return reply(
          200,
          await issued(feedTokenView(record, store.now()), feedUrl(deps.baseUrl(), token)),
          NO_STORE,
        );
      },
    }),
    defineRoute({
      method: 'patch',
      path: '/api/v1/ical/tokens/:id',
      summary: 'Change a feed’s privacy, label or expiry (privacy full needs an admin and is audited)',
      tags: ['ical'],
      access: 'integrator',
      scope: { resource: 'feed', from: 'params', field: 'id' },
      params: IdParams,
      body: PatchBody,
      responses: {
        200: { description: 'Updated', schema: FeedTokenViewSchema },
        409: { description: 'The feed is revoked' },
      },
      handler: async ({ params, body, auth, requestId }) => {
        const t = await updateFeedToken(
          store,
          params.id,
          {
            ...(body.privacy !== undefined && { privacy: body.privacy }),
            ...(body.label !== undefined && { label: body.label }),
            ...(body.expiresAt !== undefined && {
              expiresAt: body.expiresAt === null ? null : new Date(body.expiresAt).toISOString(),
            }),
            ...(body.unusedExpiryDays !== undefined && { unusedExpiryDays: body.unusedExpiryDays }),
          },
          actorOf(auth, requestId),
        );
        return feedTokenView(t, store.now());
      },
    }),
    defineRoute({
      method: 'delete',
      path: '/api/v1/ical/tokens/:id',
      summary: 'Revoke a feed: its URL answers 404 at once',
      tags: ['ical'],
      access: 'integrator',
      scope: { resource: 'feed', from: 'params', field: 'id' },
      params: IdParams,
      responses: { 204: { description: 'Revoked' } },
      handler: async ({ params, auth, requestId }) => {
        await revokeFeedToken(store, params.id, actorOf(auth, requestId));
        return reply(204);
      },
    }),
  ];
}
