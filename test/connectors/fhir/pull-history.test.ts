/**
 * Deletions through type-level `_history` (FHIR R4 http.html#history), which the test peer does
 * not offer: the pull against a scripted server (nock) whose CapabilityStatement lists
 * `history-type`. A DELETE entry becomes a tombstone; a resource deleted then created again does
 * not; updates in the history are left to the search.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Bundle, CapabilityStatement } from '@medplum/fhirtypes';
import nock from 'nock';

import { readCapabilities } from '../../../connectors/fhir/capabilities.js';
import { createFhirClient } from '../../../connectors/fhir/client/index.js';
import { FhirConfig } from '../../../connectors/fhir/config.js';
import { OwnWrites } from '../../../connectors/fhir/own-writes.js';
import { createPull } from '../../../connectors/fhir/pull.js';
import { silentLogger } from '../../../src/log/logger.js';
import { shippedPlan } from '../../../src/mapping/runtime.js';

const BASE = 'http://fhir.scripted.test/R4';
const NOW = Date.parse('2030-03-11T10:00:00.000Z');
const DATE = new Date(NOW).toUTCString();

const appointment = (id: string, lastUpdated: string) => ({
  resourceType: 'Appointment',
  id,
  meta: { versionId: `${id}-v1`, lastUpdated },
  status: 'booked',
  start: '2030-03-12T09:00:00Z',
  end: '2030-03-12T09:20:00Z',
  participant: [{ actor: { reference: 'Practitioner/p1' }, status: 'accepted' }],
});

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
          interaction: [{ code: 'search-type' }, { code: 'history-type' }, { code: 'read' }],
          searchParam: [{ name: '_lastUpdated', type: 'date' }],
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

describe('deletions from type-level _history', () => {
  it('pulls a DELETE entry as a tombstone after the round’s search, and the watermark moves on', async () => {
    const config = FhirConfig.parse({
      baseUrl: BASE,
      kinds: ['Appointment'],
      pageSize: 50,
      overlapSeconds: 60,
    });
    const client = createFhirClient({ baseUrl: BASE, retry: { max: 0 }, now: () => NOW });
    const plan = shippedPlan('fhir-r4-fr-core');
    const pull = createPull({
      client,
      config,
      kinds: ['Appointment'],
      mapping: async () => ({ plan, context: { testLink: true } }),
      capabilities: async () => readCapabilities(capabilities),
      ownWrites: new OwnWrites(() => NOW),
      log: silentLogger,
      now: () => NOW,
      signal: new AbortController().signal,
    });
    const json = { 'content-type': 'application/fhir+json', date: DATE };
    const searchset = (entries: object[]): Bundle =>
      ({
        resourceType: 'Bundle',
        type: 'searchset',
        total: entries.length,
        entry: entries.map((resource) => ({ resource, search: { mode: 'match' } })),
      }) as Bundle;

    // Initial load, newest first, one page.
    nock(BASE)
      .get('/Appointment')
      .query({ _sort: '-_lastUpdated', _count: '50' })
      .reply(
        200,
        searchset([
          appointment('a2', '2030-03-11T09:30:00.000Z'),
          appointment('a1', '2030-03-11T09:00:00.000Z'),
        ]),
        json,
      );
    const load = await pull(null);
    expect(load.records.map((r) => r.externalId)).toEqual(['a2', 'a1']);
    expect(load.hasMore).toBe(false);

    // Next round: the search finds nothing new; the history is read from when the load began (minus the overlap).
    nock(BASE)
      .get('/Appointment')
      .query({ _lastUpdated: 'ge2030-03-11T09:29:00.000Z', _sort: '_lastUpdated', _count: '50' })
      .reply(200, searchset([appointment('a2', '2030-03-11T09:30:00.000Z')]), json);
    const history: Bundle = {
      resourceType: 'Bundle',
      type: 'history',
      entry: [
        { request: { method: 'DELETE', url: 'Appointment/a1' }, response: { status: '410 Gone' } },
        {
          fullUrl: `${BASE}/Appointment/a4`,
          resource: appointment('a4', '2030-03-11T09:58:00.000Z') as never,
          request: { method: 'PUT', url: 'Appointment/a4' },
          response: { status: '201 Created' },
        },
        { request: { method: 'DELETE', url: 'Appointment/a4/_history/1' }, response: { status: '204' } },
        { request: { method: 'DELETE', url: 'Appointment/a3' }, response: { status: '204' } },
        {
          fullUrl: `${BASE}/Appointment/a2`,
          resource: appointment('a2', '2030-03-11T09:30:00.000Z') as never,
          request: { method: 'PUT', url: 'Appointment/a2' },
          response: { status: '200 OK' },
        },
      ],
    } as Bundle;
    nock(BASE)
      .get('/Appointment/_history')
      .query({ _since: '2030-03-11T09:59:00.000Z', _count: '50' })
      .reply(200, history, json);

    const round = await pull(load.next);
    expect(round).toMatchObject({ records: [], hasMore: true });
    const deletions = await pull(round.next);
    expect(deletions.hasMore).toBe(false);
    expect(deletions.records.map((r) => [r.kind, r.externalId, r.deleted])).toEqual([
      ['Appointment', 'a1', true],
      ['Appointment', 'a3', true],
    ]);
    expect(nock.isDone()).toBe(true);
    const cursor = JSON.parse(deletions.next as string) as {
      kinds: { Appointment: { historySince: string; phase?: string } };
    };
    expect(cursor.kinds.Appointment).toMatchObject({ historySince: '2030-03-11T09:59:00.000Z' });
    expect(cursor.kinds.Appointment.phase).toBeUndefined();
  });

  it('checks the known ids for existence when the server refuses type-level _history (4xx)', async () => {
    const config = FhirConfig.parse({
      baseUrl: BASE,
      kinds: ['Appointment'],
      pageSize: 50,
      overlapSeconds: 60,
      reconcileMinutes: 0,
    });
    const client = createFhirClient({ baseUrl: BASE, retry: { max: 0 }, now: () => NOW });
    const plan = shippedPlan('fhir-r4-fr-core');
    const known = [
      { canonicalId: '00000000-0000-4000-8000-000000000001', externalId: 'a1' },
      { canonicalId: '00000000-0000-4000-8000-000000000002', externalId: 'a2' },
      { canonicalId: '00000000-0000-4000-8000-000000000003', externalId: 'a3' },
    ];
    const asked: (string | null)[] = [];
    const pull = createPull({
      client,
      config,
      kinds: ['Appointment'],
      mapping: async () => ({ plan, context: { testLink: true } }),
      capabilities: async () => readCapabilities(capabilities),
      ownWrites: new OwnWrites(() => NOW),
      knownIds: async (_kind, after, limit) => {
        asked.push(after);
        return known.filter((k) => after === null || k.canonicalId > after).slice(0, limit);
      },
      log: silentLogger,
      now: () => NOW,
      signal: new AbortController().signal,
    });
    const json = { 'content-type': 'application/fhir+json', date: DATE };
    const searchset = (entries: object[]): Bundle =>
      ({
        resourceType: 'Bundle',
        type: 'searchset',
        total: entries.length,
        entry: entries.map((resource) => ({ resource, search: { mode: 'match' } })),
      }) as Bundle;
    nock(BASE)
      .get('/Appointment')
      .query({ _sort: '-_lastUpdated', _count: '50' })
      .reply(200, searchset([appointment('a2', '2030-03-11T09:30:00.000Z')]), json);
    const load = await pull(null);

    nock(BASE)
      .get('/Appointment')
      .query({ _lastUpdated: 'ge2030-03-11T09:29:00.000Z', _sort: '_lastUpdated', _count: '50' })
      .reply(200, searchset([]), json);
    // Listed in the CapabilityStatement, refused all the same.
    nock(BASE)
      .get('/Appointment/_history')
      .query(true)
      .reply(
        405,
        { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'not-supported' }] },
        json,
      );
    const round = await pull(load.next);
    expect(round).toMatchObject({ records: [], hasMore: true });
    const refused = await pull(round.next);
    expect(refused).toMatchObject({ records: [], hasMore: true });

    // The existence check: one `_id` search; a1 and a3 are missing from it, a1 is gone, a3 reads fine (a lagging index).
    nock(BASE)
      .get('/Appointment')
      .query({ _id: 'a1,a2,a3', _count: '3' })
      .reply(200, searchset([appointment('a2', '2030-03-11T09:30:00.000Z')]), json);
    nock(BASE)
      .get('/Appointment/a1')
      .reply(
        410,
        { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'deleted' }] },
        json,
      );
    nock(BASE).get('/Appointment/a3').reply(200, appointment('a3', '2030-03-11T09:40:00.000Z'), json);
    const checked = await pull(refused.next);
    expect(checked.records.map((r) => [r.kind, r.externalId, r.deleted])).toEqual([
      ['Appointment', 'a1', true],
    ]);
    expect(checked.hasMore).toBe(true);
    const done = await pull(checked.next);
    expect(done).toMatchObject({ records: [], hasMore: false });
    expect(asked).toEqual([null, '00000000-0000-4000-8000-000000000003']);
    expect(nock.isDone()).toBe(true);

    // Refused once, not asked again on the next round: the existence check follows the search.
    nock(BASE)
      .get('/Appointment')
      .query({ _lastUpdated: 'ge2030-03-11T09:29:00.000Z', _sort: '_lastUpdated', _count: '50' })
      .reply(200, searchset([]), json);
    nock(BASE)
      .get('/Appointment')
      .query({ _id: 'a1,a2,a3', _count: '3' })
      .reply(
        200,
        searchset([
          appointment('a2', '2030-03-11T09:30:00.000Z'),
          appointment('a3', '2030-03-11T09:40:00.000Z'),
        ]),
        json,
      );
    nock(BASE).get('/Appointment/a1').reply(410, {}, json);
    let page = await pull(done.next);
    const deleted: string[] = [];
    while (page.hasMore) {
      deleted.push(...page.records.map((r) => r.externalId));
      page = await pull(page.next);
    }
    expect(deleted).toEqual(['a1']);
    expect(nock.isDone()).toBe(true);
    const cursor = JSON.parse(page.next as string) as {
      kinds: { Appointment: { historyRefused?: string; reconciledAt?: string } };
    };
    expect(cursor.kinds.Appointment).toMatchObject({
      historyRefused: '2030-03-11T10:00:00.000Z',
      reconciledAt: '2030-03-11T10:00:00.000Z',
    });
  });
});
