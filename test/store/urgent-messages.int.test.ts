/**
 * The urgent-message repository (0012_urgent_messages) on both stores: tracking once, steps and
 * acknowledgements as compare-and-set, the one-time link spent once, the timeline in order.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import type { Store } from '../../src/store/index.js';
import { openTestStore, STORE_KINDS, type StoreKind, testClock, type TestStore } from '../helpers/stores.js';

describe.each(STORE_KINDS)('urgent messages repository (%s)', (kind: StoreKind) => {
  const clock = testClock();
  let t: TestStore;
  let store: Store;
  let practiceId: string;
  const input = (id: string) => ({
    communicationId: id,
    practiceId,
    priority: 'urgent',
    takenAt: clock(),
    dueAt: clock() + 15 * 60_000,
    linkNonce: `nonce-${id}`,
  });

  beforeAll(async () => {
    t = await openTestStore(kind, { now: clock });
    store = t.store;
    practiceId = (await store.practices.create({ name: 'Cabinet du Test' })).id;
  });
  afterAll(async () => {
    await t.dispose();
  });

  it('tracks a message once and hands it out when its first step is due', async () => {
    expect(await store.urgentMessages.track(input('com-1'))).toBe(true);
    expect(await store.urgentMessages.track(input('com-1'))).toBe(false);
    expect(await store.urgentMessages.due(clock(), 10)).toEqual([]);
    const due = await store.urgentMessages.due(clock() + 15 * 60_000, 10);
    expect(due.map((m) => [m.communicationId, m.state, m.step])).toEqual([['com-1', 'waiting', 0]]);
  });

  it('moves a step once, even when two instances try', async () => {
    const next = clock() + 30 * 60_000;
    const [a, b] = await Promise.all([
      store.urgentMessages.advance('com-1', 0, 1, next),
      store.urgentMessages.advance('com-1', 0, 1, next),
    ]);
    expect([a, b].filter(Boolean)).toHaveLength(1);
    expect((await store.urgentMessages.get('com-1'))?.step).toBe(1);
  });

  it('counts an acknowledgement once and takes the message out of the due list', async () => {
    const at = clock() + 60_000;
    expect(await store.urgentMessages.acknowledge('com-1', { at, via: 'api', by: 'key-1' })).toBe(true);
    expect(await store.urgentMessages.acknowledge('com-1', { at, via: 'api', by: 'key-2' })).toBe(false);
    const m = await store.urgentMessages.get('com-1');
    expect(m).toMatchObject({ state: 'acknowledged', ackVia: 'api', ackBy: 'key-1', nextAt: null });
    expect(await store.urgentMessages.due(clock() + 24 * 3_600_000, 10)).toEqual([]);
  });

  it('spends the one-time link once, and only with its nonce', async () => {
    await store.urgentMessages.track(input('com-2'));
    expect(await store.urgentMessages.spendLink('com-2', 'wrong', clock())).toBe(false);
    expect(await store.urgentMessages.spendLink('com-2', 'nonce-com-2', clock())).toBe(true);
    expect(await store.urgentMessages.spendLink('com-2', 'nonce-com-2', clock())).toBe(false);
  });

  it('keeps the timeline in order and lists a practice’s messages by time taken', async () => {
    await store.urgentMessages.addEvent('com-2', practiceId, { kind: 'tracked', outcome: 'ok' });
    await store.urgentMessages.addEvent('com-2', practiceId, {
      kind: 'gateway-webhook',
      outcome: 'failed',
      details: { code: 'ERR_URGENT_STEP_FAILED' },
    });
    const events = await store.urgentMessages.events('com-2');
    expect(events.map((e) => [e.kind, e.outcome, e.details])).toEqual([
      ['tracked', 'ok', {}],
      ['gateway-webhook', 'failed', { code: 'ERR_URGENT_STEP_FAILED' }],
    ]);
    expect((await store.urgentMessages.list({ practiceId })).map((m) => m.communicationId)).toEqual([
      'com-1',
      'com-2',
    ]);
    expect(await store.urgentMessages.list({ practiceId, state: 'waiting' })).toHaveLength(1);
  });
});
