/**
 * Issue 19: a body of the wrong shape is refused with the path and the expected shape named
 * (« body.input: expected string, object or array, received number »), never a bare
 * « body: Invalid input », on real routes.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { defaultModules } from '../../src/app/modules.js';
import { startTestService, type TestService } from '../helpers/service.js';

interface ErrorBody {
  error: { code: string; message: string; details: { issues: { path: string; message: string }[] } };
}

describe('request bodies of the wrong shape', () => {
  let t: TestService;
  const practiceId = 'cab-formes';
  const linkId = 'cab-formes-hl7';

  beforeAll(async () => {
    t = await startTestService({ modules: defaultModules() });
    await t.service.store.practices.create({ id: practiceId, name: 'Cabinet des Formes' });
    await t.service.store.links.create({
      id: linkId,
      practiceId,
      role: 'practice',
      connector: 'hl7v2',
      name: 'Logiciel',
      profile: 'hl7v2-ihe-pam-fr',
      config: { mllp: { listen: { host: '127.0.0.1', port: 0 } } },
      isTest: true,
      enabled: false,
    });
  }, 30_000);
  afterAll(async () => {
    await t.dispose();
  });

  const refused = async (path: string, body: unknown) => {
    const res = await t.api(path, { method: 'POST', json: body });
    expect(res.status).toBe(400);
    const { error } = (await res.json()) as ErrorBody;
    expect(error.code).toBe('ERR_VALIDATION');
    expect(error.message).not.toMatch(/Invalid input/);
    return error;
  };

  it('names the body and the object it expects when an array comes instead', async () => {
    const error = await refused('/api/v1/practices', [{ name: 'Cabinet' }]);
    expect(error.message).toBe('body: expected object, received array');
  });

  it('names each nested field of the wrong type with the type it expects', async () => {
    const error = await refused('/api/v1/links', {
      practiceId,
      role: 'practice',
      connector: 'hl7v2',
      name: 42,
      config: [],
      isTest: 'yes',
    });
    expect(error.details.issues).toEqual([
      { path: 'body.name', message: 'expected string, received number' },
      { path: 'body.config', message: 'expected object, received array' },
      { path: 'body.isTest', message: 'expected boolean, received string' },
    ]);
    expect(error.message).toBe('body.name: expected string, received number (and 2 more)');
  });

  it('lists the types a field accepts when its value is of none of them, or is missing', async () => {
    const dryRun = `/api/v1/links/${linkId}/mapping/dry-run`;
    expect((await refused(dryRun, { input: 42 })).message).toBe(
      'body.input: expected string, object or array, received number',
    );
    expect((await refused(dryRun, {})).message).toBe(
      'body.input: required (expected string, object or array)',
    );
  });

  it('says which field the closest accepted shape lacks, and which shapes are accepted', async () => {
    const resolve = `/api/v1/links/${linkId}/practitioner-mappings/DR%201/resolve`;
    expect((await refused(resolve, { rpps: 12 })).message).toBe(
      'body.rpps: expected string, received number (accepted: { practitionerId } or { rpps } or { create, rpps })',
    );
    expect((await refused(resolve, {})).message).toBe(
      'body: matches none of the accepted shapes (accepted: { practitionerId } or { rpps } or { create })',
    );
    expect((await refused(resolve, [])).message).toBe('body: expected object, received array');
  });
});
