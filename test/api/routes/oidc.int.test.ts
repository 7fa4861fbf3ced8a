/**
 * Console sign-in with OpenID Connect (issue 19) against a real provider (oidc-provider 9) on
 * 127.0.0.1: authorization code + PKCE + state + nonce through openid-client, roles and
 * practice mapped from the user's claims, refusals sent back to the sign-in page with a short
 * code and audited without any claim's value.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import type { SessionView } from '../../../src/api/session-view.js';
import { consoleAuthModule } from '../../../src/app/features/console-auth.js';
import {
  CookieJar,
  type OidcTestProvider,
  signInWithOidc,
  startOidcProvider,
  TEST_PRACTICE_CLAIM,
  TEST_ROLE_CLAIM,
} from '../../helpers/oidc-provider.js';
import { startTestService, type TestService } from '../../helpers/service.js';
import { tempDir } from '../../helpers/stores.js';

const A = 'cab-oidc-a';
const B = 'cab-oidc-b';
let idp: OidcTestProvider;
let t: TestService;
const dir = tempDir('passerelle-oidc-');

const users = [
  {
    id: 'secretaire-a',
    claims: {
      name: 'Camille Fictive',
      email: 'camille@cabinet-a.example',
      [TEST_ROLE_CLAIM]: 'secretariat',
      [TEST_PRACTICE_CLAIM]: A,
    },
  },
  {
    id: 'integratrice',
    claims: {
      name: 'Inès Fictive',
      [TEST_ROLE_CLAIM]: ['secretariat', 'pass-integrateur'],
      [TEST_PRACTICE_CLAIM]: A,
    },
  },
  { id: 'admin-sans-cabinet', claims: { name: 'Admin Fictif', [TEST_ROLE_CLAIM]: 'pass-admin' } },
  {
    id: 'inconnu',
    claims: { name: 'Rôle Inconnu', [TEST_ROLE_CLAIM]: 'stagiaire-xyz', [TEST_PRACTICE_CLAIM]: A },
  },
  {
    id: 'cabinet-absent',
    claims: {
      name: 'Cabinet Absent',
      [TEST_ROLE_CLAIM]: 'secretariat',
      [TEST_PRACTICE_CLAIM]: 'cab-nowhere',
    },
  },
];

const errorOf = async (res: Response) => ((await res.json()) as { error: { code: string } }).error.code;

function cookieFor(token: string | undefined): string {
  expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
  return `passerelle_session=${token}`;
}

beforeAll(async () => {
  idp = await startOidcProvider({ users });
  const configFile = join(dir.path, 'passerelle.yaml');
  writeFileSync(
    configFile,
    JSON.stringify({
      console: {
        oidc: {
          issuer: idp.issuer,
          clientId: idp.clientId,
          clientSecret: idp.clientSecret,
          scopes: 'openid profile email passerelle',
          label: 'Pro Santé Connect',
          roleClaim: TEST_ROLE_CLAIM,
          roleMap: { 'pass-admin': 'admin', 'pass-integrateur': 'integrator', secretariat: 'viewer' },
          practiceClaim: TEST_PRACTICE_CLAIM,
          allowInsecureIssuer: true,
        },
      },
    }),
  );
  t = await startTestService({ modules: [consoleAuthModule()], env: { PASSERELLE_CONFIG: configFile } });
  idp.allowRedirects([`${t.url}/console/auth/oidc/callback`]);
  for (const id of [A, B])
    expect(
      (await t.api('/api/v1/practices', { method: 'POST', json: { id, name: `Cabinet ${id}` } })).status,
    ).toBe(201);
}, 30_000);
afterAll(async () => {
  await t?.dispose();
  await idp?.close();
  dir.remove();
});

describe('console sign-in with OpenID Connect', () => {
  const start = () => `${t.url}/console/auth/oidc`;

  it('offers the provider on the sign-in page under its label', async () => {
    const res = await fetch(`${t.url}/api/v1/session/options`);
    expect(await res.json()).toEqual({ oidc: { enabled: true, label: 'Pro Santé Connect' } });
  });

  it('sends the browser to the provider with PKCE (S256), a state and a nonce kept in a sealed Lax cookie', async () => {
    const res = await fetch(start(), { redirect: 'manual' });
    expect(res.status).toBe(302);
    const to = new URL(res.headers.get('location') as string);
    expect(to.origin).toBe(idp.issuer);
    expect(to.searchParams.get('response_type')).toBe('code');
    expect(to.searchParams.get('code_challenge_method')).toBe('S256');
    expect(to.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(to.searchParams.get('state')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(to.searchParams.get('nonce')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(to.searchParams.get('redirect_uri')).toBe(`${t.url}/console/auth/oidc/callback`);
    const flow = res.headers.getSetCookie().find((c) => c.startsWith('passerelle_oidc=')) ?? '';
    expect(flow).toMatch(/; HttpOnly/);
    expect(flow).toMatch(/; SameSite=Lax/);
    expect(flow).toMatch(/; Path=\/console\/auth\/oidc/);
    expect(flow).toMatch(/; Max-Age=600/);
    // sealed: neither the state nor the nonce can be read from it
    const value = Buffer.from(flow.split(';')[0]?.split('=')[1] ?? '', 'base64url').toString();
    expect(value).not.toContain(to.searchParams.get('state'));
    expect(value).not.toContain(to.searchParams.get('nonce'));
  });

  it('opens a session with the role and the practice mapped from the claims', async () => {
    const r = await signInWithOidc(start(), 'secretaire-a', { issuer: idp.issuer });
    expect(r.location).toBe(`${t.url}/console/`);
    const cookie = cookieFor(r.sessionToken);
    const me = await fetch(`${t.url}/api/v1/session`, { headers: { cookie } });
    expect(me.status).toBe(200);
    const view = (await me.json()) as SessionView;
    const actor = `oidc:${new URL(idp.issuer).host}:secretaire-a`;
    expect(view).toMatchObject({
      actor,
      label: 'Camille Fictive',
      role: 'viewer',
      practiceId: A,
      via: 'oidc',
      grants: ['viewer'],
    });
    expect(view.csrfToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // the practice scope applies as to a key limited to A
    expect((await fetch(`${t.url}/api/v1/practices/${A}`, { headers: { cookie } })).status).toBe(200);
    const other = await fetch(`${t.url}/api/v1/practices/${B}`, { headers: { cookie } });
    expect(other.status).toBe(403);
    expect(await errorOf(other)).toBe('ERR_AUTH_FORBIDDEN');
    const created = (await t.service.store.audit.list({ action: 'session.create', actor }))[0];
    expect(created).toMatchObject({ outcome: 'success', role: 'viewer', practiceId: A, via: 'console' });
    expect(created?.details).toMatchObject({ signIn: 'oidc', issuer: new URL(idp.issuer).host });
    // the flow cookie was used once and cleared
    expect(r.jar.get(t.url, 'passerelle_oidc')).toBeUndefined();
  });

  it('takes the highest mapped role when the claim lists several', async () => {
    const r = await signInWithOidc(start(), 'integratrice', { issuer: idp.issuer });
    const me = await fetch(`${t.url}/api/v1/session`, { headers: { cookie: cookieFor(r.sessionToken) } });
    expect(await me.json()).toMatchObject({
      role: 'integrator',
      practiceId: A,
      grants: ['integrator', 'viewer'],
    });
  });

  it('lets an admin without a practice claim in, not limited to a practice', async () => {
    const r = await signInWithOidc(start(), 'admin-sans-cabinet', { issuer: idp.issuer });
    const me = await fetch(`${t.url}/api/v1/session`, { headers: { cookie: cookieFor(r.sessionToken) } });
    expect(await me.json()).toMatchObject({ role: 'admin', practiceId: null });
  });

  it('refuses a user whose role claim maps to no role, with a code and no claim value', async () => {
    const r = await signInWithOidc(start(), 'inconnu', { issuer: idp.issuer });
    expect(r.location).toBe(`${t.url}/console/connexion?erreur=role`);
    expect(r.sessionToken).toBeUndefined();
    const refused = await t.service.store.audit.list({ action: 'session.refused' });
    const mine = refused.find((e) => e.actor === `oidc:${new URL(idp.issuer).host}:inconnu`);
    expect(mine).toMatchObject({ outcome: 'denied', details: { reason: 'role', signIn: 'oidc' } });
    expect(JSON.stringify(refused)).not.toContain('stagiaire-xyz');
  });

  it('refuses a practice claim that names no practice', async () => {
    const r = await signInWithOidc(start(), 'cabinet-absent', { issuer: idp.issuer });
    expect(r.location).toBe(`${t.url}/console/connexion?erreur=cabinet`);
    expect(r.sessionToken).toBeUndefined();
  });

  it('refuses a callback whose state is not the one this browser started with', async () => {
    // Browser 1 starts a flow; browser 2 completes one at the provider and stops at the callback.
    const jar1 = new CookieJar();
    const first = await fetch(start(), { redirect: 'manual' });
    jar1.store(start(), first);
    const second = await signInWithOidc(start(), 'secretaire-a', {
      issuer: idp.issuer,
      stopAtCallback: true,
    });
    const callback = new URL(second.location);
    expect(callback.pathname).toBe('/console/auth/oidc/callback');
    expect(callback.searchParams.get('code')).toBeTruthy();

    const attempts: Array<[string, string]> = [
      ['another browser’s flow cookie', jar1.header(t.url)],
      ['no flow cookie', ''],
    ];
    // its own flow cookie, but the state altered on the way
    const altered = new URL(callback);
    altered.searchParams.set('state', 'x'.repeat(43));
    for (const [what, cookie] of attempts) {
      const res = await fetch(callback, { redirect: 'manual', headers: cookie ? { cookie } : {} });
      expect([what, res.status, res.headers.get('location')]).toEqual([
        what,
        302,
        '/console/connexion?erreur=etat',
      ]);
      expect(res.headers.getSetCookie().some((c) => /^passerelle_session=[^;]/.test(c))).toBe(false);
    }
    const res = await fetch(altered, { redirect: 'manual', headers: { cookie: second.jar.header(t.url) } });
    expect(res.headers.get('location')).toBe('/console/connexion?erreur=etat');
    // and the code itself, with the right cookie and state, still signs in once
    const ok = await fetch(callback, { redirect: 'manual', headers: { cookie: second.jar.header(t.url) } });
    expect(ok.headers.get('location')).toBe('/console/');
    expect(ok.headers.getSetCookie().some((c) => /^passerelle_session=[A-Za-z0-9_-]{43};/.test(c))).toBe(
      true,
    );
  });
});

describe('console sign-in with OpenID Connect as a public client (PKCE, no secret)', () => {
  let publicIdp: OidcTestProvider;
  let svc: TestService;
  const where = tempDir('passerelle-oidc-public-');

  beforeAll(async () => {
    publicIdp = await startOidcProvider({ users, clientSecret: null });
    const configFile = join(where.path, 'passerelle.yaml');
    writeFileSync(
      configFile,
      JSON.stringify({
        console: {
          oidc: {
            issuer: publicIdp.issuer,
            clientId: publicIdp.clientId,
            scopes: 'openid profile passerelle',
            roleClaim: TEST_ROLE_CLAIM,
            roleMap: { secretariat: 'viewer' },
            allowInsecureIssuer: true,
          },
        },
      }),
    );
    svc = await startTestService({ modules: [consoleAuthModule()], env: { PASSERELLE_CONFIG: configFile } });
    publicIdp.allowRedirects([`${svc.url}/console/auth/oidc/callback`]);
  }, 30_000);
  afterAll(async () => {
    await svc?.dispose();
    await publicIdp?.close();
    where.remove();
  });

  it('signs in without a client secret, not limiting anyone when no practice claim is configured', async () => {
    const r = await signInWithOidc(`${svc.url}/console/auth/oidc`, 'secretaire-a', {
      issuer: publicIdp.issuer,
    });
    expect(r.location).toBe(`${svc.url}/console/`);
    const me = await fetch(`${svc.url}/api/v1/session`, { headers: { cookie: cookieFor(r.sessionToken) } });
    expect(await me.json()).toMatchObject({
      via: 'oidc',
      role: 'viewer',
      practiceId: null,
      label: 'Camille Fictive',
    });
  });
});
