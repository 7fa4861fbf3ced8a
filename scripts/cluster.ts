/**
 * N passerelle instances on one PostgreSQL database with HAProxy (Debian's 2.6) in front of
 * their HTTP and MLLP ports, as processes on this machine (docs/cluster.md).
 *
 *   npm run cluster -- --instances 3 --mllp 2575
 *
 * Each instance is `passerelle serve` in its own working directory with its own HTTP port and
 * `sync.listenPortOffset` = its index, so a link listening on port P is bound at P + i by
 * instance i; HAProxy (TCP mode) takes MLLP on a front port per link port and balances
 * connections over the instances whose listener accepts (`check inter 1s fall 2`,
 * `option redispatch`, `retries 2`), and HTTP over the instances whose `/healthz` answers.
 * The test suite (test/cluster/) drives the same functions.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import pg from 'pg';

import {
  freePort as freePortBelowEphemeral,
  freePortRange as freePortRangeBelowEphemeral,
} from '../src/util/free-port.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(ROOT, 'bin', 'passerelle.js');

export interface ClusterKeys {
  /** security.encryptionKey, base64 of 32 bytes: every instance seals with it. */
  readonly encryptionKey: string;
  /** audit.key, base64 of 32 bytes. */
  readonly auditKey: string;
}

export interface ClusterOptions {
  readonly instances: number;
  /** PostgreSQL URL of the one database every instance shares (migrated by the first). */
  readonly pgUrl: string;
  /** Working directory: one sub-directory per instance, HAProxy's config. */
  readonly dir: string;
  readonly keys?: ClusterKeys;
  /**
   * The MLLP ports links name (`config.mllp.listen.port`): HAProxy takes each on its own front
   * port and balances it over port + i of instance i.
   */
  readonly mllp?: readonly { readonly linkPort: number; readonly frontPort: number }[];
  /** HAProxy's HTTP front port (0: no HAProxy at all). */
  readonly httpFrontPort?: number;
  /** `sync.listenPortOffset` of instance i (default i: one port per instance). */
  readonly portOffset?: (index: number) => number;
  /** `sync.linkRestartCapMs` (default 2 s here: a freed port is taken over within ~2 s). */
  readonly linkRestartCapMs?: number;
  readonly logLevel?: 'error' | 'warn' | 'info' | 'debug';
  /** Extra PASSERELLE_* settings for every instance. */
  readonly env?: Readonly<Record<string, string>>;
  /** Environment of instance `index` only (after `env`): a test's skewed clock, for one. */
  readonly instanceEnv?: (index: number, dir: string) => Readonly<Record<string, string>>;
  /** HAProxy's MLLP health check (haproxyConfig): a framed message by default. */
  readonly mllpCheck?: 'message' | 'connect';
  /** Where instance and HAProxy output goes besides being kept (default: nowhere). */
  readonly echo?: (line: string) => void;
}

export interface ClusterInstance {
  readonly index: number;
  readonly httpPort: number;
  readonly url: string;
  /** MLLP port this instance binds for a link listening on `linkPort`. */
  mllpPort(linkPort: number): number;
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  output(): string;
  /** `kill -9`: no stop sequence, sockets closed by the kernel. */
  kill(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface Cluster {
  readonly instances: ClusterInstance[];
  /** HAProxy's HTTP front, when there is one. */
  readonly httpUrl: string | undefined;
  /** The first admin API key (printed by the first instance on an empty database). */
  readonly adminKey: string | undefined;
  readonly haproxy: ChildProcess | undefined;
  haproxyOutput(): string;
  /** Starts instance `index` again (after a kill), same ports. */
  restart(index: number): Promise<ClusterInstance>;
  /** SIGTERM to every instance and HAProxy, waiting for each to exit. */
  stop(): Promise<void>;
}

export function newClusterKeys(): ClusterKeys {
  return {
    encryptionKey: randomBytes(32).toString('base64'),
    auditKey: randomBytes(32).toString('base64'),
  };
}

/** The haproxy binary, or an error saying how to get it (nothing is installed from here). */
export function haproxyBinary(): string {
  for (const candidate of ['/usr/sbin/haproxy', '/usr/bin/haproxy', '/usr/local/sbin/haproxy']) {
    if (existsSync(candidate)) return candidate;
  }
  try {
    return execFileSync('sh', ['-c', 'command -v haproxy'], { encoding: 'utf8' }).trim() || missing();
  } catch {
    return missing();
  }
}

function missing(): never {
  throw new Error(
    'haproxy is not installed: the cluster needs HAProxy 2.6 (Debian: apt-get install -y haproxy; .ci/run installs it)',
  );
}

/** A free TCP port on 127.0.0.1, below the kernel's range for outgoing connections. */
export const freePort = freePortBelowEphemeral;

/** `count` consecutive free ports starting at the returned one (a link port and its offsets). */
export const freePortRange = freePortRangeBelowEphemeral;

/**
 * HAProxy's MLLP health check: one MLLP-framed minimal message without a control id (MSH-10),
 * which the listener answers AR without storing anything (connectors/hl7v2/receiver.ts: no
 * dedupe key, nothing stored), and the check expects the answer's end of frame (FS CR). A
 * listener whose process accepts connections but does not answer (stuck event loop, SIGSTOP)
 * fails it, where a TCP connect succeeds: the kernel completes the handshake from the backlog.
 */
export const MLLP_CHECK_MESSAGE = 'MSH|^~\\&|HAPROXY|CHECK|||||ACK||P|2.5\r';

function mllpCheckLines(): string[] {
  const frame = Buffer.concat([
    Buffer.from([0x0b]),
    Buffer.from(MLLP_CHECK_MESSAGE, 'latin1'),
    Buffer.from([0x1c, 0x0d]),
  ]);
  return [
    '  option tcp-check',
    `  tcp-check send-binary ${frame.toString('hex')}`,
    '  tcp-check expect binary 1c0d',
  ];
}

/** HAProxy's configuration: HTTP over /healthz-checked instances, one TCP front per MLLP port. */
export function haproxyConfig(input: {
  readonly httpFrontPort: number;
  readonly httpPorts: readonly number[];
  readonly mllp: readonly { readonly frontPort: number; readonly backendPorts: readonly number[] }[];
  /** `message` (default): a framed message answered in time; `connect`: the listener accepts. */
  readonly mllpCheck?: 'message' | 'connect';
}): string {
  const lines = [
    'global',
    '  log stdout format raw local0',
    '  maxconn 4096',
    'defaults',
    '  log global',
    '  timeout connect 2s',
    // A framed check waits for the instance's answer: room for a busy event loop.
    '  timeout check 2s',
    '  timeout client 10m',
    '  timeout server 10m',
    // A connection to a backend that just died is tried again, on another server (libraries.md §12).
    '  retries 2',
    '  option redispatch',
    'frontend http',
    '  mode http',
    `  bind 127.0.0.1:${input.httpFrontPort}`,
    '  default_backend passerelle_http',
    'backend passerelle_http',
    '  mode http',
    '  balance roundrobin',
    // Liveness, not readiness: the admin API of an instance with a link down still works.
    '  option httpchk GET /healthz',
    ...input.httpPorts.map((p, i) => `  server i${i} 127.0.0.1:${p} check inter 1s fall 2 rise 2`),
  ];
  input.mllp.forEach((m, n) => {
    lines.push(
      `frontend mllp${n}`,
      '  mode tcp',
      `  bind 127.0.0.1:${m.frontPort}`,
      `  default_backend passerelle_mllp${n}`,
      `backend passerelle_mllp${n}`,
      '  mode tcp',
      // MLLP connections are long-lived: the instance with the fewest takes the next.
      '  balance leastconn',
      // A listener that answers is a link that runs on that instance (it listens only once started).
      ...((input.mllpCheck ?? 'message') === 'message' ? mllpCheckLines() : []),
      ...m.backendPorts.map((p, i) => `  server i${i} 127.0.0.1:${p} check inter 1s fall 2 rise 2`),
    );
  });
  return `${lines.join('\n')}\n`;
}

function spawnInstance(
  options: ClusterOptions,
  keys: ClusterKeys,
  index: number,
  httpPort: number,
): Promise<{ instance: ClusterInstance; adminKey: string | undefined }> {
  const cwd = join(options.dir, `instance-${index}`);
  mkdirSync(cwd, { recursive: true });
  const offset = options.portOffset?.(index) ?? index;
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PASSERELLE_')) env[k] = v;
  Object.assign(env, {
    PASSERELLE_HTTP_PORT: String(httpPort),
    PASSERELLE_STORE_DRIVER: 'postgres',
    PASSERELLE_STORE_POSTGRES_URL: options.pgUrl,
    PASSERELLE_STORE_POSTGRES_POOL_SIZE: '4',
    PASSERELLE_SECURITY_ENCRYPTION_KEY: keys.encryptionKey,
    PASSERELLE_AUDIT_KEY: keys.auditKey,
    PASSERELLE_LOG_LEVEL: options.logLevel ?? 'warn',
    PASSERELLE_SYNC_LISTEN_PORT_OFFSET: String(offset),
    PASSERELLE_SYNC_LINK_RESTART_CAP_MS: String(options.linkRestartCapMs ?? 2000),
    ...options.env,
    ...options.instanceEnv?.(index, cwd),
  });
  const child = spawn(process.execPath, [BIN, 'serve'], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const take = (d: Buffer) => {
    const text = d.toString();
    out += text;
    if (options.echo) for (const line of text.split('\n')) if (line) options.echo(`[i${index}] ${line}`);
  };
  child.stdout.on('data', take);
  child.stderr.on('data', take);
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  const instance: ClusterInstance = {
    index,
    httpPort,
    url: `http://127.0.0.1:${httpPort}`,
    mllpPort: (linkPort) => linkPort + offset,
    child,
    exited,
    output: () => out,
    kill: async (signal = 'SIGKILL') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
  return new Promise((resolveStart, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`instance ${index} did not start within 120 s:\n${out}`));
    }, 120_000);
    // The banner's lines are separate writes and may reach us in separate chunks: the first
    // admin key comes after the health line, so wait for its last line (`try: curl`) or, when no
    // key is printed (a database already set up), for one more poll after the health line.
    let healthSeenPolls = 0;
    const poll = setInterval(() => {
      if (!/listening on https?:\/\//.test(out) || !/ health: /.test(out)) return;
      if (!/ try: curl /.test(out) && healthSeenPolls++ < 2) return;
      clearInterval(poll);
      clearTimeout(timer);
      const adminKey = /first admin API key \(shown once, store it now\): (psk_\S+)/.exec(out)?.[1];
      resolveStart({ instance, adminKey });
    }, 50);
    void exited.then((code) => {
      clearInterval(poll);
      clearTimeout(timer);
      reject(new Error(`instance ${index} exited with ${code} before listening:\n${out}`));
    });
  });
}

/** Starts the instances (the first alone: it migrates the database), then HAProxy. */
export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const keys = options.keys ?? newClusterKeys();
  mkdirSync(options.dir, { recursive: true });
  const withHaproxy = (options.httpFrontPort ?? 0) > 0;
  const haproxyBin = withHaproxy ? haproxyBinary() : undefined;
  const httpPorts: number[] = [];
  for (let i = 0; i < options.instances; i++) httpPorts.push(await freePort());
  const instances: ClusterInstance[] = [];
  const stopAll = async () => {
    await Promise.all(instances.map((i) => i.kill('SIGTERM')));
  };
  let adminKey: string | undefined;
  let firstOutput: () => string = () => '';
  try {
    const first = await spawnInstance(options, keys, 0, httpPorts[0] as number);
    instances.push(first.instance);
    adminKey = first.adminKey;
    firstOutput = first.instance.output;
    const rest = await Promise.all(httpPorts.slice(1).map((p, i) => spawnInstance(options, keys, i + 1, p)));
    for (const r of rest) instances.push(r.instance);
  } catch (e) {
    await stopAll();
    throw e;
  }
  let haproxy: ChildProcess | undefined;
  let haproxyOut = '';
  if (haproxyBin) {
    const cfg = join(options.dir, 'haproxy.cfg');
    writeFileSync(
      cfg,
      haproxyConfig({
        httpFrontPort: options.httpFrontPort as number,
        httpPorts,
        ...(options.mllpCheck && { mllpCheck: options.mllpCheck }),
        mllp: (options.mllp ?? []).map((m) => ({
          frontPort: m.frontPort,
          backendPorts: instances.map((i) => i.mllpPort(m.linkPort)),
        })),
      }),
    );
    haproxy = spawn(haproxyBin, ['-db', '-f', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
    const take = (d: Buffer) => {
      haproxyOut += d.toString();
      if (options.echo)
        for (const line of d.toString().split('\n')) if (line) options.echo(`[haproxy] ${line}`);
    };
    haproxy.stdout?.on('data', take);
    haproxy.stderr?.on('data', take);
  }
  const haproxyExited = haproxy && new Promise<void>((r) => (haproxy as ChildProcess).on('close', () => r()));
  return {
    instances,
    httpUrl: withHaproxy ? `http://127.0.0.1:${options.httpFrontPort}` : undefined,
    // Read again when asked: the key's line may come in a later chunk than "listening on" (a
    // loaded machine), and the start resolves on the latter.
    get adminKey() {
      adminKey ??= /first admin API key \(shown once, store it now\): (psk_\S+)/.exec(firstOutput())?.[1];
      return adminKey;
    },
    haproxy,
    haproxyOutput: () => haproxyOut,
    async restart(index) {
      const r = await spawnInstance(options, keys, index, httpPorts[index] as number);
      instances[index] = r.instance;
      return r.instance;
    },
    async stop() {
      await stopAll();
      if (haproxy && haproxy.exitCode === null && haproxy.signalCode === null) {
        haproxy.kill('SIGTERM');
        await haproxyExited;
      }
    },
  };
}

/** Creates the database when it does not exist (the cluster script's default one). */
async function ensureDatabase(url: string): Promise<void> {
  const u = new URL(url);
  const name = u.pathname.slice(1);
  u.pathname = '/postgres';
  const c = new pg.Client({ connectionString: u.toString() });
  await c.connect();
  try {
    const { rowCount } = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) await c.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
  } finally {
    await c.end();
  }
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? (process.argv[i + 1] as string) : fallback;
}

async function main(): Promise<void> {
  const instances = Number(arg('instances', '3'));
  const dir = resolve(arg('dir', join('data', 'cluster')));
  const pgUrl = arg(
    'pg',
    process.env['PASSERELLE_PG_URL']?.replace(/\/[^/]*$/, '/passerelle_cluster') ??
      'postgres://postgres@127.0.0.1:5432/passerelle_cluster',
  );
  const httpFrontPort = Number(arg('http', '8080'));
  const mllpFront = arg('mllp', '2575').split(',').filter(Boolean).map(Number);
  const offsetSpan = instances;
  mkdirSync(dir, { recursive: true });
  const keysFile = join(dir, 'keys.json');
  // The same keys on every run: the database's sealed columns stay readable across restarts.
  if (!existsSync(keysFile)) writeFileSync(keysFile, JSON.stringify(newClusterKeys()), { mode: 0o600 });
  const keys = JSON.parse(readFileSync(keysFile, 'utf8')) as ClusterKeys;
  await ensureDatabase(pgUrl);
  // Links name front port + 100 (instance i listens on +100+i); practices' senders use the front port.
  const mllp = mllpFront.map((frontPort) => ({ frontPort, linkPort: frontPort + 100 }));
  const cluster = await startCluster({
    instances,
    pgUrl,
    dir,
    keys,
    httpFrontPort,
    mllp,
    linkRestartCapMs: 30_000,
    logLevel: 'info',
    echo: (line) => process.stdout.write(`${line}\n`),
  });
  process.stdout.write(
    [
      '',
      `passerelle cluster: ${instances} instances on ${pgUrl.replace(/\/\/[^@]*@/, '//')}, HAProxy in front`,
      `  HTTP (admin API, console, webhooks, iCal): http://127.0.0.1:${httpFrontPort}`,
      ...mllp.map(
        (m) =>
          `  MLLP: send to 127.0.0.1:${m.frontPort}; give the practice's hl7v2 link mllp.listen.port ${m.linkPort} (instances bind ${m.linkPort}..${m.linkPort + offsetSpan - 1})`,
      ),
      ...cluster.instances.map((i) => `  instance ${i.index}: ${i.url} (pid ${i.child.pid})`),
      cluster.adminKey
        ? `  first admin API key: ${cluster.adminKey}`
        : '  (database already initialised: use your admin key)',
      'Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    void cluster.stop().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
