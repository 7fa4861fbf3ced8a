import { z } from 'zod';

import { PasserelleError } from '../../errors.js';
import { isNotModified, lastModifiedSeconds } from '../../ical/conditional.js';
import type { FeedService, FeedState, ResolvedFeed } from '../../ical/feed-service.js';
import type { FeedRateLimits } from '../../ical/rate-limit.js';
import type { Store } from '../../store/index.js';
import { type AnyRoute, defineRoute } from '../route.js';

export interface IcalFeedRouteDeps {
  readonly store: Store;
  readonly feeds: FeedService;
  readonly limits: FeedRateLimits;
}

/** The one answer for malformed, unknown, revoked and expired tokens; it never repeats the URL. */
const noSuchFeed = () => new PasserelleError('ERR_NOT_FOUND', 'no such calendar feed');

/** On every answer, errors included: the URL is a secret and must not travel in a Referer. */
const PRIVATE_HEADERS = {
  'Referrer-Policy': 'no-referrer',
  'X-Robots-Tag': 'noindex, nofollow',
  'X-Content-Type-Options': 'nosniff',
};

/** gzip only when the client says so: `curl` without --compressed gets plain text. */
function wantsGzip(header: string | undefined): boolean {
  if (!header) return false;
  return header.split(',').some((part) => {
    const [coding, ...params] = part.trim().split(';');
    if (coding?.trim().toLowerCase() !== 'gzip') return false;
    const q = params.map((p) => /^\s*q=([0-9.]+)\s*$/i.exec(p)?.[1]).find((v) => v !== undefined);
    return q === undefined || Number(q) > 0;
  });
}

export function icalFeedRoutes(deps: IcalFeedRouteDeps): AnyRoute[] {
  const { store, feeds, limits } = deps;

  /** Every fetch of a `full` feed — 200 or 304 — is an audit event attributed to the token (design rule 11). */
  const auditFullFetch = async (
    feed: ResolvedFeed,
    state: FeedState,
    requestId: string,
    details: Record<string, unknown>,
  ) => {
    if (state.privacy !== 'full') return;
    await store.audit.append({
      actor: feed.token.id,
      role: null,
      action: 'ical.feed.read',
      resourceType: 'IcalFeed',
      resourceId: feed.token.id,
      outcome: 'success',
      requestId,
      via: 'ical',
      details: {
        practiceId: feed.token.practiceId,
        practitionerId: feed.token.practitionerId,
        privacy: 'full',
        etag: state.etag,
        window: {
          from: new Date(state.window.fromMs).toISOString(),
          to: new Date(state.window.toMs).toISOString(),
        },
        ...details,
      },
    });
  };

  return [
    defineRoute({
      method: 'get',
      // The access log prints this pattern, never the URL (src/api/app.ts).
      path: '/ical/:token.ics',
      summary:
        'A practitioner’s or a practice’s agenda as an iCalendar feed (RFC 5545); the URL is the secret',
      description:
        'For calendar apps that poll a URL. Unknown, revoked and expired tokens all get the same 404. ' +
        'Send If-None-Match with the last ETag to get 304 when nothing changed. Rate-limited per feed and per client address.',
      tags: ['ical'],
      access: 'public',
      scope: 'public',
      params: z.object({ token: z.string().describe('The feed’s secret token (ics_…)') }),
      responses: {
        200: { description: 'The calendar (gzip when accepted)', contentType: 'text/calendar' },
        304: { description: 'Not modified since the ETag or date given' },
        404: { description: 'No such feed (unknown, revoked or expired token)' },
        429: { description: 'Too many requests; see Retry-After' },
      },
      handler: async ({ params, req, res, requestId }) => {
        res.set(PRIVATE_HEADERS);
        await limits.client(req, res);
        const feed = await feeds.resolve(params.token);
        if (!feed) throw noSuchFeed();
        await limits.feed(req, res, feed.token.id);
        const state = feeds.state(feed);
        await feeds.recordUse(feed.token);
        const headers = {
          ETag: state.etag,
          'Last-Modified': new Date(
            lastModifiedSeconds(state.lastModifiedMs, store.now()) * 1000,
          ).toUTCString(),
          // Apps and proxies may keep a copy but must ask again each time (RFC 9111 §5.2.2.4).
          'Cache-Control': 'private, no-cache',
          Vary: 'Accept-Encoding',
        };
        if (
          isNotModified(
            { ifNoneMatch: req.get('if-none-match'), ifModifiedSince: req.get('if-modified-since') },
            state.etag,
            state.lastModifiedMs,
          )
        ) {
          await auditFullFetch(feed, state, requestId, { status: 304 });
          res.status(304).set(headers).end();
          return undefined;
        }
        const body = await feeds.body(feed, state);
        await auditFullFetch(feed, state, requestId, {
          status: 200,
          events: body.events,
          patients: body.patients,
        });
        const gzip = wantsGzip(req.get('accept-encoding'));
        const bytes = gzip ? body.gzip : body.identity;
        res
          .status(200)
          .set({
            ...headers,
            'Content-Type': 'text/calendar; charset=utf-8',
            'Content-Disposition': 'inline; filename="agenda.ics"',
            'Content-Length': String(bytes.length),
            ...(gzip && { 'Content-Encoding': 'gzip' }),
          })
          .end(bytes);
        return undefined;
      },
    }),
  ];
}
