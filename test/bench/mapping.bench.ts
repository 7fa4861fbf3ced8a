/**
 * Mapping 10,000 HL7 messages to canonical records (issue: mapping engine benchmark). The SIU
 * fixtures (S12, S13, S14, S15, S17, S23, S24, S26), cycled to 10,000 messages, from bytes:
 * - baseline: parsing alone. The codec parses lazily (connectors/hl7v2/README.md): `parseHl7`
 *   decodes and splits segments, and each segment's separators are indexed on its first read.
 *   Parsing is both: `parseHl7(bytes)`, the header, and the index of every segment (one read
 *   each), so that the mapping step is not charged with indexing work the parse deferred;
 * - measured: the mapping step alone, `toCanonical` with the shipped hl7v2-ihe-pam-fr profile on
 *   the parsed message (every read through pre-compiled paths, transforms, value maps, records
 *   built, pruned, filtered), timed as (parse + map) − parse in the same round. Canonical
 *   validation is left to the sync engine, which validates every record it ingests
 *   (src/sync/ingest/record.ts); its cost here is a note.
 * Aim: the mapping step costs no more than the parse (≤ 1×). Rounds are interleaved and the
 * median kept, as the machine is shared.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

import { type Hl7Message, type Hl7Path, parseHl7, parseHl7Path } from '../../src/hl7/index.js';
import { shippedPlan, toCanonical } from '../../src/mapping/index.js';
import { FIXTURES } from '../helpers/fixtures.js';
import type { Bench, BenchResult } from './harness.js';

const N = 10_000;
const dir = join(FIXTURES, 'hl7');
const siu = readdirSync(dir)
  .filter((f) => f.startsWith('siu-'))
  .sort()
  .map((f) => readFileSync(join(dir, f)));
const messages: Buffer[] = Array.from({ length: N }, (_, i) => siu[i % siu.length] as Buffer);
const plan = shippedPlan('hl7v2-ihe-pam-fr');
const ctx = { testLink: true, timezone: 'Europe/Paris', validate: false };
const withValidation = { ...ctx, validate: true };

let sink = 0;

/** parseHl7 + header + the separator index of every segment: the message fully parsed. */
function parse(bytes: Buffer): Hl7Message {
  const msg = parseHl7(bytes);
  sink += msg.header.messageType?.length ?? 0;
  for (const seg of msg.segments())
    sink += msg.getEncoded(segmentPath(seg.name, seg.occurrence))?.length ?? 0;
  return msg;
}
const paths = new Map<string, Hl7Path>();
function segmentPath(name: string, occurrence: number): Hl7Path {
  const key = `${name}[${occurrence}]-1`;
  let p = paths.get(key);
  if (!p) paths.set(key, (p = parseHl7Path(key)));
  return p;
}

function parseOnly(): void {
  for (const bytes of messages) parse(bytes);
}
function parseAndMap(c: typeof ctx): () => void {
  return () => {
    for (const bytes of messages) {
      const r = toCanonical(plan, parse(bytes), c);
      if (!r.ok) throw new Error(`mapping failed: ${r.error?.message}`);
      sink += r.records.length;
    }
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1] as number;

/** Wall-clock ms and CPU ms (this process, all threads) of one run. */
function time(fn: () => void): { wall: number; cpu: number } {
  const cpu = process.cpuUsage();
  const start = performance.now();
  fn();
  const wall = performance.now() - start;
  const d = process.cpuUsage(cpu);
  return { wall, cpu: (d.user + d.system) / 1000 };
}

const bench: Bench = {
  name: `Mapping ${N.toLocaleString('en-US')} HL7 messages to canonical (SIU fixtures, hl7v2-ihe-pam-fr)`,
  async run(): Promise<BenchResult[]> {
    const map = parseAndMap(ctx);
    const mapValidated = parseAndMap(withValidation);
    // Warm-up: compile the JIT paths of both workloads.
    parseOnly();
    map();
    mapValidated();
    const rounds = 11;
    const parsing: { wall: number; cpu: number }[] = [];
    const total: { wall: number; cpu: number }[] = [];
    const totalValidated: { wall: number; cpu: number }[] = [];
    for (let r = 0; r < rounds; r++) {
      parsing.push(time(parseOnly));
      total.push(time(map));
      totalValidated.push(time(mapValidated));
    }
    if (sink < 0) throw new Error('unreachable');
    const usPerMsg = (ms: number) => (ms * 1000) / N;
    const p = median(parsing.map((x) => x.wall));
    const t = median(total.map((x) => x.wall));
    const tv = median(totalValidated.map((x) => x.wall));
    const pc = median(parsing.map((x) => x.cpu));
    const tc = median(total.map((x) => x.cpu));
    const records =
      siu.reduce((n, b) => n + toCanonical(plan, parseHl7(b), withValidation).records.length, 0) / siu.length;
    return [
      {
        name: `mapping step (toCanonical, ${records.toFixed(2)} records/message on average) beside parsing alone`,
        measured: { label: 'mapping step = (parse + map) − parse', value: usPerMsg(t - p), unit: 'µs/msg' },
        baseline: {
          label: 'parseHl7(bytes) + header + index of every segment',
          value: usPerMsg(p),
          unit: 'µs/msg',
        },
        higherIsBetter: false,
        aim: '≤ 1×',
        notes: [
          `${N.toLocaleString('en-US')} messages: parse ${p.toFixed(0)} ms, parse + map ${t.toFixed(0)} ms (${Math.round((N * 1000) / t).toLocaleString('en-US')} msg/s end to end), medians of ${rounds} interleaved rounds`,
          `in CPU time (less sensitive to other load on the machine): mapping step ${usPerMsg(tc - pc).toFixed(1)} µs/msg, parse ${usPerMsg(pc).toFixed(1)} µs/msg = ${((tc - pc) / pc).toFixed(2)}×`,
          `with canonical validation in the mapping step too (validate: true, as the CLI and dry-run do): ${usPerMsg(tv - p).toFixed(1)} µs/msg = ${((tv - p) / p).toFixed(2)}× the parse`,
        ],
      },
    ];
  },
};
export default bench;
