/**
 * Issue 22: the messages that share a group commit reuse each other's reads (identities,
 * records, snapshots, validations: src/sync/ingest/group.ts). Calls made in the same event-loop
 * turn share one transaction, in call order (src/store/transactions.ts), so each test queues
 * its messages, and any job between them, in one turn. What is reused must never outlive what
 * it read: another job's write between two messages, or a message rolled back, is seen by the
 * next one. SQLite only: there every transaction is such a group, in call order; PostgreSQL
 * spreads callers over parallel lanes and keeps a memo per message, as before.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { defaultConnectorDefinitions } from '../../../src/app/connectors.js';
import type { ExternalRecord, InboundMessage } from '../../../src/connector/contract.js';
import { createRegistry } from '../../../src/connector/registry.js';
import { createLogger } from '../../../src/log/logger.js';
import type { Appointment, Patient } from '../../../src/model/resources.js';
import type { Link } from '../../../src/store/types.js';
import { SyncEngine } from '../../../src/sync/engine.js';
import { httpPeerConnector } from '../../helpers/http-peer.js';
import { openTestStore, type TestStore } from '../../helpers/stores.js';

const patient = (id: string, family = 'FICTIVE'): ExternalRecord => ({
  kind: 'Patient',
  externalId: id,
  data: {
    resourceType: 'Patient',
    id,
    name: [{ use: 'official', family, given: ['Jeanne'] }],
    gender: 'female',
    birthDate: '1985-03-14',
  } as Patient,
});

const appointment = (id: string, patientId: string, start = '2030-03-11T08:00:00.000Z'): ExternalRecord => ({
  kind: 'Appointment',
  externalId: id,
  data: {
    resourceType: 'Appointment',
    id,
    status: 'booked',
    start,
    end: start.replace('08:00', '08:15'),
    participant: [{ actor: { reference: `Patient/${patientId}` }, status: 'accepted' }],
  } as unknown as Appointment,
});

describe('messages sharing a group commit (sqlite store)', () => {
  let t: TestStore;
  let link: Link;
  let engine: SyncEngine;
  let n = 0;
  const message = (...records: ExternalRecord[]): InboundMessage => {
    const key = `group-${++n}`;
    return { dedupe: { key, bodyHash: key, messageType: 'test', body: null }, records };
  };
  const ingest = (m: InboundMessage) => engine.ingest(link, m, 'receiver');
  const patients = async () =>
    (await t.store.resources.list({ practiceId: link.practiceId, kind: 'Patient' })).length;

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
  }, 30_000);
  afterAll(async () => {
    await t?.dispose();
  });

  it('applies messages naming the same patient as one by one: one patient, each appointment, the patient an echo after the first', async () => {
    const results = await Promise.all([
      ingest(message(patient('p1'), appointment('a1', 'p1'))),
      ingest(message(patient('p1'), appointment('a2', 'p1', '2030-03-11T09:00:00.000Z'))),
      ingest(message(patient('p1'), appointment('a3', 'p1', '2030-03-11T10:00:00.000Z'))),
    ]);
    expect(results.map((r) => r.outcome)).toEqual(['applied', 'applied', 'applied']);
    expect(results.map((r) => r.flags.includes('echo'))).toEqual([false, true, true]);
    expect(await patients()).toBe(1);
    const p1 = await t.store.identityMap.findCanonical(link.id, 'Patient', 'p1');
    for (const a of ['a1', 'a2', 'a3']) {
      const id = (await t.store.identityMap.findCanonical(link.id, 'Appointment', a)) as string;
      const stored = (await t.store.resources.get(id))?.data as unknown as Appointment;
      expect(stored.participant[0]?.actor?.reference).toBe(`Patient/${p1}`);
    }
  });

  it('sees a change another job of the same commit made between two messages', async () => {
    const before = await patients();
    const [, , third] = await Promise.all([
      ingest(message(patient('p2'), appointment('a4', 'p2'))),
      // An operator's job sharing the commit: the link forgets p2.
      t.store.batch((tx) => tx.identityMap.remove(link.id, 'Patient', 'p2')),
      ingest(message(patient('p2'), appointment('a5', 'p2', '2030-03-12T08:00:00.000Z'))),
    ]);
    // p2 is news again: a second patient, not the first one remembered from the group.
    expect(third.outcome).toBe('applied');
    expect(third.flags).not.toContain('echo');
    expect(await patients()).toBe(before + 2);
  });

  it('forgets what a message rolled back to its savepoint had written', async () => {
    const before = await patients();
    const [first, second] = await Promise.all([
      // p3 is created, then the appointment is invalid (no start): the whole message is undone.
      ingest(
        message(patient('p3', 'ANNULE'), {
          ...appointment('a6', 'p3'),
          data: { resourceType: 'Appointment', id: 'a6', status: 'booked' } as unknown as Appointment,
        }),
      ),
      ingest(message(patient('p3', 'ANNULE'), appointment('a7', 'p3', '2030-03-13T08:00:00.000Z'))),
    ]);
    expect(first.outcome).toBe('invalid');
    expect(second.outcome).toBe('applied');
    expect(second.flags).not.toContain('echo');
    expect(await patients()).toBe(before + 1);
    const p3 = (await t.store.identityMap.findCanonical(link.id, 'Patient', 'p3')) as string;
    expect((await t.store.resources.get(p3))?.kind).toBe('Patient');
  });
});
