/**
 * passerelle loading a FHIR server's patients, in its own process (load benchmark): a sync
 * runtime on the SQLite store at $LOAD_DB with one `fhir` practice link to $LOAD_BASE (created
 * on the first run), polled once to the end. Prints `page <n>` as each page is pulled (the page
 * before it is committed by then), and at the end one JSON line
 * `{"done":true,"ms":…,"peakRssMb":…,"pages":…,"applied":…}`. The parent may SIGKILL it mid-load.
 * Run: node --import tsx test/bench/fhir-load-child.ts
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';

import fhir from '../../connectors/fhir/index.js';
import type { Connector } from '../../src/connector/contract.js';
import { type AnyConnectorDefinition, createRegistry } from '../../src/connector/registry.js';
import { createLogger } from '../../src/log/logger.js';
import { SecretBox } from '../../src/security/secrets.js';
import { openSqliteStore } from '../../src/store/index.js';
import { writeBuffering } from '../../src/store/write-buffer.js';
import { SyncRuntime } from '../../src/sync/runtime.js';
import { testSealing } from '../helpers/stores.js';

// `LOAD_ROWWISE=1` (through the parent's environment): one statement per row written, to measure
// the set-wise writes (src/store/write-buffer.ts) against what they replaced.
if (process.env['LOAD_ROWWISE'] === '1') writeBuffering.enabled = false;

let peak = process.memoryUsage().rss;
let peakHeap = process.memoryUsage().heapUsed;
let peakExternal = process.memoryUsage().external;
const sampler = setInterval(() => {
  const m = process.memoryUsage();
  peak = Math.max(peak, m.rss);
  peakHeap = Math.max(peakHeap, m.heapUsed);
  peakExternal = Math.max(peakExternal, m.external);
}, 20);
let pages = 0;
/** The real fhir connector, telling the parent when each page has been pulled. */
const counted: AnyConnectorDefinition = {
  ...(fhir as AnyConnectorDefinition),
  create(config, ctx) {
    const c = fhir.create(config as Parameters<typeof fhir.create>[0], ctx);
    const pull = c.pull?.bind(c) as NonNullable<Connector['pull']>;
    return {
      ...c,
      async pull(cursor, limit) {
        const page = await pull(cursor, limit);
        pages++;
        process.stdout.write(`page ${pages}\n`);
        return page;
      },
    };
  },
};

const store = await openSqliteStore({ path: process.env['LOAD_DB'] as string, sealing: testSealing() });
await store.migrate();
let link = (await store.links.list())[0];
if (!link) {
  const practice = await store.practices.create({ name: 'Cabinet de charge' });
  link = await store.links.create({
    practiceId: practice.id,
    role: 'practice',
    connector: 'fhir',
    name: 'Logiciel (FHIR)',
    config: {
      baseUrl: process.env['LOAD_BASE'] as string,
      kinds: ['Patient'],
      pageSize: 1000,
      timeoutMs: 60_000,
    },
    isTest: true,
  });
}
const runtime = new SyncRuntime({
  store,
  logger: createLogger({ level: 'error' }),
  secrets: new SecretBox(randomBytes(32)),
  registry: createRegistry([counted]),
  schedulePolls: false,
  autoDispatch: false,
  refreshMs: 0,
  maxPagesPerPoll: 1000,
});
await runtime.start();
const startRssMb = process.memoryUsage().rss / 1048576;
const started = performance.now();
const cpuBefore = process.cpuUsage();
const r = await runtime.pollLink(link.id);
const ms = performance.now() - started;
const cpu = process.cpuUsage(cpuBefore);
clearInterval(sampler);
peak = Math.max(peak, process.memoryUsage().rss);
process.stdout.write(
  `${JSON.stringify({ done: true, ms, cpuMs: (cpu.user + cpu.system) / 1000, peakRssMb: peak / 1048576, peakHeapMb: peakHeap / 1048576, peakExternalMb: peakExternal / 1048576, startRssMb, pages: r.pages, applied: r.applied, invalid: r.invalid, error: r.error?.code ?? null })}\n`,
);
await runtime.stop();
await store.close();
