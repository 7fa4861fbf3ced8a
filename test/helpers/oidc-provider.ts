/**
 * A real OpenID Connect provider for tests (oidc-provider 9, shared/libraries.md §9) on
 * 127.0.0.1, and a browser-less sign-in through it.
 *
 * - `startOidcProvider({ users })` listens at once (its issuer URL is known before passerelle
 *   starts); `allowRedirects([...])` then registers the client's redirect URIs (passerelle's
 *   callback, known once passerelle listens). One client, confidential by default
 *   (`client_secret_post`), or public (`clientSecret: null`); PKCE required for both.
 * - Users carry any claims; `passerelle_role` and `passerelle_practice` (scope `passerelle`)
 *   are released in the ID token too (`conformIdTokenClaims: false`) and in userinfo.
 * - Its development login and consent pages accept any password: tests only.
 * - `signInWithOidc(startUrl, login)` plays the browser: follows redirects with a cookie jar,
 *   fills the login form and the consent form, and stops at the first redirect that leaves both
 *   the provider and passerelle's `/console/auth/` routes (`/console/` or `/console/connexion`).
 *
 * The console's Chromium test reuses `startOidcProvider` and signs in through the real pages.
 */
import { generateKeyPairSync } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import Provider, { type Configuration } from 'oidc-provider';

export interface OidcTestUser {
  /** The login typed in the provider's form, and the `sub`. */
  readonly id: string;
  /** `name`, `email`, `passerelle_role` (string or list), `passerelle_practice`… */
  readonly claims: Readonly<Record<string, unknown>>;
}

export interface OidcTestProviderOptions {
  readonly users: readonly OidcTestUser[];
  readonly clientId?: string;
  /** null: a public client (PKCE only). Default: a confidential client with a fixed secret. */
  readonly clientSecret?: string | null;
}

export interface OidcTestProvider {
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string | undefined;
  /** Registers the client's redirect URIs; until then every authorization request fails. */
  allowRedirects(uris: readonly string[]): void;
  close(): Promise<void>;
}

export const TEST_ROLE_CLAIM = 'passerelle_role';
export const TEST_PRACTICE_CLAIM = 'passerelle_practice';

export async function startOidcProvider(options: OidcTestProviderOptions): Promise<OidcTestProvider> {
  const clientId = options.clientId ?? 'passerelle-console';
  const clientSecret =
    options.clientSecret === null ? undefined : (options.clientSecret ?? 'test-client-secret');
  const users = new Map(options.users.map((u) => [u.id, u]));
  let handler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  const server: Server = createServer((req, res) => {
    if (handler) handler(req, res);
    else {
      res.statusCode = 503;
      res.end('no client registered yet');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const signingKey = {
    ...privateKey.export({ format: 'jwk' }),
    kid: 'test-signing',
    use: 'sig',
    alg: 'RS256',
  };

  return {
    issuer,
    clientId,
    clientSecret,
    allowRedirects(uris) {
      const configuration: Configuration = {
        clients: [
          {
            client_id: clientId,
            redirect_uris: [...uris],
            grant_types: ['authorization_code'],
            response_types: ['code'],
            ...(clientSecret === undefined
              ? { token_endpoint_auth_method: 'none' }
              : { client_secret: clientSecret, token_endpoint_auth_method: 'client_secret_post' }),
          },
        ],
        // PKCE is required only for public clients by default (libraries.md §9).
        pkce: { required: () => true },
        claims: {
          openid: ['sub'],
          profile: ['name'],
          email: ['email'],
          passerelle: [TEST_ROLE_CLAIM, TEST_PRACTICE_CLAIM],
        },
        conformIdTokenClaims: false,
        ttl: {
          AccessToken: 600,
          AuthorizationCode: 60,
          Grant: 3600,
          IdToken: 600,
          Interaction: 600,
          Session: 3600,
        },
        jwks: { keys: [signingKey as never] },
        cookies: { keys: ['oidc-test-cookie-key'] },
        features: { devInteractions: { enabled: true } },
        findAccount: (_ctx, id) => {
          const user = users.get(id);
          if (!user) return undefined;
          return { accountId: id, claims: () => ({ ...user.claims, sub: id }) };
        },
      };
      handler = new Provider(issuer, configuration).callback();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Cookies per host name (ports share cookies, as in browsers), name → value; paths ignored. */
export class CookieJar {
  private readonly byHost = new Map<string, Map<string, string>>();

  store(url: string, response: Response): void {
    const host = new URL(url).hostname;
    const jar = this.byHost.get(host) ?? new Map<string, string>();
    this.byHost.set(host, jar);
    for (const line of response.headers.getSetCookie()) {
      const [pair = '', ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq < 1) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attributes.some((a) => {
        const [k = '', v = ''] = a.trim().split('=');
        return (
          (k.toLowerCase() === 'max-age' && Number(v) <= 0) ||
          (k.toLowerCase() === 'expires' && Date.parse(v) <= Date.now())
        );
      });
      if (expired || value === '') jar.delete(name);
      else jar.set(name, value);
    }
  }

  header(url: string): string {
    const jar = this.byHost.get(new URL(url).hostname);
    return jar ? [...jar].map(([k, v]) => `${k}=${v}`).join('; ') : '';
  }

  get(url: string, name: string): string | undefined {
    return this.byHost.get(new URL(url).hostname)?.get(name);
  }

  set(url: string, name: string, value: string): void {
    const host = new URL(url).hostname;
    const jar = this.byHost.get(host) ?? new Map<string, string>();
    this.byHost.set(host, jar);
    jar.set(name, value);
  }
}

export interface OidcSignInResult {
  /** The last redirect's target, absolute: `<passerelle>/console/` or `…/console/connexion?erreur=…`. */
  readonly location: string;
  readonly jar: CookieJar;
  /** The `passerelle_session` cookie's value, when one was set. */
  readonly sessionToken: string | undefined;
}

function formOf(html: string, pageUrl: string): { action: string; fields: URLSearchParams } {
  const form = /<form[^>]*action="([^"]+)"[^>]*method="post"[^>]*>([\s\S]*?)<\/form>/i.exec(html);
  if (!form) throw new Error(`no form on ${pageUrl}: ${html.slice(0, 200)}`);
  const fields = new URLSearchParams();
  for (const input of (form[2] ?? '').matchAll(/<input[^>]*type="hidden"[^>]*>/gi)) {
    const name = /name="([^"]+)"/.exec(input[0])?.[1];
    const value = /value="([^"]*)"/.exec(input[0])?.[1] ?? '';
    if (name) fields.set(name, value);
  }
  return { action: new URL((form[1] ?? '').replace(/&amp;/g, '&'), pageUrl).href, fields };
}

/**
 * Signs in through passerelle's `startUrl` (`<passerelle>/console/auth/oidc`) as `login`, with
 * no browser: redirects followed by hand, cookies kept in `jar`, the provider's login and
 * consent forms submitted.
 */
export async function signInWithOidc(
  startUrl: string,
  login: string,
  options: {
    jar?: CookieJar;
    issuer: string;
    maxSteps?: number;
    /** Stop at the provider's redirect to passerelle's callback (its URL is then `location`). */
    stopAtCallback?: boolean;
  },
): Promise<OidcSignInResult> {
  const jar = options.jar ?? new CookieJar();
  const issuer = new URL(options.issuer);
  const passerelle = new URL(startUrl);
  let url = startUrl;
  let init: { method: string; body?: URLSearchParams } = { method: 'GET' };
  for (let step = 0; step < (options.maxSteps ?? 20); step++) {
    const headers: Record<string, string> = {};
    const cookie = jar.header(url);
    if (cookie) headers['cookie'] = cookie;
    if (init.body) headers['content-type'] = 'application/x-www-form-urlencoded';
    const res = await fetch(url, {
      method: init.method,
      headers,
      redirect: 'manual',
      ...(init.body && { body: init.body }),
    });
    jar.store(url, res);
    const location = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && location) {
      const next = new URL(location, url);
      const toCallback = next.origin === passerelle.origin && next.pathname === '/console/auth/oidc/callback';
      const stays =
        next.origin === issuer.origin ||
        (next.origin === passerelle.origin && next.pathname.startsWith('/console/auth/'));
      if (toCallback && options.stopAtCallback) return { location: next.href, jar, sessionToken: undefined };
      if (!stays)
        return { location: next.href, jar, sessionToken: jar.get(passerelle.href, 'passerelle_session') };
      url = next.href;
      init = { method: 'GET' };
      continue;
    }
    const html = await res.text();
    if (res.status !== 200 || new URL(url).origin !== issuer.origin)
      throw new Error(`unexpected ${res.status} at ${url}: ${html.slice(0, 300)}`);
    const { action, fields } = formOf(html, url);
    if (fields.get('prompt') === 'login') {
      fields.set('login', login);
      fields.set('password', 'any password: dev interactions accept it');
    }
    url = action;
    init = { method: 'POST', body: fields };
  }
  throw new Error(`no end to the sign-in after ${options.maxSteps ?? 20} steps (last: ${url})`);
}
