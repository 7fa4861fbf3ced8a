/**
 * Console sign-in (issue 19, docs/security.md § The console's sessions): an API key typed in the
 * console's sign-in page is exchanged once for an HttpOnly session cookie; the console then
 * calls the admin API with that cookie and the session's CSRF token. OpenID Connect sign-in
 * opens the same kind of session from its callback (api/oidc.ts).
 */
import { z } from 'zod';

import { PasserelleError } from '../../errors.js';
import { hashSecret } from '../../security/api-keys.js';
import type { Store } from '../../store/index.js';
import { API_ROLES } from '../../store/types.js';
import type { AuthThrottle } from '../auth-throttle.js';
import { type AnyRoute, defineRoute, reply } from '../route.js';
import {
  clearSessionCookie,
  type ConsoleSessions,
  CSRF_HEADER,
  grantsOf,
  SESSION_COOKIE,
  sessionToken,
  setSessionCookie,
} from '../session.js';
import type { SessionOptionsView, SessionView } from '../session-view.js';

const SessionViewSchema = z.object({
  actor: z.string().describe('The audit actor: the API key id, or `oidc:<issuer host>:<sub>`'),
  label: z.string().nullable(),
  role: z.enum(API_ROLES),
  practiceId: z.string().nullable().describe('The practice the caller is limited to, or null'),
  via: z.enum(['key', 'oidc']),
  csrfToken: z
    .string()
    .optional()
    .describe(`Cookie sessions only: send it as ${CSRF_HEADER} on every POST, PUT, PATCH and DELETE`),
  idleTimeoutSeconds: z.number().int().optional(),
  expiresAt: z.string().optional(),
  grants: z.array(z.enum(API_ROLES)).describe('The roles this role includes'),
});

const SessionOptionsSchema = z.object({
  oidc: z.object({ enabled: z.boolean(), label: z.string().nullable() }),
});

/** The session view carries the CSRF token: no cache keeps it. */
const NO_STORE = { 'Cache-Control': 'no-store' };

const SignIn = z.strictObject({ apiKey: z.string().min(1).max(512) });

export interface SessionRoutesDeps {
  readonly store: Store;
  readonly sessions: ConsoleSessions;
  /** The service's throttle of failed authentications: failed sign-ins count like failed keys. */
  readonly throttle: AuthThrottle;
  /** What the sign-in page offers besides a key. */
  readonly options: SessionOptionsView;
}

export function sessionRoutes(deps: SessionRoutesDeps): AnyRoute[] {
  const { store, sessions, throttle } = deps;
  return [
    defineRoute({
      method: 'post',
      path: '/api/v1/session',
      summary: 'Sign in to the console with an API key',
      description: `Answers the session and sets the \`${SESSION_COOKIE}\` cookie (HttpOnly, SameSite=Strict, Secure over HTTPS). A wrong key counts as a failed authentication (throttled and audited like one).`,
      tags: ['session'],
      access: 'public',
      scope: 'public',
      body: SignIn,
      bodyLimit: '4kb',
      responses: {
        201: { description: 'Signed in', schema: SessionViewSchema },
        401: { description: 'Not a valid API key' },
        429: { description: 'Too many failed authentications from this address' },
      },
      handler: async ({ body, req, res, requestId }) => {
        await throttle.admit(req.ip, requestId);
        const key = body.apiKey.trim();
        const record = await store.apiKeys.findByHash(hashSecret(key));
        if (!record || record.revokedAt !== null) {
          await throttle.failed(req.ip, key, requestId, record ? 'revoked-key' : 'unknown-key');
          throw new PasserelleError('ERR_AUTH_REQUIRED', 'this API key is not valid');
        }
        await store.apiKeys.touch(record.id);
        // A browser signing in again leaves no session of its own behind.
        const previous = sessionToken(req);
        const old =
          previous === undefined
            ? undefined
            : await store.consoleSessions.findByTokenHash(hashSecret(previous));
        if (old) await sessions.close(old.session, requestId, 'replaced');
        const { token, session } = await sessions.open(
          {
            actor: record.id,
            label: record.label,
            role: record.role,
            practiceId: record.practiceId,
            via: 'key',
            keyId: record.id,
          },
          { requestId, client: req.ip },
        );
        setSessionCookie(req, res, token, sessions.settings.maxMs);
        return reply(201, sessions.view(session) satisfies SessionView, NO_STORE);
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/v1/session',
      summary: 'Who is signed in',
      description:
        'With the console cookie: the session, with its CSRF token. With a bearer key: what that key is (no CSRF token).',
      tags: ['session'],
      access: 'viewer',
      // The caller's own session: every key may read it, whatever its practice.
      scope: 'list',
      // The console asks it at every load, before anyone signed in.
      anonymousProbe: true,
      responses: { 200: { description: 'The caller', schema: SessionViewSchema } },
      handler: async ({ auth }) => {
        if (!auth) throw new PasserelleError('ERR_AUTH_REQUIRED', 'sign in first');
        if (auth.session) return reply(200, sessions.view(auth.session), NO_STORE);
        const key = await store.apiKeys.get(auth.keyId);
        const view: SessionView = {
          actor: auth.keyId,
          label: key?.label ?? null,
          role: auth.role,
          practiceId: auth.practiceId,
          via: 'key',
          grants: grantsOf(auth.role),
        };
        return reply(200, view, NO_STORE);
      },
    }),
    defineRoute({
      method: 'delete',
      path: '/api/v1/session',
      summary: 'Sign out of the console',
      description: `Ends the cookie's session and clears the cookie (with the cookie, send ${CSRF_HEADER}). With a bearer key there is nothing to end.`,
      tags: ['session'],
      access: 'viewer',
      scope: 'list',
      responses: { 204: { description: 'Signed out' } },
      handler: async ({ auth, req, res, requestId }) => {
        if (auth?.session) await sessions.close(auth.session, requestId);
        clearSessionCookie(req, res);
        return reply(204);
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/v1/session/options',
      summary: "How the console's sign-in page may sign in",
      tags: ['session'],
      access: 'public',
      scope: 'public',
      responses: { 200: { description: 'Sign-in options', schema: SessionOptionsSchema } },
      handler: async () => deps.options,
    }),
  ];
}
