/**
 * Initial load of 100,000 patients from a FHIR server into passerelle (issue: FHIR connector,
 * benchmark). The FHIR peer runs in a child process seeded with the patients
 * (fhir-peer-child.ts); passerelle runs in another child (fhir-load-child.ts): the real fhir
 * connector (`_count=1000` pages, edge validation, the shipped profile) through the sync
 * engine into a SQLite store, one transaction per page with its cursor. Its time and its peak
 * RSS (sampled every 20 ms) are passerelle's alone.
 *
 * Baseline, in the same run, against the same server: the same pages fetched with plain HTTP
 * (`fetch`, following `next`), `JSON.parse`, and each page's patients inserted as rows (id,
 * version, lastUpdated, JSON) into a SQLite table in one transaction (WAL, synchronous=FULL,
 * the store's durability). Measured before and after the load; their mean is the baseline.
 *
 * Kill: a third load, through the fault proxy (to count requests), is SIGKILLed when it has
 * pulled page 31, then started again on the same store; it must finish with every patient
 * once and fetch at most one page twice.
 *
 * Patients: shaped like a French GP's file (connectors/fhir/peer/population.ts, which cites its
 * sources: INSEE fichier des noms and des prénoms, a GP list's age pyramid, twins); the bench
 * prints how many share family name + birth date + sex with an earlier one — what opens a
 * patient-match review — and how many of those are twins.
 *
 * FHIR_LOAD_PATIENTS overrides the number of patients (default 100000); FHIR_LOAD_PROF=<dir>
 * writes a CPU profile of the measured load there; FHIR_LOAD_TSX=1 runs passerelle's process
 * under the tsx loader instead of compiled (see compileLoadChild).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';

import Database from 'better-sqlite3';

import { FhirConfig } from '../../connectors/fhir/config.js';
import { createFhirConnector } from '../../connectors/fhir/index.js';
import {
  generatePracticePatients,
  isGeneratedTwin,
  startFaultProxy,
} from '../../connectors/fhir/peer/index.js';
import { silentLogger } from '../../src/log/logger.js';
import { shippedPlan } from '../../src/mapping/runtime.js';
import { openSqliteStore } from '../../src/store/index.js';
import { normalizeName } from '../../src/sync/patient-match.js';
import { ROOT } from '../helpers/cli.js';
import { tempDir, testSealing } from '../helpers/stores.js';
import type { Bench, BenchResult } from './harness.js';

const N = Number(process.env['FHIR_LOAD_PATIENTS'] ?? 100_000);
const PAGE = 1000;
/** The kill comes when about a third of the pages are in (page 31 of 100). */
const KILL_AT = Math.max(2, Math.min(31, Math.floor(Math.ceil(N / PAGE) * 0.31)));

function child(script: string, env: Record<string, string>, flags: readonly string[] = []): ChildProcess {
  const compiled = script === 'fhir-load-child.ts' ? loadChild : undefined;
  const args = compiled ? [compiled] : ['--import', 'tsx', join(ROOT, 'test', 'bench', script)];
  return spawn(process.execPath, [...flags, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
}

/**
 * passerelle's process runs compiled JavaScript, as the Docker image runs `dist/`: the load
 * child is bundled once with esbuild (already a dependency, for the console build) into the
 * ignored `tmp/` at the package root (shipped mappings and package.json are found from there
 * as from `dist/`). Under the tsx loader the same process starts ~45 MB larger (its worker
 * thread, transformed sources and source maps) — not passerelle's memory. FHIR_LOAD_TSX=1
 * runs it under tsx as before.
 */
let loadChild: string | undefined;
async function compileLoadChild(): Promise<void> {
  if (process.env['FHIR_LOAD_TSX'] === '1') return;
  const { build } = await import('esbuild');
  const outfile = join(ROOT, 'tmp', 'bench', 'fhir-load-child.mjs');
  await build({
    entryPoints: [join(ROOT, 'test', 'bench', 'fhir-load-child.ts')],
    outfile,
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // Function names as in the sources, for FHIR_LOAD_PROF profiles.
    keepNames: true,
    logLevel: 'warning',
  });
  loadChild = outfile;
}

/** Resolves with the first stdout line matching `pattern` (rejects if the process ends first). */
function lineOf(p: ChildProcess, pattern: RegExp): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: p.stdout as NodeJS.ReadableStream });
    const onExit = (code: number | null) =>
      reject(new Error(`child exited (${code}) before printing ${pattern}`));
    rl.on('line', (line) => {
      const m = pattern.exec(line);
      if (m) {
        p.off('exit', onExit);
        rl.close();
        resolve(m);
      }
    });
    p.once('exit', onExit);
  });
}

interface LoadResult {
  readonly ms: number;
  readonly cpuMs: number;
  readonly peakRssMb: number;
  readonly startRssMb: number;
  readonly peakHeapMb: number;
  readonly pages: number;
  readonly applied: number;
  readonly invalid: number;
  readonly error: string | null;
}

/** FHIR_LOAD_PROF=<dir>: the measured load writes a V8 CPU profile there (`--cpu-prof`). */
async function load(db: string, base: string, profile = false): Promise<LoadResult> {
  const dir = process.env['FHIR_LOAD_PROF'];
  const flags = profile && dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : [];
  const p = child('fhir-load-child.ts', { LOAD_DB: db, LOAD_BASE: base }, flags);
  const m = await lineOf(p, /^(\{"done":true.*\})$/);
  await new Promise((resolve) => p.once('exit', resolve));
  return JSON.parse(m[1] as string) as LoadResult;
}

/** Plain HTTP + JSON.parse + one batched insert per page, following `next` as the connector does. */
async function baseline(
  base: string,
  dbPath: string,
): Promise<{ ms: number; cpuMs: number; rows: number; bytes: number }> {
  const db = new Database(dbPath);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec(
    'CREATE TABLE IF NOT EXISTS patients (id TEXT PRIMARY KEY, version TEXT, last_updated TEXT, body TEXT NOT NULL)',
  );
  const insert = db.prepare(
    'INSERT OR REPLACE INTO patients (id, version, last_updated, body) VALUES (?, ?, ?, ?)',
  );
  const page = db.transaction((rows: unknown[][]) => {
    for (const r of rows) insert.run(...r);
  });
  let rows = 0;
  let bytes = 0;
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  let url: string | undefined = `${base}/Patient?_sort=-_lastUpdated&_count=${PAGE}`;
  while (url) {
    const res: Response = await fetch(url, { headers: { accept: 'application/fhir+json' } });
    const text = await res.text();
    bytes += text.length;
    const bundle = JSON.parse(text) as {
      entry?: { resource: { id: string; meta?: { versionId?: string; lastUpdated?: string } } }[];
      link?: { relation: string; url: string }[];
    };
    const batch = (bundle.entry ?? []).map((e) => [
      e.resource.id,
      e.resource.meta?.versionId ?? null,
      e.resource.meta?.lastUpdated ?? null,
      JSON.stringify(e.resource),
    ]);
    page(batch);
    rows += batch.length;
    url = bundle.link?.find((l) => l.relation === 'next')?.url;
  }
  const ms = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  db.close();
  return { ms, cpuMs: (cpu.user + cpu.system) / 1000, rows, bytes };
}

/** The connector alone: every page pulled, validated at the edge and mapped, handed to no engine. */
async function connectorAlone(base: string): Promise<{ ms: number; records: number }> {
  const plan = shippedPlan('fhir-r4-fr-core');
  const c = createFhirConnector(
    FhirConfig.parse({ baseUrl: base, kinds: ['Patient'], pageSize: PAGE, timeoutMs: 60_000 }),
    {
      link: {
        id: 'bench',
        practiceId: 'bench',
        role: 'practice',
        connector: 'fhir',
        name: 'bench',
        profile: null,
        config: {},
        secrets: null,
        schedule: null,
        isTest: true,
        enabled: true,
        version: 1,
        createdAt: '',
        updatedAt: '',
      },
      secrets: null,
      log: silentLogger,
      now: Date.now,
      signal: new AbortController().signal,
      timezone: 'Europe/Paris',
      publicUrl: '',
      mapping: async () => ({ plan, context: { timezone: 'Europe/Paris', testLink: true } }),
    },
  );
  const pull = c.pull?.bind(c) as NonNullable<typeof c.pull>;
  let records = 0;
  let cursor: string | null = null;
  const started = performance.now();
  for (;;) {
    const page = await pull(cursor, PAGE);
    records += page.records.length;
    cursor = page.next;
    if (!page.hasMore) break;
  }
  return { ms: performance.now() - started, records };
}

/** Patients whose match key (family name + birth date + sex, as patient-match.ts) an earlier one has. */
function collisions(): { lookalikes: number; twins: number } {
  const seen = new Set<string>();
  let lookalikes = 0;
  let twins = 0;
  generatePracticePatients(N, 1001).forEach((p, k) => {
    const key = `${normalizeName(p.name?.[0]?.family ?? '')}|${p.birthDate}|${p.gender}`;
    if (!seen.has(key)) return void seen.add(key);
    lookalikes++;
    if (isGeneratedTwin(1001 + k)) twins++;
  });
  return { lookalikes, twins };
}

async function storedPatients(
  db: string,
): Promise<{ resources: number; distinctExternalIds: number; reviews: number; reviewMb: number }> {
  const store = await openSqliteStore({ path: db, sealing: testSealing() });
  try {
    const resources = (
      await store.resources.list({
        practiceId: (await store.practices.list())[0]?.id as string,
        kind: 'Patient',
        limit: N * 2,
      })
    ).length;
    const row = await store.db
      .selectFrom('identity_map')
      .select((eb) => eb.fn.count<number>('external_id').distinct().as('n'))
      .where('kind', '=', 'Patient')
      .executeTakeFirst();
    const reviews = await store.db
      .selectFrom('review_items')
      .select((eb) => [
        eb.fn.countAll<number>().as('n'),
        eb.fn.sum<number>(eb.fn('length', ['payload'])).as('bytes'),
      ])
      .executeTakeFirst();
    return {
      resources,
      distinctExternalIds: Number(row?.n ?? 0),
      reviews: Number(reviews?.n ?? 0),
      reviewMb: Number(reviews?.bytes ?? 0) / 1048576,
    };
  } finally {
    await store.close();
  }
}

const bench: Bench = {
  name: `FHIR initial load of ${N.toLocaleString('en-US')} patients (pages of ${PAGE})`,
  async run(): Promise<BenchResult[]> {
    const dir = tempDir('passerelle-fhirload-');
    await compileLoadChild();
    const peer = child('fhir-peer-child.ts', { PEER_PATIENTS: String(N) });
    try {
      const base = (await lineOf(peer, /^url (.+)$/))[1] as string;
      const before = await baseline(base, join(dir.path, 'baseline-1.db'));
      const measured = await load(join(dir.path, 'load.db'), base, true);
      const alone = await connectorAlone(base);
      const after = await baseline(base, join(dir.path, 'baseline-2.db'));
      if (measured.applied !== N || before.rows !== N || measured.error !== null)
        throw new Error(`load incomplete: ${JSON.stringify(measured)}, baseline rows ${before.rows}`);
      const stored = await storedPatients(join(dir.path, 'load.db'));

      // Kill mid-load, restart, count the pages fetched through the proxy.
      const proxy = await startFaultProxy({ target: base });
      const killDb = join(dir.path, 'killed.db');
      const first = child('fhir-load-child.ts', { LOAD_DB: killDb, LOAD_BASE: proxy.url });
      await lineOf(first, new RegExp(`^page ${KILL_AT}$`));
      first.kill('SIGKILL');
      await new Promise((resolve) => first.once('exit', resolve));
      const beforeRestart = proxy.stats.count('GET', '/fhir/R4/Patient');
      const resumed = await load(killDb, proxy.url);
      const fetched = proxy.stats.count('GET', '/fhir/R4/Patient');
      await proxy.close();
      const afterKill = await storedPatients(killDb);
      const pages = Math.ceil(N / PAGE);
      const refetched = fetched - pages;
      if (resumed.error !== null || afterKill.resources !== N || afterKill.distinctExternalIds !== N)
        throw new Error(
          `after the kill: ${JSON.stringify({ ...afterKill, error: resumed.error })} (expected ${N})`,
        );

      const base2 = (before.ms + after.ms) / 2;
      const baseCpu = (before.cpuMs + after.cpuMs) / 2;
      const population = collisions();
      return [
        {
          name: 'initial load into the store (fhir connector + sync engine, SQLite)',
          measured: {
            label: `passerelle pull of ${N} patients, ${measured.pages} pages`,
            value: measured.ms / 1000,
            unit: 's',
          },
          baseline: {
            label: 'fetch + JSON.parse + batched insert of the same pages (mean of before/after)',
            value: base2 / 1000,
            unit: 's',
          },
          higherIsBetter: false,
          aim: '≤ 3×',
          notes: [
            `baselines ${(before.ms / 1000).toFixed(1)} s and ${(after.ms / 1000).toFixed(1)} s; ${(before.bytes / 1048576).toFixed(0)} MB of JSON`,
            // On a shared machine wall times swing with the neighbours; CPU time is steadier.
            `CPU time: passerelle ${((measured.cpuMs * 1000) / N).toFixed(0)} µs per patient, baseline ${((baseCpu * 1000) / N).toFixed(0)} µs (mean of before/after) = ${(measured.cpuMs / baseCpu).toFixed(2)}× in CPU`,
            `passerelle: ${((measured.ms * 1000) / N).toFixed(0)} µs per patient (${((measured.cpuMs * 1000) / N).toFixed(0)} µs of CPU); ${stored.resources} patients stored, ${stored.distinctExternalIds} distinct peer ids`,
            `patients: ${population.lookalikes} (${((100 * population.lookalikes) / N).toFixed(2)} %) share family name + birth date + sex with an earlier one, ${population.twins} of them generated twins (population.ts); patient-match reviews opened: ${stored.reviews} (${stored.reviewMb.toFixed(1)} MB of candidate lists)`,
            `the fhir connector alone (pages pulled, FR Core edge checks, profile mapping, canonical validation; no engine, no store): ${(alone.ms / 1000).toFixed(1)} s for ${alone.records} records, ${(alone.ms / base2).toFixed(2)}× the baseline — the rest is the sync engine's per-record transaction work`,
            `peak RSS of passerelle's process: ${measured.peakRssMb.toFixed(0)} MB (aim ≤ 250 MB; the peer runs in its own process), of which ${measured.startRssMb.toFixed(0)} MB before the load (node + ${loadChild ? 'compiled JavaScript, as dist/' : 'tsx loader'} + store); peak V8 heap ${measured.peakHeapMb.toFixed(0)} MB`,
            `SIGKILL after page ${KILL_AT} was pulled (${beforeRestart} pages fetched), restart: ${fetched} pages fetched in all for ${pages}, ${refetched} fetched twice (aim ≤ 1); ${afterKill.resources} patients stored once each`,
          ],
        },
      ];
    } finally {
      peer.kill('SIGTERM');
      await new Promise((resolve) => peer.once('exit', resolve));
      dir.remove();
    }
  },
};

export default bench;
