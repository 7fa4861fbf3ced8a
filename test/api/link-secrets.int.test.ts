/**
 * Issue 16's exfiltration, replayed: an integrator key limited to one practice pointed another
 * practice's secretariat link at a server of its own, and the next push carried that
 * practice's patients and the link's platform token there. Now the request is refused, and
 * even on one's own link a new endpoint without the secrets again drops them.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { defaultModules } from '../../src/app/modules.js';
import { createApiKey } from '../../src/security/api-keys.js';
import { startTestService, type TestService } from '../helpers/service.js';

describe.each(['sqlite', 'postgres'] as const)(
  'a link’s endpoint and its secrets (%s store)',
  (storeKind) => {
    let t: TestService;
    let keyOfA: string;

    const createLink = async (practiceId: string, id: string) => {
      const res = await t.api('/api/v1/links', {
        method: 'POST',
        json: {
          id,
          practiceId,
          role: 'secretariat',
          connector: 'secretariat',
          name: 'Plateforme',
          config: { baseUrl: 'http://127.0.0.1:9/api', platformPracticeId: 'cab' },
          secrets: { token: 'platform-token-value' },
          isTest: true,
          enabled: false,
        },
      });
      expect(res.status).toBe(201);
    };

    beforeAll(async () => {
      t = await startTestService({ store: storeKind, modules: defaultModules() });
      await t.service.store.practices.create({ id: 'cab-a', name: 'Cabinet A' });
      await t.service.store.practices.create({ id: 'cab-b', name: 'Cabinet B' });
      await createLink('cab-a', 'link-a');
      await createLink('cab-b', 'link-b');
      keyOfA = (
        await createApiKey(t.service.store, {
          role: 'integrator',
          practiceId: 'cab-a',
          createdBy: 'test',
          via: 'test',
        })
      ).key;
    });
    afterAll(async () => {
      await t.dispose();
    });

    it('refuses with 403 a key of practice A pointing practice B’s link elsewhere, disabling or deleting it, and changes nothing', async () => {
      const before = await t.service.store.links.require('link-b');
      const patch = await t.api('/api/v1/links/link-b', {
        method: 'PATCH',
        key: keyOfA,
        json: { config: { baseUrl: 'http://127.0.0.1:1/capture', platformPracticeId: 'cab' } },
      });
      expect(patch.status).toBe(403);
      expect(((await patch.json()) as { error: { code: string } }).error.code).toBe('ERR_AUTH_FORBIDDEN');
      expect(
        (await t.api('/api/v1/links/link-b', { method: 'PATCH', key: keyOfA, json: { enabled: true } }))
          .status,
      ).toBe(403);
      expect((await t.api('/api/v1/links/link-b', { method: 'DELETE', key: keyOfA })).status).toBe(403);
      expect(
        (
          await t.api('/api/v1/links', {
            method: 'POST',
            key: keyOfA,
            json: { practiceId: 'cab-b', role: 'practice', connector: 'hl7v2', name: 'x' },
          })
        ).status,
      ).toBe(403);
      expect(await t.service.store.links.require('link-b')).toEqual(before);
      const denied = await t.service.store.audit.list({ action: 'PATCH /api/v1/links/:id', limit: 10 });
      expect(denied.filter((e) => e.outcome === 'denied').length).toBeGreaterThanOrEqual(2);
    });

    it('drops the secrets of one’s own link when its URL changes without them, and audits before and after without them', async () => {
      const res = await t.api('/api/v1/links/link-a', {
        method: 'PATCH',
        key: keyOfA,
        json: { config: { baseUrl: 'http://127.0.0.1:2/elsewhere', platformPracticeId: 'cab' } },
      });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { hasSecrets: boolean }).hasSecrets).toBe(false);
      expect((await t.service.store.links.require('link-a')).secrets).toBeNull();
      const [event] = await t.service.store.audit.list({
        action: 'link.update',
        resourceId: 'link-a',
        limit: 1,
      });
      expect(event?.details).toMatchObject({
        endpointChanged: ['config.baseUrl'],
        secretsDropped: true,
        before: {
          hasSecrets: true,
          config: { baseUrl: 'http://127.0.0.1:9/api', platformPracticeId: 'cab' },
        },
        after: { hasSecrets: false },
      });
      expect(JSON.stringify(event)).not.toContain('platform-token-value');
    });

    it('keeps the secrets supplied again with the new URL, and those of a change that leaves the endpoint alone', async () => {
      const moved = await t.api('/api/v1/links/link-a', {
        method: 'PATCH',
        key: keyOfA,
        json: {
          config: { baseUrl: 'http://127.0.0.1:3/api', platformPracticeId: 'cab' },
          secrets: { token: 'new-token' },
        },
      });
      expect(((await moved.json()) as { hasSecrets: boolean }).hasSecrets).toBe(true);
      const renamed = await t.api('/api/v1/links/link-a', {
        method: 'PATCH',
        key: keyOfA,
        json: {
          name: 'Plateforme (nouveau nom)',
          config: { baseUrl: 'http://127.0.0.1:3/api', platformPracticeId: 'cab' },
        },
      });
      expect(renamed.status).toBe(200);
      expect(((await renamed.json()) as { hasSecrets: boolean }).hasSecrets).toBe(true);
    });
  },
);
