/**
 * The retention purge on both stores with an injected clock: for every data class, rows older
 * than the class's retention go and younger ones stay; open dead letters, open reviews and
 * conflicts, and outbox rows still to deliver never go, whatever their age. The audit trail
 * loses a prefix only and still verifies from its anchor.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { purgeExpired, type PurgeReport, type RetentionPolicy } from '../../src/privacy/retention.js';
import type { Store } from '../../src/store/index.js';
import { openTestStore, STORE_KINDS, testClock, type TestStore } from '../helpers/stores.js';

const DAY = 86_400_000;
const NOW = Date.parse('2032-06-15T03:17:00.000Z');
const POLICY: RetentionPolicy = {
  messageBodiesDays: 30,
  outboundPayloadDays: 30,
  deadLetterDays: 90,
  reviewDays: 90,
  activityDays: 400,
  auditDays: 2192,
};

describe.each(STORE_KINDS)('retention purge per data class (%s store)', (kind) => {
  const clock = testClock(NOW);
  let t: TestStore;
  let store: Store;
  let report: PurgeReport;
  const ids: Record<string, string | number> = {};
  /** Writes with the clock set `days` before the purge. */
  const daysAgo = async <T>(days: number, fn: () => Promise<T>): Promise<T> => {
    clock.set(NOW - days * DAY);
    return fn();
  };

  beforeAll(async () => {
    t = await openTestStore(kind, { now: clock, auditKey: Buffer.alloc(32, 7) });
    store = t.store;
    await store.practices.create({ id: 'cab-ret', name: 'Cabinet rétention' });
    const link = await store.links.create({
      id: 'cab-ret-sec',
      practiceId: 'cab-ret',
      role: 'secretariat',
      connector: 'secretariat',
      name: 'sec',
    });
    const body = (s: string) => Buffer.from(s);
    const inbox = async (days: number, key: string, status: 'processed' | 'received') =>
      daysAgo(
        days,
        async () =>
          (
            await store.inbox.accept({
              linkId: link.id,
              dedupeKey: key,
              bodyHash: key,
              messageType: 'ADT^A31',
              body: body(`MSH|${key}`),
              status,
            })
          ).entry.id,
      );
    ids['inboxOld'] = await inbox(31, 'old', 'processed');
    ids['inboxOldUnapplied'] = await inbox(31, 'old-unapplied', 'received');
    ids['inboxYoung'] = await inbox(29, 'young', 'processed');

    const enqueue = (key: string) =>
      store.outbox.enqueue({
        practiceId: 'cab-ret',
        linkId: link.id,
        kind: 'Patient',
        recordId: `rec-${key}`,
        op: 'upsert',
        payload: { key },
        idempotencyKey: key,
      });
    const done = async (days: number, key: string) => {
      const item = await daysAgo(days + 1, () => enqueue(key));
      await daysAgo(days, () => store.outbox.complete(item.seq));
      return item.seq;
    };
    ids['outDoneOld'] = await done(31, 'done-old');
    ids['outDoneYoung'] = await done(29, 'done-young');
    ids['outPendingOld'] = (await daysAgo(400, () => enqueue('pending-old'))).seq;
    const dead = async (days: number, key: string, resolve?: 'discarded' | 'replayed') => {
      const item = await daysAgo(days, () => enqueue(key));
      const dl = await daysAgo(days, async () => {
        await store.outbox.kill(item.seq, { errorCode: 'ERR_X', error: 'x' });
        return store.deadLetters.add({
          practiceId: 'cab-ret',
          linkId: link.id,
          source: 'outbox',
          ref: String(item.seq),
          kind: 'Patient',
          recordId: item.recordId,
          reasonCode: 'ERR_X',
          reason: 'x',
          payload: { key },
        });
      });
      if (resolve) await daysAgo(days, () => store.deadLetters.setStatus(dl.id, resolve, 'test'));
      return { seq: item.seq, dl: dl.id };
    };
    const deadOpen = await dead(200, 'dead-open');
    const deadDiscarded = await dead(200, 'dead-discarded', 'discarded');
    const deadDiscardedYoung = await dead(20, 'dead-discarded-young', 'discarded');
    Object.assign(ids, {
      outDeadOpen: deadOpen.seq,
      dlOpenOld: deadOpen.dl,
      outDeadDiscarded: deadDiscarded.seq,
      dlDiscardedOld: deadDiscarded.dl,
      outDeadDiscardedYoung: deadDiscardedYoung.seq,
      dlDiscardedYoung: deadDiscardedYoung.dl,
    });
    const replayed = await daysAgo(91, () =>
      store.deadLetters.add({
        practiceId: 'cab-ret',
        linkId: link.id,
        source: 'inbox',
        ref: null,
        kind: 'Patient',
        recordId: null,
        reasonCode: 'ERR_X',
        reason: 'x',
        payload: { key: 'replayed' },
      }),
    );
    await daysAgo(91, () => store.deadLetters.setStatus(replayed.id, 'replayed', 'test'));
    ids['dlReplayedOld'] = replayed.id;

    const review = async (days: number, close: boolean) => {
      const r = await daysAgo(days, () =>
        store.reviews.open({
          practiceId: 'cab-ret',
          type: 'patient-match',
          recordId: null,
          payload: { candidates: [] },
        }),
      );
      if (close)
        await daysAgo(days, () =>
          store.reviews.close(r.id, { status: 'resolved', resolution: {}, by: 'test' }),
        );
      return r.id;
    };
    ids['reviewClosedOld'] = await review(91, true);
    ids['reviewOpenOld'] = await review(1000, false);
    ids['reviewClosedYoung'] = await review(89, true);
    const conflict = async (days: number, close: boolean) => {
      const c = await daysAgo(days, () =>
        store.conflicts.open({ practiceId: 'cab-ret', kind: 'Patient', recordId: 'rec', fields: [] }),
      );
      if (close)
        await daysAgo(days, () =>
          store.conflicts.close(c.id, { status: 'dismissed', resolution: {}, by: 'test' }),
        );
      return c.id;
    };
    ids['conflictClosedOld'] = await conflict(91, true);
    ids['conflictOpenOld'] = await conflict(1000, false);
    ids['conflictClosedYoung'] = await conflict(89, true);

    await daysAgo(401, () =>
      store.activity.append({ practiceId: 'cab-ret', type: 'message.received', recordId: 'old' }),
    );
    await daysAgo(399, () =>
      store.activity.append({ practiceId: 'cab-ret', type: 'message.received', recordId: 'young' }),
    );

    for (const [days, action] of [
      [2200, 'old.1'],
      [2195, 'old.2'],
      [2193, 'old.3'],
      [2191, 'young.1'],
      [10, 'young.2'],
    ] as const) {
      await daysAgo(days, () => store.audit.append({ actor: 'test', action, outcome: 'success' }));
    }
    clock.set(NOW);
    report = await purgeExpired(store, POLICY, { actor: 'test', via: 'test' });
  });
  afterAll(async () => {
    await t.dispose();
  });

  it('reports how many rows of each class it removed and the cut-off of each', () => {
    expect(report.removed).toEqual({
      inboundBodies: 1,
      outboundPayloads: 2,
      deadLetters: 2,
      reviewItems: 1,
      conflicts: 1,
      activityEvents: 1,
      auditEvents: 3,
    });
    expect(report.before.inboundBodies).toBe(new Date(NOW - 30 * DAY).toISOString());
    expect(report.before.auditEvents).toBe(new Date(NOW - 2192 * DAY).toISOString());
  });

  it('drops inbound bodies past their retention but keeps a message still to apply and its dedupe key', async () => {
    expect((await store.inbox.get(ids['inboxOld'] as number))?.body).toBeNull();
    expect((await store.inbox.get(ids['inboxOld'] as number))?.dedupeKey).toBe('old');
    expect((await store.inbox.get(ids['inboxOldUnapplied'] as number))?.body?.toString()).toBe(
      'MSH|old-unapplied',
    );
    expect((await store.inbox.get(ids['inboxYoung'] as number))?.body?.toString()).toBe('MSH|young');
  });

  it('removes delivered and discarded outbox rows past retention, never pending rows or dead rows still open for replay', async () => {
    const seqs = (await store.outbox.list({ limit: 100 })).map((o) => o.seq);
    expect(seqs).not.toContain(ids['outDoneOld']);
    expect(seqs).not.toContain(ids['outDeadDiscarded']);
    expect(seqs).toEqual(
      expect.arrayContaining([
        ids['outDoneYoung'],
        ids['outPendingOld'],
        ids['outDeadOpen'],
        ids['outDeadDiscardedYoung'],
      ]),
    );
  });

  it('removes resolved dead letters past retention and keeps open ones whatever their age', async () => {
    const left = (await store.deadLetters.list({ limit: 100 })).map((d) => d.id).sort();
    expect(left).toEqual([ids['dlOpenOld'], ids['dlDiscardedYoung']].sort());
  });

  it('removes closed review items and conflicts past retention and keeps open ones', async () => {
    expect((await store.reviews.list({ limit: 100 })).map((r) => r.id).sort()).toEqual(
      [ids['reviewOpenOld'], ids['reviewClosedYoung']].sort(),
    );
    expect((await store.conflicts.list({ limit: 100 })).map((c) => c.id).sort()).toEqual(
      [ids['conflictOpenOld'], ids['conflictClosedYoung']].sort(),
    );
  });

  it('removes activity events past retention', async () => {
    expect((await store.activity.list({ practiceId: 'cab-ret' })).map((e) => e.recordId)).toEqual(['young']);
  });

  it('removes the oldest audit events as a prefix, signs the new start of the chain, and the chain still verifies', async () => {
    const left = await store.audit.list({ limit: 100 });
    expect(left.map((e) => e.action)).toEqual(['young.1', 'young.2', 'retention.purge']);
    const head = await store.db
      .selectFrom('audit_head')
      .select(['base_seq', 'base_hash'])
      .where('id', '=', 1)
      .executeTakeFirstOrThrow();
    expect(head.base_hash).toBe(left[0]?.prevHash);
    expect(Number(head.base_seq)).toBe((left[0]?.seq as number) - 1);
    expect(await store.audit.verify()).toEqual({ ok: true, checked: 3 });
    const purgeEvent = left[2];
    expect(purgeEvent?.details).toMatchObject({ removed: { auditEvents: 3 } });
  });

  it('still detects an event removed after the anchor', async () => {
    const first = (await store.audit.list({ limit: 1 }))[0];
    await store.db
      .deleteFrom('audit_events')
      .where('seq', '=', first?.seq as number)
      .execute();
    const r = await store.audit.verify();
    expect(r.ok).toBe(false);
  });

  it('removes nothing more when run again at the same time', async () => {
    const again = await purgeExpired(store, POLICY);
    expect(Object.values(again.removed).every((n) => n === 0)).toBe(true);
  });
});
