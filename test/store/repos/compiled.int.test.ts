/**
 * Hot-path statements compiled once (src/store/repos/compiled.ts), on both stores, inside a
 * transaction (SQLite: straight on the connection) and outside one (through kysely).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { compiled } from '../../../src/store/repos/compiled.js';
import { openTestStore, STORE_KINDS, type StoreKind, type TestStore } from '../../helpers/stores.js';

const linksOf = compiled<'practiceId' | 'role'>((db, p) =>
  db
    .selectFrom('links')
    .select('name')
    .where('practice_id', '=', p('practiceId'))
    .where('role', '=', p('role'))
    .where('enabled', '=', 1)
    .orderBy('name'),
);
const rename = compiled<'id' | 'name'>((db, p) =>
  db
    .updateTable('links')
    .set({ name: p('name') })
    .where('id', '=', p('id')),
);

describe.each(STORE_KINDS)('compiled statements (%s store)', (kind: StoreKind) => {
  let t: TestStore;
  let practiceId: string;
  let linkId: string;

  beforeAll(async () => {
    t = await openTestStore(kind);
    practiceId = (await t.store.practices.create({ name: 'Cabinet du Test' })).id;
    linkId = (
      await t.store.links.create({ practiceId, role: 'practice', connector: 'hl7v2', name: 'Logiciel B' })
    ).id;
    await t.store.links.create({ practiceId, role: 'practice', connector: 'fhir', name: 'Logiciel A' });
    await t.store.links.create({
      practiceId,
      role: 'secretariat',
      connector: 'secretariat',
      name: 'Secrétariat',
    });
  });
  afterAll(async () => {
    await t.dispose();
  });

  it('fills each named value and keeps the values written in the statement, the same outside and inside a transaction', async () => {
    const ctx = { db: t.store.db, dialect: t.store.dialect };
    const outside = (await linksOf.run<{ name: string }>(ctx, { practiceId, role: 'practice' })).rows.map(
      (r) => r.name,
    );
    const inside = await t.store.transaction(async (tx) =>
      (
        await linksOf.run<{ name: string }>(
          { db: tx.db, dialect: tx.dialect },
          { practiceId, role: 'secretariat' },
        )
      ).rows.map((r) => r.name),
    );
    expect(outside).toEqual(['Logiciel A', 'Logiciel B']);
    expect(inside).toEqual(['Secrétariat']);
  });

  it('counts the rows a write changed', async () => {
    const res = await t.store.transaction((tx) =>
      rename.run({ db: tx.db, dialect: tx.dialect }, { id: linkId, name: 'Logiciel B2' }),
    );
    expect(Number(res.numAffectedRows)).toBe(1);
    expect((await t.store.links.get(linkId))?.name).toBe('Logiciel B2');
  });

  it('runs the repositories’ compiled statements inside a transaction: reads see its writes, a stale version is refused', async () => {
    const write = {
      id: `${kind}-rec-1`,
      practiceId,
      kind: 'Patient' as const,
      data: { resourceType: 'Patient', id: `${kind}-rec-1` },
      origin: 'practice' as const,
    };
    const seen = await t.store.transaction(async (tx) => {
      const first = await tx.resources.put({ ...write, expectedVersion: 0 });
      const second = await tx.resources.put({
        ...write,
        data: { ...write.data, gender: 'female' },
        expectedVersion: 1,
      });
      await tx.identityMap.set({
        linkId,
        kind: 'Patient',
        externalId: 'ext-1',
        canonicalId: write.id,
        practiceId,
      });
      return {
        versions: [first.version, second.version],
        read: (await tx.resources.get(write.id))?.data,
        mapped: await tx.identityMap.findCanonical(linkId, 'Patient', 'ext-1'),
      };
    });
    expect(seen).toEqual({
      versions: [1, 2],
      read: { resourceType: 'Patient', id: write.id, gender: 'female' },
      mapped: write.id,
    });
    await expect(
      t.store.transaction((tx) => tx.resources.put({ ...write, expectedVersion: 1 })),
    ).rejects.toMatchObject({ code: 'ERR_STORE_CONFLICT' });
    expect((await t.store.resources.get(write.id))?.version).toBe(2);
  });
});
