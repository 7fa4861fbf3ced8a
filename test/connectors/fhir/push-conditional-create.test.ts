/**
 * Against a server whose CapabilityStatement offers no conditional update (a scripted server,
 * nock): an appointment is created with `POST` + `If-None-Exist` on its business identifier
 * (FHIR R4 http.html#ccreate), which is as safe to retry.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { CapabilityStatement } from '@medplum/fhirtypes';
import nock from 'nock';

import { readCapabilities } from '../../../connectors/fhir/capabilities.js';
import { createFhirClient } from '../../../connectors/fhir/client/index.js';
import { OwnWrites } from '../../../connectors/fhir/own-writes.js';
import { createPush } from '../../../connectors/fhir/push.js';
import { silentLogger } from '../../../src/log/logger.js';
import { shippedPlan } from '../../../src/mapping/runtime.js';

const BASE = 'http://fhir.no-conditional-update.test/R4';
const SYSTEM = 'urn:oid:1.2.250.1.999.1.2';

const capabilities: CapabilityStatement = {
  resourceType: 'CapabilityStatement',
  status: 'active',
  date: '2030-01-01',
  kind: 'instance',
  fhirVersion: '4.0.1',
  format: ['json'],
  rest: [
    {
      mode: 'server',
      resource: [
        {
          type: 'Appointment',
          interaction: [{ code: 'create' }, { code: 'update' }, { code: 'read' }],
          conditionalCreate: true,
          conditionalUpdate: false,
          versioning: 'versioned-update',
        },
      ],
    },
  ],
};

beforeAll(() => {
  nock.disableNetConnect();
});
afterAll(() => {
  nock.cleanAll();
  nock.enableNetConnect();
  nock.restore();
});

describe('appointment creation without conditional update', () => {
  it('POSTs with If-None-Exist on the business identifier, and takes the id from the answer', async () => {
    const plan = shippedPlan('fhir-r4-fr-core');
    const push = createPush({
      client: createFhirClient({ baseUrl: BASE, retry: { max: 0 } }),
      mapping: async () => ({ plan, context: { testLink: true } }),
      capabilities: async () => readCapabilities(capabilities),
      identifierSystem: undefined,
      ownWrites: new OwnWrites(Date.now),
      log: silentLogger,
      signal: new AbortController().signal,
    });
    let sent: { identifier?: unknown } | undefined;
    nock(BASE, {
      reqheaders: {
        'if-none-exist': `identifier=${encodeURIComponent(`${SYSTEM}|c0ffee00-0000-4000-8000-000000000009`)}`,
      },
    })
      .post('/Appointment', (body: { identifier?: unknown }) => {
        sent = body;
        return true;
      })
      .reply(201, (_uri, body) => ({ ...(body as object), id: 'srv-1', meta: { versionId: '1' } }), {
        location: `${BASE}/Appointment/srv-1/_history/1`,
        etag: 'W/"1"',
        'content-type': 'application/fhir+json',
      });
    const r = await push({
      seq: 1,
      op: 'upsert',
      kind: 'Appointment',
      canonicalId: 'c0ffee00-0000-4000-8000-000000000009',
      externalId: null,
      expectedVersion: null,
      data: {
        resourceType: 'Appointment',
        id: 'c0ffee00-0000-4000-8000-000000000009',
        status: 'booked',
        start: '2030-03-11T09:00:00.000Z',
        end: '2030-03-11T09:20:00.000Z',
        participant: [{ actor: { reference: 'Practitioner/p1' }, status: 'accepted' }],
      },
      base: null,
      idempotencyKey: 'k1',
      priority: 5,
    });
    expect(r).toEqual({ ok: true, externalId: 'srv-1', version: '1' });
    expect(sent?.identifier).toEqual([{ system: SYSTEM, value: 'c0ffee00-0000-4000-8000-000000000009' }]);
    expect(nock.isDone()).toBe(true);
  });
});
