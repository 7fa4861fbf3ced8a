/**
 * Benchmarks print a figure beside a baseline measured in the same run, as a ratio, because
 * absolute numbers on shared 2-core machines mean little. Each `*.bench.ts` default-exports a
 * `Bench`; `npm run bench [filter]` runs them in turn and prints one table.
 */
import { performance } from 'node:perf_hooks';

export interface BenchFigure {
  readonly label: string;
  readonly value: number;
  readonly unit: string;
}

export interface BenchResult {
  readonly name: string;
  readonly measured: BenchFigure;
  readonly baseline: BenchFigure;
  /** true when a bigger figure is better (throughput); false for latencies and sizes. */
  readonly higherIsBetter: boolean;
  /** The issue's target, e.g. "≥ 2×" or "≤ 1.5×", printed beside the ratio. */
  readonly aim?: string;
  /** Extra figures worth printing (p99, RSS, a reference library's figure…). */
  readonly notes?: readonly string[];
}

export interface Bench {
  readonly name: string;
  run(): Promise<BenchResult[]>;
}

/** Runs `fn` repeatedly for at least `minMs` after a warm-up; returns operations per second. */
export async function opsPerSecond(
  fn: () => unknown | Promise<unknown>,
  options: { minMs?: number; warmup?: number; batch?: number } = {},
): Promise<number> {
  const minMs = options.minMs ?? 1000;
  const batch = options.batch ?? 1;
  for (let i = 0; i < (options.warmup ?? 50); i++) await fn();
  let ops = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < minMs) {
    for (let i = 0; i < batch; i++) await fn();
    ops += batch;
    elapsed = performance.now() - start;
  }
  return (ops * 1000) / elapsed;
}

/** Same for synchronous code, without an await per call. */
export function opsPerSecondSync(
  fn: () => unknown,
  options: { minMs?: number; warmup?: number } = {},
): number {
  const minMs = options.minMs ?? 1000;
  for (let i = 0; i < (options.warmup ?? 200); i++) fn();
  let ops = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < minMs) {
    for (let i = 0; i < 100; i++) fn();
    ops += 100;
    elapsed = performance.now() - start;
  }
  return (ops * 1000) / elapsed;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx] as number;
}

export function ratio(r: BenchResult): number {
  return r.higherIsBetter ? r.measured.value / r.baseline.value : r.measured.value / r.baseline.value;
}

const fmt = (n: number) => (n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(n >= 10 ? 1 : 3));

export function formatResult(r: BenchResult): string {
  const lines = [
    `${r.name}`,
    `  measured: ${r.measured.label}: ${fmt(r.measured.value)} ${r.measured.unit}`,
    `  baseline: ${r.baseline.label}: ${fmt(r.baseline.value)} ${r.baseline.unit}`,
    `  ratio:    ${ratio(r).toFixed(2)}×${r.aim ? `   (aim ${r.aim})` : ''}`,
  ];
  for (const n of r.notes ?? []) lines.push(`  note:     ${n}`);
  return lines.join('\n');
}
