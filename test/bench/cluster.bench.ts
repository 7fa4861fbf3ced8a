/**
 * The cluster figure (issue 23): 1 then 3 `passerelle serve` processes on one throwaway
 * PostgreSQL database with HAProxy (TCP mode, leastconn) in front of their MLLP listeners, 8 and
 * 32 MLLP clients (in a child process, test/helpers/hl7-bench-clients.ts) sending through
 * HAProxy, each message booking a new appointment and answered AA after its commit (original
 * mode, as hl7-ingest's full engine). Only the practice's hl7v2 link exists (no secretariat
 * link: no forward outbox rows), as in test/cluster/.
 *
 * Baseline, same run: single-row durable transactions per second on PostgreSQL
 * (synchronous_commit=on), exactly as hl7-ingest measures it, taken before and after the cluster
 * runs (their mean; both printed).
 *
 * Every process's CPU is read from /proc over the measured window (sampled every 250 ms): each
 * instance, HAProxy, the clients, the PostgreSQL backends serving this database, PostgreSQL's
 * shared background processes (walwriter, checkpointer…), and the machine's busy share from
 * /proc/stat — this machine has 2 cores, so "cores" figures say what saturates.
 *
 * Knobs: CLUSTER_BENCH_MS (measured ms per run, default 4000), CLUSTER_BENCH_CLIENTS (default
 * "8,32"), CLUSTER_BENCH_INSTANCES (default "1,3"). Skipped, with a line saying so, when
 * HAProxy is not installed.
 */
import { execFileSync, fork } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

import pg from 'pg';

import {
  type Cluster,
  type ClusterKeys,
  freePort,
  freePortRange,
  haproxyBinary,
  newClusterKeys,
  startCluster,
} from '../../scripts/cluster.js';
import { booking, MllpSender, readyz, sendOnce } from '../helpers/cluster-world.js';
import { hl7Fixture, withField } from '../helpers/hl7.js';
import type { BenchClientsInput, BenchClientsOutput } from '../helpers/hl7-bench-clients.js';
import { createPgDatabase, openTestStore, PG_URL, tempDir } from '../helpers/stores.js';
import { until } from '../helpers/until.js';
import { type Bench, type BenchResult, percentile } from './harness.js';
import { singleRowTransactionsPerSecond } from './hl7-ingest.bench.js';

const DURATION_MS = Number(process.env['CLUSTER_BENCH_MS'] ?? 4000);
const WARMUP_MS = 1000;
const CLIENT_COUNTS = (process.env['CLUSTER_BENCH_CLIENTS'] ?? '8,32').split(',').map(Number);
const INSTANCE_COUNTS = (process.env['CLUSTER_BENCH_INSTANCES'] ?? '1,3').split(',').map(Number);
const MAX_INSTANCES = Math.max(...INSTANCE_COUNTS);
/** CLUSTER_BENCH_PRACTICES=3: the clients split over 3 practices, each with its own link and HAProxy front. */
const PRACTICES = Number(process.env['CLUSTER_BENCH_PRACTICES'] ?? 1);
/** Original mode (MSH-15/16 empty): AA once the message is applied and committed. */
const MESSAGE = withField(withField(hl7Fixture('siu-s12-new-appointment'), 'MSH', 15, ''), 'MSH', 16, '');
const SAMPLE_MS = 250;

// ---------------------------------------------------------------------------------------------
// CPU accounting from /proc (Linux): clock ticks of user + system time per process.

const TICKS_PER_S = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

function ticksOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start at the state, field 3.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return undefined;
  }
}

function machineTicks(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] as string;
  const v = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - (v[3] ?? 0) - (v[4] ?? 0), total };
}

type PgRole = 'ours' | 'background' | 'other';

/** Every PostgreSQL process, classified by its title: a backend of our database, shared background work, the rest. */
function postgresTicks(database: string): Map<number, { role: PgRole; ticks: number }> {
  const out = new Map<number, { role: PgRole; ticks: number }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    let comm: string;
    let title: string;
    try {
      comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      if (comm !== 'postgres') continue;
      title = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
    } catch {
      continue;
    }
    const ticks = ticksOf(pid);
    if (ticks === undefined) continue;
    const role: PgRole = title.includes(` ${database} `)
      ? 'ours'
      : /walwriter|checkpointer|background writer|autovacuum|launcher|-D /.test(title)
        ? 'background'
        : 'other';
    out.set(pid, { role, ticks });
  }
  return out;
}

interface Sample {
  readonly at: number;
  readonly machine: { busy: number; total: number };
  readonly procs: Map<number, number | undefined>;
  readonly pg: Map<number, { role: PgRole; ticks: number }>;
}

/** Samples the given processes, PostgreSQL's and the machine's CPU every 250 ms until stopped. */
function cpuSampler(pids: () => readonly number[], database: string) {
  const samples: Sample[] = [];
  const take = () =>
    samples.push({
      at: performance.now(),
      machine: machineTicks(),
      procs: new Map(pids().map((p) => [p, ticksOf(p)])),
      pg: postgresTicks(database),
    });
  take();
  const timer = setInterval(take, SAMPLE_MS);
  return {
    samples,
    stop() {
      clearInterval(timer);
      take();
    },
  };
}

interface CpuWindow {
  readonly seconds: number;
  /** CPU seconds per second of wall time (1 = one core busy) per named process. */
  readonly cores: Map<number, number>;
  readonly pg: Record<PgRole, number>;
  readonly machineBusy: number;
  readonly machineCores: number;
}

/** The CPU used between two samples, in cores. */
function window(from: Sample, to: Sample): CpuWindow {
  const seconds = (to.at - from.at) / 1000;
  const cores = new Map<number, number>();
  for (const [pid, end] of to.procs) {
    const start = from.procs.get(pid);
    if (end !== undefined && start !== undefined) cores.set(pid, (end - start) / TICKS_PER_S / seconds);
  }
  const pgCores: Record<PgRole, number> = { ours: 0, background: 0, other: 0 };
  for (const [pid, end] of to.pg) {
    // A backend that started within the window: all its time is the window's (near enough).
    const start = from.pg.get(pid)?.ticks ?? 0;
    pgCores[end.role] += (end.ticks - start) / TICKS_PER_S / seconds;
  }
  const n = cpus().length;
  return {
    seconds,
    cores,
    pg: pgCores,
    machineBusy: (to.machine.busy - from.machine.busy) / (to.machine.total - from.machine.total),
    machineCores: n,
  };
}

/**
 * What the instances' PostgreSQL connections do, sampled from pg_stat_activity every 250 ms
 * (from a connection to another database, so that it does not count itself).
 */
function activitySampler(database: string) {
  const counts = { lockPractice: 0, lockAudit: 0, lockOther: 0, running: 0, inTransaction: 0, idle: 0 };
  let watching = true;
  const loop = (async () => {
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    try {
      while (watching) {
        const { rows } = await c.query<{
          wait_event_type: string | null;
          state: string | null;
          query: string;
        }>(
          'SELECT wait_event_type, state, query FROM pg_stat_activity WHERE datname = $1 AND backend_type = $2',
          [database, 'client backend'],
        );
        for (const r of rows) {
          if (r.wait_event_type === 'Lock') {
            if (/from "practices".*for update/i.test(r.query)) counts.lockPractice++;
            else if (/audit_head/.test(r.query)) counts.lockAudit++;
            else counts.lockOther++;
          } else if (r.state === 'active') counts.running++;
          else if (r.state?.startsWith('idle in transaction')) counts.inTransaction++;
          else counts.idle++;
        }
        await new Promise((r) => setTimeout(r, SAMPLE_MS));
      }
    } finally {
      await c.end();
    }
  })();
  return {
    async stop() {
      watching = false;
      await loop;
      return counts;
    },
  };
}

type Activity = Awaited<ReturnType<ReturnType<typeof activitySampler>['stop']>>;

/** Busy connections' time, in shares: waiting on a lock, running, waiting on the instance in a transaction. */
function activityLine(a: Activity): string {
  const busy = a.lockPractice + a.lockAudit + a.lockOther + a.running + a.inTransaction;
  const pc = (n: number) => `${Math.round((n / Math.max(1, busy)) * 100)} %`;
  return `PostgreSQL connections of the instances, when not idle (${busy} samples): waiting on a row lock ${pc(a.lockPractice + a.lockAudit + a.lockOther)} (the practice's row ${pc(a.lockPractice)}, the audit chain's head ${pc(a.lockAudit)}, other ${pc(a.lockOther)}), running a statement ${pc(a.running)}, idle in a transaction (waiting for the instance) ${pc(a.inTransaction)}`;
}

// ---------------------------------------------------------------------------------------------

function clientsChild(input: BenchClientsInput): Promise<BenchClientsOutput> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(new URL('../helpers/hl7-bench-clients.ts', import.meta.url)), [], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    child.once('message', (m: BenchClientsOutput | { error: string }) =>
      'error' in m ? reject(new Error(m.error)) : resolve(m),
    );
    child.once('error', reject);
    child.send(input);
  });
}

interface ClusterRun {
  readonly instances: number;
  readonly clients: number;
  readonly rate: number;
  readonly p50: number;
  readonly p99: number;
  readonly negative: number;
  readonly cpu: CpuWindow;
  readonly instanceCores: number[];
  readonly haproxyCores: number;
  readonly clientsCores: number;
  readonly activity: Activity;
}

/** The clients' run through HAProxy, with every process's CPU over the steady part of it. */
async function measure(
  cluster: Cluster,
  fronts: readonly number[],
  clients: number,
  database: string,
  prefix: string,
): Promise<ClusterRun> {
  const pids = () => [
    ...cluster.instances.map((i) => i.child.pid as number),
    ...(cluster.haproxy?.pid ? [cluster.haproxy.pid] : []),
  ];
  const sampler = cpuSampler(pids, database);
  const activity = activitySampler(database);
  // One clients' process per practice, each sending to its practice's front.
  const outs = await Promise.all(
    fronts.map((front, p) =>
      clientsChild({
        port: front,
        clients: Math.max(1, Math.round(clients / fronts.length)),
        warmupMs: WARMUP_MS,
        durationMs: DURATION_MS,
        message: MESSAGE.toString('base64'),
        prefix: `${prefix}p${p}`,
        sameAppointment: false,
      }),
    ),
  );
  const out = {
    messages: outs.reduce((n, o) => n + o.messages, 0),
    seconds: DURATION_MS / 1000,
    latenciesMs: outs.flatMap((o) => o.latenciesMs),
    negative: outs.reduce((n, o) => n + o.negative, 0),
    cpuUs: outs.reduce((n, o) => n + (o.cpuUs ?? NaN), 0),
  };
  const doneAt = performance.now();
  sampler.stop();
  const activityCounts = await activity.stop();
  // The steady part: from the start of the measured span (plus one sample) to just before the
  // result came back (the clients close their connections after the span).
  const within = sampler.samples.filter((s) => s.at >= doneAt - DURATION_MS + SAMPLE_MS && s.at <= doneAt);
  const from = within[0];
  const to = within[within.length - 1];
  if (!from || !to || from === to) throw new Error('too few CPU samples in the measured span');
  const cpu = window(from, to);
  const lat = out.latenciesMs.sort((a, b) => a - b);
  return {
    instances: cluster.instances.length,
    clients,
    rate: out.messages / out.seconds,
    p50: percentile(lat, 50),
    p99: percentile(lat, 99),
    negative: out.negative,
    cpu,
    instanceCores: cluster.instances.map((i) => cpu.cores.get(i.child.pid as number) ?? NaN),
    haproxyCores: cluster.haproxy?.pid ? (cpu.cores.get(cluster.haproxy.pid) ?? NaN) : 0,
    // The clients' pid was not sampled (forked after the sampler started): their own count.
    activity: activityCounts,
    clientsCores: (out.cpuUs ?? NaN) / 1e6 / ((WARMUP_MS + DURATION_MS) / 1000),
  };
}

/** Every instance's listener up in HAProxy: concurrent connections through it reach each one. */
async function everyInstanceBalanced(cluster: Cluster, front: number, linkPort: number): Promise<void> {
  await until(
    'HAProxy balancing over every instance',
    async () => {
      const senders = await Promise.all(cluster.instances.map(() => MllpSender.connect(front)));
      try {
        return cluster.instances.every((i) => {
          const out = execFileSync(
            'ss',
            ['-Htn', 'state', 'established', `( sport = :${i.mllpPort(linkPort)} )`],
            { encoding: 'utf8' },
          );
          return out.split('\n').some((l) => l.trim());
        });
      } finally {
        for (const s of senders) s.close();
      }
    },
    30_000,
    { tolerateErrors: true, everyMs: 500 },
  );
}

async function startBenchCluster(input: {
  instances: number;
  dbUrl: string;
  dir: string;
  keys: ClusterKeys;
  linkPorts: readonly number[];
  fronts: readonly number[];
}): Promise<Cluster> {
  return startCluster({
    instances: input.instances,
    pgUrl: input.dbUrl,
    dir: input.dir,
    keys: input.keys,
    mllp: input.linkPorts.map((linkPort, p) => ({ linkPort, frontPort: input.fronts[p] as number })),
    httpFrontPort: await freePort(),
    logLevel: 'error',
  });
}

/**
 * The practice and its hl7v2 link. Through HAProxy every connection comes from 127.0.0.1: the
 * listener takes more than the default 20 per address.
 */
async function createBenchLink(url: string, key: string, port: number, p: number): Promise<void> {
  const post = async (path: string, json: unknown): Promise<{ id: string }> => {
    const res = await fetch(`${url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify(json),
    });
    if (!res.ok) throw new Error(`POST ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as { id: string };
  };
  const practiceId = (await post('/api/v1/practices', { name: `Cabinet du Banc ${p + 1}` })).id;
  await post('/api/v1/links', {
    practiceId,
    role: 'practice',
    connector: 'hl7v2',
    name: 'Logiciel du cabinet',
    isTest: true,
    config: { mllp: { listen: { host: '127.0.0.1', port, maxConnectionsPerAddress: 200 } } },
  });
}

const fmt = (n: number, d = 2) => (Number.isFinite(n) ? n.toFixed(d) : '?');

const bench: Bench = {
  name: `cluster: ${INSTANCE_COUNTS.join(' and ')} instances on one PostgreSQL behind HAProxy (${CLIENT_COUNTS.join(' and ')} MLLP clients${PRACTICES > 1 ? ` over ${PRACTICES} practices` : ''}, ACK after commit)`,
  async run() {
    try {
      haproxyBinary();
    } catch (e) {
      process.stdout.write(`  skipped: ${(e as Error).message}\n`);
      return [];
    }
    const load = () =>
      loadavg()
        .map((l) => l.toFixed(2))
        .join(' ');
    const loadBefore = load();
    // The baseline exactly as hl7-ingest measures it, on a store of its own.
    const baselineRun = async () => {
      const t = await openTestStore('postgres');
      try {
        const practice = await t.store.practices.create({ name: 'bench' });
        const link = await t.store.links.create({
          practiceId: practice.id,
          role: 'practice',
          connector: 'hl7v2',
          name: 'baseline rows',
          isTest: true,
          enabled: false,
          config: { mllp: { listen: { host: '127.0.0.1', port: 0 } } },
        });
        return await singleRowTransactionsPerSecond(t.store, link.id, 2000);
      } finally {
        await t.dispose();
      }
    };
    const baselineBefore = await baselineRun();

    const db = await createPgDatabase();
    const database = new URL(db.url).pathname.slice(1);
    const dir = tempDir('passerelle-cluster-bench-');
    const keys = newClusterKeys();
    const firstPort = await freePortRange(MAX_INSTANCES * PRACTICES);
    const linkPorts = Array.from({ length: PRACTICES }, (_, p) => firstPort + p * MAX_INSTANCES);
    const runs: ClusterRun[] = [];
    let adminKey: string | undefined;
    let synchronousCommit: string;
    try {
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      synchronousCommit =
        (await c.query<{ synchronous_commit: string }>('SHOW synchronous_commit')).rows[0]
          ?.synchronous_commit ?? '?';
      await c.end();
      for (const n of INSTANCE_COUNTS) {
        const fronts: number[] = [];
        for (let p = 0; p < PRACTICES; p++) fronts.push(await freePort());
        const cluster = await startBenchCluster({
          instances: n,
          dbUrl: db.url,
          dir: dir.path,
          keys,
          linkPorts,
          fronts,
        });
        try {
          // A fresh database: the first instance prints the first admin key.
          adminKey ??= await until('the first admin API key', () => cluster.adminKey, 10_000);
          const key = adminKey as string;
          if (runs.length === 0)
            for (const [p, port] of linkPorts.entries())
              await createBenchLink(cluster.instances[0]?.url as string, key, port, p);
          await until(
            'every instance listening and ready',
            async () => {
              for (const i of cluster.instances) {
                if ((await readyz(i.url, key)).status !== 200) return false;
                for (const port of linkPorts) (await MllpSender.connect(i.mllpPort(port))).close();
              }
              return true;
            },
            60_000,
            { tolerateErrors: true, everyMs: 200 },
          );
          for (const [p, front] of fronts.entries())
            await until(
              'a message through HAProxy',
              () => sendOnce(front, booking(`warm-${n}-${p}`)),
              20_000,
              {
                tolerateErrors: true,
                everyMs: 200,
              },
            );
          for (const [p, front] of fronts.entries())
            await everyInstanceBalanced(cluster, front, linkPorts[p] as number);
          // A discarded round first: each instance compiles its mapping plans and warms its JIT.
          await measure(cluster, fronts, Math.min(...CLIENT_COUNTS), database, `CL${n}warm`);
          for (const clients of CLIENT_COUNTS)
            runs.push(await measure(cluster, fronts, clients, database, `CL${n}x${clients}`));
        } finally {
          await cluster.stop();
        }
      }
    } finally {
      await db.drop();
      dir.remove();
    }
    const baselineAfter = await baselineRun();
    const baseline = (baselineBefore + baselineAfter) / 2;
    const loadAfter = load();

    const results: BenchResult[] = [];
    for (const r of runs) {
      const one = runs.find((o) => o.instances === 1 && o.clients === r.clients);
      const c = r.cpu;
      const instancesCores = r.instanceCores.reduce((a, b) => a + b, 0);
      const pgCores = c.pg.ours + c.pg.background;
      const ours = instancesCores + pgCores + r.haproxyCores + r.clientsCores;
      results.push({
        name: `PostgreSQL: ${r.instances} instance(s) behind HAProxy, ${r.clients} MLLP clients${PRACTICES > 1 ? ` over ${PRACTICES} practices` : ', one practice'} (each books a new appointment)`,
        measured: {
          label: `${r.clients} MLLP clients through HAProxy, AA after commit`,
          value: r.rate,
          unit: 'msg/s',
        },
        baseline: {
          label: `single-row durable transactions, sequential (synchronous_commit=${synchronousCommit}; ${Math.round(baselineBefore)} before, ${Math.round(baselineAfter)} after)`,
          value: baseline,
          unit: 'tx/s',
        },
        higherIsBetter: true,
        ...(r.instances > 1 && { aim: '3 instances > 1 instance (issue 23)' }),
        notes: [
          `${r.instances > 1 && one ? `${fmt(r.rate / one.rate)}× one instance with the same clients (${Math.round(one.rate)} msg/s); ` : ''}ACK latency p50 ${fmt(r.p50)} ms, p99 ${fmt(r.p99)} ms; negative ACKs ${r.negative}`,
          `CPU in cores over ${fmt(c.seconds, 1)} s: instances ${r.instanceCores.map((x) => fmt(x)).join(' + ')} = ${fmt(instancesCores)}; PostgreSQL backends of this database ${fmt(c.pg.ours)}, PostgreSQL background (walwriter, checkpointer…) ${fmt(c.pg.background)}; HAProxy ${fmt(r.haproxyCores)}; clients ${fmt(r.clientsCores)}`,
          activityLine(r.activity),
          `machine: ${fmt(c.machineBusy * c.machineCores)} of ${c.machineCores} cores busy (${Math.round(c.machineBusy * 100)} %), of which this run's processes ${fmt(ours)} and other work ${fmt(Math.max(0, c.machineBusy * c.machineCores - ours))} (other PostgreSQL sessions ${fmt(c.pg.other)}); per message: instances ${Math.round((instancesCores * 1e6) / r.rate)} µs, PostgreSQL ${Math.round((pgCores * 1e6) / r.rate)} µs of CPU; PostgreSQL's share of this run's CPU ${Math.round((pgCores / ours) * 100)} %`,
        ],
      });
    }
    process.stdout.write(`  load average before ${loadBefore}, after ${loadAfter}\n`);
    return results;
  },
};
export default bench;
