/**
 * A pulled page applied set-wise (src/sync/ingest/page.ts): its look-ups read for the page at
 * once, its records in one savepoint, the record-by-record road when one fails — with the same
 * outcome as record by record: lookalikes held for review (known ones and the page's own), a
 * mapped patient updated, an invalid record dead-lettered alone.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { defaultConnectorDefinitions } from '../../../src/app/connectors.js';
import type { ExternalRecord } from '../../../src/connector/contract.js';
import { createRegistry } from '../../../src/connector/registry.js';
import { createLogger } from '../../../src/log/logger.js';
import type { Patient } from '../../../src/model/resources.js';
import type { Link } from '../../../src/store/types.js';
import { SyncEngine } from '../../../src/sync/engine.js';
import { httpPeerConnector } from '../../helpers/http-peer.js';
import { openTestStore, type TestStore } from '../../helpers/stores.js';

function patient(
  id: string,
  family: string,
  birthDate: string,
  extra: Partial<Patient> = {},
  version = '1',
): ExternalRecord {
  const data: Patient = {
    resourceType: 'Patient',
    id,
    name: [{ use: 'official', family, given: ['Camille'] }],
    gender: 'female',
    birthDate,
    ...extra,
  };
  return { kind: 'Patient', externalId: id, version, data };
}

describe('a pulled page applied set-wise', () => {
  let t: TestStore;
  let link: Link;
  let engine: SyncEngine;
  const page = (records: ExternalRecord[]) =>
    engine.ingestPage(link, { records, next: null, hasMore: false }, 'default');
  const canonical = async (id: string) =>
    (await t.store.identityMap.findCanonical(link.id, 'Patient', id)) as string;

  beforeAll(async () => {
    t = await openTestStore('sqlite');
    const practiceId = (await t.store.practices.create({ name: 'Cabinet' })).id;
    link = await t.store.links.create({
      practiceId,
      role: 'practice',
      connector: 'http-peer',
      name: 'Logiciel',
      config: { url: 'http://127.0.0.1:9' },
    });
    engine = new SyncEngine({
      store: t.store,
      registry: createRegistry([...defaultConnectorDefinitions(), httpPeerConnector]),
      log: createLogger({ silent: true }),
    });
    expect(await page([patient('a', 'Lefèvre', '1950-01-02')])).toMatchObject({ applied: 1 });
  }, 30_000);
  afterAll(async () => {
    await t?.dispose();
  });

  it('holds for review a new patient like a known one and one like another of the same page', async () => {
    const r = await page([
      patient('b', 'LEFEVRE', '1950-01-02'),
      patient('c', 'Durand', '1960-05-06'),
      patient('d', 'Durand', '1960-05-06'),
      patient('e', 'Martin', '1970-07-08'),
    ]);
    expect(r).toMatchObject({ applied: 4, rejected: 0, invalid: 0 });
    const reviews = await t.store.reviews.list({ practiceId: link.practiceId, status: 'open' });
    const byRecord = new Map(reviews.map((v) => [v.recordId, v.payload['candidates']]));
    expect(byRecord).toEqual(
      new Map([
        [await canonical('b'), [await canonical('a')]],
        [await canonical('d'), [await canonical('c')]],
      ]),
    );
  });

  it('updates a patient the link already mapped, and applies the others when one record is invalid', async () => {
    const before = await canonical('e');
    const r = await page([
      patient('e', 'Martin', '1970-07-08', { telecom: [{ system: 'phone', value: '+33612345678' }] }, '2'),
      patient('f', 'Petit', '1980-01-01', { gender: 'nonsense' as Patient['gender'] }),
      patient('g', 'Robert', '1990-02-03'),
    ]);
    expect(r).toMatchObject({ applied: 2, invalid: 1 });
    expect(await canonical('e')).toBe(before);
    expect((await t.store.resources.get(before))?.data).toMatchObject({
      telecom: [{ system: 'phone', value: '+33612345678' }],
    });
    expect(await t.store.identityMap.findCanonical(link.id, 'Patient', 'f')).toBeUndefined();
    expect(await canonical('g')).toEqual(expect.any(String));
    expect(await t.store.deadLetters.list({ linkId: link.id })).toHaveLength(1);
    const patients = await t.store.resources.list({ practiceId: link.practiceId, kind: 'Patient' });
    expect(patients).toHaveLength(6);
  });
});
