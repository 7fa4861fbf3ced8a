/**
 * Durable writes: one inbox row per transaction with synchronous=FULL (SQLite) /
 * synchronous_commit=on (PostgreSQL), awaited one by one — the baseline — against the store's
 * group-commit path (`store.batch`) with 32 concurrent writers, as MLLP/webhook ingest uses it.
 */
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';

import type { Store } from '../../src/store/index.js';
import { openTestStore, STORE_KINDS } from '../helpers/stores.js';
import type { Bench, BenchResult } from './harness.js';

const body = Buffer.from(
  'MSH|^~\\&|LOGICIEL|CABINET|PASSERELLE|GW|20261123101500||SIU^S12^SIU_S12|MSG|P|2.5.1\r'.padEnd(2048, 'X'),
);

let n = 0;
function accept(store: Store, linkId: string, via: 'transaction' | 'batch') {
  const key = `LOGICIEL|CABINET|${n++}`;
  const input = {
    linkId,
    dedupeKey: key,
    bodyHash: createHash('sha256').update(key).digest('hex'),
    messageType: 'SIU^S12',
    body,
  };
  return via === 'batch'
    ? store.batch((tx) => tx.inbox.accept(input))
    : store.transaction((tx) => tx.inbox.accept(input));
}

async function rowsPerSecond(run: () => Promise<unknown>, concurrency: number, ms: number): Promise<number> {
  let done = 0;
  const deadline = performance.now() + ms;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        await run();
        done++;
      }
    }),
  );
  return (done * 1000) / (performance.now() - start);
}

const bench: Bench = {
  name: 'durable writes: single-row transactions vs group commit',
  async run() {
    const results: BenchResult[] = [];
    for (const kind of STORE_KINDS) {
      const t = await openTestStore(kind);
      try {
        const practice = await t.store.practices.create({ name: 'bench' });
        const link = await t.store.links.create({
          practiceId: practice.id,
          role: 'practice',
          connector: 'hl7v2',
          name: 'bench',
        });
        await rowsPerSecond(() => accept(t.store, link.id, 'transaction'), 1, 300); // warm-up
        const single = await rowsPerSecond(() => accept(t.store, link.id, 'transaction'), 1, 2000);
        const grouped = await rowsPerSecond(() => accept(t.store, link.id, 'batch'), 32, 2000);
        results.push({
          name: `${kind}: inbox rows committed per second`,
          measured: { label: 'group commit, 32 concurrent writers', value: grouped, unit: 'rows/s' },
          baseline: { label: 'one durable transaction per row, sequential', value: single, unit: 'rows/s' },
          higherIsBetter: true,
          aim: '≥ 2×',
        });
      } finally {
        await t.dispose();
      }
    }
    return results;
  },
};
export default bench;
