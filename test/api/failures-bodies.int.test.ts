/**
 * Issue 16, point 8: hostile bodies get a 4xx that names the problem, never a 500. A JSON body
 * nested 5,000 deep → 400 ERR_VALIDATION; a YAML alias bomb as a mapping profile → 422 with
 * the alias's profile:line:column.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { mappingModule } from '../../src/app/features/mapping.js';
import { createApiKey } from '../../src/security/api-keys.js';
import { aliasBomb, nestedJson as nested } from '../helpers/hostile.js';
import { startTestService, type TestService } from '../helpers/service.js';

interface ErrorBody {
  error: {
    code: string;
    message: string;
    details: { issues?: { path: string; message: string; location?: string; code?: string }[] };
  };
}

describe('hostile request bodies', () => {
  let t: TestService;
  let integratorKey: string;
  let linkId: string;
  let practiceId: string;

  beforeAll(async () => {
    t = await startTestService({ modules: [mappingModule({ refreshMs: 0 })] });
    integratorKey = (
      await createApiKey(t.service.store, { role: 'integrator', createdBy: 'test', via: 'test' })
    ).key;
    practiceId = (
      (await (
        await t.api('/api/v1/practices', { method: 'POST', json: { name: 'Cabinet des Essais' } })
      ).json()) as { id: string }
    ).id;
    linkId = (
      (await (
        await t.api('/api/v1/links', {
          method: 'POST',
          key: integratorKey,
          json: {
            practiceId,
            role: 'practice',
            connector: 'hl7v2',
            name: 'Logiciel X',
            profile: 'hl7v2-ihe-pam-fr',
            config: { mllp: { listen: { host: '127.0.0.1', port: 0 } } },
            isTest: true,
          },
        })
      ).json()) as { id: string }
    ).id;
  });
  afterAll(async () => {
    await t.dispose();
  });

  const post = (path: string, body: string) =>
    t.api(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

  it('answers 400 ERR_VALIDATION to a JSON body nested 5,000 levels deep, and the service keeps answering', async () => {
    const res = await post(
      '/api/v1/links',
      `{"practiceId":"${practiceId}","role":"practice","connector":"hl7v2","name":"x","config":${nested(5000)}}`,
    );
    expect(res.status).toBe(400);
    expect(((await res.json()) as ErrorBody).error).toMatchObject({
      code: 'ERR_VALIDATION',
      message: 'body: nested deeper than 64 levels',
    });
    expect((await t.api('/api/v1/practices')).status).toBe(200);
  });

  it('refuses the first level past 64 and hands 64 levels to the route', async () => {
    const at = async (depth: number) =>
      (
        (await (
          await post(`/api/v1/links/${linkId}/mapping/dry-run`, `{"input":${nested(depth - 1)}}`)
        ).json()) as ErrorBody
      ).error.message;
    expect(await at(65)).toBe('body: nested deeper than 64 levels');
    expect(await at(64)).toBe('the JSON sample is not a FHIR resource (no resourceType)');
  });

  it('answers 422 ERR_MAPPING_INVALID, located at the alias, to a YAML alias bomb put as a mapping profile', async () => {
    const text = `protocol: hl7v2\nversion: '2.5'\n${aliasBomb()}`;
    const res = await t.api(`/api/v1/links/${linkId}/mapping`, {
      method: 'PUT',
      key: integratorKey,
      headers: { 'content-type': 'application/yaml' },
      body: text,
    });
    expect(res.status).toBe(422);
    const body = (await res.json()) as ErrorBody;
    expect(body.error.code).toBe('ERR_MAPPING_INVALID');
    expect(body.error.details.issues?.map((i) => [i.code, i.location])).toEqual([
      ['ERR_MAPPING_YAML', 'profile:6:14'],
    ]);
    // The same bomb inside JSON `{ profile }`.
    const json = await t.api(`/api/v1/links/${linkId}/mapping`, {
      method: 'PUT',
      key: integratorKey,
      json: { profile: text },
    });
    expect(json.status).toBe(422);
  });
});
