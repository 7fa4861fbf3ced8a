/**
 * Issue 23: a dispatcher pushes a batch's rows one after another under one lease. A row it
 * reaches when a push started now could outlast the lease (`leaseMs` − `pushTimeoutMs` gone by,
 * on its monotonic clock) goes back to the queue untried, so that no row is pushed by an
 * instance whose lease on it may have run out and been taken by another. Each pass still pushes
 * at least the first row of a link: delivery goes on, a few rows per lease.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';

import { fixturePatients } from '../helpers/fixtures.js';
import { SyncHarness } from '../helpers/sync-harness.js';

describe('outbox rows a batch reaches too late for its lease', () => {
  let h: SyncHarness;
  beforeEach(async () => {
    // 100 ms of the lease for starting pushes; every push takes 150 ms.
    h = await SyncHarness.open('sqlite', { tuning: { leaseMs: 400, pushTimeoutMs: 300, batchSize: 10 } });
  });
  afterEach(async () => {
    await h.dispose();
  });

  it('goes back to the queue untried and is pushed, once, by a later pass', async () => {
    const patients = fixturePatients();
    expect(patients).toHaveLength(3);
    for (const p of patients) h.sec.create(structuredClone(p));
    await h.sec.deliver();
    expect((await h.store.outbox.depth(h.pracLink.id)).pending).toBe(3);
    h.prac.pushDelayMs = 150;

    // One pass: the first row is pushed, the batch's others are handed back.
    expect(await h.runtime.dispatcher.runOnce()).toBe(3);
    expect(h.prac.pushes).toHaveLength(1);
    const back = await h.store.outbox.list({ linkId: h.pracLink.id, status: 'pending' });
    expect(back.map((o) => [o.lastErrorCode, o.attempts])).toEqual(
      Array(2).fill(['ERR_SYNC_LEASE_SHORT', 0]),
    );

    await h.runtime.dispatcher.drain();
    expect(await h.store.outbox.depth(h.pracLink.id)).toMatchObject({
      pending: 0,
      leased: 0,
      done: 3,
      dead: 0,
    });
    const keys = h.prac.pushes.map((p) => p.change.idempotencyKey);
    expect(new Set(keys).size).toBe(3);
    expect(keys).toHaveLength(3);
  });
});
