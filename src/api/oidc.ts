/**
 * Console sign-in with OpenID Connect (issue 19): the authorization code flow with PKCE, state
 * and nonce (OpenID Connect Core 1.0 §3.1; RFC 7636; OAuth 2.0 Security BCP, RFC 9700 §2.1),
 * through openid-client 6.
 *
 * - `GET /console/auth/oidc` sends the browser to the provider. The PKCE verifier, the state and
 *   the nonce travel in a short-lived cookie (`passerelle_oidc`, 10 minutes, HttpOnly,
 *   SameSite=Lax so that the provider's redirect back brings it, Path limited to these routes),
 *   sealed with the service's encryption key (AES-256-GCM): the browser can neither read nor
 *   forge it, and any instance sharing the key can finish the flow.
 * - `GET /console/auth/oidc/callback` checks the state, exchanges the code (with the verifier),
 *   checks the ID token (signature, issuer, audience, nonce), reads the userinfo claims, maps the
 *   role and the practice from the claims (`console.oidc.roleMap`, `practiceClaim`), opens a
 *   console session and sends the browser to `/console/`. Any refusal sends it to
 *   `/console/connexion?erreur=<code>` (OIDC_REFUSALS): a short code, never a claim's value.
 */
import express, { type Request, type Response } from 'express';
import * as client from 'openid-client';

import type { ConsoleOidcConfig } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import { ROLE_RANK } from '../security/api-keys.js';
import type { SecretBox } from '../security/secrets.js';
import type { Store } from '../store/index.js';
import type { ApiRole } from '../store/types.js';
import { type ConsoleSessions, readCookie, setSessionCookie } from './session.js';

export const OIDC_START_PATH = '/console/auth/oidc';
export const OIDC_CALLBACK_PATH = '/console/auth/oidc/callback';
export const OIDC_COOKIE = 'passerelle_oidc';
/** Where a signed-in browser lands, and where a refused one is told why. */
export const CONSOLE_HOME = '/console/';
export const CONSOLE_SIGN_IN = '/console/connexion';
const FLOW_TTL_MS = 10 * 60_000;
const SEAL_CONTEXT = 'console-oidc-flow';

/**
 * Why an OIDC sign-in was refused, as `?erreur=` on the sign-in page:
 * - `indisponible`: OIDC is not configured, or the provider cannot be reached;
 * - `etat`: no flow in progress in this browser, it expired (10 minutes), or the state differs;
 * - `refus`: the provider answered an error (the user cancelled, consent refused…);
 * - `fournisseur`: the code exchange or a token check failed;
 * - `role`: the role claim maps to no role (and there is no defaultRole);
 * - `cabinet`: the practice claim is missing where required, ambiguous, or names no practice.
 */
export const OIDC_REFUSALS = ['indisponible', 'etat', 'refus', 'fournisseur', 'role', 'cabinet'] as const;
export type OidcRefusal = (typeof OIDC_REFUSALS)[number];

interface Flow {
  readonly verifier: string;
  readonly state: string;
  readonly nonce: string;
  readonly expiresAt: number;
}

export interface OidcDeps {
  readonly store: Store;
  readonly sessions: ConsoleSessions;
  /** Absent: OIDC is off and both routes send the browser back with `erreur=indisponible`. */
  readonly config: ConsoleOidcConfig | undefined;
  /** Seals the flow cookie (the service's encryption key). */
  readonly secrets: SecretBox;
  /** The service's public base URL, for the default redirect URI. */
  baseUrl(): string;
  readonly logger: Logger;
}

class Refused extends Error {
  constructor(
    readonly code: OidcRefusal,
    readonly actor: string | null = null,
  ) {
    super(code);
  }
}

function claimStrings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return [];
}

/**
 * The role a user's claims give: the highest role among the mapped values of `roleClaim`, else
 * `defaultRole`; null when neither (refused).
 */
export function roleFromClaims(
  claims: Readonly<Record<string, unknown>>,
  config: ConsoleOidcConfig,
): ApiRole | null {
  let best: ApiRole | null = null;
  for (const value of claimStrings(claims[config.roleClaim])) {
    const role = Object.hasOwn(config.roleMap, value) ? config.roleMap[value] : undefined;
    if (role !== undefined && (best === null || ROLE_RANK[role] > ROLE_RANK[best])) best = role;
  }
  return best ?? config.defaultRole ?? null;
}

/** The practice a user is limited to; undefined when the claims do not allow a session. */
export function practiceFromClaims(
  claims: Readonly<Record<string, unknown>>,
  role: ApiRole,
  config: ConsoleOidcConfig,
): string | null | undefined {
  if (config.practiceClaim === undefined) return null;
  const values = claimStrings(claims[config.practiceClaim]).filter((v) => v !== '');
  if (values.length === 1) return values[0];
  if (values.length === 0 && config.unrestrictedRoles.includes(role)) return null;
  return undefined;
}

function labelOf(claims: Readonly<Record<string, unknown>>, sub: string): string {
  for (const key of ['name', 'email', 'preferred_username']) {
    const v = claims[key];
    if (typeof v === 'string' && v.trim() !== '') return v.trim().slice(0, 200);
  }
  return sub.slice(0, 200);
}

export function oidcRouter(deps: OidcDeps): express.Router {
  const router = express.Router();
  const { config, logger } = deps;
  const log = logger.child({ component: 'console-oidc' });
  let discovered: Promise<client.Configuration> | undefined;
  const configuration = (c: ConsoleOidcConfig): Promise<client.Configuration> => {
    discovered ??= client
      .discovery(
        new URL(c.issuer),
        c.clientId,
        c.clientSecret,
        c.clientSecret === undefined ? client.None() : undefined,
        // openid-client refuses http issuers; the config allows it on loopback addresses only.
        c.allowInsecureIssuer ? { execute: [client.allowInsecureRequests] } : undefined,
      )
      .catch((e: unknown) => {
        discovered = undefined; // try again at the next sign-in
        throw e;
      });
    return discovered;
  };
  const issuerHost = (c: ConsoleOidcConfig) => new URL(c.issuer).host;
  const redirectUri = (c: ConsoleOidcConfig) =>
    c.redirectUri ?? new URL(OIDC_CALLBACK_PATH, deps.baseUrl()).toString();
  const flowCookie = (req: Request) => ({
    httpOnly: true,
    // Lax: the provider's redirect back is a cross-site top-level GET, which Strict would strip.
    sameSite: 'lax' as const,
    secure: req.secure,
    path: OIDC_START_PATH,
  });

  const refuse = async (req: Request, res: Response, code: OidcRefusal, actor: string | null) => {
    await deps.store.audit.append({
      actor: actor ?? 'anonymous',
      action: 'session.refused',
      outcome: 'denied',
      requestId: res.locals['requestId'] as string,
      via: 'console',
      details: {
        signIn: 'oidc',
        reason: code,
        client: req.ip ?? 'unknown',
        ...(config && { issuer: issuerHost(config) }),
      },
    });
    res.redirect(302, `${CONSOLE_SIGN_IN}?erreur=${code}`);
  };

  router.get(OIDC_START_PATH, async (req, res, next) => {
    res.locals['route'] = OIDC_START_PATH;
    try {
      res.set('Cache-Control', 'no-store');
      if (!config) return await refuse(req, res, 'indisponible', null);
      let c: client.Configuration;
      try {
        c = await configuration(config);
      } catch (e) {
        log.warn('OIDC provider discovery failed', { issuer: issuerHost(config), err: e });
        return await refuse(req, res, 'indisponible', null);
      }
      const verifier = client.randomPKCECodeVerifier();
      const flow: Flow = {
        verifier,
        state: client.randomState(),
        nonce: client.randomNonce(),
        expiresAt: deps.store.now() + FLOW_TTL_MS,
      };
      const sealed = Buffer.from(deps.secrets.sealJson(flow, SEAL_CONTEXT)).toString('base64url');
      res.cookie(OIDC_COOKIE, sealed, { ...flowCookie(req), maxAge: FLOW_TTL_MS });
      const url = client.buildAuthorizationUrl(c, {
        redirect_uri: redirectUri(config),
        scope: config.scopes
          .split(/\s+/)
          .filter((s) => s !== '')
          .join(' '),
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state: flow.state,
        nonce: flow.nonce,
      });
      res.redirect(302, url.href);
    } catch (e) {
      next(e);
    }
  });

  router.get(OIDC_CALLBACK_PATH, async (req, res, next) => {
    res.locals['route'] = OIDC_CALLBACK_PATH;
    try {
      res.set('Cache-Control', 'no-store');
      // One use: the flow cookie goes whatever happens next.
      res.clearCookie(OIDC_COOKIE, flowCookie(req));
      if (!config) return await refuse(req, res, 'indisponible', null);
      try {
        const session = await signIn(req, config);
        setSessionCookie(req, res, session.token, deps.sessions.settings.maxMs);
        res.redirect(302, CONSOLE_HOME);
      } catch (e) {
        if (e instanceof Refused) return await refuse(req, res, e.code, e.actor);
        throw e;
      }
    } catch (e) {
      next(e);
    }
  });

  async function signIn(req: Request, config: ConsoleOidcConfig): Promise<{ token: string }> {
    const flow = readFlow(req);
    const query = new URL(req.originalUrl, 'http://callback.invalid').searchParams;
    if (!flow || query.get('state') !== flow.state) throw new Refused('etat');
    if (query.has('error')) throw new Refused('refus');
    let c: client.Configuration;
    try {
      c = await configuration(config);
    } catch (e) {
      log.warn('OIDC provider discovery failed', { issuer: issuerHost(config), err: e });
      throw new Refused('indisponible');
    }
    // The token request's redirect_uri is the callback URL without its parameters.
    const current = new URL(redirectUri(config));
    current.search = query.toString();
    let claims: Record<string, unknown>;
    let sub: string;
    try {
      const tokens = await client.authorizationCodeGrant(c, current, {
        pkceCodeVerifier: flow.verifier,
        expectedState: flow.state,
        expectedNonce: flow.nonce,
        idTokenExpected: true,
      });
      const idClaims = tokens.claims();
      if (!idClaims) throw new Error('no ID token');
      sub = idClaims.sub;
      claims = { ...idClaims };
      // Providers often put custom claims in userinfo only (OpenID Connect Core §5.4).
      if (c.serverMetadata().userinfo_endpoint) {
        const userinfo = await client.fetchUserInfo(c, tokens.access_token, sub);
        claims = { ...claims, ...userinfo };
      }
    } catch (e) {
      // The error names what failed (a check, an HTTP status); never a token.
      log.warn('OIDC sign-in failed at the provider exchange', {
        issuer: issuerHost(config),
        code: (e as { code?: string }).code,
        error: (e as Error).message,
      });
      throw new Refused('fournisseur');
    }
    const actor = `oidc:${issuerHost(config)}:${sub}`;
    const role = roleFromClaims(claims, config);
    if (role === null) throw new Refused('role', actor);
    const practiceId = practiceFromClaims(claims, role, config);
    if (practiceId === undefined) throw new Refused('cabinet', actor);
    if (practiceId !== null && !(await deps.store.practices.get(practiceId)))
      throw new Refused('cabinet', actor);
    const { token } = await deps.sessions.open(
      { actor, label: labelOf(claims, sub), role, practiceId, via: 'oidc', keyId: null },
      {
        requestId: req.res?.locals['requestId'] as string,
        client: req.ip,
        details: { issuer: issuerHost(config) },
      },
    );
    return { token };
  }

  function readFlow(req: Request): Flow | undefined {
    const raw = readCookie(req.get('cookie'), OIDC_COOKIE);
    if (!raw) return undefined;
    try {
      const flow = deps.secrets.openJson<Flow>(Buffer.from(raw, 'base64url').toString('utf8'), SEAL_CONTEXT);
      return flow.expiresAt > deps.store.now() ? flow : undefined;
    } catch {
      return undefined; // not ours, altered, or sealed under a key we no longer hold
    }
  }

  return router;
}
