/**
 * Issue 18: a connector that hands the engine an appointment with a start and no end (one
 * without a profile-side duration) does not get it refused ("end is required when status is
 * booked"): the engine keeps it with the product default length, flags it on the record and on
 * the message, and the agenda holds the assumed end. Both stores.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { defaultConnectorDefinitions } from '../../src/app/connectors.js';
import { createRegistry } from '../../src/connector/registry.js';
import { createLogger } from '../../src/log/logger.js';
import type { Appointment, Patient } from '../../src/model/resources.js';
import type { Link } from '../../src/store/types.js';
import { SyncEngine } from '../../src/sync/engine.js';
import { httpPeerConnector } from '../helpers/http-peer.js';
import { openTestStore, STORE_KINDS, type TestStore } from '../helpers/stores.js';

describe.each(STORE_KINDS)('an appointment without an end reaching the engine (%s store)', (kind) => {
  let t: TestStore;
  let link: Link;
  let engine: SyncEngine;
  beforeAll(async () => {
    t = await openTestStore(kind);
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
  }, 30_000);
  afterAll(async () => {
    await t?.dispose();
  });

  it('keeps it with end = start + 15 minutes, flagged appointment-end-assumed on the record and the message', async () => {
    const patient: Patient = {
      resourceType: 'Patient',
      id: 'p1',
      name: [{ use: 'official', family: 'FICTIVE', given: ['Jeanne'] }],
      gender: 'female',
      birthDate: '1985-03-14',
    };
    const appointment = {
      resourceType: 'Appointment',
      id: 'a1',
      status: 'booked',
      start: '2030-03-11T08:00:00.000Z',
      participant: [{ actor: { reference: 'Patient/p1' }, status: 'accepted' }],
    } as unknown as Appointment;
    const result = await engine.ingest(
      link,
      {
        dedupe: { key: 'no-end-1', bodyHash: 'h1', messageType: 'test', body: null },
        records: [
          { kind: 'Patient', externalId: 'p1', data: patient },
          { kind: 'Appointment', externalId: 'a1', data: appointment },
        ],
      },
      'receiver',
    );
    expect(result.outcome).toBe('applied');
    expect(result.flags).toContain('appointment-end-assumed');
    const id = (await t.store.identityMap.findCanonical(link.id, 'Appointment', 'a1')) as string;
    const stored = (await t.store.resources.get(id))?.data as unknown as Appointment;
    expect([stored.start, stored.end]).toEqual(['2030-03-11T08:00:00.000Z', '2030-03-11T08:15:00.000Z']);
    const events = await t.store.audit.list({ resourceId: id, action: 'sync.apply' });
    expect((events[0]?.details as { flags?: string[] }).flags).toContain('appointment-end-assumed');
  });

  it('still refuses an appointment without a start', async () => {
    const appointment = {
      resourceType: 'Appointment',
      id: 'a2',
      status: 'booked',
      participant: [{ actor: { reference: 'Patient/p1' }, status: 'accepted' }],
    } as unknown as Appointment;
    const result = await engine.ingest(
      link,
      {
        dedupe: { key: 'no-start-1', bodyHash: 'h2', messageType: 'test', body: null },
        records: [{ kind: 'Appointment', externalId: 'a2', data: appointment }],
      },
      'receiver',
    );
    expect(result.outcome).not.toBe('applied');
    expect(await t.store.identityMap.findCanonical(link.id, 'Appointment', 'a2')).toBeUndefined();
  });
});
