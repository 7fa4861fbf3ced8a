/**
 * The activity report of a busy practice's whole year (≈ 55,000 events: bookings, moves,
 * arrivals, call messages with delays, conflicts) in a store holding a second practice as busy,
 * built end to end (grouped counts, every delay for exact percentiles, dead letters, links) —
 * against a baseline that only counts the same rows through the same index, in the same run.
 */
import { performance } from 'node:perf_hooks';

import { sql } from 'kysely';

import { buildActivityReport } from '../../src/reports/report.js';
import type { Store } from '../../src/store/index.js';
import type { ActivityType, Practice } from '../../src/store/types.js';
import { openTestStore, STORE_KINDS } from '../helpers/stores.js';
import { type Bench, type BenchResult, percentile } from './harness.js';

const YEAR = { from: '2026-01-01T00:00:00.000Z', to: '2027-01-01T00:00:00.000Z' };
const PER_DAY = 150;
const MIX: readonly [ActivityType, number][] = [
  ['appointment.booked', 40],
  ['appointment.moved', 10],
  ['appointment.cancelled', 8],
  ['appointment.noshow', 2],
  ['appointment.arrived', 15],
  ['appointment.refused', 1],
  ['message.received', 11],
  ['message.delivered', 11],
  ['conflict.opened', 1],
  ['conflict.resolved', 1],
];

/** Deterministic PRNG (mulberry32) so both stores get the same year. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function fillYear(store: Store, practiceId: string, seed: number): Promise<number> {
  const random = rng(seed);
  const total = MIX.reduce((n, [, w]) => n + w, 0);
  const pick = (): ActivityType => {
    let r = random() * total;
    for (const [type, w] of MIX) if ((r -= w) < 0) return type;
    return 'appointment.booked';
  };
  const start = Date.parse(YEAR.from);
  let rows = 0;
  for (let day = 0; day < 365; day++) {
    const values = Array.from({ length: PER_DAY }, () => {
      const type = pick();
      const message = type.startsWith('message.');
      return {
        practice_id: practiceId,
        at: start + day * 86_400_000 + Math.floor(random() * 86_400_000),
        type,
        origin: random() < 0.7 ? 'secretariat' : 'practice',
        link_id: null,
        kind: message ? 'Communication' : 'Appointment',
        record_id: `r-${day}-${rows++}`,
        practitioner_id: `pr-${Math.floor(random() * 6)}`,
        priority: message ? (random() < 0.8 ? 'routine' : 'urgent') : null,
        latency_ms: type === 'message.delivered' ? Math.floor(500 + random() * random() * 600_000) : null,
        detail: type === 'conflict.opened' ? (random() < 0.5 ? 'review' : 'collision') : null,
        dedupe_key: null,
      };
    });
    await store.db.insertInto('activity_events').values(values).execute();
  }
  return rows;
}

async function timings(fn: () => Promise<unknown>, runs: number): Promise<number[]> {
  for (let i = 0; i < 3; i++) await fn();
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    out.push(performance.now() - t0);
  }
  return out.sort((a, b) => a - b);
}

const bench: Bench = {
  name: 'reports: a practice’s year of activity',
  async run() {
    const results: BenchResult[] = [];
    for (const kind of STORE_KINDS) {
      const t = await openTestStore(kind);
      try {
        const practice: Practice = await t.store.practices.create({ name: 'Cabinet chargé' });
        const other = await t.store.practices.create({ name: 'Autre cabinet' });
        await t.store.links.create({
          practiceId: practice.id,
          role: 'secretariat',
          connector: 'secretariat',
          name: 'Secrétariat',
        });
        await t.store.links.create({
          practiceId: practice.id,
          role: 'practice',
          connector: 'fhir',
          name: 'Logiciel',
        });
        const rows = await fillYear(t.store, practice.id, 1);
        await fillYear(t.store, other.id, 2);
        await sql.raw(kind === 'postgres' ? 'ANALYZE activity_events' : 'ANALYZE').execute(t.store.db);
        const now = Date.parse(YEAR.to);
        const report = await timings(
          () => buildActivityReport(t.store, { practice, period: YEAR, now, names: true }),
          20,
        );
        const count = await timings(
          () =>
            t.store.db
              .selectFrom('activity_events')
              .select((eb) => eb.fn.countAll<number>().as('n'))
              .where('practice_id', '=', practice.id)
              .where('at', '>=', Date.parse(YEAR.from))
              .where('at', '<', Date.parse(YEAR.to))
              .executeTakeFirstOrThrow(),
          20,
        );
        const check = await buildActivityReport(t.store, { practice, period: YEAR, now });
        results.push({
          name: `${kind}: activity report over one year (p50 of 20)`,
          measured: {
            label: `buildActivityReport, ${rows.toLocaleString('en-US')} events of the practice among ${(2 * rows).toLocaleString('en-US')}`,
            value: percentile(report, 50),
            unit: 'ms',
          },
          baseline: {
            label: 'COUNT(*) of the same rows through the same index',
            value: percentile(count, 50),
            unit: 'ms',
          },
          higherIsBetter: false,
          notes: [
            `p95: measured ${percentile(report, 95).toFixed(1)} ms, baseline ${percentile(count, 95).toFixed(1)} ms`,
            `report: ${check.appointments.total.booked} booked, ${check.messages.all.latencyMs.count} delays sorted`,
          ],
        });
      } finally {
        await t.dispose();
      }
    }
    return results;
  },
};

export default bench;
