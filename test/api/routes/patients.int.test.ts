/**
 * The RGPD routes through HTTP on both stores: an integrator exports a patient as a JSON
 * attachment, only an admin erases, both are audited with the caller's key as actor, and a
 * patient of another practice (or an unknown one) answers 404.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { privacyModule } from '../../../src/app/features/privacy.js';
import type { Patient } from '../../../src/model/resources.js';
import type { PatientExport } from '../../../src/privacy/patient-data.js';
import { createApiKey } from '../../../src/security/api-keys.js';
import type { JsonObject } from '../../../src/store/index.js';
import { fixturePatients } from '../../helpers/fixtures.js';
import { startTestService, type TestService } from '../../helpers/service.js';
import { STORE_KINDS } from '../../helpers/stores.js';

const jeanne = fixturePatients()[0] as Patient;

describe.each(STORE_KINDS)('patient export and erase routes (%s store)', (kind) => {
  let t: TestService;
  let integrator: { key: string; id: string };
  let viewer: string;
  const path = (practice: string, patient: string, action: 'export' | 'erase') =>
    `/api/v1/practices/${practice}/patients/${patient}/${action}`;

  beforeAll(async () => {
    t = await startTestService({ store: kind, modules: [privacyModule()] });
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
    const made = await createApiKey(store, { role: 'integrator', createdBy: 'test', via: 'test' });
    integrator = { key: made.key, id: made.record.id };
    viewer = (await createApiKey(store, { role: 'viewer', createdBy: 'test', via: 'test' })).key;
  });
  afterAll(async () => {
    await t.dispose();
  });

  it('exports a patient as a JSON attachment to an integrator and audits the read', async () => {
    const res = await t.api(path('cab-a', 'pat-a-1', 'export'), { key: integrator.key });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-disposition')).toContain('attachment');
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = (await res.json()) as PatientExport;
    expect(body.patient.id).toBe('pat-a-1');
    expect((body.patient.data as unknown as Patient).birthDate).toBe('1985-03-14');
    const audit = await t.service.store.audit.list({ patientId: 'pat-a-1', action: 'patient.export' });
    expect(audit.map((e) => [e.actor, e.via])).toEqual([[integrator.id, 'api']]);
  });

  it('lists both routes in the OpenAPI document', async () => {
    const doc = (await (await t.api('/api/v1/openapi.json', { key: null })).json()) as {
      paths: Record<string, Record<string, { tags?: string[] }>>;
    };
    expect(doc.paths['/api/v1/practices/{practiceId}/patients/{patientId}/export']?.['get']?.tags).toEqual([
      'privacy',
    ]);
    expect(doc.paths['/api/v1/practices/{practiceId}/patients/{patientId}/erase']?.['post']?.tags).toEqual([
      'privacy',
    ]);
  });

  it('refuses the export to a viewer', async () => {
    expect((await t.api(path('cab-a', 'pat-a-1', 'export'), { key: viewer })).status).toBe(403);
  });

  it('answers 404 for a patient asked under another practice', async () => {
    expect((await t.api(path('cab-b', 'pat-a-1', 'export'))).status).toBe(404);
    expect((await t.api(path('cab-b', 'pat-a-1', 'erase'), { method: 'POST' })).status).toBe(404);
  });

  it('refuses the erase to an integrator', async () => {
    expect(
      (await t.api(path('cab-a', 'pat-a-1', 'erase'), { method: 'POST', key: integrator.key })).status,
    ).toBe(403);
    expect(await t.service.store.resources.get('pat-a-1')).toBeDefined();
  });

  it('erases a patient for an admin, audited, after which the export answers 404', async () => {
    const res = await t.api(path('cab-a', 'pat-a-1', 'erase'), { method: 'POST' });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ patientId: 'pat-a-1', removed: { patientRecords: 1 } });
    expect(await t.service.store.resources.get('pat-a-1')).toBeUndefined();
    expect(
      (await t.service.store.audit.list({ patientId: 'pat-a-1', action: 'patient.erase' })).map((e) => e.via),
    ).toEqual(['api']);
    expect((await t.api(path('cab-a', 'pat-a-1', 'export'))).status).toBe(404);
  });
});
