/**
 * GET /api/v1/connectors and POST /api/v1/links/:id/test (issue 19), and the masking of secrets
 * written in a link's config, over real HTTP on a real SQLite store, against the FHIR peer.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { type FhirPeer, startFhirPeer } from '../../../connectors/fhir/peer/index.js';
import { defaultModules } from '../../../src/app/modules.js';
import { MASKED } from '../../../src/connector/config-schema.js';
import { createApiKey } from '../../../src/security/api-keys.js';
import { startTestService, type TestService } from '../../helpers/service.js';

interface ConnectorItem {
  name: string;
  protocol: string;
  defaultProfile: string | null;
  linkTest: boolean;
  configSchema: { properties?: Record<string, unknown> };
  secretsSchema: { properties?: Record<string, { writeOnly?: boolean }> } | null;
}
interface LinkTest {
  ok: boolean;
  checks: { name: string; ok: boolean; required: boolean; detail?: string }[];
  text: string;
}

const KEY_PEM = '-----BEGIN PRIVATE KEY-----\nMIIfictitious\n-----END PRIVATE KEY-----';

describe('connectors and link tests over HTTP', () => {
  let t: TestService;
  let peer: FhirPeer;
  let integratorA: string;
  let viewerA: string;

  const createLink = async (body: Record<string, unknown>) => {
    const res = await t.api('/api/v1/links', {
      method: 'POST',
      json: { isTest: true, enabled: false, ...body },
    });
    expect(res.status).toBe(201);
  };

  beforeAll(async () => {
    peer = await startFhirPeer();
    t = await startTestService({ modules: defaultModules() });
    await t.service.store.practices.create({ id: 'cab-a', name: 'Cabinet A' });
    await t.service.store.practices.create({ id: 'cab-b', name: 'Cabinet B' });
    await createLink({
      id: 'fhir-a',
      practiceId: 'cab-a',
      role: 'practice',
      connector: 'fhir',
      name: 'Logiciel FHIR',
      config: { baseUrl: peer.url },
    });
    await createLink({
      id: 'fhir-b',
      practiceId: 'cab-b',
      role: 'practice',
      connector: 'fhir',
      name: 'Logiciel FHIR',
      config: { baseUrl: peer.url },
    });
    await createLink({
      id: 'down-a',
      practiceId: 'cab-a',
      role: 'practice',
      connector: 'fhir',
      name: 'Serveur arrêté',
      config: { baseUrl: 'http://127.0.0.1:9/fhir' },
    });
    await createLink({
      id: 'sec-a',
      practiceId: 'cab-a',
      role: 'secretariat',
      connector: 'secretariat',
      name: 'Plateforme',
      config: { baseUrl: 'http://127.0.0.1:9/api', platformPracticeId: 'cab' },
      secrets: { apiToken: 'platform-token-value' },
    });
    await createLink({
      id: 'hl7-a',
      practiceId: 'cab-a',
      role: 'practice',
      connector: 'hl7v2',
      name: 'Logiciel HL7',
      config: { mllp: { listen: { host: '127.0.0.1', port: 0, tls: { cert: 'cert.pem', key: KEY_PEM } } } },
    });
    integratorA = (
      await createApiKey(t.service.store, {
        role: 'integrator',
        practiceId: 'cab-a',
        createdBy: 'test',
        via: 'test',
      })
    ).key;
    viewerA = (
      await createApiKey(t.service.store, {
        role: 'viewer',
        practiceId: 'cab-a',
        createdBy: 'test',
        via: 'test',
      })
    ).key;
  });
  afterAll(async () => {
    await t.dispose();
    await peer.close();
  });

  it('lists every registered connector with its config and credentials as JSON Schema, secrets writeOnly', async () => {
    const res = await t.api('/api/v1/connectors', { key: viewerA });
    expect(res.status).toBe(200);
    const { items } = (await res.json()) as { items: ConnectorItem[] };
    expect(items.map((c) => c.name)).toEqual(['secretariat', 'fhir', 'hl7v2']);
    const fhir = items.find((c) => c.name === 'fhir');
    expect(fhir).toMatchObject({ protocol: 'fhir-r4', linkTest: true });
    expect(fhir?.configSchema.properties).toHaveProperty('baseUrl');
    expect(fhir?.secretsSchema?.properties?.['token']?.writeOnly).toBe(true);
    const hl7 = items.find((c) => c.name === 'hl7v2');
    expect(JSON.stringify(hl7?.configSchema)).toContain('"writeOnly":true');
    expect(
      items.find((c) => c.name === 'secretariat')?.secretsSchema?.properties?.['apiToken']?.writeOnly,
    ).toBe(true);
  });

  it('never shows a secret written in a link’s config, and keeps it when the form comes back masked', async () => {
    const shown = (await (await t.api('/api/v1/links/hl7-a')).json()) as {
      config: { mllp: { listen: { tls: { key: string; cert: string } } } };
      version: number;
    };
    expect(shown.config.mllp.listen.tls).toEqual({ cert: 'cert.pem', key: MASKED });
    const list = await (await t.api('/api/v1/links?practiceId=cab-a')).text();
    expect(list).not.toContain('MIIfictitious');
    const patched = await t.api('/api/v1/links/hl7-a', {
      method: 'PATCH',
      json: {
        config: { mllp: { listen: { host: '127.0.0.1', port: 0, tls: { cert: 'cert2.pem', key: MASKED } } } },
      },
    });
    expect(patched.status).toBe(200);
    const stored = await t.service.store.links.require('hl7-a');
    expect(stored.config).toMatchObject({ mllp: { listen: { tls: { cert: 'cert2.pem', key: KEY_PEM } } } });
    const audit = await t.service.store.audit.list({ action: 'link.update' });
    expect(JSON.stringify(audit)).not.toContain('MIIfictitious');
  });

  it('tests a FHIR link against its server and answers the checklist', async () => {
    const res = await t.api('/api/v1/links/fhir-a/test', { method: 'POST', key: integratorA });
    expect(res.status).toBe(200);
    const body = (await res.json()) as LinkTest;
    expect(body.ok).toBe(true);
    expect(body.checks.length).toBeGreaterThan(3);
    expect(body.checks.every((c) => c.ok || !c.required)).toBe(true);
    expect(body.text).toContain('fhir-a');
  });

  it('answers a failed check, not an error, when the server cannot be reached', async () => {
    const body = (await (await t.api('/api/v1/links/down-a/test', { method: 'POST' })).json()) as LinkTest;
    expect(body.ok).toBe(false);
    expect(body.checks.some((c) => !c.ok && c.required)).toBe(true);
  });

  it('refuses a link whose connector has no link test, a viewer, and a key of another practice', async () => {
    const none = await t.api('/api/v1/links/sec-a/test', { method: 'POST' });
    expect(none.status).toBe(409);
    expect(((await none.json()) as { error: { code: string } }).error.code).toBe('ERR_LINK_TEST_UNSUPPORTED');
    expect((await t.api('/api/v1/links/fhir-a/test', { method: 'POST', key: viewerA })).status).toBe(403);
    expect((await t.api('/api/v1/links/fhir-b/test', { method: 'POST', key: integratorA })).status).toBe(403);
  });
});
