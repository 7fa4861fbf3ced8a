/**
 * Durable HL7 ingest over MLLP: 8 clients on loopback (in a child process) send the SIU^S12
 * fixture with unique control ids — each message books a new appointment — to the hl7v2
 * listener with the real sync engine (the product connector: each message mapped by the link's
 * IHE PAM France profile into a practitioner, a patient and an appointment; plus a secretariat
 * link, so forward outbox rows are written too). Each ACK is sent after the
 * message, its dedupe key, its effects and its ACK are committed (synchronous=FULL on SQLite,
 * synchronous_commit=on on PostgreSQL), so concurrent messages share group commits.
 *
 * A second figure isolates the transport: the same clients and listener (parse, translate,
 * dedupe, ACK stored with the message, group-committed durably) with a handler that stores the
 * message and its ACK but does not apply it — what an accept-ACK-then-apply-later ingest (HL7
 * enhanced mode, MSH-15 AL / MSH-16 NE, §2.9.3) would allow.
 *
 * Baseline, same run, same store: single-row durable transactions per second (one inbox row
 * per transaction, awaited one by one) — what one commit per message would allow at most.
 *
 * Second baseline, the limit (issue 22): a bare durable MLLP listener on the same store and the
 * same clients — frame, insert the raw bytes into a scratch table, group commit through
 * `store.batch`, then a minimal AA — what this machine and this store can do at best. The full
 * engine is reported against both baselines.
 *
 * Peer (issue 22): @medplum/hl7 4.5.2's Hl7Server with the same clients, answering each message
 * with its own ACK and storing nothing (once per run; skipped with a line saying so when the
 * package is not installed).
 *
 * Aims (issue 22, which withdrew ≥ 10,000 msg/s): full engine ≥ 1× the single-row baseline and,
 * on SQLite, ≥ 0.5× the limit.
 */
import { fork } from 'node:child_process';
import { createHash } from 'node:crypto';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

import { sql } from 'kysely';
import pg from 'pg';

import hl7v2, { Hl7v2Config, Hl7v2Link, ProfileTranslator } from '../../connectors/hl7v2/index.js';
import type {
  ConnectorDefinition,
  InboundHandler,
  InboundMessage,
  IngestResult,
} from '../../src/connector/contract.js';
import { createRegistry } from '../../src/connector/registry.js';
import { buildAck } from '../../src/hl7/ack.js';
import { encodeFrame, MllpDecoder } from '../../src/hl7/framing.js';
import { parseHl7 } from '../../src/hl7/message.js';
import { createLogger } from '../../src/log/logger.js';
import { SecretBox } from '../../src/security/secrets.js';
import type { Store, StoreSealing } from '../../src/store/index.js';
import type { Link } from '../../src/store/types.js';
import { writeBuffering } from '../../src/store/write-buffer.js';
import { groupApply } from '../../src/sync/ingest/group.js';
import { SyncRuntime } from '../../src/sync/runtime.js';
import { hl7Fixture, withField } from '../helpers/hl7.js';
import type { BenchClientsInput, BenchClientsOutput } from '../helpers/hl7-bench-clients.js';
import { memoryConnector, MemoryWorld } from '../helpers/memory-connector.js';
import { openTestStore, STORE_KINDS, testSealing } from '../helpers/stores.js';
import { type Bench, type BenchResult, percentile } from './harness.js';

/** `HL7_BENCH_CLIENTS=32` for issue 22's second client count. */
const CLIENTS = Number(process.env['HL7_BENCH_CLIENTS'] ?? 8);
const DURATION_MS = 3000;
/** The bench's listener: every client comes from 127.0.0.1, above the default 20 per address. */
const LISTEN = { host: '127.0.0.1', port: 0, maxConnectionsPerAddress: Math.max(20, CLIENTS) };
/**
 * `HL7_BENCH_QUICK=1`: only the baseline, the full engine and the limit (and the peer), for
 * before/after rounds while changing the write path; the other lines are skipped.
 */
const QUICK = process.env['HL7_BENCH_QUICK'] === '1';

/** Original mode (MSH-15/16 empty): every message is answered AA after its commit. */
const MESSAGE = withField(withField(hl7Fixture('siu-s12-new-appointment'), 'MSH', 15, ''), 'MSH', 16, '');
/** Enhanced mode as IHE PAM France sends it (MSH-15 AL, MSH-16 NE): an accept ACK only. */
const IHE_MESSAGE = hl7Fixture('siu-s12-new-appointment');

/** The single-row baseline (also test/bench/cluster.bench.ts's): one inbox row per durable transaction, awaited one by one. */
export async function singleRowTransactionsPerSecond(
  store: Store,
  linkId: string,
  ms: number,
): Promise<number> {
  const body = Buffer.alloc(2048, 0x58);
  let n = 0;
  const one = () => {
    const key = `BASE|LINE|${n++}`;
    return store.transaction((tx) =>
      tx.inbox.accept({
        linkId,
        dedupeKey: key,
        bodyHash: createHash('sha256').update(key).digest('hex'),
        messageType: 'SIU^S12',
        body,
      }),
    );
  };
  for (let i = 0; i < 50; i++) await one();
  const start = performance.now();
  let done = 0;
  while (performance.now() - start < ms) {
    await one();
    done++;
  }
  return (done * 1000) / (performance.now() - start);
}

type Run = BenchClientsOutput & { cpuUsPerMessage: number; statements: Map<string, number> };

/**
 * PostgreSQL statements (each a round trip unless pipelined), counted per kind while the clients
 * run: every query any pg client of this process sends (issue 22: ≈ 24 per message).
 */
const statements = { counts: undefined as Map<string, number> | undefined };
{
  const query = pg.Client.prototype.query as (...args: unknown[]) => unknown;
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    const counts = statements.counts;
    if (counts) {
      const first = args[0];
      const text = typeof first === 'string' ? first : ((first as { text?: string } | null)?.text ?? '');
      counts.set(statementKind(text), (counts.get(statementKind(text)) ?? 0) + 1);
    }
    return query.apply(this, args);
  } as typeof pg.Client.prototype.query;
}

/** `select identity_map`, `savepoint`, `commit`…: the verb and the first table named. */
function statementKind(text: string): string {
  const t = text.trim().toLowerCase();
  const verb =
    /^(with|select|insert|update|delete|savepoint|release|rollback|begin|commit)/.exec(t)?.[1] ??
    t.slice(0, 12);
  const table = /\b(?:from|into|update)\s+"?([a-z_]+)"?/.exec(t)?.[1];
  return table && !['savepoint', 'release', 'rollback'].includes(verb) ? `${verb} ${table}` : verb;
}

/** Statements per acknowledged message, the total first then the kinds above 0.05. */
function perMessage(counts: Map<string, number>, answered: number): string {
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  const kinds = [...counts.entries()]
    .map(([k, n]) => [k, n / Math.max(1, answered)] as const)
    .filter(([, n]) => n >= 0.05)
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k} ${n.toFixed(2)}`);
  return `${(total / Math.max(1, answered)).toFixed(1)} statements per message (${kinds.join(', ')})`;
}

/** Several rounds of the same kind as one. */
function combined(runs: readonly Run[]): Run {
  const answered = runs.reduce((n, r) => n + r.answered, 0);
  return {
    messages: runs.reduce((n, r) => n + r.messages, 0),
    seconds: runs.reduce((n, r) => n + r.seconds, 0),
    latenciesMs: runs.flatMap((r) => r.latenciesMs),
    negative: runs.reduce((n, r) => n + r.negative, 0),
    answered,
    cpuUsPerMessage: runs.reduce((n, r) => n + r.cpuUsPerMessage * r.answered, 0) / Math.max(1, answered),
    statements: runs.reduce((all, r) => {
      for (const [k, n] of r.statements) all.set(k, (all.get(k) ?? 0) + n);
      return all;
    }, new Map<string, number>()),
  };
}

/** The clients' run, with the CPU time this process (the listener and engine) spent per acknowledged message. */
async function runClients(input: BenchClientsInput): Promise<Run> {
  const before = process.cpuUsage();
  const counts = (statements.counts = new Map());
  try {
    const out = await clientsChild(input);
    const cpu = process.cpuUsage(before);
    return {
      ...out,
      cpuUsPerMessage: (cpu.user + cpu.system) / Math.max(1, out.answered),
      statements: counts,
    };
  } finally {
    statements.counts = undefined;
  }
}

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

/**
 * The listener with a handler that commits the inbox row (dedupe key, body, ACK) and nothing
 * else, through the same group commit the engine uses.
 */
async function transportOnly(
  store: Store,
  link: Link,
  kind: string,
): Promise<BenchClientsOutput & { cpuUsPerMessage: number }> {
  const handler: InboundHandler = (message) =>
    store.batch(async (tx): Promise<IngestResult> => {
      const d = message.dedupe as NonNullable<InboundMessage['dedupe']>;
      const accepted = await tx.inbox.accept({
        linkId: link.id,
        dedupeKey: d.key,
        bodyHash: d.bodyHash,
        messageType: d.messageType,
        body: d.body,
      });
      if (accepted.outcome === 'duplicate')
        return { outcome: 'duplicate', response: accepted.entry.response, flags: accepted.entry.flags };
      const response = message.respond?.({ status: 'applied', flags: [] }) ?? null;
      await tx.inbox.finish(accepted.entry.id, { status: 'received', response });
      return { outcome: 'applied', response, flags: [] };
    });
  const controller = new AbortController();
  const config = Hl7v2Config.parse({ mllp: { listen: LISTEN } });
  const log = createLogger({ level: 'error' });
  const connector = new Hl7v2Link(
    config,
    {
      link,
      secrets: null,
      log,
      now: store.now,
      signal: controller.signal,
      timezone: 'Europe/Paris',
      publicUrl: '',
    },
    // The link's shipped profile (IHE PAM France), as in production.
    new ProfileTranslator({ link, timezone: 'Europe/Paris', log }),
  );
  await connector.start(handler);
  try {
    return await runClients({
      port: connector.mllpPort as number,
      clients: CLIENTS,
      warmupMs: 500,
      durationMs: DURATION_MS,
      message: MESSAGE.toString('base64'),
      prefix: `${kind}T`,
      sameAppointment: false,
    });
  } finally {
    await connector.stop();
  }
}

/**
 * The limit: a bare durable MLLP listener on the same store — frame, insert the raw bytes into
 * one scratch table, group commit (the store's own `batch`, so the same durability settings and
 * the same commit sharing as the engine), then a minimal AA built from the parsed message.
 * Nothing else (no dedupe, no mapping, no audit): what this machine and this store can do at best
 * with ACK after commit.
 */
async function minimalListener(
  store: Store,
  kind: string,
): Promise<BenchClientsOutput & { cpuUsPerMessage: number }> {
  await (
    store.dialect === 'sqlite'
      ? sql`CREATE TABLE IF NOT EXISTS bench_limit_raw (id INTEGER PRIMARY KEY, body BLOB NOT NULL)`
      : sql`CREATE TABLE IF NOT EXISTS bench_limit_raw (id BIGSERIAL PRIMARY KEY, body BYTEA NOT NULL)`
  ).execute(store.db);
  let acks = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const decoder = new MllpDecoder({ maxMessageBytes: 1 << 20 });
    // One message at a time per connection, in order, as the engine's listener does.
    let chain = Promise.resolve();
    socket.on('data', (chunk: Buffer) => {
      for (const e of decoder.push(chunk)) {
        if (e.type !== 'message') continue;
        const payload = e.payload;
        chain = chain
          .then(async () => {
            await store.batch(async (tx) => {
              if (tx.direct) tx.direct('INSERT INTO bench_limit_raw (body) VALUES (?)', [payload]);
              else await sql`INSERT INTO bench_limit_raw (body) VALUES (${payload})`.execute(tx.db);
            });
            const ack = buildAck(
              parseHl7(payload),
              { code: 'AA' },
              { controlId: `LIMIT${++acks}`, timestamp: new Date() },
            );
            socket.write(encodeFrame(ack.bytes));
          })
          .catch((error: unknown) => {
            socket.destroy(error as Error);
          });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    return await runClients({
      port: (server.address() as net.AddressInfo).port,
      clients: CLIENTS,
      warmupMs: 500,
      durationMs: DURATION_MS,
      message: MESSAGE.toString('base64'),
      prefix: `${kind}L`,
      sameAppointment: false,
    });
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
}

/** The parts of @medplum/hl7 4.5.2 this bench uses (packages/hl7/src/server.ts, connection.ts). */
interface MedplumHl7 {
  readonly Hl7Server: new (handler: (connection: MedplumHl7Connection) => void) => {
    readonly server?: net.Server;
    start(port: number): void;
    stop(options?: { forceDrainTimeoutMs?: number }): Promise<void>;
  };
}
interface MedplumHl7Connection {
  addEventListener(
    type: 'message',
    listener: (event: { readonly message: { buildAck(): unknown } }) => void,
  ): void;
  send(reply: unknown): void;
}

/** Imported at run time: an optional peer; `undefined` when it is not installed. */
async function loadMedplumHl7(): Promise<MedplumHl7 | undefined> {
  // A non-literal specifier, so that type-checking does not need the package either.
  const specifier = '@medplum/hl7';
  try {
    return (await import(specifier)) as MedplumHl7;
  } catch (error) {
    if ((error as { code?: string }).code === 'ERR_MODULE_NOT_FOUND') return undefined;
    throw error;
  }
}

/**
 * The peer: @medplum/hl7's Hl7Server in original mode, answering each message with its own
 * `buildAck()` (AA) at once — parse and ACK, nothing stored, nothing durable.
 */
async function medplumPeer(mod: MedplumHl7): Promise<BenchClientsOutput & { cpuUsPerMessage: number }> {
  const hl7 = new mod.Hl7Server((connection) => {
    connection.addEventListener('message', (event) => connection.send(event.message.buildAck()));
  });
  hl7.start(0);
  const server = hl7.server as net.Server;
  if (!server.listening) await new Promise((resolve) => server.once('listening', resolve));
  try {
    return await runClients({
      port: (server.address() as net.AddressInfo).port,
      clients: CLIENTS,
      warmupMs: 500,
      durationMs: DURATION_MS,
      message: MESSAGE.toString('base64'),
      prefix: 'MEDPLUM',
      sameAppointment: false,
    });
  } finally {
    await hl7.stop({ forceDrainTimeoutMs: 1000 });
  }
}

/**
 * The "each message books a new appointment" run alone, on a fresh store sealed or not
 * (issue 16: the cost of sealing, both figures from the same run). `plain` is an internal store
 * option that only this benchmark uses; the service always seals.
 */
async function freshIngest(
  kind: (typeof STORE_KINDS)[number],
  sealing: StoreSealing,
  prefix: string,
): Promise<BenchClientsOutput & { cpuUsPerMessage: number }> {
  const t = await openTestStore(kind, { sealing });
  let runtime: SyncRuntime | undefined;
  try {
    const practice = await t.store.practices.create({ name: 'bench' });
    const link = await t.store.links.create({
      practiceId: practice.id,
      role: 'practice',
      connector: 'hl7v2',
      name: 'bench',
      isTest: true,
      config: { mllp: { listen: LISTEN } },
    });
    await t.store.links.create({
      practiceId: practice.id,
      role: 'secretariat',
      connector: 'memory',
      name: 'secrétariat',
      config: { peer: 'sec' },
    });
    runtime = new SyncRuntime({
      store: t.store,
      logger: createLogger({ level: 'error' }),
      secrets: new SecretBox(Buffer.alloc(32, 3)),
      registry: createRegistry([hl7v2 as ConnectorDefinition<unknown>, memoryConnector(new MemoryWorld())]),
      schedulePolls: false,
      refreshMs: 0,
      autoDispatch: false,
    });
    await runtime.start();
    const port = (runtime.connectorOf(link.id) as Hl7v2Link).mllpPort as number;
    return await runClients({
      port,
      clients: CLIENTS,
      warmupMs: 500,
      durationMs: DURATION_MS,
      message: MESSAGE.toString('base64'),
      prefix,
      sameAppointment: false,
    });
  } finally {
    await runtime?.stop();
    await t.dispose();
  }
}

const bench: Bench = {
  name: `HL7 durable ingest over MLLP (${CLIENTS} clients, ACK after commit)${QUICK ? ', quick round' : ''}`,
  async run() {
    const results: BenchResult[] = [];
    const medplumHl7 = await loadMedplumHl7();
    const skipped =
      'skipped: @medplum/hl7 not installed (npm install --save-dev --save-exact @medplum/hl7@4.5.2)';
    if (!medplumHl7) process.stdout.write(`  ${skipped}\n`);
    // Once for both stores: the peer stores nothing.
    const peer = medplumHl7 && (await medplumPeer(medplumHl7));
    const peerRate = peer && peer.messages / peer.seconds;
    for (const kind of (process.env['HL7_BENCH_KINDS']?.split(',') ?? STORE_KINDS) as typeof STORE_KINDS) {
      const t = await openTestStore(kind);
      const runtime = { current: undefined as SyncRuntime | undefined };
      try {
        const practice = await t.store.practices.create({ name: 'bench' });
        const link = await t.store.links.create({
          practiceId: practice.id,
          role: 'practice',
          connector: 'hl7v2',
          name: 'bench',
          isTest: true,
          config: { mllp: { listen: LISTEN } },
        });
        await t.store.links.create({
          practiceId: practice.id,
          role: 'secretariat',
          connector: 'memory',
          name: 'secrétariat',
          config: { peer: 'sec' },
        });
        // The baseline's rows go to a link of their own that never starts: left 'received' under
        // the bench link, the acceptAck-commit drainer would later pick up thousands of them (their
        // body is filler, not HL7) and dead-letter them, inflating its "applied" figure.
        const baselineLink = await t.store.links.create({
          practiceId: practice.id,
          role: 'practice',
          connector: 'hl7v2',
          name: 'baseline rows',
          isTest: true,
          enabled: false,
          config: { mllp: { listen: LISTEN } },
        });
        const baseline = await singleRowTransactionsPerSecond(t.store, baselineLink.id, 2000);

        runtime.current = new SyncRuntime({
          store: t.store,
          logger: createLogger({ level: 'error' }),
          secrets: new SecretBox(Buffer.alloc(32, 3)),
          // The product hl7v2 connector: each message mapped by the link's profile (IHE PAM France).
          registry: createRegistry([
            hl7v2 as ConnectorDefinition<unknown>,
            memoryConnector(new MemoryWorld()),
          ]),
          schedulePolls: false,
          refreshMs: 0,
          autoDispatch: false,
        });
        await runtime.current.start();
        const port = (runtime.current.connectorOf(link.id) as Hl7v2Link).mllpPort as number;
        const common = {
          port,
          clients: CLIENTS,
          warmupMs: 500,
          durationMs: DURATION_MS,
          message: MESSAGE.toString('base64'),
        };
        if (QUICK) {
          // Before / after the group apply (src/sync/ingest/group.ts) and the set-wise writes
          // (src/store/write-buffer.ts), same run, same store: a discarded warm-up round (JIT,
          // caches), then message-at-a-time with per-row writes, group apply with per-row writes
          // (before the set-wise writes) and group apply with set-wise writes (the product) in
          // turn, twice, so that none gets the colder process, the smaller store or the quieter
          // second.
          await runClients({ ...common, durationMs: 1000, prefix: `${kind}W`, sameAppointment: false });
          const rounds: { on: Run[]; rowwise: Run[]; off: Run[] } = { on: [], rowwise: [], off: [] };
          const arms = ['off', 'rowwise', 'on'] as const;
          for (let round = 0; round < 6; round++) {
            const arm = arms[round % 3] as (typeof arms)[number];
            groupApply.enabled = arm !== 'off';
            writeBuffering.enabled = arm === 'on';
            try {
              const r = await runClients({ ...common, prefix: `${kind}R${round}`, sameAppointment: false });
              rounds[arm].push(r);
            } finally {
              groupApply.enabled = true;
              writeBuffering.enabled = true;
            }
          }
          const rowwise = combined(rounds.rowwise);
          const single = combined(rounds.off);
          const fresh = combined(rounds.on);
          await runtime.current.stop();
          runtime.current = undefined;
          const limit = await minimalListener(t.store, kind);
          const limitRate = limit.messages / limit.seconds;
          const rate = fresh.messages / fresh.seconds;
          const lat = fresh.latenciesMs.sort((a, b) => a - b);
          results.push({
            name: `${kind}: full engine, quick round (each books a new appointment)`,
            measured: {
              label: `${CLIENTS} MLLP clients, ACK after group commit`,
              value: rate,
              unit: 'msg/s',
            },
            baseline: { label: 'single-row durable transactions, sequential', value: baseline, unit: 'tx/s' },
            higherIsBetter: true,
            aim: '≥ 1× (issue 22)',
            notes: [
              `${(rate / limitRate).toFixed(2)}× the limit (${Math.round(limitRate).toLocaleString('en-US')} msg/s, listener CPU ${Math.round(limit.cpuUsPerMessage)} µs per message)${peerRate ? `; @medplum/hl7 peer ${Math.round(peerRate).toLocaleString('en-US')} msg/s` : ''}`,
              `latency per message p50 ${percentile(lat, 50).toFixed(2)} ms, p99 ${percentile(lat, 99).toFixed(2)} ms; negative ACKs ${fresh.negative}; listener CPU ${Math.round(fresh.cpuUsPerMessage)} µs per message`,
              ...(kind === 'postgres'
                ? [
                    `group apply: ${perMessage(fresh.statements, fresh.answered)}`,
                    `message-at-a-time: ${perMessage(single.statements, single.answered)}`,
                  ]
                : []),
            ],
          });
          results.push({
            name: `${kind}: group apply against message-at-a-time apply, same run (quick round)`,
            measured: { label: 'full engine, group apply', value: rate, unit: 'msg/s' },
            baseline: {
              label: 'full engine, each message read and validated alone, per-row writes',
              value: single.messages / single.seconds,
              unit: 'msg/s',
            },
            higherIsBetter: true,
            notes: [
              `two rounds of each, in turn, after a warm-up round; listener CPU per message: ${Math.round(fresh.cpuUsPerMessage)} µs with, ${Math.round(single.cpuUsPerMessage)} µs without (${(fresh.cpuUsPerMessage / single.cpuUsPerMessage).toFixed(2)}×); message-at-a-time ${(single.messages / single.seconds / baseline).toFixed(2)}× the single-row baseline, ${(single.messages / single.seconds / limitRate).toFixed(2)}× the limit`,
            ],
          });
          const rowwiseRate = rowwise.messages / rowwise.seconds;
          const rlat = rowwise.latenciesMs.sort((a, b) => a - b);
          results.push({
            name: `${kind}: set-wise writes against per-row writes, both with group apply, same run (quick round)`,
            measured: { label: 'full engine, set-wise writes', value: rate, unit: 'msg/s' },
            baseline: {
              label: 'full engine, one statement per row written',
              value: rowwiseRate,
              unit: 'msg/s',
            },
            higherIsBetter: true,
            notes: [
              `two rounds of each, in turn; listener CPU per message: ${Math.round(fresh.cpuUsPerMessage)} µs set-wise, ${Math.round(rowwise.cpuUsPerMessage)} µs per row (${(fresh.cpuUsPerMessage / rowwise.cpuUsPerMessage).toFixed(2)}×); per row: ${(rowwiseRate / baseline).toFixed(2)}× the single-row baseline, ${(rowwiseRate / limitRate).toFixed(2)}× the limit, p50 ${percentile(rlat, 50).toFixed(2)} ms, p99 ${percentile(rlat, 99).toFixed(2)} ms`,
            ],
          });
          continue;
        }
        const fresh = await runClients({ ...common, prefix: `${kind}N`, sameAppointment: false });
        const same = await runClients({ ...common, prefix: `${kind}S`, sameAppointment: true });

        // acceptAck: commit — the fixture as IHE PAM France sends it (MSH-15 AL, MSH-16 NE):
        // CA once committed to the inbox, applied right after by the link's drainer.
        await t.store.links.update(link.id, {
          config: { mllp: { listen: LISTEN }, acceptAck: 'commit' },
        });
        await runtime.current.refresh();
        const deferredLink = runtime.current.connectorOf(link.id) as Hl7v2Link;
        const clientsStart = performance.now();
        const accepted = await runClients({
          ...common,
          port: deferredLink.mllpPort as number,
          message: IHE_MESSAGE.toString('base64'),
          prefix: `${kind}D`,
          sameAppointment: false,
        });
        const clientsEnd = performance.now();
        const left = async () =>
          (await t.store.inbox.list({ linkId: link.id, status: 'received', limit: 100_000 })).length;
        const backlog = await left();
        while ((await left()) > 0) await new Promise((r) => setTimeout(r, 20));
        const drainedAt = performance.now();
        const storedTotal = (await t.store.inbox.list({ linkId: link.id, limit: 1_000_000 })).filter((e) =>
          e.dedupeKey.includes(`|${kind}D-`),
        ).length;
        await runtime.current.stop();
        runtime.current = undefined;
        const storeOnly = await transportOnly(t.store, link, kind);
        const limit = await minimalListener(t.store, kind);
        const limitRate = limit.messages / limit.seconds;
        const lat = fresh.latenciesMs.sort((a, b) => a - b);
        const rate = fresh.messages / fresh.seconds;
        results.push({
          name: `${kind}: HL7 messages acknowledged per second (each books a new appointment)`,
          measured: { label: `${CLIENTS} MLLP clients, ACK after group commit`, value: rate, unit: 'msg/s' },
          baseline: { label: 'single-row durable transactions, sequential', value: baseline, unit: 'tx/s' },
          higherIsBetter: true,
          aim: '≥ 1× (issue 22)',
          notes: [
            `full engine ${(rate / baseline).toFixed(2)}× the single-row baseline and ${(rate / limitRate).toFixed(2)}× the limit (bare durable listener, ${Math.round(limitRate).toLocaleString('en-US')} msg/s)${peerRate ? `; ${(rate / peerRate).toFixed(2)}× @medplum/hl7 Hl7Server (no storage, ${Math.round(peerRate).toLocaleString('en-US')} msg/s)` : `; @medplum/hl7 peer ${skipped}`}`,
            `latency per message p50 ${percentile(lat, 50).toFixed(2)} ms, p99 ${percentile(lat, 99).toFixed(2)} ms; negative ACKs ${fresh.negative}; listener CPU ${Math.round(fresh.cpuUsPerMessage)} µs per message`,
            `same appointment resent with new control ids (dedupe + no-change apply): ${Math.round(same.messages / same.seconds).toLocaleString('en-US')} msg/s (${(same.messages / same.seconds / baseline).toFixed(2)}× baseline), negative ACKs ${same.negative}`,
          ],
        });
        const alat = accepted.latenciesMs.sort((a, b) => a - b);
        results.push({
          name: `${kind}: acceptAck commit — CA once committed to the inbox, applied right after (IHE AL/NE)`,
          measured: {
            label: `${CLIENTS} MLLP clients, CA after group commit`,
            value: accepted.messages / accepted.seconds,
            unit: 'msg/s',
          },
          baseline: { label: 'single-row durable transactions, sequential', value: baseline, unit: 'tx/s' },
          higherIsBetter: true,
          aim: kind === 'sqlite' ? '≥ 2× and ≥ 10,000 msg/s' : '≥ 2×',
          notes: [
            `latency per CA p50 ${percentile(alat, 50).toFixed(2)} ms, p99 ${percentile(alat, 99).toFixed(2)} ms; negative ACKs ${accepted.negative}`,
            `applied: ${storedTotal.toLocaleString('en-US')} messages (warm-up included) in ${((drainedAt - clientsStart) / 1000).toFixed(2)} s = ${Math.round((storedTotal * 1000) / (drainedAt - clientsStart)).toLocaleString('en-US')} msg/s (${((storedTotal * 1000) / (drainedAt - clientsStart) / baseline).toFixed(2)}× baseline); ${backlog.toLocaleString('en-US')} still to apply when the clients stopped, applied ${((drainedAt - clientsEnd) / 1000).toFixed(2)} s later`,
          ],
        });
        const slat = storeOnly.latenciesMs.sort((a, b) => a - b);
        results.push({
          name: `${kind}: transport alone — MLLP, parse, translate, dedupe, ACK stored, durable group commit; apply deferred`,
          measured: {
            label: `${CLIENTS} MLLP clients, ACK after group commit`,
            value: storeOnly.messages / storeOnly.seconds,
            unit: 'msg/s',
          },
          baseline: { label: 'single-row durable transactions, sequential', value: baseline, unit: 'tx/s' },
          higherIsBetter: true,
          aim: kind === 'sqlite' ? '≥ 2× and ≥ 10,000 msg/s' : '≥ 2×',
          notes: [
            `latency per message p50 ${percentile(slat, 50).toFixed(2)} ms, p99 ${percentile(slat, 99).toFixed(2)} ms; negative ACKs ${storeOnly.negative}; listener CPU ${Math.round(storeOnly.cpuUsPerMessage)} µs per message`,
          ],
        });
        const llat = limit.latenciesMs.sort((a, b) => a - b);
        results.push({
          name: `${kind}: the limit — bare durable MLLP listener: frame, insert the raw bytes, group commit, ACK`,
          measured: {
            label: `${CLIENTS} MLLP clients, ACK after group commit`,
            value: limitRate,
            unit: 'msg/s',
          },
          baseline: { label: 'single-row durable transactions, sequential', value: baseline, unit: 'tx/s' },
          higherIsBetter: true,
          notes: [
            `latency per message p50 ${percentile(llat, 50).toFixed(2)} ms, p99 ${percentile(llat, 99).toFixed(2)} ms; negative ACKs ${limit.negative}; listener CPU ${Math.round(limit.cpuUsPerMessage)} µs per message`,
          ],
        });
        results.push({
          name: `${kind}: full engine against the limit (each books a new appointment)`,
          measured: { label: 'full engine, as above', value: rate, unit: 'msg/s' },
          baseline: {
            label: 'bare durable MLLP listener, same store, same clients',
            value: limitRate,
            unit: 'msg/s',
          },
          higherIsBetter: true,
          // The issue sets this aim for SQLite only (PostgreSQL's is ≥ 1× the single-row baseline).
          ...(kind === 'sqlite' && { aim: '≥ 0.5× (issue 22)' }),
          notes: [`against the single-row baseline: ${(rate / baseline).toFixed(2)}×`],
        });
        if (peer && peerRate) {
          const plat = peer.latenciesMs.sort((a, b) => a - b);
          results.push({
            name: `${kind}: full engine against a peer — @medplum/hl7 Hl7Server, ACK without storing (not durable)`,
            measured: { label: 'full engine, as above', value: rate, unit: 'msg/s' },
            baseline: {
              label: `@medplum/hl7 4.5.2 Hl7Server, ${CLIENTS} clients, buildAck() at once`,
              value: peerRate,
              unit: 'msg/s',
            },
            higherIsBetter: true,
            notes: [
              `peer latency per message p50 ${percentile(plat, 50).toFixed(2)} ms, p99 ${percentile(plat, 99).toFixed(2)} ms; negative ACKs ${peer.negative}; peer CPU ${Math.round(peer.cpuUsPerMessage)} µs per message; the limit is ${(limitRate / peerRate).toFixed(2)}× the peer`,
            ],
          });
        }
      } finally {
        await runtime.current?.stop();
        await t.dispose();
      }
      // Sealing's cost: the same run on two fresh stores, not sealed then sealed.
      const plain = await freshIngest(kind, { plain: true }, `${kind}P`);
      const sealed = await freshIngest(kind, testSealing(), `${kind}E`);
      results.push({
        name: `${kind}: sealed at rest — HL7 messages acknowledged per second, sealed vs not sealed (each books a new appointment)`,
        measured: {
          label: 'patient data sealed (AES-256-GCM, HMAC match keys)',
          value: sealed.messages / sealed.seconds,
          unit: 'msg/s',
        },
        baseline: { label: 'same store, not sealed', value: plain.messages / plain.seconds, unit: 'msg/s' },
        higherIsBetter: true,
        notes: [
          `listener CPU per message: sealed ${Math.round(sealed.cpuUsPerMessage)} µs, not sealed ${Math.round(plain.cpuUsPerMessage)} µs; negative ACKs ${sealed.negative} / ${plain.negative}`,
        ],
      });
    }
    return results;
  },
};
export default bench;
