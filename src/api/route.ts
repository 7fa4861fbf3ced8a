import type { Request, Response } from 'express';
import type { z } from 'zod';

import { PasserelleError } from '../errors.js';
import type { ConsoleSession } from '../store/repos/console-sessions.js';
import type { ApiRole, AuditInput } from '../store/types.js';

/** `public` routes need no key (health, metrics, iCal feeds with their own token, webhooks with signatures). */
export type Access = 'public' | ApiRole;
export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

export interface AuthInfo {
  readonly keyId: string;
  readonly role: ApiRole;
  /** A key limited to one practice sees only that practice. */
  readonly practiceId: string | null;
  /** Set when the console session cookie authenticated the request (keyId is then its actor). */
  readonly session?: ConsoleSession;
}

export interface RouteContext<P, Q, B> {
  readonly params: P;
  readonly query: Q;
  readonly body: B;
  readonly auth: AuthInfo | null;
  readonly requestId: string;
  readonly req: Request;
  readonly res: Response;
  /** Appends an audit event attributed to the caller (design rule 11). */
  audit(event: Omit<AuditInput, 'actor' | 'role' | 'requestId' | 'via'>): Promise<void>;
  /** The practice scope the mount code resolved from the route's declaration (api/scope.ts). */
  readonly scope: ResolvedScope;
}

const REPLY = Symbol('reply');
export interface Reply {
  readonly [REPLY]: true;
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}
export function reply(status: number, body?: unknown, headers?: Record<string, string>): Reply {
  return { [REPLY]: true, status, ...(body !== undefined && { body }), ...(headers && { headers }) };
}
export function isReply(v: unknown): v is Reply {
  return typeof v === 'object' && v !== null && REPLY in v;
}

/**
 * The version a conditional write names (RFC 9110 §13.1.1): `If-Match: "3"` or `W/"3"` → 3;
 * no header → undefined; anything else → ERR_VALIDATION. Our ETags are the stored version.
 */
export function ifMatchVersion(header: string | undefined): number | undefined {
  if (!header) return undefined;
  const m = /^(W\/)?"?(\d+)"?$/.exec(header.trim());
  if (!m) throw new PasserelleError('ERR_VALIDATION', 'If-Match: expected a version such as "3"');
  return Number(m[2]);
}

/** Where a value of the request is read from, before the handler runs. */
export type ScopeSource = 'params' | 'query' | 'body';

/**
 * Resources whose owning practice the mount code looks up before the handler runs. Each kind
 * has one resolver (api/scope.ts): id → practice id, or null when the resource does not exist
 * (the handler then answers 404 as usual) or belongs to no practice (global; only an
 * unrestricted key may touch it).
 */
export type ScopedResource =
  'link' | 'feed' | 'conflict' | 'deadLetter' | 'review' | 'patient' | 'message' | 'auditEvent';

/**
 * Every route declares which practice it touches; the mount code enforces it and refuses to
 * mount a route without a declaration (deny by default). Handlers never check it themselves.
 *
 * - `public`: no key (health, metrics, iCal feeds and webhooks, which carry their own proof).
 * - `global`: touches no single practice (create a practice, keys, the audit chain as a whole):
 *   only a key not limited to a practice may call it.
 * - `list`: returns many practices' items; the handler must filter with `ctx.scope.practiceIds`
 *   (null means every practice) — the mount code hands the filter, the handler applies it.
 *   `{ list: { from, field } }` names the request's optional practice filter: a limited key
 *   naming another practice is refused, and `ctx.scope.practiceId` is the filter to apply.
 * - `practice`: the practice id is read from the request (`from`.`field`).
 * - `resource`: the practice is the one owning the resource named by `from`.`field`.
 * `alsoPractice` names a second practice id in the request (a body field moving a resource to
 * another practice): the caller must be allowed both.
 */
export type RouteScope =
  | 'public'
  | 'global'
  | 'list'
  | { readonly list: { readonly from: ScopeSource; readonly field: string } }
  | {
      readonly practice: { readonly from: ScopeSource; readonly field: string };
      readonly alsoPractice?: { readonly from: ScopeSource; readonly field: string };
    }
  | {
      readonly resource: ScopedResource;
      readonly from: ScopeSource;
      readonly field: string;
      readonly alsoPractice?: { readonly from: ScopeSource; readonly field: string };
    };

/** What the mount code resolved for the handler. */
export interface ResolvedScope {
  /** The practices the caller may see on a `list` route; null = every practice. */
  readonly practiceIds: readonly string[] | null;
  /** The practice resolved for a `practice`/`resource` route (null: resource not found or global). */
  readonly practiceId: string | null;
}

export interface ResponseDoc {
  readonly description: string;
  readonly schema?: z.ZodType;
  /** Defaults to application/json. */
  readonly contentType?: string;
}

export interface RouteDef<P = unknown, Q = unknown, B = unknown> {
  readonly method: HttpMethod;
  /** Express path (`/api/v1/practices/:id`); OpenAPI gets `{id}`. */
  readonly path: string;
  readonly summary: string;
  readonly description?: string;
  readonly tags: readonly string[];
  readonly access: Access;
  /** Which practice the route touches (deny by default: see RouteScope). */
  readonly scope: RouteScope;
  /**
   * On a `list` route: the role an unrestricted key needs to read every practice at once (no
   * practice filter). Below it, the key must name a practice. The audit trail uses it: an
   * integrator reads one practice's events, only an admin the whole trail.
   */
  readonly everyPracticeAccess?: ApiRole;
  readonly params?: z.ZodType<P>;
  readonly query?: z.ZodType<Q>;
  readonly body?: z.ZodType<B>;
  /** `raw` hands the handler the exact bytes (webhook signatures are checked before parsing). */
  readonly bodyType?: 'json' | 'raw' | 'none';
  readonly bodyLimit?: string;
  /**
   * A "who am I?" probe (the console asks it at every load): a request that presents no
   * credential at all is answered 401 without counting as a failed authentication, so people
   * opening the sign-in page behind one address never get that address throttled. A wrong key
   * or an unknown cookie still counts.
   */
  readonly anonymousProbe?: boolean;
  readonly responses: Readonly<Record<number, ResponseDoc>>;
  /**
   * Returns a JSON body (200), a `reply(...)`, or nothing after writing `res` itself
   * (streams, text/calendar, CSV).
   */
  handler(ctx: RouteContext<P, Q, B>): Promise<unknown>;
}

// Route lists mix parameter types; the mount code only passes each route its own parsed input.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyRoute = RouteDef<any, any, any>;

/** Identity function whose only job is to infer P, Q and B from the zod schemas given. */
export function defineRoute<P = Record<string, never>, Q = Record<string, never>, B = undefined>(
  def: RouteDef<P, Q, B>,
): RouteDef<P, Q, B> {
  return def;
}
