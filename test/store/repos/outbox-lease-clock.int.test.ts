/**
 * Issue 23: outbox leases are judged on the database's clock. Two stores on one PostgreSQL
 * database stand for two instances whose clocks disagree by ten minutes (one 5 min ahead, one
 * 5 min behind, injected as the cluster tests do): neither may lease a row while the other's
 * lease runs — whichever way the skew goes — and a lease that ran out is taken over by the
 * other. "Runs" is asked of the database itself before and after each attempt, so no assertion
 * depends on how fast this machine is.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';

import { openPostgresStore, type Store } from '../../../src/store/index.js';
import { createPgDatabase, testSealing } from '../../helpers/stores.js';
import { until } from '../../helpers/until.js';

const FIVE_MINUTES = 5 * 60_000;
const LEASE_MS = 2500;

describe('outbox leases between instances with skewed clocks (PostgreSQL)', () => {
  let db: { url: string; drop: () => Promise<void> };
  /** 5 minutes ahead. */
  let ahead: Store;
  /** 5 minutes behind. */
  let behind: Store;
  let client: pg.Client;
  let practiceId: string;
  let linkId: string;
  let n = 0;

  beforeAll(async () => {
    db = await createPgDatabase();
    const sealing = testSealing();
    ahead = await openPostgresStore({
      url: db.url,
      poolSize: 2,
      sealing,
      now: () => Date.now() + FIVE_MINUTES,
    });
    await ahead.migrate();
    behind = await openPostgresStore({
      url: db.url,
      poolSize: 2,
      sealing,
      now: () => Date.now() - FIVE_MINUTES,
    });
    client = new pg.Client({ connectionString: db.url });
    await client.connect();
    practiceId = (await ahead.practices.create({ name: 'Cabinet des Horloges' })).id;
    linkId = (
      await ahead.links.create({
        practiceId,
        role: 'secretariat',
        connector: 'secretariat',
        name: 'Télésecrétariat',
        isTest: true,
      })
    ).id;
  });

  afterAll(async () => {
    await client?.end();
    await ahead?.close();
    await behind?.close();
    await db?.drop();
  });

  /** One row ready on any instance's clock (readiness is not what this file tests). */
  const enqueue = async (): Promise<number> =>
    (
      await ahead.outbox.enqueue({
        practiceId,
        linkId,
        kind: 'Patient',
        recordId: `patient-${++n}`,
        op: 'upsert',
        payload: { n },
        idempotencyKey: `skew-${n}-${Date.now()}`,
        notBefore: 0,
      })
    ).seq;

  /** Whether `owner`'s lease on the row still runs, by the database's clock. */
  const leaseRuns = async (seq: number, owner: string): Promise<boolean> =>
    (
      await client.query<{ runs: boolean }>(
        `SELECT lease_owner = $2 AND lease_until > (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS runs
         FROM outbox WHERE seq = $1`,
        [seq, owner],
      )
    ).rows[0]?.runs === true;

  const lease = (store: Store, owner: string) =>
    store.outbox.lease({ owner, limit: 10, leaseMs: LEASE_MS, linkIds: [linkId] });

  for (const [holderName, takerName] of [
    ['behind', 'ahead'],
    ['ahead', 'behind'],
  ] as const) {
    it(`never lets the instance ${takerName} lease a row while the instance ${holderName}'s lease on it runs, and lets it take the row over once the lease ran out`, async () => {
      const stores = { ahead, behind };
      const seq = await enqueue();
      const held = await lease(stores[holderName], holderName);
      expect(held.map((i) => [i.seq, i.leaseOwner])).toEqual([[seq, holderName]]);

      // While the database says the lease runs, every attempt of the other instance comes back empty.
      let refusedWhileRunning = 0;
      while (await leaseRuns(seq, holderName)) {
        const got = await lease(stores[takerName], takerName);
        if (await leaseRuns(seq, holderName)) {
          expect(got).toEqual([]);
          refusedWhileRunning++;
        } else if (got.length > 0) {
          break; // ran out during the attempt: a takeover, checked below
        }
      }
      expect(refusedWhileRunning).toBeGreaterThan(0);

      // Run out: the other instance takes it (the attempt count says it was leased twice).
      const taken = await until(
        'the expired lease taken over',
        async () => {
          const row = (await stores[takerName].outbox.get(seq)) ?? undefined;
          if (row?.leaseOwner === takerName) return row;
          const got = await lease(stores[takerName], takerName);
          return got.find((i) => i.seq === seq);
        },
        15_000,
      );
      expect(taken).toMatchObject({ seq, status: 'leased', leaseOwner: takerName, attempts: 2 });
      // The former holder's late report of a failure changes nothing any more.
      await stores[holderName].outbox.retry(seq, holderName, { at: 0, errorCode: 'ERR_X', error: 'late' });
      expect(await stores[takerName].outbox.get(seq)).toMatchObject({
        status: 'leased',
        leaseOwner: takerName,
      });
      await stores[takerName].outbox.complete(seq);
    }, 30_000);
  }
});
