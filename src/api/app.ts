import { randomUUID } from 'node:crypto';

import express, { type NextFunction, type Request, type Response } from 'express';
import type { z } from 'zod';

import { isPasserelleError, PasserelleError } from '../errors.js';
import { type Logger, withLogContext } from '../log/logger.js';
import { formatPath } from '../model/validate.js';
import { hashSecret, roleAllows } from '../security/api-keys.js';
import type { Store } from '../store/index.js';
import { AuthThrottle } from './auth-throttle.js';
import { limitJsonDepth } from './json-depth.js';
import type { Metrics } from './metrics.js';
import { buildOpenApi } from './openapi.js';
import { type AnyRoute, type AuthInfo, defineRoute, isReply, type RouteContext } from './route.js';
import { checkDeclaration, resolveScope, ScopeDenied, type ScopeResolvers, storeResolvers } from './scope.js';
import { ConsoleSessions, hasSessionCookie, type SessionSettings } from './session.js';

export interface ApiDeps {
  readonly store: Store;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly routes: readonly AnyRoute[];
  readonly version: string;
  readonly publicUrl?: string;
  readonly accessLog?: boolean;
  readonly trustProxy?: boolean;
  /** Resolvers of resource kinds beyond the store's own (api/scope.ts). */
  readonly resolvers?: ScopeResolvers;
  /** Failed authentications throttled and audited per client address (default: 10 per minute). */
  readonly authThrottle?: AuthThrottle;
  /** Console sessions' timeouts (api/session.ts); default 30 minutes idle, 12 hours at most. */
  readonly sessions?: SessionSettings;
  /**
   * Plain express handlers of the service's modules (ServiceModule.http: the console's pages and
   * assets, its OpenID Connect redirects), mounted after the API routes and before the 404.
   */
  readonly http?: readonly express.RequestHandler[];
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

function presentedKey(req: Request): string | undefined {
  const header = req.get('authorization');
  if (header?.toLowerCase().startsWith('bearer ')) return header.slice(7).trim();
  return req.get('x-api-key')?.trim();
}

function sendError(res: Response, err: PasserelleError, requestId: string): void {
  if (err.retryAfterSeconds !== undefined) res.set('Retry-After', String(Math.ceil(err.retryAfterSeconds)));
  res.status(err.status).set('X-Request-Id', requestId).json({ error: err.toJSON() });
}

function zodToError(where: 'body' | 'query' | 'params', error: z.ZodError): PasserelleError {
  // Every issue names its path and what is expected there (« body.input: expected string, object
  // or array, received number »), never a bare « Invalid input »: a union says what its closest
  // alternative lacks and which shapes it accepts (issue 19).
  type Raw = z.ZodError['issues'][number];
  type Issue = { path: string; message: string };
  const typeName = (t: string) => (t === 'record' ? 'object' : t);
  const receivedOf = (i: Raw) => /received (\w+)/.exec(i.message)?.[1] ?? 'another type';
  const typeMessage = (expected: readonly string[], received: string) => {
    const list =
      expected.length > 1 ? `${expected.slice(0, -1).join(', ')} or ${expected.at(-1)}` : expected[0];
    return received === 'undefined'
      ? `required (expected ${list})`
      : `expected ${list}, received ${received}`;
  };
  const describe = (i: Raw, base: readonly PropertyKey[]): Issue[] => {
    const at = [...base, ...i.path];
    const path = formatPath(where, at);
    if (i.code === 'unrecognized_keys')
      return [{ path, message: `unknown field${i.keys.length > 1 ? 's' : ''} ${i.keys.join(', ')}` }];
    if (i.code === 'invalid_type')
      return [{ path, message: typeMessage([typeName(i.expected)], receivedOf(i)) }];
    if (i.code !== 'invalid_union')
      return [{ path, message: i.message.replace(/^Invalid (input|option): /, '') }];
    if (i.errors.length === 0) {
      // A discriminated union whose discriminator matched none of its values.
      const options = 'options' in i && Array.isArray(i.options) ? (i.options as unknown[]) : [];
      return [{ path, message: `expected one of ${options.map((o) => JSON.stringify(o)).join(', ')}` }];
    }
    // Every alternative refused the value's type at the union itself: list the types accepted.
    const types = i.errors.map((b) =>
      b.length === 1 && b[0]?.code === 'invalid_type' && b[0].path.length === 0 ? b[0] : undefined,
    );
    if (types.every((t) => t !== undefined))
      return [
        {
          path,
          message: typeMessage(
            [...new Set(types.map((t) => typeName(t.expected)))],
            receivedOf(types[0] as Raw),
          ),
        },
      ];
    // The fields each alternative is about: the shapes the union accepts.
    const shapes = i.errors.map((b) => {
      const keys = new Set(
        b.flatMap((x) =>
          x.code !== 'unrecognized_keys' && typeof x.path[0] === 'string' ? [x.path[0]] : [],
        ),
      );
      return keys.size > 0 ? `{ ${[...keys].join(', ')} }` : undefined;
    });
    const accepted = shapes.every((s) => s !== undefined) ? ` (accepted: ${shapes.join(' or ')})` : '';
    // The alternative that came closest: fewest issues, and no field it does not know.
    const scores = i.errors.map((b) => b.length + (b.some((x) => x.code === 'unrecognized_keys') ? 100 : 0));
    const best = Math.min(...scores);
    const closest =
      scores.filter((s) => s === best).length === 1 ? i.errors[scores.indexOf(best)] : undefined;
    const issues = (closest ?? []).flatMap((x) => describe(x, at));
    const [head, ...rest] = issues;
    return head
      ? [{ ...head, message: `${head.message}${accepted}` }, ...rest]
      : [{ path, message: `matches none of the accepted shapes${accepted}` }];
  };
  const issues = error.issues.flatMap((i) => describe(i, []));
  const first = issues[0];
  return new PasserelleError(
    'ERR_VALIDATION',
    `${first?.path}: ${first?.message}${issues.length > 1 ? ` (and ${issues.length - 1} more)` : ''}`,
    { issues },
  );
}

export function createApp(deps: ApiDeps): express.Express {
  const { store, logger, metrics } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', deps.trustProxy ?? false);
  const accessLog = logger.child({ log: 'access' });
  const authThrottle = deps.authThrottle ?? new AuthThrottle({ store });
  const sessions = new ConsoleSessions(
    store,
    deps.sessions ?? { idleMs: 30 * 60_000, maxMs: 12 * 3_600_000 },
  );

  // Request id + access log. The route *pattern* is logged, never the URL: iCal tokens and
  // FHIR-like queries live in URLs.
  app.use((req, res, next) => {
    const incoming = req.get('x-request-id');
    const requestId = incoming && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    res.locals['requestId'] = requestId;
    res.set('X-Request-Id', requestId);
    const start = process.hrtime.bigint();
    res.on('finish', () => {
      const route = (res.locals['route'] as string | undefined) ?? 'unmatched';
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      metrics.httpRequests.inc({ method: req.method, route, status: String(res.statusCode) });
      metrics.httpDuration.observe({ method: req.method, route }, seconds);
      if (deps.accessLog !== false) {
        accessLog.info('http request', {
          requestId,
          client: req.ip,
          method: req.method,
          route,
          status: res.statusCode,
          ms: Math.round(seconds * 1e4) / 10,
        });
      }
    });
    withLogContext({ requestId }, () => next());
  });

  const routes: AnyRoute[] = [
    ...deps.routes,
    defineRoute({
      method: 'get',
      path: '/api/v1/openapi.json',
      summary: 'This API described in OpenAPI 3.1',
      tags: ['meta'],
      access: 'public',
      scope: 'public',
      responses: { 200: { description: 'The OpenAPI document' } },
      handler: async () =>
        buildOpenApi(routes, { version: deps.version, ...(deps.publicUrl && { serverUrl: deps.publicUrl }) }),
    }),
  ];

  const resolvers: ScopeResolvers = { ...storeResolvers(store), ...deps.resolvers };
  // Deny by default: every route is checked before any is mounted.
  for (const route of routes) checkDeclaration(route, resolvers);
  for (const route of routes) {
    const parsers: express.RequestHandler[] = [];
    if (route.bodyType === 'raw')
      parsers.push(express.raw({ type: () => true, limit: route.bodyLimit ?? '1mb' }));
    else if (route.body)
      parsers.push(express.json({ limit: route.bodyLimit ?? '1mb', strict: true }), limitJsonDepth());
    app[route.method](
      route.path,
      (req: Request, res: Response, next: NextFunction) => {
        res.locals['route'] = route.path;
        next();
      },
      ...parsers,
      async (req: Request, res: Response, next: NextFunction) => {
        const requestId = res.locals['requestId'] as string;
        try {
          let auth: AuthInfo | null = null;
          if (route.access !== 'public') {
            await authThrottle.admit(req.ip, requestId);
            const key = presentedKey(req);
            if (!key && hasSessionCookie(req)) {
              // No key but the console's cookie: the session stands for the key (or OIDC user)
              // it was opened with, so the role, practice scope and audit below work unchanged.
              auth = await sessions.authenticate(req, res, {
                method: route.method,
                requestId,
                throttle: authThrottle,
              });
            } else {
              const record = key ? await store.apiKeys.findByHash(hashSecret(key)) : undefined;
              if (!record || record.revokedAt !== null) {
                if (!key && route.anonymousProbe)
                  throw new PasserelleError('ERR_AUTH_REQUIRED', 'not signed in');
                await authThrottle.failed(
                  req.ip,
                  key,
                  requestId,
                  !key ? 'no-key' : record ? 'revoked-key' : 'unknown-key',
                );
                throw new PasserelleError(
                  'ERR_AUTH_REQUIRED',
                  'a valid API key is required (Authorization: Bearer psk_…)',
                );
              }
              auth = { keyId: record.id, role: record.role, practiceId: record.practiceId };
              if (!record.lastUsedAt || Date.parse(record.lastUsedAt) < store.now() - 60_000)
                await store.apiKeys.touch(record.id);
            }
            if (!roleAllows(auth.role, route.access)) {
              await store.audit.append({
                actor: auth.keyId,
                role: auth.role,
                action: `${route.method.toUpperCase()} ${route.path}`,
                outcome: 'denied',
                requestId,
                via: 'api',
              });
              throw new PasserelleError(
                'ERR_AUTH_FORBIDDEN',
                `this action needs role ${route.access}; the ${auth.session ? 'session' : 'key'} has role ${auth.role}`,
              );
            }
          }
          let scope;
          try {
            scope = await resolveScope(
              route.scope,
              auth,
              { params: req.params, query: req.query as Record<string, unknown>, body: req.body as unknown },
              resolvers,
              route.everyPracticeAccess,
            );
          } catch (e) {
            if (e instanceof ScopeDenied && auth) {
              await store.audit.append({
                actor: auth.keyId,
                role: auth.role,
                action: `${route.method.toUpperCase()} ${route.path}`,
                outcome: 'denied',
                requestId,
                via: 'api',
                details: {
                  reason: 'practice scope',
                  keyPractice: auth.practiceId,
                  ...(e.practiceId !== null && { targetPractice: e.practiceId }),
                },
              });
            }
            throw e;
          }
          const parse = <T>(
            schema: z.ZodType<T> | undefined,
            value: unknown,
            where: 'body' | 'query' | 'params',
          ): T => {
            if (!schema) return undefined as T;
            const r = schema.safeParse(value);
            if (!r.success) throw zodToError(where, r.error);
            return r.data;
          };
          const params = parse(route.params, req.params, 'params');
          const query = parse(route.query, { ...(req.query as Record<string, unknown>) }, 'query');
          const body =
            route.bodyType === 'raw'
              ? Buffer.isBuffer(req.body)
                ? req.body
                : Buffer.alloc(0)
              : parse(route.body, req.body, 'body');
          const ctx: RouteContext<unknown, unknown, unknown> = {
            params,
            query,
            body,
            auth,
            requestId,
            req,
            res,
            audit: async (e) => {
              await store.audit.append({
                ...e,
                actor: auth?.keyId ?? 'anonymous',
                role: auth?.role ?? null,
                requestId,
                via: 'api',
              });
            },
            scope,
          };
          const result = await route.handler(ctx);
          if (res.headersSent) return;
          if (isReply(result)) {
            if (result.headers) res.set(result.headers);
            if (result.body === undefined) res.status(result.status).end();
            else res.status(result.status).json(result.body);
          } else if (result !== undefined) res.status(200).json(result);
          else res.status(204).end();
        } catch (e) {
          next(e);
        }
      },
    );
  }

  for (const handler of deps.http ?? []) app.use(handler);

  app.use((req, res) => {
    sendError(
      res,
      new PasserelleError(
        'ERR_NOT_FOUND',
        `no route for ${req.method} ${req.path.startsWith('/ical/') ? '/ical/…' : req.path}`,
      ),
      res.locals['requestId'] as string,
    );
  });

  // Express error handler: typed errors keep their code; anything else is a 500 whose details
  // stay in the (redacted) log, never in the response.
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const requestId = (res.locals['requestId'] as string | undefined) ?? randomUUID();
    let e: PasserelleError;
    if (isPasserelleError(err)) e = err;
    else if ((err as { type?: string }).type === 'entity.parse.failed')
      e = new PasserelleError('ERR_VALIDATION', 'body: not valid JSON');
    else if ((err as { type?: string }).type === 'entity.too.large')
      e = new PasserelleError('ERR_VALIDATION', 'body: too large');
    // The router could not %-decode a path parameter. Its message repeats the raw value, which
    // may hold an iCal token: answer 400 and log nothing of it.
    else if (err instanceof URIError)
      e = new PasserelleError('ERR_VALIDATION', 'the URL cannot be decoded (malformed %-escape)');
    else
      e = new PasserelleError('ERR_INTERNAL', `internal error; quote request id ${requestId}`, {
        cause: err,
      });
    // A webhook refused while the service stops is expected (the sender retries): not an error.
    if (e.code === 'ERR_SYNC_NOT_RUNNING')
      logger.info('request refused while stopping', { requestId, code: e.code });
    else if (e.status >= 500)
      logger.error('request failed', { requestId, code: e.code, err: e.code === 'ERR_INTERNAL' ? err : e });
    if (res.headersSent) return;
    sendError(res, e, requestId);
  });

  return app;
}
