/**
 * One first render in a fresh process, for the ical-render benchmark: the process's first
 * concatenation and first render of the benchmark's feed, in the order given ("cr": concatenation
 * first, "rc": render first), each timed in CPU time (process.cpuUsage, this process's threads,
 * the JIT's and the GC's included) and wall time. Prints one JSON line.
 * Run: node --import tsx test/bench/ical-render-child.ts cr
 */
import { performance } from 'node:perf_hooks';

import { FeedRenderer, feedWindow } from '../../src/ical/feed.js';
import { concatenate, feedData, NOW, rows, SETTINGS } from './ical-render-data.js';

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

const records = rows();
const data = feedData(records);
const window = feedWindow(NOW, 'Europe/Paris', SETTINGS);
const renderer = new FeedRenderer(SETTINGS);
const out: Record<string, number> = {};
let kept = 0;
for (const step of process.argv[2] === 'rc' ? ['render', 'concat'] : ['concat', 'render']) {
  const cpu = cpuMs();
  const wall = performance.now();
  // The lengths are kept so that neither result is dead code.
  if (step === 'concat') kept += concatenate(records).length;
  else kept += (await renderer.render(data, window, 'busy')).text.length;
  out[`${step}Cpu`] = cpuMs() - cpu;
  out[`${step}Wall`] = performance.now() - wall;
}
out.chars = kept;
process.stdout.write(`${JSON.stringify(out)}\n`);
