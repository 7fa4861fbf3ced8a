/**
 * The practitioner mappings repository (0008_practitioner_mappings) on both stores: one review
 * per (link, local id), decided once, with the appointments it holds.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import type { Store } from '../../../src/store/index.js';
import { openTestStore, STORE_KINDS, type StoreKind, type TestStore } from '../../helpers/stores.js';

describe.each(STORE_KINDS)('practitioner mappings repository (%s)', (kind: StoreKind) => {
  let t: TestStore;
  let store: Store;
  let practiceId: string;
  let otherPracticeId: string;
  let linkId: string;
  let otherLinkId: string;

  beforeAll(async () => {
    t = await openTestStore(kind);
    store = t.store;
    practiceId = (await store.practices.create({ name: 'Cabinet A' })).id;
    otherPracticeId = (await store.practices.create({ name: 'Cabinet B' })).id;
    linkId = (
      await store.links.create({ practiceId, role: 'practice', connector: 'hl7v2', name: 'Logiciel A' })
    ).id;
    otherLinkId = (
      await store.links.create({
        practiceId: otherPracticeId,
        role: 'practice',
        connector: 'hl7v2',
        name: 'Logiciel B',
      })
    ).id;
  });
  afterAll(async () => {
    await t.dispose();
  });

  it('opens one review per (link, local id), however often it is seen', async () => {
    const first = await store.practitionerMappings.open({
      practiceId,
      linkId,
      localId: 'DR1',
      proposal: { name: [{ family: 'FICTIF' }] },
    });
    expect(first.opened).toBe(true);
    expect(first.mapping).toMatchObject({
      practiceId,
      linkId,
      localId: 'DR1',
      status: 'open',
      practitionerId: null,
      proposal: { name: [{ family: 'FICTIF' }] },
      held: 0,
    });
    const again = await store.transaction((tx) =>
      tx.practitionerMappings.open({ practiceId, linkId, localId: 'DR1' }),
    );
    expect(again.opened).toBe(false);
    expect(again.mapping.proposal).toEqual({ name: [{ family: 'FICTIF' }] });
    // The same local id on another link is another review.
    expect(
      (
        await store.practitionerMappings.open({
          practiceId: otherPracticeId,
          linkId: otherLinkId,
          localId: 'DR1',
        })
      ).opened,
    ).toBe(true);
    expect((await store.practitionerMappings.list({ practiceId })).map((m) => m.localId)).toEqual(['DR1']);
    expect((await store.practitionerMappings.list({ linkId: otherLinkId })).map((m) => m.practiceId)).toEqual(
      [otherPracticeId],
    );
  });

  it('holds appointments once each, and counts them', async () => {
    await store.transaction(async (tx) => {
      for (const appointmentId of ['apt-2', 'apt-1', 'apt-2'])
        await tx.practitionerMappings.hold({ practiceId, linkId, localId: 'DR1', appointmentId });
    });
    expect((await store.practitionerMappings.held(linkId, 'DR1')).sort()).toEqual(['apt-1', 'apt-2']);
    expect((await store.practitionerMappings.get(linkId, 'DR1'))?.held).toBe(2);
    expect((await store.practitionerMappings.list({ practiceId, status: 'open' }))[0]?.held).toBe(2);
  });

  it('decides an open mapping once; a decided one stays as decided', async () => {
    const mapped = await store.practitionerMappings.resolve(linkId, 'DR1', {
      practitionerId: 'prac-1',
      resolution: 'rpps',
      by: 'key:ops',
    });
    expect(mapped).toMatchObject({
      status: 'mapped',
      practitionerId: 'prac-1',
      resolution: 'rpps',
      resolvedBy: 'key:ops',
    });
    expect(mapped.resolvedAt).not.toBeNull();
    await expect(
      store.practitionerMappings.resolve(linkId, 'DR1', {
        practitionerId: 'prac-2',
        resolution: 'existing',
        by: 'key:ops',
      }),
    ).rejects.toMatchObject({ code: 'ERR_CONFLICT' });
    await expect(
      store.practitionerMappings.resolve(linkId, 'NOBODY', {
        practitionerId: 'prac-2',
        resolution: 'existing',
        by: 'key:ops',
      }),
    ).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
    const seen = await store.practitionerMappings.open({
      practiceId,
      linkId,
      localId: 'DR1',
      proposal: { name: [{ family: 'AUTRE' }] },
    });
    expect([seen.opened, seen.mapping.status, seen.mapping.practitionerId, seen.mapping.proposal]).toEqual([
      false,
      'mapped',
      'prac-1',
      { name: [{ family: 'FICTIF' }] },
    ]);
    expect(await store.practitionerMappings.list({ practiceId, status: 'open' })).toEqual([]);
    await store.practitionerMappings.release(linkId, 'DR1');
    expect(await store.practitionerMappings.held(linkId, 'DR1')).toEqual([]);
  });

  it('goes with its link', async () => {
    await store.links.delete(otherLinkId);
    expect(await store.practitionerMappings.list({ practiceId: otherPracticeId })).toEqual([]);
  });
});
