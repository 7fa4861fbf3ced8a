/**
 * Rendering a 10,000-event feed. Measured: the feed renderer in steady state (each event's text
 * cached from an earlier render, the calendar assembled from the pieces). Baseline: plain string
 * concatenation of the same 10,000 events, formatted on the spot with no library. Notes give the
 * first (cold) render of the process, first renders in fresh child processes in CPU time
 * (ical-render-child.ts; ICAL_RENDER_PROCESSES, default 7), the uncached render in a warm process
 * and ical-generator's own whole-calendar toString(), the trap of shared/libraries.md §4.
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

import ical, { ICalEventStatus } from 'ical-generator';

import { FeedRenderer, feedWindow } from '../../src/ical/feed.js';
import type { Bench } from './harness.js';
import { concatenate, EVENTS, feedData, NOW, rows, SETTINGS } from './ical-render-data.js';

const HERE = dirname(fileURLToPath(import.meta.url));
/** Fresh processes, each rendering once: enough for a median on a shared machine. */
const FRESH_PROCESSES = Number(process.env.ICAL_RENDER_PROCESSES ?? 7);

interface FirstRun {
  readonly concatCpu: number;
  readonly renderCpu: number;
}

/** One child process's first concatenation and first render (ical-render-child.ts). */
function firstRun(order: 'cr' | 'rc'): Promise<FirstRun> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', join(HERE, 'ical-render-child.ts'), order], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let text = '';
    p.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
    p.on('error', reject);
    p.on('exit', (code) =>
      code === 0 ? resolve(JSON.parse(text) as FirstRun) : reject(new Error(`child exited ${code}`)),
    );
  });
}

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

/** CPU milliseconds per call of `fn`, median of `n` calls after a warm-up. */
function cpuPer(fn: () => unknown, n = 15): number {
  for (let i = 0; i < 3; i++) fn();
  const xs: number[] = [];
  for (let i = 0; i < n; i++) {
    const before = process.cpuUsage();
    fn();
    const d = process.cpuUsage(before);
    xs.push((d.user + d.system) / 1000);
  }
  return median(xs);
}

async function msPer(fn: () => unknown, minMs = 1500): Promise<number> {
  for (let i = 0; i < 3; i++) await fn();
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < minMs) {
    await fn();
    n++;
  }
  return (performance.now() - start) / n;
}

const bench: Bench = {
  name: 'iCal: rendering a 10,000-event feed',
  async run() {
    const records = rows();
    const data = feedData(records);
    const window = feedWindow(NOW, 'Europe/Paris', SETTINGS);

    // One-shot concatenation first, as cold as the first render below: the same-process pair is
    // steadier under load than a one-shot render against a steady-state loop.
    const concatStart = performance.now();
    concatenate(records);
    const coldConcatMs = performance.now() - concatStart;

    const coldRenderer = new FeedRenderer(SETTINGS);
    const coldStart = performance.now();
    const first = await coldRenderer.render(data, window, 'busy');
    const coldMs = performance.now() - coldStart;
    if (first.events !== EVENTS) throw new Error(`rendered ${first.events} events, expected ${EVENTS}`);

    const warm = await msPer(() => coldRenderer.render(data, window, 'busy'));
    const baseline = await msPer(() => concatenate(records));
    // Uncached but in a process that has rendered before (code optimised by the JIT): what a
    // running server spends on a feed none of whose events it has rendered yet.
    const uncached = await msPer(() => new FeedRenderer(SETTINGS).render(data, window, 'busy'));
    // First renders in fresh processes, in CPU time: one-shot wall times on a loaded machine swing
    // by ±50 %; CPU medians over several processes, the order of render and concatenation
    // alternating, are steadier (docs/benchmarks.md, ical-render).
    const fresh: FirstRun[] = [];
    for (let i = 0; i < FRESH_PROCESSES; i++) fresh.push(await firstRun(i % 2 === 0 ? 'cr' : 'rc'));
    const freshRenderCpu = median(fresh.map((f) => f.renderCpu));
    const freshConcatCpu = median(fresh.map((f) => f.concatCpu));
    const baselineCpu = cpuPer(() => concatenate(records));

    const cal = ical({ name: 'Agenda' });
    for (const r of records)
      cal.createEvent({
        id: r.id,
        stamp: new Date(r.updatedAt),
        start: new Date(r.startAt as string),
        end: new Date(r.endAt as string),
        summary: 'Occupé',
        status: ICalEventStatus.CONFIRMED,
      });
    const libStart = performance.now();
    const libText = cal.toString();
    const libMs = performance.now() - libStart;

    return [
      {
        name: `feed of ${EVENTS.toLocaleString('en-US')} events (${(first.text.length / 1e6).toFixed(1)} MB), ms per feed`,
        measured: { label: 'feed renderer, events cached from an earlier render', value: warm, unit: 'ms' },
        baseline: { label: 'plain string concatenation of the same events', value: baseline, unit: 'ms' },
        higherIsBetter: false,
        aim: '≤ 1.5×',
        notes: [
          `first render of the process, nothing cached, code not yet optimised by the JIT (each event written and folded, TZID local times): ${coldMs.toFixed(0)} ms = ${(coldMs / baseline).toFixed(1)}× baseline, yielding every 200 events`,
          `first concatenation of the process (one shot, same process): ${coldConcatMs.toFixed(0)} ms; first render / first concatenation = ${(coldMs / coldConcatMs).toFixed(1)}×`,
          `first render in ${FRESH_PROCESSES} fresh processes, CPU time, median: ${freshRenderCpu.toFixed(0)} ms = ${(freshRenderCpu / baselineCpu).toFixed(1)}× the baseline's CPU time (${baselineCpu.toFixed(1)} ms), ${(freshRenderCpu / freshConcatCpu).toFixed(1)}× the same processes' first concatenation (${freshConcatCpu.toFixed(0)} ms)`,
          `uncached render in a warm process (a new renderer each time, nothing cached): ${uncached.toFixed(1)} ms = ${(uncached / baseline).toFixed(1)}× baseline`,
          `ical-generator calendar.toString() of the same events (UTC, synchronous): ${libMs.toFixed(0)} ms, ${(libText.length / 1e6).toFixed(1)} MB`,
        ],
      },
    ];
  },
};
export default bench;
