import { randomUUID } from 'node:crypto';

import { importJWK, importPKCS8, SignJWT } from 'jose';

import { PasserelleError } from '../../../src/errors.js';
import type { FhirAuth, SmartBackendAuth } from './types.js';

/** Supplies the Authorization header for each request; `invalidate` after a 401 forces a new token. */
export interface AuthProvider {
  headers(signal: AbortSignal): Promise<Record<string, string>>;
  /** Drops a cached token; returns true when a new one may help (so a 401 is worth one retry). */
  invalidate(): boolean;
}

export interface AuthContext {
  readonly baseUrl: string;
  readonly now: () => number;
  readonly timeoutMs: number;
}

/** A token is renewed this long before it expires, so a request never leaves with a dying one. */
const EXPIRY_MARGIN_MS = 30_000;
/** SMART Backend Services: the assertion's `exp` is at most five minutes ahead. */
const ASSERTION_LIFETIME_S = 300;

export function createAuthProvider(auth: FhirAuth | undefined, ctx: AuthContext): AuthProvider {
  const a = auth ?? { type: 'none' };
  switch (a.type) {
    case 'none':
      return { headers: async () => ({}), invalidate: () => false };
    case 'basic': {
      const value = `Basic ${Buffer.from(`${a.username}:${a.password}`, 'utf8').toString('base64')}`;
      return { headers: async () => ({ authorization: value }), invalidate: () => false };
    }
    case 'bearer': {
      const token = a.token;
      return {
        headers: async () => ({
          authorization: `Bearer ${typeof token === 'string' ? token : await token()}`,
        }),
        // A token function may hand out a fresh token on the next call.
        invalidate: () => typeof token === 'function',
      };
    }
    case 'smart-backend':
      return smartBackend(a, ctx);
    default:
      a satisfies never;
      throw new Error('unreachable');
  }
}

function authError(message: string, details: Record<string, unknown> = {}): PasserelleError {
  return new PasserelleError('ERR_FHIR_AUTH', message, { details });
}

async function fetchJson(
  url: string,
  init: RequestInit,
  what: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  let res: Response;
  try {
    res = await fetch(url, init);
  } catch (e) {
    const name = (e as { name?: string }).name;
    if (name === 'TimeoutError')
      throw new PasserelleError('ERR_FHIR_TIMEOUT', `${what} timed out`, { details: { step: what } });
    const code = (e as { cause?: { code?: unknown } }).cause?.code;
    throw new PasserelleError(
      'ERR_FHIR_NETWORK',
      `${what} failed: network error${typeof code === 'string' ? ` (${code})` : ''}`,
      { details: { step: what } },
    );
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : {};
  } catch {
    throw authError(`${what} answered HTTP ${res.status} with a body that is not JSON`, {
      httpStatus: res.status,
      step: what,
    });
  }
  return {
    status: res.status,
    body: typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {},
  };
}

function smartBackend(cfg: SmartBackendAuth, ctx: AuthContext): AuthProvider {
  const alg = cfg.algorithm ?? 'RS384';
  let endpoint: string | undefined = cfg.tokenEndpoint;
  let cached: { token: string; expiresAt: number } | undefined;
  let pending: Promise<string> | undefined;
  let keyPromise: ReturnType<typeof importPKCS8> | undefined;

  const key = (): ReturnType<typeof importPKCS8> => {
    keyPromise ??= (
      typeof cfg.privateKey === 'string'
        ? importPKCS8(cfg.privateKey, alg)
        : (importJWK(cfg.privateKey, alg) as ReturnType<typeof importPKCS8>)
    ).catch(() => {
      keyPromise = undefined;
      throw authError(`SMART backend private key cannot be read as a ${alg} key`);
    });
    return keyPromise;
  };

  async function tokenEndpoint(signal: AbortSignal): Promise<string> {
    if (endpoint) return endpoint;
    // SMART App Launch 2.0 §Conformance: the server publishes .well-known/smart-configuration.
    const url = `${ctx.baseUrl.replace(/\/+$/, '')}/.well-known/smart-configuration`;
    const { status, body } = await fetchJson(
      url,
      { headers: { accept: 'application/json' }, signal },
      'SMART configuration discovery',
    );
    const found = body['token_endpoint'];
    if (status !== 200 || typeof found !== 'string') {
      throw authError(
        `SMART configuration discovery failed: HTTP ${status}${typeof found === 'string' ? '' : ', no token_endpoint'}`,
        { httpStatus: status },
      );
    }
    endpoint = found;
    return found;
  }

  async function requestToken(signal: AbortSignal): Promise<string> {
    const aud = await tokenEndpoint(signal);
    const nowS = Math.floor(ctx.now() / 1000);
    // Backend Services §Authenticating to the token endpoint: iss = sub = client_id, aud = the
    // token URL, exp ≤ 5 min, a fresh jti, and `kid` (and optionally `jku`) in the header.
    const assertion = await new SignJWT({})
      .setProtectedHeader({ alg, kid: cfg.keyId, typ: 'JWT', ...(cfg.jwksUrl && { jku: cfg.jwksUrl }) })
      .setIssuer(cfg.clientId)
      .setSubject(cfg.clientId)
      .setAudience(aud)
      .setIssuedAt(nowS)
      .setExpirationTime(nowS + ASSERTION_LIFETIME_S)
      .setJti(randomUUID())
      .sign(await key());
    const form = new URLSearchParams({
      grant_type: 'client_credentials',
      scope: cfg.scope,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: assertion,
    });
    const { status, body } = await fetchJson(
      aud,
      {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: form.toString(),
        signal,
      },
      'SMART token request',
    );
    const token = body['access_token'];
    if (status !== 200 || typeof token !== 'string') {
      // RFC 6749 §5.2: `error` is a code (invalid_client…); error_description is free text and stays out.
      const oauthError =
        typeof body['error'] === 'string' ? (body['error'] as string).slice(0, 64) : undefined;
      throw authError(`SMART token request failed: HTTP ${status}${oauthError ? ` (${oauthError})` : ''}`, {
        httpStatus: status,
        ...(oauthError && { oauthError }),
      });
    }
    const expiresIn =
      typeof body['expires_in'] === 'number' ? (body['expires_in'] as number) : ASSERTION_LIFETIME_S;
    cached = {
      token,
      expiresAt: ctx.now() + expiresIn * 1000 - Math.min(EXPIRY_MARGIN_MS, (expiresIn * 1000) / 2),
    };
    return token;
  }

  return {
    async headers(signal) {
      if (cached && ctx.now() < cached.expiresAt) return { authorization: `Bearer ${cached.token}` };
      // Concurrent requests share one token request.
      pending ??= requestToken(AbortSignal.any([signal, AbortSignal.timeout(ctx.timeoutMs)])).finally(() => {
        pending = undefined;
      });
      return { authorization: `Bearer ${await pending}` };
    },
    invalidate() {
      cached = undefined;
      return true;
    },
  };
}
