/**
 * The RGPD routes declare their practice (`scope: { practice: { from: 'params', field:
 * 'practiceId' } }`): a key limited to another practice gets 403 before the handler runs, for
 * the export as for the erase, and the patient is left as it was.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { privacyModule } from '../../../src/app/features/privacy.js';
import type { Patient } from '../../../src/model/resources.js';
import { createApiKey } from '../../../src/security/api-keys.js';
import type { JsonObject } from '../../../src/store/index.js';
import { fixturePatients } from '../../helpers/fixtures.js';
import { startTestService, type TestService } from '../../helpers/service.js';

const jeanne = fixturePatients()[0] as Patient;

describe('patient routes and keys limited to a practice', () => {
  let t: TestService;
  let otherIntegrator: string;
  let otherAdmin: string;
  let ownIntegrator: string;

  beforeAll(async () => {
    t = await startTestService({ modules: [privacyModule()] });
    const { store } = t.service;
    await store.practices.create({ id: 'cab-a', name: 'Cabinet A' });
    await store.practices.create({ id: 'cab-b', name: 'Cabinet B' });
    await store.resources.put({
      id: 'pat-a-1',
      practiceId: 'cab-a',
      kind: 'Patient',
      data: { ...jeanne, id: 'pat-a-1' } as unknown as JsonObject,
      origin: 'practice',
      expectedVersion: 0,
      patientId: 'pat-a-1',
    });
    otherIntegrator = (
      await createApiKey(store, { role: 'integrator', practiceId: 'cab-b', createdBy: 'test', via: 'test' })
    ).key;
    otherAdmin = (
      await createApiKey(store, { role: 'admin', practiceId: 'cab-b', createdBy: 'test', via: 'test' })
    ).key;
    ownIntegrator = (
      await createApiKey(store, { role: 'integrator', practiceId: 'cab-a', createdBy: 'test', via: 'test' })
    ).key;
  });
  afterAll(async () => {
    await t.dispose();
  });

  it('lets a key limited to the patient’s own practice export it', async () => {
    expect(
      (await t.api('/api/v1/practices/cab-a/patients/pat-a-1/export', { key: ownIntegrator })).status,
    ).toBe(200);
  });

  it('answers 403 to an export by a key limited to another practice', async () => {
    const res = await t.api('/api/v1/practices/cab-a/patients/pat-a-1/export', { key: otherIntegrator });
    expect(res.status).toBe(403);
    expect(await res.text()).not.toContain('FICTIVE');
  });

  it('answers 403 to an erase by an admin key limited to another practice and keeps the patient', async () => {
    expect(
      (await t.api('/api/v1/practices/cab-a/patients/pat-a-1/erase', { method: 'POST', key: otherAdmin }))
        .status,
    ).toBe(403);
    expect(await t.service.store.resources.get('pat-a-1')).toBeDefined();
  });
});
