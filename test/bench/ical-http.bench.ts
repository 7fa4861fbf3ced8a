/**
 * Conditional GET over loopback: requests per second answered 304 (If-None-Match with the
 * current ETag) against full 200 responses (gzip), 10 keep-alive connections from this process
 * to the whole service on 127.0.0.1. Two feed sizes: 3,000 events (a practitioner's default
 * 210-day window at about 15 a day) and 10,000 (the default cap, as in the rendering bench).
 * The 200 baseline builds each response (records read, events from the per-event cache,
 * assembly, gzip); notes give 200s served from the whole-body cache (apps that never send
 * If-None-Match) and 200s with every event rendered anew. Load generator and service share this
 * process and the machine's 2 cores.
 */
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

import { icalModule } from '../../src/app/features/ical.js';
import { type RunningService, startService } from '../../src/app/service.js';
import { loadConfig } from '../../src/config/load.js';
import { createFeedToken } from '../../src/ical/tokens.js';
import { createLogger } from '../../src/log/logger.js';
import { openSqliteStore, type Store } from '../../src/store/index.js';
import { appointment, practitioner, putAppointment } from '../helpers/ical-agenda.js';
import { tempDir, testSealing } from '../helpers/stores.js';
import type { Bench, BenchResult } from './harness.js';

const SIZES = [3_000, 10_000];
const CONNECTIONS = 10;
const SECONDS = 3;

async function serve(
  store: Store,
  dir: string,
  bodyCacheMb: number,
  eventCacheEntries = 50_000,
): Promise<RunningService> {
  const env = {
    PASSERELLE_HTTP_PORT: '0',
    PASSERELLE_HTTP_ACCESS_LOG: 'false',
    PASSERELLE_STORE_SQLITE_PATH: join(dir, 'passerelle.db'),
    PASSERELLE_ICAL_BODY_CACHE_MB: String(bodyCacheMb),
    PASSERELLE_ICAL_EVENT_CACHE_ENTRIES: String(eventCacheEntries),
    PASSERELLE_ICAL_RATE_LIMIT_PER_TOKEN: '1000000',
    PASSERELLE_ICAL_RATE_LIMIT_PER_CLIENT: '1000000',
  };
  const { config } = loadConfig({ env, cwd: dir });
  return startService({
    config,
    store,
    cwd: dir,
    logger: createLogger({ silent: true }),
    modules: [icalModule()],
  });
}

/**
 * Bounded load: `CONNECTIONS` loops, each one request at a time, for `SECONDS`. Connection i asks
 * for feed i (same content, its own token and ETag), as ten calendar apps would: no two
 * connections can share one render.
 */
async function load(
  targets: ReadonlyArray<{ url: string; headers: Record<string, string> }>,
  expectStatus: number,
): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const get = (i: number) =>
    new Promise<void>((resolve, reject) => {
      const { url, headers } = targets[i % targets.length] as {
        url: string;
        headers: Record<string, string>;
      };
      const req = request(url, { agent, headers }, (res) => {
        if (res.statusCode !== expectStatus)
          reject(new Error(`expected ${expectStatus}, got ${res.statusCode}`));
        res.resume();
        res.on('end', () => resolve());
      });
      req.on('error', reject);
      req.end();
    });
  // Warm-up: connections, caches, and the JIT (two seconds of the same load).
  const warm = performance.now() + 2000;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async (_, i) => {
      while (performance.now() < warm) await get(i);
    }),
  );
  let done = 0;
  const deadline = performance.now() + SECONDS * 1000;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async (_, i) => {
      while (performance.now() < deadline) {
        await get(i);
        done++;
      }
    }),
  );
  const rate = (done * 1000) / (performance.now() - start);
  agent.destroy();
  return rate;
}

/** The current ETag, the number of events and the size of the plain feed. */
function probe(url: string): Promise<{ etag: string; events: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    request(url, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({
          etag: String(res.headers['etag']),
          events: text.split('BEGIN:VEVENT').length - 1,
          bytes: Buffer.byteLength(text),
        });
      });
    })
      .on('error', reject)
      .end();
  });
}

async function measure(events: number): Promise<BenchResult> {
  const dir = tempDir('passerelle-bench-ical-');
  const store = await openSqliteStore({
    path: join(dir.path, 'passerelle.db'),
    sealing: testSealing(),
    now: () => Date.parse('2026-11-23T09:00:00Z'),
  });
  const services: RunningService[] = [];
  try {
    await store.migrate();
    await store.practices.create({ id: 'cab-bench', name: 'Cabinet du banc d’essai' });
    const doc = practitioner('pr-bench', 'Marie', 'Médecin', '10001234567');
    await store.resources.put({
      id: doc.id,
      practiceId: 'cab-bench',
      kind: 'Practitioner',
      data: doc,
      origin: 'practice',
    });
    // Spread over the window, as a practitioner's agenda is: 2026-10-24 → 2027-05-22.
    const first = Date.parse('2026-10-24T07:00:00Z');
    const perDay = Math.ceil(events / 205);
    await Promise.all(
      Array.from({ length: events }, (_, i) =>
        putAppointment(
          store,
          'cab-bench',
          appointment({
            id: `apt-${i}`,
            practitionerId: 'pr-bench',
            patientId: null,
            minutes: 10,
            start: new Date(
              first + Math.floor(i / perDay) * 86_400_000 + (i % perDay) * 660_000,
            ).toISOString(),
          }),
        ),
      ),
    );
    const tokens: string[] = [];
    for (let i = 0; i < CONNECTIONS; i++) {
      tokens.push(
        (
          await createFeedToken(
            store,
            { practiceId: 'cab-bench', practitionerId: 'pr-bench' },
            { id: 'bench', role: 'cli', via: 'cli' },
          )
        ).token,
      );
    }
    const gzip = { 'accept-encoding': 'gzip' };
    const feedsOf = (svc: RunningService) =>
      tokens.map((t) => ({ url: `${svc.url}/ical/${t}.ics`, headers: gzip }));

    const rendering = await serve(store, dir.path, 0);
    services.push(rendering);
    const targets = feedsOf(rendering);
    const { events: served, bytes } = await probe(targets[0]?.url as string);
    if (served !== events) throw new Error(`feed has ${served} events, expected ${events}`);
    const conditional = await Promise.all(
      targets.map(async (t) => ({
        url: t.url,
        headers: { ...gzip, 'if-none-match': (await probe(t.url)).etag },
      })),
    );
    const notModified = await load(conditional, 304);
    const full = await load(targets, 200);

    const caching = await serve(store, dir.path, 32);
    services.push(caching);
    const cached = await load(feedsOf(caching), 200);

    const uncached = await serve(store, dir.path, 0, 0);
    services.push(uncached);
    const cold = await load(feedsOf(uncached), 200);

    return {
      name: `feed of ${events.toLocaleString('en-US')} events (${(bytes / 1e6).toFixed(1)} MB, gzip on the wire): requests per second, ${CONNECTIONS} keep-alive connections`,
      measured: {
        label: '304 Not Modified (If-None-Match: current ETag)',
        value: notModified,
        unit: 'req/s',
      },
      baseline: {
        label: '200 full feed, gzip, built per request (events from the per-event cache)',
        value: full,
        unit: 'req/s',
      },
      higherIsBetter: true,
      aim: '≥ 50×',
      notes: [
        `200 served from the whole-body cache (default bodyCacheMb: 32): ${Math.round(cached).toLocaleString('en-US')} req/s; 304 is ${(notModified / cached).toFixed(1)}× that`,
        `200 with every event rendered anew (eventCacheEntries: 0): ${cold.toFixed(1)} req/s; 304 is ${Math.round(notModified / cold).toLocaleString('en-US')}× that`,
      ],
    };
  } finally {
    for (const s of services) await s.stop();
    await store.close();
    dir.remove();
  }
}

const bench: Bench = {
  name: 'iCal: conditional GET over HTTP',
  async run() {
    const results: BenchResult[] = [];
    for (const events of SIZES) results.push(await measure(events));
    return results;
  },
};
export default bench;
