/** The agenda repository (0010_agenda) on both stores: rules versioned per practitioner, coverage, forced bookings. */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';

import type { Store } from '../../../src/store/index.js';
import { openTestStore } from '../../helpers/stores.js';

describe.each(['sqlite', 'postgres'] as const)('agenda repository (%s)', (kind) => {
  let store: Store;
  let dispose: () => Promise<void>;
  beforeEach(async () => {
    ({ store, dispose } = await openTestStore(kind));
  });
  afterEach(async () => {
    await dispose();
  });

  it('versions a practitioner’s rules and refuses a stale write', async () => {
    const first = await store.agenda.putRules({
      practiceId: 'p',
      practitionerId: 'd',
      rules: { weekly: [] },
      updatedBy: 'k',
      expectedVersion: 0,
    });
    expect(first.version).toBe(1);
    const second = await store.agenda.putRules({
      practiceId: 'p',
      practitionerId: 'd',
      rules: { region: 'reunion' },
      updatedBy: 'k',
      expectedVersion: 1,
    });
    expect(second).toMatchObject({ version: 2, rules: { region: 'reunion' } });
    await expect(
      store.agenda.putRules({
        practiceId: 'p',
        practitionerId: 'd',
        rules: {},
        updatedBy: 'k',
        expectedVersion: 1,
      }),
    ).rejects.toMatchObject({ code: 'ERR_CONFLICT' });
    expect(await store.agenda.listRules('p')).toHaveLength(1);
    expect(await store.agenda.listRules('other')).toEqual([]);
  });

  it('keeps coverage windows per practice', async () => {
    await store.agenda.putCoverage({ practiceId: 'p', windows: { weekly: [] }, updatedBy: 'k' });
    const c = await store.agenda.putCoverage({
      practiceId: 'p',
      windows: { holidays: 'covered' },
      updatedBy: 'k',
    });
    expect(c).toMatchObject({ version: 2, windows: { holidays: 'covered' } });
    expect(await store.agenda.getCoverage('q')).toBeUndefined();
  });

  it('finds an unused forced booking covering a time, once', async () => {
    const f = await store.agenda.addForced({
      practiceId: 'p',
      practitionerId: 'd',
      start: '2026-12-07T17:00:00.000Z',
      end: '2026-12-07T18:00:00.000Z',
      reason: 'r',
      createdBy: 'k',
    });
    expect(await store.agenda.findForced('p', 'd', '2026-12-07T17:00:00Z', '2026-12-07T17:30:00Z')).toEqual([
      f,
    ]);
    expect(await store.agenda.findForced('p', 'd', '2026-12-07T17:45:00Z', '2026-12-07T18:15:00Z')).toEqual(
      [],
    );
    expect(
      await store.agenda.findForced('p', 'other', '2026-12-07T17:00:00Z', '2026-12-07T17:30:00Z'),
    ).toEqual([]);
    await store.agenda.useForced(f.id, 'appt-1');
    expect(await store.agenda.findForced('p', 'd', '2026-12-07T17:00:00Z', '2026-12-07T17:30:00Z')).toEqual(
      [],
    );
    expect((await store.agenda.listForced('p'))[0]?.usedBy).toBe('appt-1');
  });
});
