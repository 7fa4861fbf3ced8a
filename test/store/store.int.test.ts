/**
 * The store contract: every behaviour the engine relies on, run against the real SQLite file
 * store and a throwaway PostgreSQL database. Both must pass the same assertions.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sql } from 'kysely';

import { PasserelleError } from '../../src/errors.js';
import type { Store } from '../../src/store/index.js';
import type { ResourceQuery } from '../../src/store/types.js';
import { openTestStore, STORE_KINDS, type StoreKind, testClock, type TestStore } from '../helpers/stores.js';
import { until } from '../helpers/until.js';

describe.each(STORE_KINDS)('Store contract (%s)', (kind: StoreKind) => {
  const clock = testClock();
  let t: TestStore;
  let store: Store;
  let practiceId: string;
  let linkId: string;
  let otherLinkId: string;

  beforeAll(async () => {
    t = await openTestStore(kind, { now: clock });
    store = t.store;
    practiceId = (await store.practices.create({ name: 'Cabinet du Test' })).id;
    linkId = (
      await store.links.create({ practiceId, role: 'practice', connector: 'hl7v2', name: 'Logiciel X' })
    ).id;
    otherLinkId = (
      await store.links.create({
        practiceId,
        role: 'secretariat',
        connector: 'secretariat',
        name: 'Secrétariat',
      })
    ).id;
  });
  afterAll(async () => {
    await t.dispose();
  });

  describe('migrations', () => {
    it('reports the schema current after migrate, and a second migrate applies nothing', async () => {
      const status = await store.migrationStatus();
      expect(status.current).toBe(true);
      expect(status.applied).toEqual([
        '0001_core',
        '0002_sync',
        '0003_ical',
        '0004_mapping',
        '0005_reports',
        '0006_audit_keyed',
        '0007_sealing',
        '0008_practitioner_mappings',
        '0009_console_sessions',
        '0010_agenda',
        '0011_link_notify',
        '0012_urgent_messages',
        '0015_reminders',
        '0016_call_kpis',
        '0017_cluster_leases',
      ]);
      expect(await store.migrate()).toEqual([]);
    });

    it('reports pending migrations on an empty store', async () => {
      const empty = await openTestStore(kind, { migrate: false });
      try {
        const status = await empty.store.migrationStatus();
        expect(status.current).toBe(false);
        expect(status.pending).toContain('0001_core');
      } finally {
        await empty.dispose();
      }
    });
  });

  describe('practices and links', () => {
    it('creates a practice with Europe/Paris as default zone and lists it', async () => {
      const p = await store.practices.create({ name: 'Maison de santé' });
      expect(p.timezone).toBe('Europe/Paris');
      expect((await store.practices.list()).map((x) => x.id)).toContain(p.id);
    });

    it('refuses an update made against a stale version', async () => {
      const p = await store.practices.create({ name: 'Cabinet A', timezone: 'America/Martinique' });
      const updated = await store.practices.update(p.id, { name: 'Cabinet A bis' }, 1);
      expect(updated.version).toBe(2);
      await expect(store.practices.update(p.id, { name: 'stale' }, 1)).rejects.toMatchObject({
        code: 'ERR_CONFLICT',
      });
    });

    it('refuses to delete a practice that still has links', async () => {
      await expect(store.practices.delete(practiceId)).rejects.toMatchObject({ code: 'ERR_CONFLICT' });
    });

    it('creates, filters, updates and deletes links', async () => {
      const l = await store.links.create({
        practiceId,
        role: 'practice',
        connector: 'fhir',
        name: 'FHIR',
        isTest: true,
        config: { baseUrl: 'http://127.0.0.1:1' },
      });
      expect(l).toMatchObject({ isTest: true, enabled: true, config: { baseUrl: 'http://127.0.0.1:1' } });
      expect((await store.links.list({ connector: 'fhir' })).map((x) => x.id)).toEqual([l.id]);
      const u = await store.links.update(l.id, { enabled: false, schedule: '*/5 * * * *' });
      expect(u).toMatchObject({ enabled: false, schedule: '*/5 * * * *', version: 2 });
      await store.links.delete(l.id);
      expect(await store.links.get(l.id)).toBeUndefined();
    });

    it('refuses a link for an unknown practice', async () => {
      await expect(
        store.links.create({ practiceId: 'nope', role: 'practice', connector: 'fhir', name: 'x' }),
      ).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
    });
  });

  describe('canonical records, identity map, snapshots, cursors', () => {
    it('versions records and refuses a write based on a stale version', async () => {
      const data = { resourceType: 'Appointment', id: 'apt-1', status: 'booked' };
      const v1 = await store.resources.put({
        id: 'apt-1',
        practiceId,
        kind: 'Appointment',
        data,
        origin: 'secretariat',
        expectedVersion: 0,
        startAt: '2026-12-01T08:00:00.000Z',
        endAt: '2026-12-01T08:20:00.000Z',
        practitionerId: 'pr-1',
      });
      expect(v1.version).toBe(1);
      const v2 = await store.resources.put({
        id: 'apt-1',
        practiceId,
        kind: 'Appointment',
        data: { ...data, status: 'cancelled' },
        origin: 'practice',
        expectedVersion: 1,
        startAt: '2026-12-01T08:00:00.000Z',
        endAt: '2026-12-01T08:20:00.000Z',
        practitionerId: 'pr-1',
      });
      expect(v2).toMatchObject({ version: 2, origin: 'secretariat' });
      await expect(
        store.resources.put({
          id: 'apt-1',
          practiceId,
          kind: 'Appointment',
          data,
          origin: 'practice',
          expectedVersion: 1,
        }),
      ).rejects.toMatchObject({ code: 'ERR_STORE_CONFLICT' });
    });

    it('refuses a new record (expected version 0) whose id exists, leaving the stored one as it was', async () => {
      const data = { resourceType: 'Patient', id: 'pat-new-1', n: 1 };
      await store.resources.put({
        id: 'pat-new-1',
        practiceId,
        kind: 'Patient',
        data,
        origin: 'practice',
        expectedVersion: 0,
      });
      const second = store.transaction((tx) =>
        tx.resources.put({
          id: 'pat-new-1',
          practiceId,
          kind: 'Patient',
          data: { ...data, n: 2 },
          origin: 'secretariat',
          expectedVersion: 0,
        }),
      );
      await expect(second).rejects.toMatchObject({ code: 'ERR_STORE_CONFLICT', details: { version: 1 } });
      expect(await store.resources.get('pat-new-1')).toMatchObject({ version: 1, origin: 'practice', data });
    });

    it('lists records overlapping a time window', async () => {
      await store.resources.put({
        id: 'slot-1',
        practiceId,
        kind: 'Slot',
        data: { n: 1 },
        origin: 'practice',
        startAt: '2026-12-02T13:00:00.000Z',
        endAt: '2026-12-02T18:00:00.000Z',
      });
      await store.resources.put({
        id: 'slot-2',
        practiceId,
        kind: 'Slot',
        data: { n: 2 },
        origin: 'practice',
        startAt: '2026-12-05T13:00:00.000Z',
        endAt: '2026-12-05T18:00:00.000Z',
      });
      const found = await store.resources.list({
        practiceId,
        kind: 'Slot',
        from: '2026-12-02T17:00:00.000Z',
        to: '2026-12-03T00:00:00.000Z',
      });
      expect(found.map((r) => r.id)).toEqual(['slot-1']);
    });

    it("lists a patient's records by patient id", async () => {
      await store.resources.put({
        id: 'apt-pat-1',
        practiceId,
        kind: 'Appointment',
        data: { n: 1 },
        origin: 'practice',
        patientId: 'pat-x',
        startAt: '2026-12-03T08:00:00.000Z',
        endAt: '2026-12-03T08:15:00.000Z',
      });
      await store.resources.put({
        id: 'apt-pat-2',
        practiceId,
        kind: 'Appointment',
        data: { n: 2 },
        origin: 'practice',
        patientId: 'pat-y',
        startAt: '2026-12-03T09:00:00.000Z',
        endAt: '2026-12-03T09:15:00.000Z',
      });
      expect(
        (await store.resources.list({ practiceId, kind: 'Appointment', patientId: 'pat-x' })).map(
          (r) => r.id,
        ),
      ).toEqual(['apt-pat-1']);
    });

    it("lists several patients' records at once and pages a kind by id, within one practice only", async () => {
      const other = (await store.practices.create({ name: 'Cabinet voisin' })).id;
      const put = (id: string, practice: string, kind: 'Appointment' | 'Patient', patientId?: string) =>
        store.resources.put({
          id,
          practiceId: practice,
          kind,
          data: { id },
          origin: 'practice',
          ...(patientId !== undefined && {
            patientId,
            startAt: '2026-12-04T08:00:00.000Z',
            endAt: '2026-12-04T08:15:00.000Z',
          }),
        });
      await put('apt-many-1', practiceId, 'Appointment', 'pat-m1');
      await put('apt-many-2', practiceId, 'Appointment', 'pat-m2');
      await put('apt-many-3', other, 'Appointment', 'pat-m1');
      const ids = async (q: Omit<ResourceQuery, 'practiceId'>, practice = practiceId) =>
        (await store.resources.list({ practiceId: practice, ...q })).map((r) => r.id).sort();
      expect(await ids({ kind: 'Appointment', patientIds: ['pat-m1', 'pat-m2'] })).toEqual([
        'apt-many-1',
        'apt-many-2',
      ]);
      expect(await ids({ kind: 'Appointment', patientIds: [] })).toEqual([]);
      const paged = (await store.practices.create({ name: 'Cabinet paginé' })).id;
      for (const id of ['pg-c', 'pg-a', 'pg-b']) await put(id, paged, 'Patient');
      await put('pg-0', other, 'Patient');
      expect(await ids({ kind: 'Patient', page: { after: null, size: 2 } }, paged)).toEqual(['pg-a', 'pg-b']);
      expect(await ids({ kind: 'Patient', page: { after: 'pg-b', size: 2 } }, paged)).toEqual(['pg-c']);
      expect(await ids({ kind: 'Patient', page: { after: null, size: 10 } }, other)).toEqual(['pg-0']);
    });

    it('files hashed match keys per record, replaces them, and finds records by key within a practice', async () => {
      await store.matchKeys.replace(practiceId, 'Patient', 'pat-k1', ['h-ins', 'h-demo']);
      await store.matchKeys.replace(practiceId, 'Patient', 'pat-k2', ['h-demo', 'h-demo']);
      expect(await store.matchKeys.find(practiceId, 'h-demo')).toEqual(['pat-k1', 'pat-k2']);
      await store.transaction((tx) => tx.matchKeys.replace(practiceId, 'Patient', 'pat-k1', ['h-other']));
      expect(await store.matchKeys.find(practiceId, 'h-demo')).toEqual(['pat-k2']);
      expect(await store.matchKeys.find(practiceId, 'h-ins')).toEqual([]);
      expect(await store.matchKeys.find('another-practice', 'h-other')).toEqual([]);
      await store.matchKeys.replace(practiceId, 'Patient', 'pat-k2', []);
      expect(await store.matchKeys.find(practiceId, 'h-demo')).toEqual([]);
    });

    it('adds the match keys of a record that has none, then replaces them like any other', async () => {
      await store.transaction((tx) =>
        tx.matchKeys.add(practiceId, 'Patient', 'pat-k3', ['h-add', 'h-add', 'h-add-2']),
      );
      expect(await store.matchKeys.find(practiceId, 'h-add')).toEqual(['pat-k3']);
      expect(await store.matchKeys.find(practiceId, 'h-add-2')).toEqual(['pat-k3']);
      await store.matchKeys.replace(practiceId, 'Patient', 'pat-k3', ['h-add-3']);
      expect(await store.matchKeys.find(practiceId, 'h-add')).toEqual([]);
      expect(await store.matchKeys.find(practiceId, 'h-add-3')).toEqual(['pat-k3']);
    });

    it('maps external ids both ways and follows a merge survivor', async () => {
      await store.identityMap.set({
        linkId,
        kind: 'Patient',
        externalId: 'IPP-1',
        canonicalId: 'pat-a',
        practiceId,
      });
      await store.identityMap.set({
        linkId,
        kind: 'Patient',
        externalId: 'IPP-2',
        canonicalId: 'pat-b',
        practiceId,
      });
      await store.identityMap.set({
        linkId,
        kind: 'Patient',
        externalId: 'IPP-1',
        canonicalId: 'pat-a',
        practiceId,
      });
      expect(await store.identityMap.findCanonical(linkId, 'Patient', 'IPP-1')).toBe('pat-a');
      expect(await store.identityMap.findExternal(linkId, 'Patient', 'pat-b')).toEqual(['IPP-2']);
      expect(await store.identityMap.repoint('pat-b', 'pat-a')).toBe(1);
      expect((await store.identityMap.findExternal(linkId, 'Patient', 'pat-a')).sort()).toEqual([
        'IPP-1',
        'IPP-2',
      ]);
    });

    it('pages a link’s known ids of a kind by canonical id, whole per record, leaving out cancelled and withdrawn records', async () => {
      const set = (canonicalId: string, externalId: string, onLink = linkId) =>
        store.identityMap.set({ linkId: onLink, kind: 'Slot', externalId, canonicalId, practiceId });
      await set('known-1', 'S-1');
      await set('known-2', 'S-2');
      await set('known-3', 'S-3a');
      await set('known-3', 'S-3b');
      await set('known-4', 'S-4');
      await set('known-5', 'S-5');
      await set('known-6', 'S-6', otherLinkId);
      await store.resources.put({
        id: 'known-4',
        practiceId,
        kind: 'Slot',
        data: { resourceType: 'Slot', id: 'known-4' },
        origin: 'practice',
        expectedVersion: 0,
        status: 'entered-in-error',
      });
      await store.resources.put({
        id: 'known-5',
        practiceId,
        kind: 'Slot',
        data: { resourceType: 'Slot', id: 'known-5' },
        origin: 'practice',
        expectedVersion: 0,
        status: 'free',
      });
      const page = async (after: string | null, limit: number) =>
        (await store.identityMap.pageKnown(linkId, 'Slot', after, limit)).map(
          (k) => `${k.canonicalId}:${k.externalId}`,
        );
      expect(await page(null, 2)).toEqual(['known-1:S-1', 'known-2:S-2']);
      // The limit falls inside known-3's ids: the page takes all of them.
      expect((await page('known-1', 2)).sort()).toEqual(['known-2:S-2', 'known-3:S-3a', 'known-3:S-3b']);
      expect(await page('known-3', 10)).toEqual(['known-5:S-5']);
      expect(await page('known-5', 10)).toEqual([]);
    });

    it('keeps one snapshot per link and record, replacing it on each sync', async () => {
      await store.snapshots.put({
        linkId,
        kind: 'Patient',
        canonicalId: 'pat-a',
        data: { phone: '1' },
        externalVersion: 'v1',
      });
      const s = await store.snapshots.put({
        linkId,
        kind: 'Patient',
        canonicalId: 'pat-a',
        data: { phone: '2' },
        externalVersion: 'v2',
      });
      const got = await store.snapshots.get(linkId, 'Patient', 'pat-a');
      expect(got).toMatchObject({ data: { phone: '2' }, externalVersion: 'v2', hash: s.hash });
      expect(await store.snapshots.get(otherLinkId, 'Patient', 'pat-a')).toBeUndefined();
    });

    it('advances cursors and keeps the last error apart from the last success', async () => {
      await store.cursors.set(linkId, 'Appointment', 'c1');
      await store.cursors.recordError(linkId, 'Appointment', 'ERR_X');
      const c = await store.cursors.get(linkId, 'Appointment');
      expect(c).toMatchObject({ cursor: 'c1', lastError: 'ERR_X' });
      expect(c?.lastSuccessAt).not.toBeNull();
      await store.cursors.set(linkId, 'Appointment', 'c2');
      expect(await store.cursors.get(linkId, 'Appointment')).toMatchObject({ cursor: 'c2', lastError: null });
    });
  });

  describe('inbox', () => {
    const msg = (key: string, hash: string) => ({
      linkId,
      dedupeKey: key,
      bodyHash: hash,
      messageType: 'SIU^S12',
      body: Buffer.from(`MSH|${hash}`),
    });

    it('stores a new message, answers a resend with the original response, flags a reused key', async () => {
      const first = await store.inbox.accept(msg('APP|FAC|MSG1', 'h1'));
      expect(first.outcome).toBe('new');
      await store.inbox.finish(first.entry.id, { status: 'processed', response: Buffer.from('ACK-1') });
      const again = await store.inbox.accept(msg('APP|FAC|MSG1', 'h1'));
      expect(again.outcome).toBe('duplicate');
      expect(again.entry.response?.toString()).toBe('ACK-1');
      const reused = await store.inbox.accept(msg('APP|FAC|MSG1', 'h2'));
      expect(reused.outcome).toBe('reused-key');
      expect(reused.entry.flags).toContain('reused-dedupe-key');
      if (reused.outcome === 'reused-key') expect(reused.previous.id).toBe(first.entry.id);
    });

    it('forgets the dedupe key when the transaction that applied the message rolls back', async () => {
      await expect(
        store.transaction(async (tx) => {
          await tx.inbox.accept(msg('APP|FAC|MSG2', 'h'));
          throw new Error('apply failed');
        }),
      ).rejects.toThrow('apply failed');
      expect((await store.inbox.accept(msg('APP|FAC|MSG2', 'h'))).outcome).toBe('new');
    });

    it('drops old bodies on purge but keeps keys and responses for dedupe', async () => {
      const r = await store.inbox.accept(msg('APP|FAC|MSG3', 'h'));
      await store.inbox.finish(r.entry.id, { status: 'processed', response: Buffer.from('ACK-3') });
      expect(await store.inbox.purgeBodies(clock() + 1)).toBeGreaterThan(0);
      const dup = await store.inbox.accept(msg('APP|FAC|MSG3', 'h'));
      expect(dup).toMatchObject({ outcome: 'duplicate', entry: { body: null } });
      expect(dup.entry.response?.toString()).toBe('ACK-3');
    });
  });

  describe('outbox', () => {
    let seqLink: string;
    beforeAll(async () => {
      seqLink = (
        await store.links.create({ practiceId, role: 'practice', connector: 'test', name: 'outbox' })
      ).id;
    });
    const item = (recordId: string, key: string, priority?: number) => ({
      practiceId,
      linkId: seqLink,
      kind: 'Appointment' as const,
      recordId,
      op: 'upsert',
      payload: { key },
      idempotencyKey: key,
      ...(priority !== undefined && { priority }),
    });

    it('enqueues once per idempotency key', async () => {
      const a = await store.outbox.enqueue(item('r0', 'k-once'));
      const b = await store.outbox.enqueue(item('r0', 'k-once'));
      expect(b.seq).toBe(a.seq);
      await store.outbox.complete(a.seq);
    });

    it('leases urgent work first and one change per record at a time, in record order', async () => {
      const a1 = await store.outbox.enqueue(item('rec-a', 'a1'));
      const a2 = await store.outbox.enqueue(item('rec-a', 'a2'));
      const b1 = await store.outbox.enqueue(item('rec-b', 'b1'));
      const u = await store.outbox.enqueue(item('rec-u', 'u1', 0));
      const leased = await store.outbox.lease({
        owner: 'w1',
        limit: 10,
        leaseMs: 30_000,
        linkIds: [seqLink],
      });
      expect(leased.map((i) => i.seq)).toEqual([u.seq, a1.seq, b1.seq]);
      expect(leased.every((i) => i.status === 'leased' && i.attempts === 1)).toBe(true);
      // a2 waits for a1 even though nothing else is leasable.
      expect(
        await store.outbox.lease({ owner: 'w2', limit: 10, leaseMs: 30_000, linkIds: [seqLink] }),
      ).toEqual([]);
      await store.outbox.complete(a1.seq, { externalId: 'x' });
      expect(
        (await store.outbox.lease({ owner: 'w2', limit: 10, leaseMs: 30_000, linkIds: [seqLink] })).map(
          (i) => i.seq,
        ),
      ).toEqual([a2.seq]);
      for (const s of [a2.seq, b1.seq, u.seq]) await store.outbox.complete(s);
    });

    it('holds a link’s other changes while an urgent one backs off, so the urgent one goes first when the peer is back (issue 9, scenario 3)', async () => {
      // An outage: routine messages failed first, then an urgent one; each row has its own retry time.
      const r1 = await store.outbox.enqueue(item('rec-r1', 'hold-r1'));
      const r2 = await store.outbox.enqueue(item('rec-r2', 'hold-r2'));
      const u = await store.outbox.enqueue(item('rec-hold-u', 'hold-u', 0));
      const other = await store.outbox.enqueue({ ...item('rec-other', 'hold-other'), linkId });
      const first = await store.outbox.lease({
        owner: 'w1',
        limit: 10,
        leaseMs: 30_000,
        linkIds: [seqLink, linkId],
      });
      expect(first.map((i) => i.seq)).toEqual([u.seq, r1.seq, r2.seq, other.seq]);
      await store.outbox.retry(r1.seq, 'w1', { at: clock() + 1000, errorCode: 'ERR_X', error: 'peer down' });
      await store.outbox.retry(r2.seq, 'w1', { at: clock() + 1000, errorCode: 'ERR_X', error: 'peer down' });
      await store.outbox.retry(u.seq, 'w1', { at: clock() + 4000, errorCode: 'ERR_X', error: 'peer down' });
      await store.outbox.retry(other.seq, 'w1', {
        at: clock() + 1000,
        errorCode: 'ERR_X',
        error: 'peer down',
      });
      clock.advance(1000);
      // The routine rows are due but wait behind the urgent one; another link is not held.
      expect(
        (
          await store.outbox.lease({ owner: 'w1', limit: 10, leaseMs: 30_000, linkIds: [seqLink, linkId] })
        ).map((i) => i.seq),
      ).toEqual([other.seq]);
      // An idle dispatcher sleeps until the urgent row is due, not in a loop on rows it may not take.
      expect(await store.outbox.nextReadyAt()).toBe(clock() + 3000);
      clock.advance(3000);
      expect(
        (await store.outbox.lease({ owner: 'w1', limit: 10, leaseMs: 30_000, linkIds: [seqLink] })).map(
          (i) => i.seq,
        ),
      ).toEqual([u.seq, r1.seq, r2.seq]);
      for (const s of [u.seq, r1.seq, r2.seq, other.seq]) await store.outbox.complete(s);
      // An urgent row that only waits (a patient review, a record sent first) holds nothing back.
      const v = await store.outbox.enqueue(item('rec-hold-v', 'hold-v', 0));
      const r3 = await store.outbox.enqueue(item('rec-r3', 'hold-r3'));
      await store.outbox.lease({ owner: 'w1', limit: 1, leaseMs: 30_000, linkIds: [seqLink] });
      await store.outbox.defer(v.seq, 'w1', {
        at: clock() + 60_000,
        errorCode: 'ERR_SYNC_REVIEW_PENDING',
        error: 'waits for review',
      });
      expect(
        (await store.outbox.lease({ owner: 'w1', limit: 10, leaseMs: 30_000, linkIds: [seqLink] })).map(
          (i) => i.seq,
        ),
      ).toEqual([r3.seq]);
      for (const s of [v.seq, r3.seq]) await store.outbox.complete(s);
    });

    it('retries after the backoff time, hands expired leases to another worker, and parks poison items', async () => {
      const x = await store.outbox.enqueue(item('rec-x', 'x1'));
      await store.outbox.lease({ owner: 'w1', limit: 1, leaseMs: 1000, linkIds: [seqLink] });
      await store.outbox.retry(x.seq, 'w1', {
        at: clock() + 5000,
        errorCode: 'ERR_X',
        error: 'peer said 500',
      });
      expect(await store.outbox.lease({ owner: 'w1', limit: 1, leaseMs: 1000, linkIds: [seqLink] })).toEqual(
        [],
      );
      clock.advance(5000);
      const [again] = await store.outbox.lease({ owner: 'w1', limit: 1, leaseMs: 1000, linkIds: [seqLink] });
      expect(again).toMatchObject({ seq: x.seq, attempts: 2, lastError: 'peer said 500' });
      clock.advance(1001);
      // PostgreSQL judges leases on its own clock (several instances share it): the second
      // really passes there; SQLite's one process judges them on the store's (test) clock.
      const taken = await until('the lease run out', async () =>
        (await store.outbox.lease({ owner: 'w2', limit: 1, leaseMs: 1000, linkIds: [seqLink] })).find(
          (i) => i.seq === x.seq,
        ),
      );
      expect(taken).toMatchObject({ seq: x.seq, leaseOwner: 'w2', attempts: 3 });
      // The first worker's late retry must not steal the item back.
      await store.outbox.retry(x.seq, 'w1', { at: clock(), errorCode: 'ERR_X', error: 'late' });
      expect(await store.outbox.get(x.seq)).toMatchObject({ leaseOwner: 'w2', status: 'leased' });
      await store.transaction(async (tx) => {
        await tx.outbox.kill(x.seq, { errorCode: 'ERR_Y', error: 'rejected' });
        await tx.deadLetters.add({
          practiceId,
          linkId: seqLink,
          source: 'outbox',
          ref: String(x.seq),
          kind: 'Appointment',
          recordId: 'rec-x',
          reasonCode: 'ERR_Y',
          reason: 'rejected',
          payload: null,
        });
      });
      expect(await store.outbox.depth(seqLink)).toMatchObject({ dead: 1, pending: 0, leased: 0 });
      await store.outbox.requeue(x.seq);
      expect(await store.outbox.get(x.seq)).toMatchObject({ status: 'pending', attempts: 0 });
      await store.outbox.kill(x.seq, { errorCode: 'ERR_Y', error: 'rejected' });
    });

    it('defers an item without spending an attempt, only for the worker holding its lease', async () => {
      const d = await store.outbox.enqueue(item('rec-d', 'd1'));
      await store.outbox.lease({ owner: 'w1', limit: 1, leaseMs: 1000, linkIds: [seqLink] });
      await store.outbox.defer(d.seq, 'w9', {
        at: clock() + 1000,
        errorCode: 'ERR_SYNC_REVIEW_PENDING',
        error: 'not mine',
      });
      expect(await store.outbox.get(d.seq)).toMatchObject({ status: 'leased', attempts: 1 });
      await store.outbox.defer(d.seq, 'w1', {
        at: clock() + 1000,
        errorCode: 'ERR_SYNC_REVIEW_PENDING',
        error: 'waits for review',
      });
      expect(await store.outbox.get(d.seq)).toMatchObject({
        status: 'pending',
        attempts: 0,
        lastErrorCode: 'ERR_SYNC_REVIEW_PENDING',
      });
      expect(
        (
          await store.outbox.list({ practiceId, lastErrorCode: 'ERR_SYNC_REVIEW_PENDING', status: 'pending' })
        ).map((i) => i.seq),
      ).toEqual([d.seq]);
      await store.outbox.complete(d.seq);
    });

    it('never hands one item to two concurrent workers', async () => {
      for (let i = 0; i < 40; i++) await store.outbox.enqueue(item(`par-${i}`, `par-${i}`));
      const results = await Promise.all(
        ['w1', 'w2', 'w3', 'w4'].map((owner) =>
          store.outbox.lease({ owner, limit: 15, leaseMs: 60_000, linkIds: [seqLink] }),
        ),
      );
      const seqs = results.flat().map((i) => i.seq);
      expect(new Set(seqs).size).toBe(seqs.length);
      expect(seqs.length).toBe(40);
      for (const s of seqs) await store.outbox.complete(s);
    });
  });

  describe('conflicts, review items and dead letters', () => {
    it('opens a conflict with both values per field and closes it once', async () => {
      const c = await store.conflicts.open({
        practiceId,
        kind: 'Appointment',
        recordId: 'apt-1',
        fields: [{ path: 'start', base: 'a', practice: 'b', secretariat: 'c' }],
      });
      expect((await store.conflicts.list({ practiceId, status: 'open' })).map((x) => x.id)).toContain(c.id);
      const closed = await store.conflicts.close(c.id, {
        status: 'resolved',
        resolution: { side: 'practice' },
        by: 'key-1',
      });
      expect(closed).toMatchObject({
        status: 'resolved',
        resolvedBy: 'key-1',
        fields: [{ path: 'start', practice: 'b' }],
      });
      await expect(
        store.conflicts.close(c.id, { status: 'resolved', resolution: {}, by: 'x' }),
      ).rejects.toMatchObject({ code: 'ERR_CONFLICT' });
    });

    it('queues patient-match reviews', async () => {
      const r = await store.reviews.open({
        practiceId,
        type: 'patient-match',
        payload: { candidates: ['pat-a'] },
      });
      expect(
        (await store.reviews.list({ type: 'patient-match', status: 'open' })).map((x) => x.id),
      ).toContain(r.id);
      const forRecord = await store.reviews.open({
        practiceId,
        type: 'patient-match',
        recordId: 'pat-held',
        payload: {},
      });
      expect((await store.reviews.list({ recordId: 'pat-held' })).map((x) => x.id)).toEqual([forRecord.id]);
      expect((await store.reviews.close(r.id, { status: 'dismissed', resolution: {}, by: 'k' })).status).toBe(
        'dismissed',
      );
    });

    it('lists dead letters by status and marks them replayed', async () => {
      const d = await store.deadLetters.add({
        practiceId,
        linkId,
        source: 'inbox',
        ref: '12',
        kind: null,
        recordId: null,
        reasonCode: 'ERR_HL7',
        reason: 'PID-3 missing',
        payload: { note: 'x' },
      });
      expect(await store.deadLetters.count({ status: 'open', linkId })).toBeGreaterThanOrEqual(1);
      expect((await store.deadLetters.setStatus(d.id, 'replayed', 'key-1')).status).toBe('replayed');
      const o = await store.deadLetters.add({
        practiceId,
        linkId,
        source: 'outbox',
        ref: '7',
        kind: 'Appointment',
        recordId: 'apt-dl',
        reasonCode: 'ERR_CONNECTOR_REJECTED',
        reason: 'refused',
        payload: null,
      });
      expect(
        (
          await store.deadLetters.list({
            source: 'outbox',
            recordId: 'apt-dl',
            reasonCode: 'ERR_CONNECTOR_REJECTED',
          })
        ).map((x) => x.id),
      ).toEqual([o.id]);
      expect(await store.deadLetters.list({ source: 'inbox', recordId: 'apt-dl' })).toEqual([]);
    });
  });

  describe('audit trail', () => {
    it('chains events and verifies them', async () => {
      for (let i = 0; i < 5; i++) {
        await store.audit.append({
          actor: 'key-1',
          role: 'admin',
          action: 'patient.read',
          resourceType: 'Patient',
          resourceId: `p${i}`,
          patientId: `p${i}`,
          outcome: 'success',
          via: 'api',
          details: { i },
        });
      }
      const events = await store.audit.list({ limit: 10 });
      expect(events[1]?.prevHash).toBe(events[0]?.hash);
      expect(await store.audit.verify()).toEqual({ ok: true, checked: events.length });
    });

    it('names the first edited row when a row is tampered with in the database', async () => {
      const events = await store.audit.list({ limit: 10 });
      const target = events[2] as (typeof events)[number];
      await sql`UPDATE audit_events SET patient_id = 'someone-else' WHERE seq = ${target.seq}`.execute(
        store.db,
      );
      expect(await store.audit.verify()).toMatchObject({ ok: false, firstBrokenSeq: target.seq });
      await sql`UPDATE audit_events SET patient_id = ${target.patientId} WHERE seq = ${target.seq}`.execute(
        store.db,
      );
      expect((await store.audit.verify()).ok).toBe(true);
    });

    it('detects rows removed from the end of the chain', async () => {
      const last = await store.audit.append({ actor: 'cli', action: 'x', outcome: 'success' });
      await sql`DELETE FROM audit_events WHERE seq = ${last.seq}`.execute(store.db);
      expect(await store.audit.verify()).toMatchObject({ ok: false });
      // Restore the row exactly so later tests see a valid chain.
      await sql`INSERT INTO audit_events (at, actor, role, action, resource_type, resource_id, patient_id, outcome, request_id, via, details, prev_hash, hash)
        VALUES (${Date.parse(last.at)}, ${last.actor}, ${null}, ${last.action}, ${null}, ${null}, ${null}, ${last.outcome}, ${null}, ${null}, ${'{}'}, ${last.prevHash}, ${last.hash})`.execute(
        store.db,
      );
      expect((await store.audit.verify()).ok).toBe(true);
    });

    it('keeps the chain intact when a savepoint rolls back appends made between others of the same transaction', async () => {
      const kept = await store.transaction(async (tx) => {
        const a = await tx.audit.append({ actor: 'sp', action: 'kept.a', outcome: 'success' });
        await tx.savepoint('audit_sp');
        await tx.audit.append({ actor: 'sp', action: 'undone.b', outcome: 'success' });
        await tx.audit.append({ actor: 'sp', action: 'undone.c', outcome: 'success' });
        await tx.rollbackTo('audit_sp');
        const d = await tx.audit.append({ actor: 'sp', action: 'kept.d', outcome: 'success' });
        await tx.savepoint('audit_sp');
        const e = await tx.audit.append({ actor: 'sp', action: 'kept.e', outcome: 'success' });
        await tx.release('audit_sp');
        const f = await tx.audit.append({ actor: 'sp', action: 'kept.f', outcome: 'success' });
        return [a, d, e, f];
      });
      expect(kept.map((x) => x.prevHash).slice(1)).toEqual(kept.map((x) => x.hash).slice(0, -1));
      const listed = await store.audit.list({ afterSeq: (kept[0]?.seq ?? 0) - 1, limit: 10 });
      expect(listed.map((x) => x.action)).toEqual(['kept.a', 'kept.d', 'kept.e', 'kept.f']);
      expect(await store.audit.verify()).toMatchObject({ ok: true });
    });

    it('keeps the chain intact when one of the jobs sharing a commit fails after appending', async () => {
      const job = (i: number) =>
        store.batch(async (tx) => {
          await tx.audit.append({ actor: `job${i}`, action: 'batch.first', outcome: 'success' });
          await tx.audit.append({ actor: `job${i}`, action: 'batch.second', outcome: 'success' });
          if (i % 2 === 1) throw new Error(`job ${i} fails`);
          return i;
        });
      const outcomes = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => job(i)));
      expect(outcomes.map((o) => o.status)).toEqual([
        'fulfilled',
        'rejected',
        'fulfilled',
        'rejected',
        'fulfilled',
        'rejected',
      ]);
      const events = await store.audit.list({ action: 'batch.first', limit: 10 });
      expect(events.map((x) => x.actor).sort()).toEqual(['job0', 'job2', 'job4']);
      expect(await store.audit.verify()).toMatchObject({ ok: true });
    });

    it('keeps the chain intact under concurrent appends', async () => {
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          store.audit.append({ actor: `w${i % 3}`, action: 'concurrent', outcome: 'success' }),
        ),
      );
      expect((await store.audit.verify()).ok).toBe(true);
    });
  });

  describe('secrets at rest', () => {
    it('finds API keys and iCal tokens by hash only, and stops finding revoked ones in lists', async () => {
      const k = await store.apiKeys.create({
        keyHash: `h-${kind}`,
        prefix: 'psk_abcd',
        role: 'integrator',
        label: 'CI',
      });
      expect((await store.apiKeys.findByHash(`h-${kind}`))?.id).toBe(k.id);
      const active = await store.apiKeys.countActive();
      await store.apiKeys.revoke(k.id);
      expect(await store.apiKeys.countActive()).toBe(active - 1);
      expect((await store.apiKeys.findByHash(`h-${kind}`))?.revokedAt).not.toBeNull();

      const tok = await store.icalTokens.create({
        tokenHash: `t-${kind}`,
        practiceId,
        practitionerId: 'pr-1',
      });
      expect(tok.privacy).toBe('busy');
      const rotated = await store.icalTokens.update(tok.id, { tokenHash: `t2-${kind}` });
      expect(await store.icalTokens.findByHash(`t-${kind}`)).toBeUndefined();
      expect((await store.icalTokens.findByHash(`t2-${kind}`))?.id).toBe(rotated.id);
      await store.icalTokens.revoke(tok.id);
      expect((await store.icalTokens.list({ practiceId })).map((x) => x.id)).not.toContain(tok.id);
    });

    it('versions an iCal token’s settings: every update bumps version and updatedAt', async () => {
      const tok = await store.icalTokens.create({ tokenHash: `tv-${kind}`, practiceId });
      expect(tok).toMatchObject({ version: 1, updatedAt: tok.createdAt });
      clock.advance(1000);
      const changed = await store.icalTokens.update(tok.id, { privacy: 'full', fullAllowed: true });
      expect(changed).toMatchObject({
        version: 2,
        privacy: 'full',
        fullAllowed: true,
        updatedAt: new Date(Date.parse(tok.createdAt) + 1000).toISOString(),
      });
      expect((await store.icalTokens.update(tok.id, { label: 'x' })).version).toBe(3);
    });
  });

  describe('change counters', () => {
    it('finds a feed token with its practice and change counter in one call', async () => {
      const p = await store.practices.create({ name: 'Flux', timezone: 'America/Cayenne' });
      const tok = await store.icalTokens.create({
        tokenHash: `feed-${kind}`,
        practiceId: p.id,
        practitionerId: 'pr-9',
        privacy: 'initials',
      });
      expect(await store.icalTokens.findFeedByHash(`feed-${kind}`)).toEqual({
        token: tok,
        practice: p,
        counter: undefined,
      });
      await store.resources.put({
        id: `ff-${kind}`,
        practiceId: p.id,
        kind: 'Slot',
        data: {},
        origin: 'practice',
      });
      const found = await store.icalTokens.findFeedByHash(`feed-${kind}`);
      expect(found?.counter).toEqual(await store.changeCounters.get(p.id));
      expect(found?.counter?.seq).toBe(1);
      expect(await store.icalTokens.findFeedByHash('nope')).toBeUndefined();
    });

    const put = (tx: { resources: Store['resources'] }, id: string, practice: string) =>
      tx.resources.put({
        id,
        practiceId: practice,
        kind: 'Slot',
        data: { id },
        origin: 'practice',
        startAt: '2026-12-01T08:00:00.000Z',
        endAt: '2026-12-01T09:00:00.000Z',
      });

    it('bumps a practice’s counter once per committed transaction that wrote its records', async () => {
      const p = (await store.practices.create({ name: 'Compteur' })).id;
      expect(await store.changeCounters.get(p)).toBeUndefined();
      await put(store, `cc-a-${kind}`, p);
      expect((await store.changeCounters.get(p))?.seq).toBe(1);
      await store.transaction(async (tx) => {
        await put(tx, `cc-b-${kind}`, p);
        await put(tx, `cc-c-${kind}`, p);
        await put(tx, `cc-b-${kind}`, p);
      });
      clock.advance(500);
      await put(store, `cc-a-${kind}`, p);
      const counter = await store.changeCounters.get(p);
      expect(counter).toEqual({ practiceId: p, seq: 3, updatedAt: new Date(clock()).toISOString() });
      // Other practices keep their own counters.
      expect((await store.changeCounters.get(practiceId))?.seq ?? 0).not.toBe(3);
    });

    it('leaves the counter alone when the transaction rolls back, and bumps each practice of one transaction', async () => {
      const p = (await store.practices.create({ name: 'Rollback' })).id;
      const q = (await store.practices.create({ name: 'Autre' })).id;
      await expect(
        store.transaction(async (tx) => {
          await put(tx, `cc-r-${kind}`, p);
          throw new PasserelleError('ERR_INTERNAL', 'boom');
        }),
      ).rejects.toMatchObject({ code: 'ERR_INTERNAL' });
      expect(await store.changeCounters.get(p)).toBeUndefined();
      await store.transaction(async (tx) => {
        await put(tx, `cc-q-${kind}`, q);
        await put(tx, `cc-p-${kind}`, p);
      });
      expect([(await store.changeCounters.get(p))?.seq, (await store.changeCounters.get(q))?.seq]).toEqual([
        1, 1,
      ]);
    });

    it('counts every write of concurrent batch transactions, so no change can hide behind another', async () => {
      const p = (await store.practices.create({ name: 'Concurrent' })).id;
      const before = (await store.changeCounters.get(p))?.seq ?? 0;
      await Promise.all(
        Array.from({ length: 20 }, (_, i) => store.batch((tx) => put(tx, `cc-batch-${kind}-${i}`, p))),
      );
      const after = (await store.changeCounters.get(p))?.seq ?? 0;
      // Group commit may merge writers into fewer transactions, never into none.
      expect(after).toBeGreaterThan(before);
      await put(store, `cc-batch-${kind}-0`, p);
      expect((await store.changeCounters.get(p))?.seq).toBe(after + 1);
    });

    it('never deadlocks transactions that write several practices in different orders and append audit events', async () => {
      const p = (await store.practices.create({ name: 'Ordre A' })).id;
      const q = (await store.practices.create({ name: 'Ordre B' })).id;
      const jobs = Array.from({ length: 40 }, (_, i) => {
        const [first, second] = i % 2 === 0 ? [p, q] : [q, p];
        const work = async (tx: Parameters<Parameters<Store['transaction']>[0]>[0]) => {
          await put(tx, `dl-${kind}-${i}-a`, first);
          await tx.audit.append({ actor: 'test', action: 'test.write', outcome: 'success' });
          await put(tx, `dl-${kind}-${i}-b`, second);
        };
        return i % 3 === 0 ? store.transaction(work) : store.batch(work);
      });
      const results = await Promise.allSettled(jobs);
      expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
      expect((await store.changeCounters.get(p))?.seq).toBeGreaterThan(0);
    });

    it('fetches many records by id at once', async () => {
      const p = (await store.practices.create({ name: 'Lot' })).id;
      for (let i = 0; i < 3; i++) await put(store, `gm-${kind}-${i}`, p);
      const got = await store.resources.getMany([`gm-${kind}-2`, `gm-${kind}-0`, 'nope', `gm-${kind}-2`]);
      expect(got.map((r) => r.id).sort()).toEqual([`gm-${kind}-0`, `gm-${kind}-2`]);
      expect(await store.resources.getMany([])).toEqual([]);
    });
  });

  describe('mapping profile versions', () => {
    it('numbers versions per link, keeps exactly one active, and lists them newest first', async () => {
      const a = await store.mappingProfiles.add({
        linkId,
        name: 'hl7v2-ihe-pam-fr',
        yaml: 'name: a\n',
        hash: 'h1',
        createdBy: 'key-1',
      });
      const b = await store.mappingProfiles.add({
        linkId,
        name: 'hl7v2-ihe-pam-fr',
        yaml: 'name: b\n',
        hash: 'h2',
        createdBy: 'key-1',
        comment: 'second',
      });
      const other = await store.mappingProfiles.add({
        linkId: otherLinkId,
        name: 'x',
        yaml: 'name: x\n',
        hash: 'h3',
      });
      expect([a.version, b.version, other.version]).toEqual([1, 2, 1]);
      expect((await store.mappingProfiles.active(linkId))?.version).toBe(2);
      const list = await store.mappingProfiles.list(linkId);
      expect(list.map((v) => [v.version, v.active, v.hash])).toEqual([
        [2, true, 'h2'],
        [1, false, 'h1'],
      ]);
      expect(list[0]).toMatchObject({
        linkId,
        name: 'hl7v2-ihe-pam-fr',
        yaml: 'name: b\n',
        createdBy: 'key-1',
        comment: 'second',
        createdAt: new Date(clock()).toISOString(),
      });
      expect((await store.mappingProfiles.active(otherLinkId))?.hash).toBe('h3');
    });

    it('activates an earlier version and refuses one that does not exist', async () => {
      await store.mappingProfiles.activate(linkId, 1);
      expect((await store.mappingProfiles.active(linkId))?.yaml).toBe('name: a\n');
      expect(
        (await store.mappingProfiles.list(linkId)).filter((v) => v.active).map((v) => v.version),
      ).toEqual([1]);
      await expect(store.mappingProfiles.activate(linkId, 99)).rejects.toMatchObject({
        code: 'ERR_NOT_FOUND',
      });
      expect((await store.mappingProfiles.active(linkId))?.version).toBe(1);
    });

    it("adds a version inside a caller's transaction and rolls it back with it", async () => {
      await expect(
        store.transaction(async (tx) => {
          await tx.mappingProfiles.add({ linkId, name: 'n', yaml: 'name: c\n', hash: 'h4' });
          throw new PasserelleError('ERR_INTERNAL', 'boom');
        }),
      ).rejects.toMatchObject({ code: 'ERR_INTERNAL' });
      expect((await store.mappingProfiles.list(linkId)).map((v) => v.hash)).not.toContain('h4');
      expect((await store.mappingProfiles.active(linkId))?.version).toBe(1);
      expect(await store.mappingProfiles.get(linkId, 2)).toMatchObject({ hash: 'h2', active: false });
      expect(await store.mappingProfiles.get(linkId, 3)).toBeUndefined();
    });
  });

  describe('supervision reports', () => {
    const day = { from: '2026-11-23T00:00:00.000Z', to: '2026-11-24T00:00:00.000Z' };
    let reportPractice: string;
    beforeAll(async () => {
      reportPractice = (await store.practices.create({ name: 'Cabinet des rapports' })).id;
    });

    it('appends activity stamped by the store clock, keeps an event with a dedupe key once, and counts a period by type, origin and practitioner', async () => {
      clock.set(Date.parse('2026-11-23T08:00:00.000Z'));
      expect(
        await store.activity.append({
          practiceId: reportPractice,
          type: 'appointment.booked',
          origin: 'secretariat',
          practitionerId: 'pr-1',
          recordId: 'a-1',
          kind: 'Appointment',
        }),
      ).toBe(true);
      expect(
        await store.activity.append({
          practiceId: reportPractice,
          type: 'appointment.booked',
          origin: 'secretariat',
          practitionerId: 'pr-1',
          recordId: 'a-2',
          kind: 'Appointment',
        }),
      ).toBe(true);
      expect(
        await store.activity.append({
          practiceId: reportPractice,
          type: 'appointment.booked',
          origin: 'practice',
          practitionerId: 'pr-2',
          recordId: 'a-3',
        }),
      ).toBe(true);
      expect(
        await store.activity.append({
          practiceId: reportPractice,
          type: 'appointment.refused',
          origin: 'secretariat',
          detail: 'ERR_SYNC_SLOT_UNAVAILABLE',
          dedupeKey: `refusal-${kind}`,
        }),
      ).toBe(true);
      expect(
        await store.activity.append({
          practiceId: reportPractice,
          type: 'appointment.refused',
          origin: 'secretariat',
          detail: 'ERR_SYNC_SLOT_UNAVAILABLE',
          dedupeKey: `refusal-${kind}`,
        }),
      ).toBe(false);
      // The next day is outside the period.
      clock.set(Date.parse('2026-11-24T00:00:00.000Z'));
      await store.activity.append({
        practiceId: reportPractice,
        type: 'appointment.booked',
        origin: 'secretariat',
        practitionerId: 'pr-1',
      });
      clock.set(Date.parse('2026-11-23T09:00:00.000Z'));

      const counts = await store.activity.counts(reportPractice, day);
      const pick = (type: string, origin: string, practitionerId: string | null) =>
        counts.find((c) => c.type === type && c.origin === origin && c.practitionerId === practitionerId)
          ?.count;
      expect(pick('appointment.booked', 'secretariat', 'pr-1')).toBe(2);
      expect(pick('appointment.booked', 'practice', 'pr-2')).toBe(1);
      expect(counts.find((c) => c.type === 'appointment.refused')).toMatchObject({
        count: 1,
        detail: 'ERR_SYNC_SLOT_UNAVAILABLE',
      });
      expect(counts.reduce((n, c) => n + c.count, 0)).toBe(4);
      const listed = await store.activity.list({ practiceId: reportPractice, ...day });
      expect(listed.map((e) => e.recordId).slice(0, 3)).toEqual(['a-1', 'a-2', 'a-3']);
      expect(listed[0]).toMatchObject({
        at: '2026-11-23T08:00:00.000Z',
        type: 'appointment.booked',
        kind: 'Appointment',
        latencyMs: null,
      });
    });

    it('purges activity events older than the retention limit and keeps the newer ones', async () => {
      const practice = (await store.practices.create({ name: 'Cabinet de la purge' })).id;
      clock.set(Date.parse('2025-01-10T08:00:00.000Z'));
      await store.activity.append({
        practiceId: practice,
        type: 'appointment.booked',
        origin: 'secretariat',
        recordId: 'old',
      });
      clock.set(Date.parse('2026-11-23T08:00:00.000Z'));
      await store.activity.append({
        practiceId: practice,
        type: 'appointment.booked',
        origin: 'secretariat',
        recordId: 'new',
      });
      expect(await store.activity.purgeBefore(Date.parse('2025-10-19T00:00:00.000Z'))).toBeGreaterThanOrEqual(
        1,
      );
      const left = await store.activity.list({ practiceId: practice });
      expect(left.map((e) => e.recordId)).toEqual(['new']);
    });

    it('stores a latency measured up to the store clock, never negative, and lists the period’s latencies with their priority', async () => {
      clock.set(Date.parse('2026-11-23T10:00:00.000Z'));
      await store.activity.append({
        practiceId: reportPractice,
        type: 'message.delivered',
        priority: 'stat',
        latencySince: Date.parse('2026-11-23T09:59:58.500Z'),
        dedupeKey: `dl-1-${kind}`,
      });
      await store.activity.append({
        practiceId: reportPractice,
        type: 'message.delivered',
        priority: 'routine',
        latencySince: Date.parse('2026-11-23T10:00:05.000Z'),
        dedupeKey: `dl-2-${kind}`,
      });
      const latencies = await store.activity.latencies(reportPractice, day);
      expect(latencies.sort((a, b) => a.latencyMs - b.latencyMs)).toEqual([
        { priority: 'routine', latencyMs: 0 },
        { priority: 'stat', latencyMs: 1500 },
      ]);
    });

    it('counts a period’s dead letters by reason and source, what is open now, and each link’s outbox', async () => {
      const link = await store.links.create({
        practiceId: reportPractice,
        role: 'practice',
        connector: 'memory',
        name: 'Logiciel',
      });
      clock.set(Date.parse('2026-11-23T11:00:00.000Z'));
      const add = (source: 'inbox' | 'outbox', reasonCode: string) =>
        store.deadLetters.add({
          practiceId: reportPractice,
          linkId: link.id,
          source,
          ref: null,
          kind: null,
          recordId: null,
          reasonCode,
          reason: 'x',
          payload: null,
        });
      await add('outbox', 'ERR_CONNECTOR_REJECTED');
      await add('outbox', 'ERR_CONNECTOR_REJECTED');
      const replayed = await add('inbox', 'ERR_MODEL_INVALID');
      await store.deadLetters.setStatus(replayed.id, 'replayed', 'k');
      clock.set(Date.parse('2026-11-22T23:59:59.999Z'));
      await add('inbox', 'ERR_MODEL_INVALID');
      expect(await store.activity.deadLetterCounts(reportPractice, day)).toEqual([
        { reasonCode: 'ERR_CONNECTOR_REJECTED', source: 'outbox', count: 2 },
        { reasonCode: 'ERR_MODEL_INVALID', source: 'inbox', count: 1 },
      ]);
      await store.conflicts.open({
        practiceId: reportPractice,
        kind: 'Appointment',
        recordId: 'apt-r',
        fields: [],
      });
      expect(await store.activity.openCounts(reportPractice)).toEqual({ conflicts: 1, deadLetters: 3 });

      clock.set(Date.parse('2026-11-23T12:00:00.000Z'));
      const enqueue = (n: number) =>
        store.outbox.enqueue({
          practiceId: reportPractice,
          linkId: link.id,
          kind: 'Appointment',
          recordId: `r-${n}`,
          op: 'upsert',
          payload: {},
          idempotencyKey: `stats-${kind}-${n}`,
        });
      const first = await enqueue(1);
      clock.set(Date.parse('2026-11-23T12:05:00.000Z'));
      await enqueue(2);
      await enqueue(3);
      await store.outbox.complete(first.seq);
      clock.set(Date.parse('2026-11-23T12:10:00.000Z'));
      const [leased] = await store.outbox.lease({
        owner: 'w',
        limit: 1,
        leaseMs: 60_000,
        linkIds: [link.id],
      });
      expect(leased?.recordId).toBe('r-2');
      expect(await store.activity.outboxStats([link.id, 'no-such-link'])).toEqual([
        {
          linkId: link.id,
          pending: 1,
          leased: 1,
          dead: 0,
          oldestPendingAt: '2026-11-23T12:05:00.000Z',
          lastDoneAt: '2026-11-23T12:05:00.000Z',
        },
        { linkId: 'no-such-link', pending: 0, leased: 0, dead: 0, oldestPendingAt: null, lastDoneAt: null },
      ]);
      clock.set(Date.parse('2026-11-23T09:00:00.000Z'));
    });

    it('keeps one digest per practice and day, lists them newest first, and tracks webhook delivery', async () => {
      const first = await store.digests.put({
        practiceId: reportPractice,
        day: '2026-11-22',
        report: { n: 1 },
        webhook: true,
      });
      expect(first.created).toBe(true);
      expect(first.digest).toMatchObject({
        day: '2026-11-22',
        report: { n: 1 },
        webhook: { status: 'pending', attempts: 0, lastError: null, deliveredAt: null },
      });
      const again = await store.digests.put({
        practiceId: reportPractice,
        day: '2026-11-22',
        report: { n: 2 },
        webhook: true,
      });
      expect(again).toMatchObject({ created: false, digest: { report: { n: 1 } } });
      await store.digests.put({
        practiceId: reportPractice,
        day: '2026-11-21',
        report: { n: 0 },
        webhook: false,
      });
      expect(
        (await store.digests.list({ practiceId: reportPractice })).map((d) => [d.day, d.webhook.status]),
      ).toEqual([
        ['2026-11-22', 'pending'],
        ['2026-11-21', null],
      ]);
      await store.digests.recordWebhook(reportPractice, '2026-11-22', {
        attempts: 3,
        delivered: false,
        error: 'ERR_REPORTS_WEBHOOK_FAILED: HTTP 503',
      });
      expect(
        (await store.digests.pendingWebhooks(reportPractice, '2026-11-01')).map((d) => [
          d.day,
          d.webhook.attempts,
          d.webhook.lastError,
        ]),
      ).toEqual([['2026-11-22', 3, 'ERR_REPORTS_WEBHOOK_FAILED: HTTP 503']]);
      expect(await store.digests.pendingWebhooks(reportPractice, '2026-11-23')).toEqual([]);
      await store.digests.recordWebhook(reportPractice, '2026-11-22', { attempts: 1, delivered: true });
      expect((await store.digests.get(reportPractice, '2026-11-22'))?.webhook).toEqual({
        status: 'delivered',
        attempts: 4,
        lastError: null,
        deliveredAt: new Date(clock()).toISOString(),
      });
      expect(await store.digests.pendingWebhooks(reportPractice, '2026-11-01')).toEqual([]);
      expect(await store.digests.get(reportPractice, '2026-11-20')).toBeUndefined();
    });
  });

  describe('transactions', () => {
    it('rolls back every statement of a failed transaction', async () => {
      await expect(
        store.transaction(async (tx) => {
          await tx.practices.create({ id: `rollback-${kind}`, name: 'x' });
          throw new PasserelleError('ERR_INTERNAL', 'boom');
        }),
      ).rejects.toMatchObject({ code: 'ERR_INTERNAL' });
      expect(await store.practices.get(`rollback-${kind}`)).toBeUndefined();
    });

    it('commits concurrent batch callers together while a failing one undoes only its own work', async () => {
      const ids = Array.from({ length: 30 }, (_, i) => `batch-${kind}-${i}`);
      const results = await Promise.allSettled(
        ids.map((id, i) =>
          store.batch(async (tx) => {
            await tx.practices.create({ id, name: id });
            if (i === 7) throw new Error('this one fails');
            return id;
          }),
        ),
      );
      expect(results.filter((r) => r.status === 'rejected')).toHaveLength(1);
      const present = await Promise.all(ids.map((id) => store.practices.get(id)));
      expect(present.map((p) => p !== undefined)).toEqual(ids.map((_, i) => i !== 7));
    });

    it('grants a lease to one holder at a time', async () => {
      let inside = 0;
      let max = 0;
      const hold = () =>
        store.withLease('poll:link-1', async () => {
          inside++;
          max = Math.max(max, inside);
          await new Promise((r) => setTimeout(r, 20));
          inside--;
        });
      const outcomes = await Promise.all([hold(), hold(), hold()]);
      expect(max).toBe(1);
      expect(outcomes.filter((o) => o.acquired).length).toBeGreaterThanOrEqual(1);
      expect(outcomes.some((o) => !o.acquired)).toBe(true);
    });
  });
});
