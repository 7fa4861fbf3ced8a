/**
 * Console sessions (issue 19) through the real service on 127.0.0.1 and a SQLite file: an API
 * key exchanged for an HttpOnly cookie, the cookie standing for the key on the admin API (role,
 * practice scope, audit), the CSRF token on every change, the idle timeout and the absolute cap
 * on an injected clock, revocation, sign-out, and failed sign-ins throttled like failed keys.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import type { SessionView } from '../../../src/api/session-view.js';
import { consoleAuthModule } from '../../../src/app/features/console-auth.js';
import { createApiKey } from '../../../src/security/api-keys.js';
import type { AuditEvent } from '../../../src/store/types.js';
import { startTestService, type TestService } from '../../helpers/service.js';
import { testClock } from '../../helpers/stores.js';

const clock = testClock();
let t: TestService;
const A = 'cab-session-a';
const B = 'cab-session-b';

interface SignedIn {
  readonly status: number;
  readonly setCookie: string;
  /** `passerelle_session=<token>`, as a Cookie header. */
  readonly cookie: string;
  readonly body: SessionView & { error?: { code: string } };
  readonly headers: Headers;
}

async function signIn(apiKey: string, headers: Record<string, string> = {}): Promise<SignedIn> {
  const res = await fetch(`${t.url}/api/v1/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ apiKey }),
  });
  const setCookie = res.headers.getSetCookie().find((c) => c.startsWith('passerelle_session=')) ?? '';
  return {
    status: res.status,
    setCookie,
    cookie: setCookie.split(';')[0] ?? '',
    body: (await res.json()) as SignedIn['body'],
    headers: res.headers,
  };
}

function withCookie(
  path: string,
  cookie: string,
  init: { method?: string; csrf?: string; json?: unknown } = {},
): Promise<Response> {
  const headers: Record<string, string> = { cookie };
  if (init.csrf !== undefined) headers['x-csrf-token'] = init.csrf;
  if (init.json !== undefined) headers['content-type'] = 'application/json';
  return fetch(`${t.url}${path}`, {
    method: init.method ?? 'GET',
    headers,
    ...(init.json !== undefined && { body: JSON.stringify(init.json) }),
  });
}

async function newKey(role: 'admin' | 'integrator' | 'viewer', practiceId: string | null = null) {
  return createApiKey(t.service.store, {
    role,
    practiceId,
    label: `clé ${role}`,
    createdBy: 'test',
    via: 'test',
  });
}

async function auditOf(action: string): Promise<AuditEvent[]> {
  return t.service.store.audit.list({ action });
}

beforeAll(async () => {
  t = await startTestService({
    now: clock,
    modules: [consoleAuthModule()],
    env: { PASSERELLE_HTTP_TRUST_PROXY: 'true', PASSERELLE_CONSOLE_SESSION_MAX_HOURS: '2' },
  });
  for (const id of [A, B])
    expect(
      (await t.api('/api/v1/practices', { method: 'POST', json: { id, name: `Cabinet ${id}` } })).status,
    ).toBe(201);
});
afterAll(async () => {
  await t?.dispose();
});

describe('console sign-in with an API key', () => {
  it('answers the session and sets an HttpOnly, SameSite=Strict cookie on / (not Secure over plain HTTP)', async () => {
    const { key, record } = await newKey('admin');
    const s = await signIn(key);
    expect(s.status).toBe(201);
    expect(s.setCookie).toMatch(/^passerelle_session=[A-Za-z0-9_-]{43};/);
    expect(s.setCookie).toMatch(/; HttpOnly/);
    expect(s.setCookie).toMatch(/; SameSite=Strict/);
    expect(s.setCookie).toMatch(/; Path=\//);
    expect(s.setCookie).toMatch(/; Max-Age=7200/);
    expect(s.setCookie).not.toMatch(/; Secure/);
    expect(s.headers.get('cache-control')).toBe('no-store');
    expect(s.body).toEqual({
      actor: record.id,
      label: 'clé admin',
      role: 'admin',
      practiceId: null,
      via: 'key',
      csrfToken: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      idleTimeoutSeconds: 1800,
      expiresAt: new Date(clock() + 7_200_000).toISOString(),
      grants: ['admin', 'integrator', 'viewer'],
    });
    const created = (await auditOf('session.create')).find((e) => e.actor === record.id);
    expect(created).toMatchObject({ outcome: 'success', role: 'admin', via: 'console' });
    const token = s.cookie.split('=')[1] as string;
    const trail = JSON.stringify(await t.service.store.audit.list({}));
    expect(trail).not.toContain(token);
    expect(trail).not.toContain(key);
    expect(trail).not.toContain(s.body.csrfToken as string);
  });

  it('marks the cookie Secure when the request came over HTTPS through the trusted proxy', async () => {
    const { key } = await newKey('viewer');
    const s = await signIn(key, { 'x-forwarded-proto': 'https' });
    expect(s.status).toBe(201);
    expect(s.setCookie).toMatch(/; Secure/);
  });

  it('tells the sign-in page that OpenID Connect is off when it is not configured', async () => {
    const res = await fetch(`${t.url}/api/v1/session/options`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ oidc: { enabled: false, label: null } });
    const start = await fetch(`${t.url}/console/auth/oidc`, { redirect: 'manual' });
    expect(start.status).toBe(302);
    expect(start.headers.get('location')).toBe('/console/connexion?erreur=indisponible');
  });

  it('authenticates reads with the cookie alone, and shows the session with its CSRF token', async () => {
    const { key } = await newKey('integrator');
    const s = await signIn(key);
    const list = await withCookie('/api/v1/practices', s.cookie);
    expect(list.status).toBe(200);
    const me = await withCookie('/api/v1/session', s.cookie);
    expect(me.status).toBe(200);
    expect(await me.json()).toEqual(s.body);
  });

  it('shows a bearer key what it is, without a CSRF token', async () => {
    const { key, record } = await newKey('viewer', A);
    const res = await t.api('/api/v1/session', { key });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      actor: record.id,
      label: 'clé viewer',
      role: 'viewer',
      practiceId: A,
      via: 'key',
      grants: ['viewer'],
    });
  });

  it('refuses a change made with the cookie without its CSRF token (403 ERR_CSRF), and accepts it with the token', async () => {
    const { key } = await newKey('admin');
    const s = await signIn(key);
    const json = { name: 'Cabinet CSRF' };
    const none = await withCookie('/api/v1/practices', s.cookie, { method: 'POST', json });
    expect(none.status).toBe(403);
    expect(((await none.json()) as { error: { code: string } }).error.code).toBe('ERR_CSRF');
    const wrong = await withCookie('/api/v1/practices', s.cookie, {
      method: 'POST',
      json,
      csrf: 'x'.repeat(43),
    });
    expect(wrong.status).toBe(403);
    expect(((await wrong.json()) as { error: { code: string } }).error.code).toBe('ERR_CSRF');
    expect((await t.api('/api/v1/practices')).status).toBe(200);
    const names = ((await (await t.api('/api/v1/practices')).json()) as { items: { name: string }[] }).items;
    expect(names.map((p) => p.name)).not.toContain('Cabinet CSRF');
    const ok = await withCookie('/api/v1/practices', s.cookie, {
      method: 'POST',
      json,
      csrf: s.body.csrfToken as string,
    });
    expect(ok.status).toBe(201);
    const created = (await ok.json()) as { id: string };
    const audited = (await auditOf('practice.create')).find((e) => e.resourceId === created.id);
    expect(audited?.actor).toBe(s.body.actor);
  });

  it('ends a session left idle longer than console.sessionIdleMinutes, and audits it', async () => {
    const { key } = await newKey('viewer');
    const s = await signIn(key);
    clock.advance(29 * 60_000);
    expect((await withCookie('/api/v1/session', s.cookie)).status).toBe(200);
    clock.advance(29 * 60_000); // 58 minutes after sign-in, 29 after the last request
    expect((await withCookie('/api/v1/session', s.cookie)).status).toBe(200);
    clock.advance(30 * 60_000);
    const expired = await withCookie('/api/v1/session', s.cookie);
    expect(expired.status).toBe(401);
    const body = (await expired.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('ERR_AUTH_REQUIRED');
    expect(body.error.message).toContain('the console session expired');
    expect(expired.headers.getSetCookie().join()).toMatch(/passerelle_session=;.*Expires=Thu, 01 Jan 1970/);
    const audited = (await auditOf('session.expired')).find((e) => e.actor === s.body.actor);
    expect(audited).toMatchObject({ outcome: 'denied', details: { reason: 'idle' } });
    expect((await withCookie('/api/v1/session', s.cookie)).status).toBe(401);
  });

  it('ends a session at console.sessionMaxHours however active', async () => {
    const { key } = await newKey('viewer');
    const s = await signIn(key);
    for (let i = 0; i < 4; i++) {
      clock.advance(25 * 60_000);
      expect((await withCookie('/api/v1/session', s.cookie)).status).toBe(200);
    }
    clock.advance(25 * 60_000); // 125 minutes after sign-in, 25 after the last request
    const expired = await withCookie('/api/v1/session', s.cookie);
    expect(expired.status).toBe(401);
    expect(((await expired.json()) as { error: { message: string } }).error.message).toContain('expired');
    const audited = (await auditOf('session.expired')).find((e) => e.actor === s.body.actor);
    expect(audited?.details).toEqual({ reason: 'max' });
  });

  it('ends the sessions of a revoked key', async () => {
    const { key, record } = await newKey('integrator');
    const s = await signIn(key);
    expect((await withCookie('/api/v1/practices', s.cookie)).status).toBe(200);
    await t.service.store.apiKeys.revoke(record.id);
    const refused = await withCookie('/api/v1/practices', s.cookie);
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('ERR_AUTH_REQUIRED');
    expect(await t.service.store.consoleSessions.endForKey(record.id)).toBe(0);
    expect((await signIn(key)).status).toBe(401);
    clock.advance(2 * 60_000); // a fresh throttle window for the tests after this one
  });

  it("refuses a practice-limited session on another practice's data exactly like its key", async () => {
    const { key, record } = await newKey('viewer', A);
    const s = await signIn(key);
    expect(s.body.practiceId).toBe(A);
    for (const [path, status] of [
      [`/api/v1/practices/${A}`, 200],
      [`/api/v1/practices/${B}`, 403],
      [`/api/v1/links?practiceId=${B}`, 403],
      [`/api/v1/links?practiceId=${A}`, 200],
    ] as const) {
      const byCookie = await withCookie(path, s.cookie);
      const byKey = await t.api(path, { key });
      expect([path, byCookie.status]).toEqual([path, status]);
      expect([path, byKey.status]).toEqual([path, status]);
      if (status === 403)
        expect(((await byCookie.json()) as { error: { code: string } }).error.code).toBe(
          'ERR_AUTH_FORBIDDEN',
        );
    }
    const denied = (await t.service.store.audit.list({ actor: record.id })).filter(
      (e) => e.outcome === 'denied',
    );
    expect(denied.length).toBe(4);
    expect(denied.every((e) => e.details['reason'] === 'practice scope')).toBe(true);
    // and its role, like its key's: a viewer may not create a practice
    const post = await withCookie('/api/v1/practices', s.cookie, {
      method: 'POST',
      json: { name: 'Cabinet refusé' },
      csrf: s.body.csrfToken as string,
    });
    expect(post.status).toBe(403);
    expect(((await post.json()) as { error: { code: string } }).error.code).toBe('ERR_AUTH_FORBIDDEN');
  });

  it('signs out: the session ends, the cookie is cleared and no longer works', async () => {
    const { key } = await newKey('viewer');
    const s = await signIn(key);
    expect((await withCookie('/api/v1/session', s.cookie, { method: 'DELETE' })).status).toBe(403);
    const out = await withCookie('/api/v1/session', s.cookie, {
      method: 'DELETE',
      csrf: s.body.csrfToken as string,
    });
    expect(out.status).toBe(204);
    expect(out.headers.getSetCookie().join()).toMatch(/passerelle_session=;/);
    expect((await withCookie('/api/v1/session', s.cookie)).status).toBe(401);
    const ended = (await auditOf('session.end')).find((e) => e.actor === s.body.actor);
    expect(ended?.details).toEqual({ reason: 'sign-out' });
    clock.advance(2 * 60_000);
  });

  it('throttles failed sign-ins per address and audits them like failed key authentications', async () => {
    clock.advance(2 * 60_000);
    const { key } = await newKey('admin');
    const client = { 'x-forwarded-for': '203.0.113.7' };
    const before = (await auditOf('auth.failed')).length;
    for (let i = 0; i < 10; i++) {
      const s = await signIn(`psk_wrong-${i}`, client);
      expect(s.status).toBe(401);
      expect(s.setCookie).toBe('');
    }
    const blocked = await signIn(key, client);
    expect(blocked.status).toBe(429);
    expect(blocked.body.error?.code).toBe('ERR_RATE_LIMITED');
    expect(blocked.setCookie).toBe('');
    const failed = (await auditOf('auth.failed')).slice(before);
    expect(failed).toHaveLength(10);
    expect(failed[0]).toMatchObject({
      actor: 'anonymous',
      outcome: 'failure',
      details: {
        client: '203.0.113.7',
        failure: 'unknown-key',
        keyHashPrefix: expect.stringMatching(/^[0-9a-f]{12}$/),
      },
    });
    expect(JSON.stringify(failed)).not.toContain('psk_wrong');
    expect((await auditOf('auth.throttled')).some((e) => e.details['client'] === '203.0.113.7')).toBe(true);
    // another address is not affected
    expect((await signIn(key, { 'x-forwarded-for': '203.0.113.8' })).status).toBe(201);
    clock.advance(2 * 60_000);
  });

  it('does not count the console asking « who is signed in? » without any credential: people opening the sign-in page behind one address are never throttled', async () => {
    clock.advance(2 * 60_000);
    const office = { 'x-forwarded-for': '203.0.113.9' };
    const before = (await auditOf('auth.failed')).length;
    for (let i = 0; i < 25; i++) {
      const res = await fetch(`${t.url}/api/v1/session`, { headers: office });
      expect(res.status).toBe(401);
    }
    expect((await auditOf('auth.failed')).slice(before)).toHaveLength(0);
    const { key } = await newKey('viewer');
    expect((await signIn(key, office)).status).toBe(201);
    // Any other route without a key still counts, as does a wrong key on the probe itself.
    expect((await fetch(`${t.url}/api/v1/practices`, { headers: office })).status).toBe(401);
    const wrong = await fetch(`${t.url}/api/v1/session`, {
      headers: { ...office, authorization: 'Bearer psk_wrong-probe' },
    });
    expect(wrong.status).toBe(401);
    const failed = (await auditOf('auth.failed')).slice(before);
    expect(failed.map((e) => e.details['failure'])).toEqual(['no-key', 'unknown-key']);
    clock.advance(2 * 60_000);
  });

  it('counts an unknown session cookie as a failed authentication and clears it', async () => {
    const res = await withCookie('/api/v1/practices', `passerelle_session=${'A'.repeat(43)}`);
    expect(res.status).toBe(401);
    expect(res.headers.getSetCookie().join()).toMatch(/passerelle_session=;/);
    const last = (await auditOf('auth.failed')).at(-1);
    expect(last?.details).toMatchObject({ failure: 'unknown-key', keyHashPrefix: null });
  });
});
