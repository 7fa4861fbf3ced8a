/**
 * Console sessions (issue 19): the web console signs in once (an API key, or OpenID Connect) and
 * then authenticates with the `passerelle_session` cookie instead of a bearer key. The cookie is
 * HttpOnly (no script reads it), SameSite=Strict (no other site's page sends it), Path=/, and
 * Secure when the request came over HTTPS. Because a browser attaches it by itself, every change
 * (POST/PUT/PATCH/DELETE) made with it must also carry the session's CSRF token in the
 * X-CSRF-Token header, which only the console's own script can read (OWASP CSRF cheat sheet,
 * "synchronizer token").
 *
 * The cookie's token is 256 random bits; only its SHA-256 is stored. A session ends after
 * `console.sessionIdleMinutes` without a request, `console.sessionMaxHours` after sign-in, on
 * sign-out, or when the API key it was opened with is revoked.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';

import type { Request, Response } from 'express';

import type { ConsoleConfig } from '../config/schema.js';
import { PasserelleError } from '../errors.js';
import { hashSecret, ROLE_RANK } from '../security/api-keys.js';
import type { ConsoleSession, ConsoleSessionVia, Store } from '../store/index.js';
import type { ApiRole } from '../store/types.js';
import type { AuthThrottle } from './auth-throttle.js';
import type { AuthInfo } from './route.js';
import type { SessionView } from './session-view.js';

export const SESSION_COOKIE = 'passerelle_session';
export const CSRF_HEADER = 'X-CSRF-Token';
/** 32 random bytes in base64url: what `newToken` makes; anything else is not ours. */
const TOKEN = /^[A-Za-z0-9_-]{43}$/;
/** `last_seen_at` is written at most this often per session (one write per request would be waste). */
export const TOUCH_EVERY_MS = 30_000;
const UNSAFE_METHODS = new Set(['post', 'put', 'patch', 'delete']);

export interface SessionSettings {
  readonly idleMs: number;
  readonly maxMs: number;
}

export function sessionSettings(
  config: Pick<ConsoleConfig, 'sessionIdleMinutes' | 'sessionMaxHours'>,
): SessionSettings {
  return { idleMs: config.sessionIdleMinutes * 60_000, maxMs: config.sessionMaxHours * 3_600_000 };
}

export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * The value of cookie `name` in a Cookie header (RFC 6265 §5.4 form: `a=b; c=d`), or undefined.
 * Strict on purpose: only names and values made of cookie-octets are read, quotes are not
 * unwrapped, nothing is %-decoded. Our own values are base64url, so nothing of ours is lost.
 */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() !== name) continue;
    const value = part.slice(eq + 1).trim();
    if (/^[\x21\x23-\x2B\x2D-\x3A\x3C-\x5B\x5D-\x7E]*$/.test(value)) return value;
  }
  return undefined;
}

/** The session token the request's cookie carries, when it has the shape of one. */
export function sessionToken(req: Request): string | undefined {
  const value = readCookie(req.get('cookie'), SESSION_COOKIE);
  return value !== undefined && TOKEN.test(value) ? value : undefined;
}

/** Whether the request carries a session cookie at all (well-formed or not). */
export function hasSessionCookie(req: Request): boolean {
  return readCookie(req.get('cookie'), SESSION_COOKIE) !== undefined;
}

/** Sets the session cookie; Secure when the request came over HTTPS (honours http.trustProxy). */
export function setSessionCookie(req: Request, res: Response, token: string, maxAgeMs: number): void {
  res.cookie(SESSION_COOKIE, token, {
    httpOnly: true,
    sameSite: 'strict',
    secure: req.secure,
    path: '/',
    maxAge: Math.max(0, maxAgeMs),
  });
}

export function clearSessionCookie(req: Request, res: Response): void {
  res.clearCookie(SESSION_COOKIE, { httpOnly: true, sameSite: 'strict', secure: req.secure, path: '/' });
}

/** The roles `role` includes, its own first (ROLE_RANK). */
export function grantsOf(role: ApiRole): ApiRole[] {
  return (Object.keys(ROLE_RANK) as ApiRole[])
    .filter((r) => ROLE_RANK[r] <= ROLE_RANK[role])
    .sort((a, b) => ROLE_RANK[b] - ROLE_RANK[a]);
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export interface OpenSessionInput {
  readonly actor: string;
  readonly label: string | null;
  readonly role: ApiRole;
  readonly practiceId: string | null;
  readonly via: ConsoleSessionVia;
  readonly keyId: string | null;
}

/** Who signed in and how, for the audit trail (never a secret, never a claim's value). */
export interface SessionAuditContext {
  readonly requestId: string;
  readonly client: string | undefined;
  /** Extra details (the OIDC issuer host). */
  readonly details?: Readonly<Record<string, string | number | boolean | null>>;
}

/** Opens, checks and ends console sessions; stateless apart from the store. */
export class ConsoleSessions {
  constructor(
    private readonly store: Store,
    readonly settings: SessionSettings,
  ) {}

  /** Opens a session, audits the sign-in, and returns the cookie's token (shown once). */
  async open(
    input: OpenSessionInput,
    audit: SessionAuditContext,
  ): Promise<{ token: string; session: ConsoleSession }> {
    const token = newToken();
    const now = this.store.now();
    const session = await this.store.transaction(async (tx) => {
      // Sign-ins are rare: they also sweep the sessions that ended by themselves.
      await tx.consoleSessions.endExpired(new Date(now - this.settings.idleMs).toISOString());
      const s = await tx.consoleSessions.create({
        tokenHash: hashSecret(token),
        actor: input.actor,
        label: input.label,
        role: input.role,
        practiceId: input.practiceId,
        via: input.via,
        keyId: input.keyId,
        csrfToken: newToken(),
        expiresAt: new Date(now + this.settings.maxMs).toISOString(),
      });
      await tx.audit.append({
        actor: input.actor,
        role: input.role,
        action: 'session.create',
        resourceType: 'ConsoleSession',
        resourceId: s.id,
        practiceId: input.practiceId,
        outcome: 'success',
        requestId: audit.requestId,
        via: 'console',
        details: { signIn: input.via, client: audit.client ?? 'unknown', ...audit.details },
      });
      return s;
    });
    return { token, session };
  }

  /** Ends a session (sign-out, or a new sign-in from the same browser), idempotent, audited. */
  async close(
    session: ConsoleSession,
    requestId: string,
    reason: 'sign-out' | 'replaced' = 'sign-out',
  ): Promise<void> {
    await this.store.transaction(async (tx) => {
      if (!(await tx.consoleSessions.end(session.id))) return;
      await tx.audit.append({
        actor: session.actor,
        role: session.role,
        action: 'session.end',
        resourceType: 'ConsoleSession',
        resourceId: session.id,
        practiceId: session.practiceId,
        outcome: 'success',
        requestId,
        via: 'console',
        details: { reason },
      });
    });
  }

  /** What the console shows of a session. */
  view(session: ConsoleSession): SessionView {
    return {
      actor: session.actor,
      label: session.label,
      role: session.role,
      practiceId: session.practiceId,
      via: session.via,
      csrfToken: session.csrfToken,
      idleTimeoutSeconds: Math.round(this.settings.idleMs / 1000),
      expiresAt: session.expiresAt,
      grants: grantsOf(session.role),
    };
  }

  /**
   * Authenticates a request by its session cookie (the caller has checked that no API key was
   * presented and that the throttle admits the client). Throws ERR_AUTH_REQUIRED for an unknown,
   * ended or expired session (and clears the cookie), ERR_CSRF for a change without the
   * session's X-CSRF-Token.
   */
  async authenticate(
    req: Request,
    res: Response,
    ctx: { readonly method: string; readonly requestId: string; readonly throttle: AuthThrottle },
  ): Promise<AuthInfo> {
    const token = sessionToken(req);
    const found =
      token === undefined ? undefined : await this.store.consoleSessions.findByTokenHash(hashSecret(token));
    if (!found) {
      clearSessionCookie(req, res);
      // A cookie is a credential: an unknown one counts as a failed authentication, like an
      // unknown key (the cookie's value is not audited).
      await ctx.throttle.failed(req.ip, undefined, ctx.requestId, 'unknown-key');
      throw new PasserelleError(
        'ERR_AUTH_REQUIRED',
        'the console session is unknown or ended; sign in again',
      );
    }
    const { session, keyRevoked } = found;
    if (keyRevoked) {
      clearSessionCookie(req, res);
      if (session.keyId !== null) await this.store.consoleSessions.endForKey(session.keyId);
      await ctx.throttle.failed(req.ip, undefined, ctx.requestId, 'revoked-key');
      throw new PasserelleError('ERR_AUTH_REQUIRED', 'the console session ended: its API key was revoked');
    }
    const now = this.store.now();
    const lastSeen = Date.parse(session.lastSeenAt);
    const reason =
      now >= Date.parse(session.expiresAt) ? 'max' : now - lastSeen >= this.settings.idleMs ? 'idle' : null;
    if (reason !== null) {
      clearSessionCookie(req, res);
      await this.store.transaction(async (tx) => {
        if (!(await tx.consoleSessions.end(session.id))) return;
        await tx.audit.append({
          actor: session.actor,
          role: session.role,
          action: 'session.expired',
          resourceType: 'ConsoleSession',
          resourceId: session.id,
          practiceId: session.practiceId,
          outcome: 'denied',
          requestId: ctx.requestId,
          via: 'console',
          details: { reason },
        });
      });
      throw new PasserelleError('ERR_AUTH_REQUIRED', 'the console session expired; sign in again', {
        details: { reason },
      });
    }
    const auth: AuthInfo = {
      keyId: session.actor,
      role: session.role,
      practiceId: session.practiceId,
      session,
    };
    if (UNSAFE_METHODS.has(ctx.method.toLowerCase())) {
      const presented = req.get(CSRF_HEADER);
      if (presented === undefined || !sameSecret(presented, session.csrfToken)) {
        await this.store.audit.append({
          actor: session.actor,
          role: session.role,
          action: `${ctx.method.toUpperCase()} ${(res.locals['route'] as string | undefined) ?? 'unmatched'}`,
          outcome: 'denied',
          requestId: ctx.requestId,
          via: 'api',
          details: { reason: presented === undefined ? 'csrf token missing' : 'csrf token mismatch' },
        });
        throw new PasserelleError(
          'ERR_CSRF',
          `a change made with the console session needs its ${CSRF_HEADER} header (csrfToken of GET /api/v1/session)`,
        );
      }
    }
    if (now - lastSeen >= TOUCH_EVERY_MS) await this.store.consoleSessions.touch(session.id);
    return auth;
  }
}
