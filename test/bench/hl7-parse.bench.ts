/**
 * HL7 v2 parse throughput (issue: codec benchmark). The 2,251-byte SIU^S12 fixture, from the
 * bytes as received (the data path: MLLP frames and files are bytes):
 * - measured: parseHl7 + reading every field through compiled HL7 paths (`SEG[n]-F`, the first
 *   leaf, escapes resolved), as the mapping engine will; and, stricter, every leaf (every
 *   repetition, component and sub-component of every field);
 * - baseline: the same bytes decoded, then a naive `split('\r')` and `split('|')`, touching every
 *   field (no components, no escapes, no checks);
 * - note: hl7-standard 1.0.4 `transform()` + a walk over every leaf of its data (it resolves no
 *   escapes), on the same text, against the naive split of that text.
 * Aim: ≥ 0.5× the naive split.
 */
import HL7, { type Hl7StandardValue } from 'hl7-standard';

import { parseHl7 } from '../../src/hl7/message.js';
import { type Hl7Path, parseHl7Path } from '../../src/hl7/path.js';
import { DEFAULT_NAIVE, naiveLeaves, readHl7Fixture } from '../helpers/hl7-leaf-paths.js';
import { type Bench, type BenchResult, opsPerSecondSync } from './harness.js';

const bytes = readHl7Fixture('siu-s12-new-appointment.hl7');
const text = bytes.toString('utf8');
// Compiled once, as a mapping profile compiles its paths when it is loaded.
const leafPaths: Hl7Path[] = naiveLeaves(text, DEFAULT_NAIVE).map((l) => parseHl7Path(l.path));
const fieldPaths: Hl7Path[] = [
  ...new Set(naiveLeaves(text, DEFAULT_NAIVE).map((l) => `${l.segment}[${l.occurrence}]-${l.field}`)),
].map((p) => parseHl7Path(p));

const segmentPaths: Hl7Path[] = [
  ...new Set(naiveLeaves(text, DEFAULT_NAIVE).map((l) => `${l.segment}[${l.occurrence}]-1`)),
].map((p) => parseHl7Path(p));

// Results are summed into a sink so the work cannot be optimised away.
let sink = 0;

function naiveSplit(input: string): void {
  for (const segment of input.split('\r')) for (const field of segment.split('|')) sink += field.length;
}

function codecEveryLeaf(input: Buffer): void {
  const msg = parseHl7(input);
  for (const p of leafPaths) sink += msg.get(p)?.length ?? 0;
}

function codecEveryField(input: Buffer): void {
  const msg = parseHl7(input);
  for (const p of fieldPaths) sink += msg.get(p)?.length ?? 0;
}

/** The fixed cost: decode, segments, and the separator index of every segment, one read each. */
function codecParseAndIndex(input: Buffer): void {
  const msg = parseHl7(input);
  for (const p of segmentPaths) sink += msg.getEncoded(p)?.length ?? 0;
}

function walk(v: Hl7StandardValue | null | undefined): void {
  if (typeof v === 'string') sink += v.length;
  else if (Array.isArray(v)) for (const x of v) walk(x);
  else if (v) for (const x of Object.values(v)) walk(x);
}

function hl7StandardEveryLeaf(input: string): void {
  const h = new HL7(input, { lineEndings: '\r' });
  h.transform();
  for (const segs of Object.values(h.transformed))
    for (const s of segs) for (const v of Object.values(s.data)) walk(v);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1] as number;

/**
 * Runs each workload for `ms` in turn, `rounds` times, and keeps each one's median: the machine
 * is shared, and short interleaved rounds expose every workload to the same load.
 */
function interleaved(
  workloads: Record<string, () => void>,
  rounds: number,
  ms: number,
): Record<string, number> {
  const samples: Record<string, number[]> = {};
  for (const name of Object.keys(workloads)) samples[name] = [];
  for (let r = 0; r < rounds; r++) {
    for (const [name, fn] of Object.entries(workloads))
      samples[name]?.push(opsPerSecondSync(fn, { minMs: ms, warmup: r === 0 ? 500 : 20 }));
  }
  return Object.fromEntries(Object.entries(samples).map(([name, xs]) => [name, median(xs)]));
}

const bench: Bench = {
  name: 'HL7 v2 parse + read (SIU^S12 fixture, 2,251 bytes, 16 segments)',
  async run(): Promise<BenchResult[]> {
    const ops = interleaved(
      {
        naiveBytes: () => naiveSplit(bytes.toString('utf8')),
        fields: () => codecEveryField(bytes),
        leaves: () => codecEveryLeaf(bytes),
        indexOnly: () => codecParseAndIndex(bytes),
        naiveText: () => naiveSplit(text),
        standard: () => hl7StandardEveryLeaf(text),
      },
      11,
      250,
    );
    if (sink < 0) throw new Error('unreachable');
    const unit = 'msg/s';
    const baseline = {
      label: "naive bytes.toString() + split('\\r') + split('|')",
      value: ops['naiveBytes'] as number,
      unit,
    };
    const standard = ops['standard'] as number;
    return [
      {
        name: `parseHl7(bytes) + get() of every field (${fieldPaths.length} fields, first leaf, escapes resolved)`,
        measured: { label: 'codec, every field', value: ops['fields'] as number, unit },
        baseline,
        higherIsBetter: true,
        aim: '≥ 0.5×',
        notes: [
          `hl7-standard 1.0.4 transform() + walk of every leaf (no escapes resolved), from text: ${Math.round(standard).toLocaleString('en-US')} ${unit} = ${(standard / (ops['naiveText'] as number)).toFixed(3)}× the naive split of the same text (${Math.round(ops['naiveText'] as number).toLocaleString('en-US')} ${unit})`,
        ],
      },
      {
        name: `parseHl7(bytes) + get() of every leaf (${leafPaths.length} repetitions / components / sub-components, escapes resolved)`,
        measured: { label: 'codec, every leaf', value: ops['leaves'] as number, unit },
        baseline,
        higherIsBetter: true,
        aim: '≥ 0.5×',
        notes: [
          `fixed cost, parseHl7 + the separator index of all ${segmentPaths.length} segments (one read each): ${Math.round(ops['indexOnly'] as number).toLocaleString('en-US')} ${unit} = ${((ops['indexOnly'] as number) / baseline.value).toFixed(2)}×`,
        ],
      },
    ];
  },
};

export default bench;
