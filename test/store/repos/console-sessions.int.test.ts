/**
 * The console sessions repository (0009_console_sessions) on both stores: found by the hash of
 * the cookie's token, ended one by one, per API key, or when idle or past their cap.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { hashSecret } from '../../../src/security/api-keys.js';
import type { Store } from '../../../src/store/index.js';
import {
  openTestStore,
  STORE_KINDS,
  type StoreKind,
  testClock,
  type TestStore,
} from '../../helpers/stores.js';

describe.each(STORE_KINDS)('console sessions repository (%s)', (kind: StoreKind) => {
  const clock = testClock();
  let t: TestStore;
  let store: Store;
  let keyId: string;

  beforeAll(async () => {
    t = await openTestStore(kind, { now: clock });
    store = t.store;
    keyId = (
      await store.apiKeys.create({ keyHash: hashSecret('psk_test'), prefix: 'psk_te', role: 'viewer' })
    ).id;
  });
  afterAll(async () => {
    await t.dispose();
  });

  const open = (token: string, extra: { keyId?: string | null; hours?: number } = {}) =>
    store.consoleSessions.create({
      tokenHash: hashSecret(token),
      actor: extra.keyId ?? 'oidc:idp.example:42',
      label: 'Secrétariat',
      role: 'viewer',
      practiceId: 'cab-a',
      via: extra.keyId ? 'key' : 'oidc',
      keyId: extra.keyId ?? null,
      csrfToken: `csrf-${token}`,
      expiresAt: new Date(clock() + (extra.hours ?? 12) * 3_600_000).toISOString(),
    });

  it('finds a session by the hash of its token and never stores the token', async () => {
    const created = await open('token-one', { keyId });
    const found = await store.consoleSessions.findByTokenHash(hashSecret('token-one'));
    expect(found).toEqual({ session: created, keyRevoked: false });
    expect(created).toMatchObject({ actor: keyId, role: 'viewer', practiceId: 'cab-a', via: 'key', keyId });
    expect(await store.consoleSessions.findByTokenHash('token-one')).toBeUndefined();
    const rows = await store.db.selectFrom('console_sessions').selectAll().execute();
    expect(JSON.stringify(rows)).not.toContain('"token-one"');
  });

  it('tells that the key of a session was revoked, and ends every session of that key', async () => {
    const other = (
      await store.apiKeys.create({ keyHash: hashSecret('psk_b'), prefix: 'psk_b', role: 'admin' })
    ).id;
    await open('token-key-1', { keyId: other });
    await open('token-key-2', { keyId: other });
    await store.apiKeys.revoke(other);
    expect((await store.consoleSessions.findByTokenHash(hashSecret('token-key-1')))?.keyRevoked).toBe(true);
    expect(await store.consoleSessions.endForKey(other)).toBe(2);
    expect(await store.consoleSessions.findByTokenHash(hashSecret('token-key-2'))).toBeUndefined();
  });

  it('keeps an OIDC session, which has no key, not revoked', async () => {
    await open('token-oidc');
    const found = await store.consoleSessions.findByTokenHash(hashSecret('token-oidc'));
    expect(found?.keyRevoked).toBe(false);
    expect(found?.session).toMatchObject({ via: 'oidc', keyId: null, actor: 'oidc:idp.example:42' });
  });

  it('moves last-seen forward on touch and ends a session once', async () => {
    const s = await open('token-touch', { keyId });
    clock.advance(45_000);
    await store.consoleSessions.touch(s.id);
    expect((await store.consoleSessions.get(s.id))?.lastSeenAt).toBe(new Date(clock()).toISOString());
    expect(await store.consoleSessions.end(s.id)).toBe(true);
    expect(await store.consoleSessions.end(s.id)).toBe(false);
  });

  it('sweeps the sessions idle since a time or past their cap, and only those', async () => {
    const idle = await open('token-idle', { keyId });
    clock.advance(20 * 60_000);
    const capped = await open('token-capped', { keyId, hours: 1 });
    const alive = await open('token-alive', { keyId });
    clock.advance(61 * 60_000);
    await store.consoleSessions.touch(alive.id);
    const idleSince = new Date(clock() - 30 * 60_000).toISOString();
    expect(await store.consoleSessions.endExpired(idleSince)).toBeGreaterThanOrEqual(2);
    expect(await store.consoleSessions.get(idle.id)).toBeUndefined();
    expect(await store.consoleSessions.get(capped.id)).toBeUndefined();
    expect(await store.consoleSessions.get(alive.id)).toBeDefined();
  });
});
