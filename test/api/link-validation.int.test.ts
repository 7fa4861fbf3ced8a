/**
 * Issue 17: `POST` and `PATCH /api/v1/links` check the link's connector, config and mapping
 * profile through the connector registry before anything is stored: a link that could never
 * start is refused with 422 naming each bad field, and nothing is written (no link, no audit
 * event, the stored link unchanged).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { startTestService, type TestService } from '../helpers/service.js';

interface Refusal {
  readonly error: {
    readonly code: string;
    readonly message: string;
    readonly details: { readonly issues: readonly { readonly path: string; readonly message: string }[] };
  };
}

const MLLP = { mllp: { listen: { host: '127.0.0.1', port: 0 } } };

describe.each(['sqlite', 'postgres'] as const)(
  'link validation through the registry (%s store)',
  (storeKind) => {
    let t: TestService;
    let practiceId: string;

    beforeAll(async () => {
      t = await startTestService({ store: storeKind });
      practiceId = (
        (await (
          await t.api('/api/v1/practices', { method: 'POST', json: { name: 'Cabinet validé' } })
        ).json()) as { id: string }
      ).id;
    });
    afterAll(async () => {
      await t.dispose();
    });

    const post = (json: object) =>
      t.api('/api/v1/links', {
        method: 'POST',
        json: { practiceId, role: 'practice', name: 'Logiciel', ...json },
      });
    const refused = async (res: Response): Promise<Refusal['error']> => {
      expect(res.status).toBe(422);
      return ((await res.json()) as Refusal).error;
    };
    const stored = async () => (await t.service.store.links.list({ practiceId })).map((l) => l.id).sort();
    const linkEvents = async () =>
      (await t.service.store.audit.list({ limit: 1000 })).filter((e) => e.action.startsWith('link.')).length;

    it('refuses an unknown connector, a config failing its schema and an unknown or incompatible profile with 422 naming the field, and stores nothing', async () => {
      const before = { links: await stored(), events: await linkEvents() };

      const unknown = await refused(await post({ id: 'lnk-fax', connector: 'fax' }));
      expect(unknown.code).toBe('ERR_CONNECTOR_CONFIG_INVALID');
      expect(unknown.message).toContain('unknown connector fax');
      expect(unknown.details.issues.map((i) => i.path)).toEqual(['body.connector']);

      const badConfig = await refused(
        await post({
          id: 'lnk-bad-config',
          connector: 'fhir',
          config: { baseUrl: 'ftp://x', pageSize: 0, colour: 'blue' },
        }),
      );
      expect(badConfig.code).toBe('ERR_CONNECTOR_CONFIG_INVALID');
      expect(badConfig.details.issues.map((i) => i.path).sort()).toEqual([
        'body.config',
        'body.config.baseUrl',
        'body.config.pageSize',
      ]);

      const noConfig = await refused(await post({ id: 'lnk-no-config', connector: 'hl7v2' }));
      expect(noConfig.details.issues).toEqual([
        { path: 'body.config', message: expect.stringContaining('mllp.listen') },
      ]);

      const unknownProfile = await refused(
        await post({ id: 'lnk-bad-profile', connector: 'hl7v2', config: MLLP, profile: 'hl7v2-ihe-pam-fx' }),
      );
      expect(unknownProfile.details.issues).toEqual([
        { path: 'body.profile', message: expect.stringContaining('hl7v2-ihe-pam-fr') },
      ]);

      const otherProtocol = await refused(
        await post({ id: 'lnk-fhir-profile', connector: 'hl7v2', config: MLLP, profile: 'fhir-r4-fr-core' }),
      );
      expect(otherProtocol.details.issues).toEqual([
        {
          path: 'body.profile',
          message: 'profile fhir-r4-fr-core is fhir-r4; a hl7v2 link needs a hl7v2 profile',
        },
      ]);

      const noProfiles = await refused(
        await post({
          id: 'lnk-sec-profile',
          role: 'secretariat',
          connector: 'secretariat',
          config: { baseUrl: 'https://platform.example', platformPracticeId: 'p1' },
          profile: 'hl7v2-ihe-pam-fr',
        }),
      );
      expect(noProfiles.details.issues).toEqual([
        { path: 'body.profile', message: 'connector secretariat takes no mapping profile' },
      ]);

      expect(await stored()).toEqual(before.links);
      expect(await linkEvents()).toBe(before.events);
    });

    it('still creates and changes links whose config and profile are valid', async () => {
      const created = await post({
        id: `lnk-ok-${storeKind}`,
        connector: 'hl7v2',
        config: MLLP,
        profile: 'hl7v2-generic-2.5',
      });
      expect(created.status).toBe(201);
      expect(await created.json()).toMatchObject({
        connector: 'hl7v2',
        profile: 'hl7v2-generic-2.5',
        config: MLLP,
      });
      const fhir = await post({
        id: `lnk-fhir-${storeKind}`,
        connector: 'fhir',
        config: { baseUrl: 'https://fhir.example/r4' },
      });
      expect(fhir.status).toBe(201);
      // The config is stored as given (defaults are applied when the link starts).
      expect(((await fhir.json()) as { config: object }).config).toEqual({
        baseUrl: 'https://fhir.example/r4',
      });

      const patched = await t.api(`/api/v1/links/lnk-ok-${storeKind}`, {
        method: 'PATCH',
        json: { profile: null, config: { mllp: { listen: { host: '127.0.0.1', port: 2575 } } } },
      });
      expect(patched.status).toBe(200);
      expect(await patched.json()).toMatchObject({ profile: null, version: 2 });
    });

    it('refuses a plain-http platform URL on a link that is not a test link, as the link start would, and accepts it on a test link or loopback', async () => {
      const before = { links: await stored(), events: await linkEvents() };
      const secretariat = (id: string, baseUrl: string, isTest?: boolean) =>
        post({
          id,
          role: 'secretariat',
          connector: 'secretariat',
          config: { baseUrl, platformPracticeId: 'p1' },
          ...(isTest !== undefined && { isTest }),
        });
      const plain = await refused(await secretariat('lnk-plain-http', 'http://plateforme.example.fr'));
      expect(plain.details.issues).toEqual([
        { path: 'body.config.baseUrl', message: expect.stringContaining('must be https') },
      ]);
      expect(await stored()).toEqual(before.links);
      expect(await linkEvents()).toBe(before.events);

      expect((await secretariat('lnk-test-http', 'http://plateforme.example.fr', true)).status).toBe(201);
      expect((await secretariat('lnk-loopback-http', 'http://127.0.0.1:4010')).status).toBe(201);
      // Turning the test flag off would make the link unstartable: refused, the link unchanged.
      const unflag = await refused(
        await t.api('/api/v1/links/lnk-test-http', { method: 'PATCH', json: { isTest: false } }),
      );
      expect(unflag.details.issues.map((i) => i.path)).toEqual(['body.config.baseUrl']);
      expect((await t.service.store.links.require('lnk-test-http')).isTest).toBe(true);
    });

    it('refuses a PATCH that would make a stored link unstartable, and leaves the link as it was', async () => {
      const id = `lnk-patch-${storeKind}`;
      expect((await post({ id, connector: 'hl7v2', config: MLLP })).status).toBe(201);
      const before = await t.service.store.links.require(id);
      const events = await linkEvents();

      const badConfig = await refused(
        await t.api(`/api/v1/links/${id}`, {
          method: 'PATCH',
          json: { config: { mllp: { listen: { host: '127.0.0.1', port: 'x' } } } },
        }),
      );
      expect(badConfig.details.issues.map((i) => i.path)).toEqual(['body.config.mllp.listen.port']);
      // The new connector is checked against the stored config: a fhir link needs a baseUrl.
      const otherConnector = await refused(
        await t.api(`/api/v1/links/${id}`, { method: 'PATCH', json: { connector: 'fhir' } }),
      );
      expect(otherConnector.details.issues.map((i) => i.path)).toContain('body.config.baseUrl');
      const badProfile = await refused(
        await t.api(`/api/v1/links/${id}`, { method: 'PATCH', json: { profile: 'fhir-r4-fr-core' } }),
      );
      expect(badProfile.details.issues.map((i) => i.path)).toEqual(['body.profile']);

      expect(await t.service.store.links.require(id)).toEqual(before);
      expect(await linkEvents()).toBe(events);
    });

    it('lets a link stored with a bad config (older versions) be renamed, and repaired through the API', async () => {
      const l = await t.service.store.links.create({
        id: `lnk-legacy-${storeKind}`,
        practiceId,
        role: 'practice',
        connector: 'hl7v2',
        name: 'Ancien',
        config: { colour: 'blue' },
      });
      const renamed = await t.api(`/api/v1/links/${l.id}`, {
        method: 'PATCH',
        json: { name: 'Ancien, renommé' },
      });
      expect(renamed.status).toBe(200);
      const repaired = await t.api(`/api/v1/links/${l.id}`, { method: 'PATCH', json: { config: MLLP } });
      expect(repaired.status).toBe(200);
      expect(await repaired.json()).toMatchObject({ config: MLLP, version: 3 });
    });
  },
);
