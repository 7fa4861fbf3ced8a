/**
 * The practitioner mapping routes through HTTP: integrators list and decide a practice's
 * practitioner mapping reviews; a key limited to one practice sees nothing of another's and
 * cannot decide them; viewers cannot read them; each decision is audited.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { defaultModules } from '../../../src/app/modules.js';
import type { Practitioner } from '../../../src/model/resources.js';
import { createApiKey } from '../../../src/security/api-keys.js';
import { startTestService, type TestService } from '../../helpers/service.js';

const A = 'cab-map-a';
const B = 'cab-map-b';

describe.each(['sqlite', 'postgres'] as const)(
  'practitioner mappings through the HTTP API (%s store)',
  (storeKind) => {
    let t: TestService;
    const keys: Record<'all' | 'limitedA' | 'viewer', string> = { all: '', limitedA: '', viewer: '' };

    beforeAll(async () => {
      t = await startTestService({ store: storeKind, modules: defaultModules() });
      const { store } = t.service;
      for (const practiceId of [A, B]) {
        await store.practices.create({ id: practiceId, name: `Cabinet ${practiceId}` });
        const link = await store.links.create({
          id: `${practiceId}-link`,
          practiceId,
          role: 'practice',
          connector: 'hl7v2',
          name: 'Logiciel',
          config: { mllp: { listen: { host: '127.0.0.1', port: 0 } } },
          isTest: true,
          enabled: false,
        });
        const doctor: Practitioner = {
          resourceType: 'Practitioner',
          id: `${practiceId}-doc`,
          active: true,
          name: [{ family: 'FICTIF' }],
        };
        await store.resources.put({
          id: doctor.id as string,
          practiceId,
          kind: 'Practitioner',
          data: doctor as never,
          origin: 'practice',
          expectedVersion: 0,
        });
        await store.practitionerMappings.open({
          practiceId,
          linkId: link.id,
          localId: 'DR 7',
          proposal: { name: [{ family: 'FICTIF' }] },
        });
      }
      keys.all = (await createApiKey(store, { role: 'integrator', createdBy: 'test', via: 'test' })).key;
      keys.limitedA = (
        await createApiKey(store, { role: 'integrator', practiceId: A, createdBy: 'test', via: 'test' })
      ).key;
      keys.viewer = (await createApiKey(store, { role: 'viewer', createdBy: 'test', via: 'test' })).key;
    }, 30_000);
    afterAll(async () => {
      await t.dispose();
    });

    const resolve = (practiceId: string, body: object, key: string, localId = 'DR 7') =>
      t.api(`/api/v1/links/${practiceId}-link/practitioner-mappings/${encodeURIComponent(localId)}/resolve`, {
        method: 'POST',
        key,
        json: body,
      });

    it('lists the open reviews of the key’s practice only', async () => {
      const mine = await t.api('/api/v1/practitioner-mappings?status=open', { key: keys.limitedA });
      expect(mine.status).toBe(200);
      expect(
        ((await mine.json()) as { items: { practiceId: string; localId: string }[] }).items.map((m) => [
          m.practiceId,
          m.localId,
        ]),
      ).toEqual([[A, 'DR 7']]);
      const all = (await (await t.api('/api/v1/practitioner-mappings', { key: keys.all })).json()) as {
        items: unknown[];
      };
      expect(all.items).toHaveLength(2);
      const perLink = await t.api(`/api/v1/links/${A}-link/practitioner-mappings`, { key: keys.limitedA });
      expect(((await perLink.json()) as { items: { held: number }[] }).items).toEqual([
        expect.objectContaining({ localId: 'DR 7', status: 'open', held: 0 }),
      ]);
    });

    it('refuses another practice’s mappings and viewers, changing nothing', async () => {
      expect(
        (await t.api(`/api/v1/practitioner-mappings?practiceId=${B}`, { key: keys.limitedA })).status,
      ).toBe(403);
      expect(
        (await t.api(`/api/v1/links/${B}-link/practitioner-mappings`, { key: keys.limitedA })).status,
      ).toBe(403);
      expect((await resolve(B, { practitionerId: `${B}-doc` }, keys.limitedA)).status).toBe(403);
      expect((await t.api('/api/v1/practitioner-mappings', { key: keys.viewer })).status).toBe(403);
      expect((await resolve(A, { practitionerId: `${A}-doc` }, keys.viewer)).status).toBe(403);
      expect((await t.service.store.practitionerMappings.get(`${B}-link`, 'DR 7'))?.status).toBe('open');
      expect((await t.service.store.practitionerMappings.get(`${A}-link`, 'DR 7'))?.status).toBe('open');
    });

    it('refuses mapping to a practitioner of another practice', async () => {
      const res = await resolve(A, { practitionerId: `${B}-doc` }, keys.all);
      expect(res.status).toBe(400);
      expect((await t.service.store.practitionerMappings.get(`${A}-link`, 'DR 7'))?.status).toBe('open');
    });

    it('decides once, audited; a second decision or an unknown id is refused', async () => {
      const res = await resolve(A, { practitionerId: `${A}-doc` }, keys.limitedA);
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({
        status: 'mapped',
        practitionerId: `${A}-doc`,
        resolution: 'existing',
        released: [],
      });
      expect(await t.service.store.identityMap.findCanonical(`${A}-link`, 'Practitioner', 'DR 7')).toBe(
        `${A}-doc`,
      );
      const [event] = await t.service.store.audit.list({ action: 'practitioner-mapping.resolve' });
      expect(event).toMatchObject({
        practiceId: A,
        resourceType: 'Practitioner',
        resourceId: `${A}-doc`,
        outcome: 'success',
      });
      expect((await resolve(A, { practitionerId: `${A}-doc` }, keys.limitedA)).status).toBe(409);
      expect((await resolve(A, { practitionerId: `${A}-doc` }, keys.limitedA, 'NOBODY')).status).toBe(404);
      expect((await resolve(A, { rpps: '123' }, keys.limitedA, 'NOBODY')).status).toBe(400);
    });
  },
);
