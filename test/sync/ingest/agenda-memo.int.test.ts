/**
 * The agenda rules an ingest reads through its memo (src/sync/ingest/agenda-memo.ts), on a real
 * store of each kind: read once per practitioner and transaction, yet a Schedule the same
 * transaction ingests, or rules another job of the same group commit wrote, are seen; and one
 * practice's reads (rules, patient match keys) never serve another practice's ingest.
 */
import { randomUUID } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { defaultConnectorDefinitions } from '../../../src/app/connectors.js';
import type { ExternalRecord } from '../../../src/connector/contract.js';
import { createRegistry } from '../../../src/connector/registry.js';
import { createLogger } from '../../../src/log/logger.js';
import type { JsonObject, Link } from '../../../src/store/types.js';
import { rulesInEffectOf, storedRulesOf } from '../../../src/sync/ingest/agenda-memo.js';
import { type IngestDeps, PracticeContexts } from '../../../src/sync/ingest/context.js';
import { inGroup } from '../../../src/sync/ingest/group.js';
import { applyRecord } from '../../../src/sync/ingest/record.js';
import { httpPeerConnector } from '../../helpers/http-peer.js';
import { openTestStore, STORE_KINDS, type TestStore } from '../../helpers/stores.js';

const RULES: JsonObject = {
  timeZone: 'Europe/Paris',
  weekly: [{ days: ['mon'], start: '09:00', end: '12:00' }],
  visitTypes: [{ code: 'consultation', label: 'Consultation', durationMinutes: 15 }],
};

const practitioner = (id: string): ExternalRecord => ({
  kind: 'Practitioner',
  externalId: id,
  data: { resourceType: 'Practitioner', id, name: [{ family: 'Fictif', given: ['Alix'] }] },
});

const schedule = (id: string, practitionerId: string): ExternalRecord => ({
  kind: 'Schedule',
  externalId: id,
  data: {
    resourceType: 'Schedule',
    id,
    active: true,
    actor: [{ reference: `Practitioner/${practitionerId}` }],
    availableTime: [{ daysOfWeek: ['mon', 'tue'], availableStartTime: '09:00', availableEndTime: '12:00' }],
  },
});

const patient = (id: string): ExternalRecord => ({
  kind: 'Patient',
  externalId: id,
  data: {
    resourceType: 'Patient',
    id,
    name: [{ use: 'official', family: 'Fictif-Lefèvre', given: ['Camille'] }],
    gender: 'female',
    birthDate: '1950-01-02',
  },
});

describe.each(STORE_KINDS)('the agenda rules an ingest reads (%s)', (storeKind) => {
  let t: TestStore;
  let linkA: Link;
  let linkB: Link;
  let deps: IngestDeps;
  const contexts = new PracticeContexts(undefined);

  beforeAll(async () => {
    t = await openTestStore(storeKind);
    const link = async (name: string) => {
      const practiceId = (await t.store.practices.create({ name })).id;
      return t.store.links.create({
        practiceId,
        role: 'practice',
        connector: 'http-peer',
        name: 'Logiciel',
        config: { url: 'http://127.0.0.1:9' },
      });
    };
    linkA = await link('Cabinet A');
    linkB = await link('Cabinet B');
    deps = {
      registry: createRegistry([...defaultConnectorDefinitions(), httpPeerConnector]),
      log: createLogger({ silent: true }),
    };
  }, 30_000);
  afterAll(async () => {
    await t?.dispose();
  });

  it('sees the hours of a Schedule ingested in the same transaction after the rules were read', async () => {
    await t.store.transaction(async (tx) => {
      const ctx = await contexts.of(tx, linkA);
      await applyRecord(deps, tx, ctx, linkA, practitioner('dr-1'), 'poll');
      const drId = (await tx.identityMap.findCanonical(linkA.id, 'Practitioner', 'dr-1')) as string;
      expect(await rulesInEffectOf(tx, ctx, drId)).toBeUndefined();
      await applyRecord(deps, tx, ctx, linkA, schedule('agenda-1', 'dr-1'), 'poll');
      expect(await rulesInEffectOf(tx, ctx, drId)).toMatchObject({ source: 'practice-software' });
    });
  });

  it('reads a practitioner’s rules once per transaction while nothing changes them', async () => {
    const drId = randomUUID();
    await t.store.agenda.putRules({
      practiceId: linkA.practiceId,
      practitionerId: drId,
      rules: RULES,
      updatedBy: 'test',
    });
    await t.store.transaction(async (tx) => {
      const ctx = await contexts.of(tx, linkA);
      let reads = 0;
      const counted = {
        ...tx,
        agenda: {
          ...tx.agenda,
          getRules: (practiceId: string, id: string) => {
            reads++;
            return tx.agenda.getRules(practiceId, id);
          },
        },
      };
      const first = await rulesInEffectOf(counted, ctx, drId);
      expect(first).toMatchObject({ source: 'api' });
      expect(await rulesInEffectOf(counted, ctx, drId)).toBe(first);
      expect(await storedRulesOf(counted, ctx, drId)).toMatchObject({ version: 1 });
      expect(reads).toBe(1);
    });
  });

  it('sees rules another job of the same transaction wrote between two ingests', async () => {
    const drId = randomUUID();
    await t.store.transaction(async (tx) => {
      // Each ingest takes its practice context, as the engine does (group.ts shares the reads).
      const read = async () =>
        inGroup(tx, await contexts.of(tx, linkA), (gtx, gctx) => rulesInEffectOf(gtx, gctx, drId));
      expect(await read()).toBeUndefined();
      await tx.agenda.putRules({
        practiceId: linkA.practiceId,
        practitionerId: drId,
        rules: RULES,
        updatedBy: 'test',
      });
      expect(await read()).toMatchObject({ source: 'api' });
    });
  });

  it('never hands one practice the rules another practice read in the same transaction', async () => {
    const drId = randomUUID();
    await t.store.agenda.putRules({
      practiceId: linkA.practiceId,
      practitionerId: drId,
      rules: RULES,
      updatedBy: 'test',
    });
    await t.store.transaction(async (tx) => {
      const of = async (link: Link) =>
        inGroup(tx, await contexts.of(tx, link), async (gtx, gctx) => ({
          inEffect: await rulesInEffectOf(gtx, gctx, drId),
          stored: await storedRulesOf(gtx, gctx, drId),
        }));
      expect(await of(linkA)).toMatchObject({ inEffect: { source: 'api' }, stored: { version: 1 } });
      expect(await of(linkB)).toEqual({ inEffect: undefined, stored: undefined });
    });
  });

  it('never holds a new patient for review against another practice’s patient read in the same transaction', async () => {
    await t.store.transaction(async (tx) => {
      const ingest = async (link: Link, record: ExternalRecord) =>
        inGroup(tx, await contexts.of(tx, link), (gtx, gctx) =>
          applyRecord(deps, gtx, gctx, link, record, 'poll'),
        );
      expect(await ingest(linkA, patient('pat-a'))).toContain('created');
      expect(await ingest(linkB, patient('pat-b'))).not.toContain('held-for-review');
    });
    expect(await t.store.reviews.list({ practiceId: linkB.practiceId, status: 'open' })).toEqual([]);
  });
});
