import type { Request, Response } from 'express';
import type { z } from 'zod';

import type { AuditInput, ApiRole } from '../store/types.js';

/** `public` routes need no key (health, metrics, iCal feeds with their own token, webhooks with signatures). */
export type Access = 'public' | ApiRole;
export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

export interface AuthInfo {
  readonly keyId: string;
  readonly role: ApiRole;
  /** A key limited to one practice sees only that practice. */
  readonly practiceId: string | null;
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
  /** Throws ERR_AUTH_FORBIDDEN when the caller's key is limited to another practice. */
  requirePractice(practiceId: string): void;
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
  readonly params?: z.ZodType<P>;
  readonly query?: z.ZodType<Q>;
  readonly body?: z.ZodType<B>;
  /** `raw` hands the handler the exact bytes (webhook signatures are checked before parsing). */
  readonly bodyType?: 'json' | 'raw' | 'none';
  readonly bodyLimit?: string;
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
export function defineRoute<P = Record<string, never>, Q = Record<string, never>, B = undefined>(def: RouteDef<P, Q, B>): RouteDef<P, Q, B> {
  return def;
}
