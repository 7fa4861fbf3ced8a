/**
 * Issue 22: the messages that share a group commit reuse each other's reads (identities,
 * records, snapshots, validations: src/sync/ingest/group.ts). Calls made in the same event-loop
 * turn share one transaction, in call order (src/store/transactions.ts), so each test queues
 * its messages, and any job between them, in one turn. What is reused must never outlive what
 * it read: another job's write between two messages, or a message rolled back, is seen by the
 * next one. On both stores: on SQLite every transaction is such a group; on PostgreSQL the jobs
 * of one turn join the group a lane is forming, and the engine's ingests are marked as such
 * (`store.batch(fn, { ingest: true })`), so that any other job, or a rollback, drops the memo.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sql } from 'kysely';
import pg from 'pg';

import { defaultConnectorDefinitions } from '../../../src/app/connectors.js';
import type { ExternalRecord, InboundMessage } from '../../../src/connector/contract.js';
import { createRegistry } from '../../../src/connector/registry.js';
import { createLogger } from '../../../src/log/logger.js';
import type { Appointment, Patient } from '../../../src/model/resources.js';
import type { Link } from '../../../src/store/types.js';
import { SyncEngine } from '../../../src/sync/engine.js';
import { groupApply } from '../../../src/sync/ingest/group.js';
import { httpPeerConnector } from '../../helpers/http-peer.js';
import { openTestStore, STORE_KINDS, type TestStore } from '../../helpers/stores.js';

/**
 * PostgreSQL statements sent by this process while `fn` runs, by table read (`select
 * snapshots`…): what the group apply saves is reads.
 */
async function readsDuring(fn: () => Promise<unknown>): Promise<Map<string, number>> {
  const reads = new Map<string, number>();
  const query = pg.Client.prototype.query as (...args: unknown[]) => unknown;
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    const first = args[0] as string | { text?: string };
    // Plain text, or a prepared statement's config (postgres/index.ts names the frequent ones).
    const text = typeof first === 'string' ? first : (first.text ?? '');
    const table = /^select .*? from "(\w+)"/i.exec(text)?.[1];
    if (table) reads.set(table, (reads.get(table) ?? 0) + 1);
    return query.apply(this, args);
  } as typeof pg.Client.prototype.query;
  try {
    await fn();
  } finally {
    pg.Client.prototype.query = query as typeof pg.Client.prototype.query;
  }
  return reads;
}

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

describe.each(STORE_KINDS)('messages sharing a group commit (%s store)', (kind) => {
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
  it('applies a group in call order, each message in its own savepoint: a failing one leaves the others and the order intact', async () => {
    const at = (h: string) => `2030-03-14T${h}:00:00.000Z`;
    const results = await Promise.all([
      ingest(message(patient('p4'), appointment('a8', 'p4', at('08')))),
      ingest(message(patient('p4'), appointment('a8', 'p4', at('09')))),
      // Invalid (no start): undone alone, between two moves of the same appointment.
      ingest(
        message(patient('p4'), {
          ...appointment('a8', 'p4'),
          data: { resourceType: 'Appointment', id: 'a8', status: 'booked' } as unknown as Appointment,
        }),
      ),
      ingest(message(patient('p4'), appointment('a8', 'p4', at('10')))),
    ]);
    expect(results.map((r) => r.outcome)).toEqual(['applied', 'applied', 'invalid', 'applied']);
    const id = (await t.store.identityMap.findCanonical(link.id, 'Appointment', 'a8')) as string;
    expect(((await t.store.resources.get(id))?.data as unknown as Appointment).start).toBe(at('10'));
    // Each message's inbox row stays with its own outcome.
    const inbox = await t.store.inbox.list({ linkId: link.id, limit: 1000 });
    const last4 = inbox
      .filter((e) => Number(e.dedupeKey.slice('group-'.length)) > n - 4)
      .sort((a, b) => a.id - b.id)
      .map((e) => e.status);
    expect(last4).toEqual(['processed', 'processed', 'failed', 'processed']);
  });

  if (kind === 'postgres') {
    it('shares one transaction and its reads between the ingests of one turn (postgres)', async () => {
      // The same burst twice, the second time each message reading alone: fewer reads with.
      const burst = (tag: string) =>
        Promise.all(
          [10, 11, 12, 13].map((h) =>
            ingest(
              message(
                patient(`p-${tag}`),
                appointment(`a-${tag}-${h}`, `p-${tag}`, `2030-03-15T${h}:00:00.000Z`),
              ),
            ),
          ),
        );
      const shared = await readsDuring(() => burst('on'));
      groupApply.enabled = false;
      const alone = await readsDuring(() => burst('off')).finally(() => (groupApply.enabled = true));
      // One transaction each time: the practice is read (and locked) once per group.
      expect(shared.get('practices')).toBe(2);
      expect(alone.get('practices')).toBe(2);
      // Snapshots the group wrote are read from the held rows of the write buffer in both modes
      // (src/store/write-buffer.ts): never more with the group than alone.
      expect(shared.get('snapshots') ?? 0).toBeLessThanOrEqual(alone.get('snapshots') ?? 0);
      expect(shared.get('identity_map') ?? 0).toBeLessThan(alone.get('identity_map') ?? 0);
      const total = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
      expect(total(shared)).toBeLessThan(total(alone));
    });

    it('acknowledges no message of a group whose commit fails, and applies it anew when resent (postgres)', async () => {
      // A constraint checked at COMMIT: the job below breaks it, the commit fails for the group.
      await sql`CREATE TABLE group_commit_check (k int UNIQUE DEFERRABLE INITIALLY DEFERRED)`.execute(
        t.store.db,
      );
      const first = message(patient('p5'), appointment('a9', 'p5'));
      const outcomes = await Promise.allSettled([
        ingest(first),
        t.store.batch(async (tx) => {
          await sql`INSERT INTO group_commit_check VALUES (1), (1)`.execute(tx.db);
        }),
      ]);
      expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected']);
      expect(await t.store.identityMap.findCanonical(link.id, 'Appointment', 'a9')).toBeUndefined();
      // Resent (no ACK came): not a duplicate, applied.
      expect((await ingest(first)).outcome).toBe('applied');
      expect(await t.store.identityMap.findCanonical(link.id, 'Appointment', 'a9')).toBeDefined();
    });
  }
});
