/**
 * Set-wise writes (src/store/write-buffer.ts, issue 22 point 2) on both stores: the rows a
 * transaction holds are the rows one statement per row would have written; a savepoint rolled
 * back drops its own rows only; reads inside the transaction see the held rows; the audit chain
 * appended a group at a time verifies.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';

import type { Tx } from '../../src/store/index.js';
import type { OutboxEnqueue } from '../../src/store/types.js';
import { writeBuffering } from '../../src/store/write-buffer.js';
import { openTestStore, STORE_KINDS, type StoreKind, testClock, type TestStore } from '../helpers/stores.js';

describe.each(STORE_KINDS)('set-wise writes (%s store)', (kind: StoreKind) => {
  let t: TestStore;
  let practiceId: string;
  let linkId: string;
  const clock = testClock();

  beforeAll(async () => {
    t = await openTestStore(kind, { now: clock, auditKey: Buffer.alloc(32, 7) });
    await t.store.audit.adoptKey();
    practiceId = (await t.store.practices.create({ name: 'Cabinet du Test' })).id;
    linkId = (
      await t.store.links.create({
        practiceId,
        role: 'secretariat',
        connector: 'memory',
        name: 'Secrétariat',
      })
    ).id;
  });
  afterAll(async () => {
    await t.dispose();
  });
  afterEach(() => {
    writeBuffering.enabled = true;
  });

  const item = (key: string, recordId = `rec-${key}`): OutboxEnqueue => ({
    practiceId,
    linkId,
    kind: 'Appointment',
    recordId,
    op: 'upsert',
    payload: { data: { resourceType: 'Appointment', id: recordId }, cause: 'test' },
    idempotencyKey: key,
    contentHash: `hash-${key}`,
  });
  const outboxKeys = async (prefix: string) =>
    (await t.store.outbox.list({ linkId, limit: 1000 }))
      .filter((o) => o.idempotencyKey.startsWith(prefix))
      .map((o) => o.idempotencyKey);

  /** The same calls, with the rows held or written one by one. */
  const someWrites = async (tx: Tx, prefix: string) => {
    for (let i = 0; i < 3; i++) {
      await tx.outbox.enqueueLater(item(`${prefix}-${i}`));
      await tx.audit.appendLater({
        actor: 'test',
        action: 'sync.apply',
        practiceId,
        resourceType: 'Appointment',
        resourceId: `${prefix}-${i}`,
        outcome: 'success',
        details: { i },
      });
      await tx.activity.append({
        practiceId,
        type: 'appointment.booked',
        linkId,
        recordId: `${prefix}-${i}`,
      });
    }
    await tx.snapshots.put({
      linkId,
      kind: 'Appointment',
      canonicalId: `${prefix}-s`,
      data: { v: 1 },
      externalVersion: '1',
    });
    await tx.snapshots.put({
      linkId,
      kind: 'Appointment',
      canonicalId: `${prefix}-s`,
      data: { v: 2 },
      externalVersion: '2',
    });
  };

  it('writes the same rows as one statement per row would', async () => {
    writeBuffering.enabled = false;
    await t.store.transaction((tx) => someWrites(tx, 'rowwise'));
    writeBuffering.enabled = true;
    await t.store.transaction((tx) => someWrites(tx, 'setwise'));

    const outbox = await t.store.outbox.list({ linkId, limit: 1000 });
    const strip = (prefix: string) =>
      outbox
        .filter((o) => o.idempotencyKey.startsWith(prefix))
        .map(({ seq: _s, idempotencyKey, recordId: _r, payload: _p, contentHash: _c, ...rest }) => ({
          ...rest,
          n: idempotencyKey.slice(prefix.length),
        }));
    expect(strip('setwise')).toEqual(strip('rowwise'));
    expect(strip('setwise')).toHaveLength(3);
    // Sequence numbers follow the calls' order.
    const seqs = outbox.filter((o) => o.idempotencyKey.startsWith('setwise')).map((o) => o.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));

    const events = await t.store.audit.list({ limit: 1000 });
    const ofPrefix = (prefix: string) =>
      events
        .filter((e) => e.resourceId?.startsWith(prefix))
        .map((e) => ({ action: e.action, n: e.resourceId?.slice(prefix.length), details: e.details }));
    expect(ofPrefix('setwise')).toEqual(ofPrefix('rowwise'));
    expect(await t.store.audit.verify()).toMatchObject({ ok: true });

    const activity = await t.store.activity.list({ practiceId, limit: 1000 });
    expect(activity.filter((a) => a.recordId?.startsWith('setwise'))).toHaveLength(3);
    expect(activity.filter((a) => a.recordId?.startsWith('rowwise'))).toHaveLength(3);

    for (const prefix of ['rowwise', 'setwise']) {
      const snap = await t.store.snapshots.get(linkId, 'Appointment', `${prefix}-s`);
      expect(snap).toMatchObject({ data: { v: 2 }, externalVersion: '2' });
    }
  });

  it('drops the rows a rolled-back savepoint added, and only those', async () => {
    await t.store.transaction(async (tx) => {
      await tx.outbox.enqueueLater(item('sp-before'));
      await tx.savepoint('job');
      await tx.outbox.enqueueLater(item('sp-undone'));
      await tx.audit.appendLater({
        actor: 'test',
        action: 'sync.apply',
        resourceId: 'sp-undone',
        outcome: 'success',
      });
      await tx.rollbackTo('job');
      await tx.outbox.enqueueLater(item('sp-after'));
    });
    expect(await outboxKeys('sp-')).toEqual(['sp-before', 'sp-after']);
    expect((await t.store.audit.list({ resourceId: 'sp-undone' })).length).toBe(0);
    expect(await t.store.audit.verify()).toMatchObject({ ok: true });
  });

  it('holds again the earlier rows that a rolled-back savepoint had written to the store', async () => {
    await t.store.transaction(async (tx) => {
      await tx.outbox.enqueueLater(item('re-earlier'));
      await tx.audit.appendLater({
        actor: 'test',
        action: 'sync.apply',
        resourceId: 're-earlier',
        outcome: 'success',
      });
      await tx.savepoint('job');
      // A read of the outbox writes the held rows first, inside the savepoint…
      expect((await tx.outbox.list({ linkId, limit: 1000 })).map((o) => o.idempotencyKey)).toContain(
        're-earlier',
      );
      expect((await tx.audit.list({ resourceId: 're-earlier' })).length).toBe(1);
      await tx.outbox.enqueueLater(item('re-failed'));
      // …which the rollback undoes in the store: the earlier job's rows must come back.
      await tx.rollbackTo('job');
    });
    expect(await outboxKeys('re-')).toEqual(['re-earlier']);
    expect((await t.store.audit.list({ resourceId: 're-earlier' })).length).toBe(1);
    expect(await t.store.audit.verify()).toMatchObject({ ok: true });
  });

  it('lets reads inside the transaction see the held rows', async () => {
    await t.store.transaction(async (tx) => {
      await tx.outbox.enqueueLater(item('ryw-1'));
      // The idempotency check finds the held row: no second row.
      await tx.outbox.enqueueLater(item('ryw-1', 'other-record'));
      const listed = await tx.outbox.list({ linkId, limit: 1000 });
      expect(listed.filter((o) => o.idempotencyKey === 'ryw-1')).toHaveLength(1);
      // enqueue (which returns the row) sees it too.
      expect((await tx.outbox.enqueue(item('ryw-1', 'third'))).recordId).toBe('rec-ryw-1');

      await tx.snapshots.put({
        linkId,
        kind: 'Patient',
        canonicalId: 'ryw-p',
        data: { n: 1 },
        externalVersion: null,
      });
      expect(await tx.snapshots.get(linkId, 'Patient', 'ryw-p')).toMatchObject({ data: { n: 1 } });
      await tx.snapshots.delete(linkId, 'Patient', 'ryw-p');
      expect(await tx.snapshots.get(linkId, 'Patient', 'ryw-p')).toBeUndefined();

      await tx.activity.append({ practiceId, type: 'message.received', recordId: 'ryw-a' });
      const seen = await tx.activity.list({ practiceId, type: 'message.received', limit: 1000 });
      expect(seen.filter((a) => a.recordId === 'ryw-a')).toHaveLength(1);

      await tx.audit.appendLater({
        actor: 'test',
        action: 'sync.apply',
        resourceId: 'ryw-e1',
        outcome: 'success',
      });
      // An event appended at once comes after the held one in the chain.
      const now = await tx.audit.append({
        actor: 'test',
        action: 'sync.apply',
        resourceId: 'ryw-e2',
        outcome: 'success',
      });
      const [held] = await tx.audit.list({ resourceId: 'ryw-e1' });
      expect(held?.hash).toBe(now.prevHash);
    });
    expect(await outboxKeys('ryw-')).toEqual(['ryw-1']);
    expect(await t.store.snapshots.get(linkId, 'Patient', 'ryw-p')).toBeUndefined();
    expect(await t.store.audit.verify()).toMatchObject({ ok: true });
  });

  it('appends the audit events of a group commit in one chain that verifies, without the failed job’s', async () => {
    const jobs = Array.from({ length: 8 }, (_, i) =>
      t.store.batch(async (tx) => {
        await tx.audit.appendLater({
          actor: 'test',
          action: 'sync.apply',
          resourceId: `grp-${i}`,
          outcome: 'success',
        });
        await tx.outbox.enqueueLater(item(`grp-${i}`));
        if (i === 3) throw new Error('job 3 fails');
        return i;
      }),
    );
    const settled = await Promise.allSettled(jobs);
    expect(settled.map((s) => s.status)).toEqual(
      Array.from({ length: 8 }, (_, i) => (i === 3 ? 'rejected' : 'fulfilled')),
    );
    const events = (await t.store.audit.list({ limit: 1000 })).filter((e) =>
      e.resourceId?.startsWith('grp-'),
    );
    expect(events.map((e) => e.resourceId).sort()).toEqual([0, 1, 2, 4, 5, 6, 7].map((i) => `grp-${i}`));
    expect((await outboxKeys('grp-')).sort()).toEqual([0, 1, 2, 4, 5, 6, 7].map((i) => `grp-${i}`));
    const head = await t.store.audit.head();
    const all = await t.store.audit.list({ limit: 10_000 });
    expect(head).toEqual({ seq: all.at(-1)?.seq, hash: all.at(-1)?.hash });
    expect(await t.store.audit.verify()).toMatchObject({ ok: true });
  });

  it('writes nothing held when the transaction fails', async () => {
    await expect(
      t.store.transaction(async (tx) => {
        await tx.outbox.enqueueLater(item('fail-1'));
        await tx.audit.appendLater({
          actor: 'test',
          action: 'sync.apply',
          resourceId: 'fail-1',
          outcome: 'success',
        });
        throw new Error('the change fails');
      }),
    ).rejects.toThrow('the change fails');
    expect(await outboxKeys('fail-')).toEqual([]);
    expect(await t.store.audit.verify()).toMatchObject({ ok: true });
    // The next transaction starts clean.
    await t.store.transaction((tx) => tx.outbox.enqueueLater(item('fail-2')));
    expect(await outboxKeys('fail-')).toEqual(['fail-2']);
  });

  it('adds no outbox row for an idempotency key already stored, without reading it first', async () => {
    await t.store.transaction((tx) => tx.outbox.enqueueLater(item('idem-1')));
    await t.store.transaction(async (tx) => {
      await tx.outbox.enqueueLater(item('idem-1', 'again'));
      await tx.outbox.enqueueLater(item('idem-2'));
    });
    const rows = (await t.store.outbox.list({ linkId, limit: 1000 })).filter((o) =>
      o.idempotencyKey.startsWith('idem-'),
    );
    expect(rows.map((o) => [o.idempotencyKey, o.recordId])).toEqual([
      ['idem-1', 'rec-idem-1'],
      ['idem-2', 'rec-idem-2'],
    ]);
  });

  it('keeps the rows of a long savepoint right when a flush lets the written ones go', async () => {
    await t.store.transaction(async (tx) => {
      await tx.outbox.enqueueLater(item('long-before'));
      await tx.savepoint('page');
      // More rows than the buffer holds: written on the way, inside the savepoint.
      for (let i = 0; i < 1100; i++) await tx.outbox.enqueueLater(item(`long-${String(i).padStart(4, '0')}`));
      await tx.outbox.list({ linkId, limit: 1 });
      await tx.rollbackTo('page');
      await tx.outbox.enqueueLater(item('long-after'));
    });
    expect(await outboxKeys('long-')).toEqual(['long-before', 'long-after']);
  });

  it('writes more rows than one statement takes in several statements', async () => {
    await t.store.transaction(async (tx) => {
      for (let i = 0; i < 120; i++) await tx.outbox.enqueueLater(item(`many-${String(i).padStart(3, '0')}`));
    });
    const keys = await outboxKeys('many-');
    expect(keys).toHaveLength(120);
    expect(keys).toEqual([...keys].sort());
  });
});
