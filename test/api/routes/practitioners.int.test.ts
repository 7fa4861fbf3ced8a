/**
 * GET /api/v1/practitioners through HTTP on a SQLite file store: a practice's canonical
 * practitioners by name with their RPPS, directory data only; a key limited to one practice sees
 * only its own and is refused another's, with `details.reason: 'practice-scope'` and without the
 * other practice's id; a role refusal carries no such reason.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { defaultModules } from '../../../src/app/modules.js';
import { OID } from '../../../src/model/identifiers.js';
import type { Practitioner } from '../../../src/model/resources.js';
import { createApiKey } from '../../../src/security/api-keys.js';
import { startTestService, type TestService } from '../../helpers/service.js';

const A = 'cab-prat-a';
const B = 'cab-prat-b';

interface Item {
  id: string;
  practiceId: string;
  displayName: string;
  family: string | null;
  given: string[];
  prefix: string[];
  rpps: string | null;
}
interface ErrorBody {
  error: { code: string; message: string; details: Record<string, unknown> };
}

describe('the practitioners of a practice through the HTTP API', () => {
  let t: TestService;
  let viewerA: string;
  let viewerAll: string;

  beforeAll(async () => {
    t = await startTestService({ modules: defaultModules() });
    const { store } = t.service;
    const put = async (practiceId: string, doctor: Practitioner) =>
      store.resources.put({
        id: doctor.id as string,
        practiceId,
        kind: 'Practitioner',
        data: doctor as never,
        origin: 'practice',
        expectedVersion: 0,
      });
    for (const practiceId of [A, B])
      await store.practices.create({ id: practiceId, name: `Cabinet ${practiceId}` });
    await put(A, {
      resourceType: 'Practitioner',
      id: 'prat-a-martin',
      name: [{ family: 'MARTIN', given: ['Claire'], prefix: ['Dr'] }],
      identifier: [{ system: OID.idnps, value: '810001234567' }],
      telecom: [{ system: 'phone', value: '0102030405' }],
    });
    await put(A, { resourceType: 'Practitioner', id: 'prat-a-bernard', name: [{ family: 'BERNARD' }] });
    await put(B, { resourceType: 'Practitioner', id: 'prat-b-durand', name: [{ family: 'DURAND' }] });
    viewerA = (await createApiKey(store, { role: 'viewer', practiceId: A, createdBy: 'test', via: 'test' }))
      .key;
    viewerAll = (await createApiKey(store, { role: 'viewer', createdBy: 'test', via: 'test' })).key;
  }, 60_000);
  afterAll(async () => {
    await t.dispose();
  });

  it('lists a practice’s practitioners by name with their RPPS and nothing else of the record', async () => {
    const res = await t.api(`/api/v1/practitioners?practiceId=${A}`, { key: viewerA });
    expect(res.status).toBe(200);
    const { items } = (await res.json()) as { items: Item[] };
    expect(items).toEqual([
      {
        id: 'prat-a-bernard',
        practiceId: A,
        displayName: 'BERNARD',
        family: 'BERNARD',
        given: [],
        prefix: [],
        rpps: null,
      },
      {
        id: 'prat-a-martin',
        practiceId: A,
        displayName: 'Dr MARTIN Claire',
        family: 'MARTIN',
        given: ['Claire'],
        prefix: ['Dr'],
        rpps: '10001234567',
      },
    ]);
  });

  it('gives a key limited to a practice only its own practitioners when it names none', async () => {
    const { items } = (await (await t.api('/api/v1/practitioners', { key: viewerA })).json()) as {
      items: Item[];
    };
    expect(items.map((i) => i.id).sort()).toEqual(['prat-a-bernard', 'prat-a-martin']);
  });

  it('gives an unrestricted key every practice’s practitioners, or one practice’s when it names it', async () => {
    const all = (await (await t.api('/api/v1/practitioners', { key: viewerAll })).json()) as {
      items: Item[];
    };
    expect(all.items.map((i) => i.id)).toContain('prat-b-durand');
    const b = (await (await t.api(`/api/v1/practitioners?practiceId=${B}`, { key: viewerAll })).json()) as {
      items: Item[];
    };
    expect(b.items.map((i) => i.id)).toEqual(['prat-b-durand']);
  });

  it('refuses a key limited to practice A on practice B with reason practice-scope, naming neither B nor its practitioners', async () => {
    const res = await t.api(`/api/v1/practitioners?practiceId=${B}`, { key: viewerA });
    expect(res.status).toBe(403);
    const text = await res.text();
    const body = JSON.parse(text) as ErrorBody;
    expect(body.error.code).toBe('ERR_AUTH_FORBIDDEN');
    expect(body.error.details['reason']).toBe('practice-scope');
    expect(text).not.toContain('DURAND');
  });

  it('sends no practice-scope reason with a role refusal', async () => {
    const res = await t.api('/api/v1/practices', {
      method: 'POST',
      key: viewerAll,
      json: { id: 'x', name: 'X' },
    });
    expect(res.status).toBe(403);
    const body = (await res.json()) as ErrorBody;
    expect(body.error.code).toBe('ERR_AUTH_FORBIDDEN');
    expect(body.error.details['reason']).toBeUndefined();
  });

  it('does not tell a limited key the practice owning a link it may not read', async () => {
    const link = await t.service.store.links.create({
      id: 'link-of-b',
      practiceId: B,
      role: 'practice',
      connector: 'hl7v2',
      name: 'Logiciel',
      config: { mllp: { listen: { host: '127.0.0.1', port: 0 } } },
      isTest: true,
      enabled: false,
    });
    const res = await t.api(`/api/v1/links/${link.id}`, { key: viewerA });
    expect(res.status).toBe(403);
    const text = await res.text();
    expect((JSON.parse(text) as ErrorBody).error.details['reason']).toBe('practice-scope');
    expect(text).not.toContain(B);
  });
});
