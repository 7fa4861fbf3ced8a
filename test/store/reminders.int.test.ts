/**
 * The reminders repository (0015_reminders) on both stores: one reminder per dedupe key, the
 * hand-off and the outcome as compare-and-set, write-backs that failed for good left alone, the
 * opt-out register, one pass per practice and day.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import type { Store } from '../../src/store/index.js';
import { openTestStore, STORE_KINDS, type StoreKind, testClock, type TestStore } from '../helpers/stores.js';

describe.each(STORE_KINDS)('reminders repository (%s)', (kind: StoreKind) => {
  const clock = testClock();
  let t: TestStore;
  let store: Store;
  let practiceId: string;
  const input = (key: string) => ({
    practiceId,
    kind: 'reminder' as const,
    dedupeKey: key,
    appointmentId: `apt-${key}`,
    patientId: 'pat-1',
    visitType: 'CONS',
    dueOn: '2026-11-24',
    appointmentStart: Date.parse('2026-11-24T08:00:00Z'),
    passDay: '2026-11-23',
  });

  beforeAll(async () => {
    t = await openTestStore(kind, { now: clock });
    store = t.store;
    practiceId = (await store.practices.create({ name: 'Cabinet du Test' })).id;
  });
  afterAll(async () => {
    await t.dispose();
  });

  it('records a reminder once per dedupe key, hands it once and takes its first outcome only', async () => {
    const r = await store.reminders.add(input('a'));
    expect(r).toBeDefined();
    expect(await store.reminders.add(input('a'))).toBeUndefined();
    expect(await store.reminders.existingKeys(practiceId, ['a', 'b'])).toEqual(new Set(['a']));
    const id = (r as { id: string }).id;
    await store.reminders.handFailed(id, 'not-on-platform');
    expect(
      (await store.reminders.unhanded(practiceId, 10)).map((x) => [x.id, x.handError, x.handAttempts]),
    ).toEqual([[id, 'not-on-platform', 1]]);
    expect(await store.reminders.markHanded(id, 'rel-1', clock())).toBe(true);
    expect(await store.reminders.markHanded(id, 'rel-2', clock())).toBe(false);
    expect(await store.reminders.unhanded(practiceId, 10)).toEqual([]);
    expect((await store.reminders.awaitingOutcome(practiceId, 10)).map((x) => x.platformId)).toEqual([
      'rel-1',
    ]);
    expect(await store.reminders.setOutcome(id, 'declined', clock(), true)).toBe(true);
    expect(await store.reminders.setOutcome(id, 'reached', clock(), false)).toBe(false);
    expect(await store.reminders.get(id)).toMatchObject({ outcome: 'declined', optOut: true });
  });

  it('tries a write-back again after a passing failure, never after a final one', async () => {
    const [r] = await store.reminders.list({ practiceId });
    const id = (r as { id: string }).id;
    await store.reminders.writeBackFailed(id, 'ERR_FHIR_HTTP');
    expect((await store.reminders.toWriteBack(practiceId, 10)).map((x) => x.id)).toEqual([id]);
    await store.reminders.writeBackFailed(id, 'final:not-in-practice-software');
    expect(await store.reminders.toWriteBack(practiceId, 10)).toEqual([]);
  });

  it('keeps the opt-out register and one pass per practice and day', async () => {
    expect(await store.reminders.optOut(practiceId, 'pat-1', 'secretariat')).toBe(true);
    expect(await store.reminders.optOut(practiceId, 'pat-1', 'api')).toBe(false);
    expect(await store.reminders.optedOut(practiceId)).toEqual(new Set(['pat-1']));
    expect(await store.reminders.optIn(practiceId, 'pat-1')).toBe(true);
    expect(await store.reminders.optedOut(practiceId)).toEqual(new Set());
    expect(await store.reminders.startPass(practiceId, '2026-11-23')).toBe(true);
    expect(await store.reminders.startPass(practiceId, '2026-11-23')).toBe(false);
    await store.reminders.finishPass(practiceId, '2026-11-23', { reminders: 1, 'no-consent': 2 });
    expect(await store.reminders.passes(practiceId, '2026-11-01', '2026-12-01')).toEqual([
      { day: '2026-11-23', counts: { reminders: 1, 'no-consent': 2 } },
    ]);
  });
});
