/**
 * The cluster world with both sides of a practice (issue 23, fault suite: dropped webhooks,
 * skewed clocks, poison messages): N `passerelle serve` processes on one PostgreSQL database
 * behind HAProxy, the secretariat simulator (a real HTTP peer) sending its signed webhooks to
 * HAProxy's HTTP front, and the practice software — the HL7 simulator, a real MLLP peer — that
 * sends to HAProxy's MLLP front and receives what passerelle pushes. Each instance runs with a
 * wall clock the test can skew while it runs (test/helpers/skewed-clock.mjs).
 *
 * The runs (`runWebhookDrops`, `runPoisonMessages`, `runSkewedWebhooks`) are shared by the short
 * form (test/cluster/sync-faults.int.test.ts) and the long form (`npm run soak -- --faults
 * webhook-drop,poison,skew`, scripts/soak-sync.ts); each returns the fault suite's figures.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import pg from 'pg';

import { Hl7Simulator } from '../../connectors/hl7v2/simulator/index.js';
import {
  type SecretariatSimulator,
  startSecretariatSimulator,
  type WebhookEvent,
} from '../../connectors/secretariat/simulator/index.js';
import type { ChangeRecord } from '../../connectors/secretariat/simulator/state.js';
import { type Cluster, freePort, freePortRange, startCluster } from '../../scripts/cluster.js';
import { parseHl7 } from '../../src/hl7/index.js';
import { generateWebhookSecret, signWebhook } from '../../src/security/webhook-signature.js';
import { hl7LocalTime } from '../e2e/lookups.js';
import { api, MllpSender, readyz } from './cluster-world.js';
import { hl7Fixture, withControlId, withField } from './hl7.js';
import { until } from './until.js';

const CLOCK_PRELOAD = fileURLToPath(new URL('./skewed-clock.mjs', import.meta.url));
const FIXTURES = fileURLToPath(new URL('../fixtures/hl7/', import.meta.url));
/** The secretariat link's scheduled poll: every 2 s, on the one instance holding its lease. */
export const SECRETARIAT_POLL = '*/2 * * * * *';
const APPOINTMENT_TYPES = [
  { id: 'CONS-SUIVI', label: 'Consultation de suivi', durationMinutes: 20 },
  { id: 'CONS', label: 'Consultation', durationMinutes: 15 },
] as const;

/** What every fault run prints, as the other fault tests do. */
export interface FaultFigures {
  readonly sent: number;
  readonly acked: number;
  readonly applied: number;
  readonly deadLettered: number;
  readonly lost: number;
  readonly duplicated: number;
  readonly maxLagMs: number;
}

export function formatFigures(name: string, f: FaultFigures, extra = ''): string {
  return `fault ${name}: sent ${f.sent}, ACKed ${f.acked}, applied ${f.applied}, dead-lettered ${f.deadLettered}, lost ${f.lost}, duplicated ${f.duplicated}, max lag ${f.maxLagMs} ms${extra ? `, ${extra}` : ''}\n`;
}

/** One webhook as the platform sent it and as passerelle answered it (exact bytes, to replay). */
export interface RelayedWebhook {
  readonly webhookId: string;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
  readonly status: number;
  readonly answer: string;
}

/**
 * Between the simulator and passerelle: passes each webhook on unchanged to the current target
 * and keeps its bytes and the answer, so a test can replay a genuine delivery.
 */
class WebhookRelay {
  readonly deliveries: RelayedWebhook[] = [];
  target = '';
  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<WebhookRelay> {
    const self: { relay?: WebhookRelay } = {};
    const server = createServer((req, res) => {
      void (async () => {
        const chunks: Buffer[] = [];
        for await (const c of req) chunks.push(c as Buffer);
        const body = Buffer.concat(chunks);
        const headers: Record<string, string> = {};
        for (const name of ['content-type', 'webhook-id', 'webhook-timestamp', 'webhook-signature']) {
          const v = req.headers[name];
          if (typeof v === 'string') headers[name] = v;
        }
        const r = self.relay as WebhookRelay;
        try {
          const answer = await fetch(r.target, { method: 'POST', headers, body });
          const text = await answer.text();
          r.deliveries.push({
            webhookId: headers['webhook-id'] ?? '',
            headers,
            body,
            status: answer.status,
            answer: text,
          });
          res
            .writeHead(answer.status, {
              'content-type': answer.headers.get('content-type') ?? 'application/json',
            })
            .end(text);
        } catch {
          res.writeHead(502).end();
        }
      })();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const relay = new WebhookRelay(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    self.relay = relay;
    return relay;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

export interface SyncClusterWorld {
  readonly cluster: Cluster;
  /** The database, reached directly (not through any proxy of the test). */
  readonly pgUrl: string;
  readonly adminKey: string;
  readonly practiceId: string;
  readonly secretariatLinkId: string;
  readonly hl7LinkId: string;
  /** HAProxy's MLLP front for the practice's link. */
  readonly mllpFront: number;
  readonly linkPort: number;
  readonly sim: SecretariatSimulator;
  readonly webhookSecret: string;
  /** The practice software: what passerelle pushed to it, in order. */
  readonly software: Hl7Simulator;
  readonly relay: WebhookRelay;
  /** Where the platform's webhooks go: HAProxy's front, or one instance. */
  hookUrl(instance?: number): string;
  /** Sets instance `index`'s wall clock to real time + `offsetMs`, and waits until it runs so. */
  skew(index: number, offsetMs: number): Promise<void>;
  stop(): Promise<void>;
}

/** Original acknowledgement mode (MSH-15/16 empty): the ACK says AA, AE or AR. */
function originalMode(raw: Buffer, controlId: string): Buffer {
  return withControlId(withField(withField(raw, 'MSH', 15, ''), 'MSH', 16, ''), controlId);
}

/** Sends one message through HAProxy until it gets an answer (what an MLLP sender does). */
async function sendUntilAnswered(
  front: number,
  message: Buffer,
  conn: { sender?: MllpSender; unanswered: number },
): Promise<string> {
  return until(
    'an ACK',
    async () => {
      if (!conn.sender?.open) conn.sender = await MllpSender.connect(front);
      try {
        const x = await conn.sender.send(message, 5000);
        // AR 207 "send it again later" (not committed) is the same as no answer.
        if (x.code === 'AR' && x.ack.toString('latin1').includes('|207^')) throw new Error('not committed');
        return x.code ?? 'none';
      } catch (e) {
        conn.unanswered++;
        conn.sender.close();
        throw e;
      }
    },
    60_000,
    { tolerateErrors: true, everyMs: 100 },
  );
}

export interface SyncClusterOptions {
  readonly instances: number;
  /** The database the instances use (created and dropped by the caller). */
  readonly pgUrl: string;
  readonly dir: string;
  readonly echo?: (line: string) => void;
}

export async function startSyncClusterWorld(options: SyncClusterOptions): Promise<SyncClusterWorld> {
  const closers: (() => Promise<void>)[] = [];
  const close = async () => {
    for (const c of closers.reverse()) await c().catch(() => undefined);
  };
  try {
    const sim = await startSecretariatSimulator({
      port: 0,
      host: '127.0.0.1',
      seed: 'empty',
      stateFile: join(options.dir, 'secretariat.json'),
    });
    closers.push(() => sim.close());
    const software = await Hl7Simulator.start({ port: 0, host: '127.0.0.1' });
    closers.push(() => software.close());
    const relay = await WebhookRelay.start();
    closers.push(() => relay.close());

    const linkPort = await freePortRange(options.instances);
    const mllpFront = await freePort();
    const clockFile = (dir: string) => join(dir, 'clock-offset-ms');
    const dirs: string[] = [];
    const cluster = await startCluster({
      instances: options.instances,
      pgUrl: options.pgUrl,
      dir: options.dir,
      mllp: [{ linkPort, frontPort: mllpFront }],
      httpFrontPort: await freePort(),
      linkRestartCapMs: 1000,
      instanceEnv: (index, dir) => {
        dirs[index] = dir;
        writeFileSync(clockFile(dir), '0');
        return {
          NODE_OPTIONS: `${process.env['NODE_OPTIONS'] ?? ''} --import ${CLOCK_PRELOAD}`.trim(),
          SKEWED_CLOCK_FILE: clockFile(dir),
        };
      },
      ...(options.echo && { echo: options.echo }),
    });
    closers.push(() => cluster.stop());
    const key =
      cluster.adminKey ??
      (await until('the first admin API key printed by instance 0', () => cluster.adminKey, 10_000));
    const front = cluster.httpUrl as string;

    const practiceId = (
      await until(
        'the admin API through HAProxy',
        () => api<{ id: string }>(front, key, '/api/v1/practices', { name: 'Cabinet des Pannes' }),
        60_000,
        { tolerateErrors: true, everyMs: 200 },
      )
    ).id;
    const webhookSecret = generateWebhookSecret();
    const secretariatLinkId = (
      await api<{ id: string }>(front, key, '/api/v1/links', {
        practiceId,
        role: 'secretariat',
        connector: 'secretariat',
        name: 'Télésecrétariat (simulateur)',
        isTest: true,
        schedule: SECRETARIAT_POLL,
        config: {
          baseUrl: sim.url,
          platformPracticeId: sim.practiceId,
          timeoutMs: 5000,
          retry: { maxAttempts: 3, baseDelayMs: 50, maxDelayMs: 500, maxRetryAfterSeconds: 5 },
          appointmentTypes: APPOINTMENT_TYPES,
        },
        secrets: { apiToken: sim.apiToken, webhookSecret },
      })
    ).id;
    const hl7LinkId = (
      await api<{ id: string }>(front, key, '/api/v1/links', {
        practiceId,
        role: 'practice',
        connector: 'hl7v2',
        name: 'Logiciel du cabinet (HL7)',
        isTest: true,
        config: {
          mllp: {
            listen: { host: '127.0.0.1', port: linkPort },
            send: { host: '127.0.0.1', port: software.port, ackTimeoutMs: 5000, connectTimeoutMs: 2000 },
          },
        },
      })
    ).id;
    const hookUrl = (instance?: number) =>
      `${instance === undefined ? front : (cluster.instances[instance]?.url as string)}/hooks/secretariat/${secretariatLinkId}`;
    relay.target = hookUrl();
    sim.setWebhook({ url: relay.url, secrets: [webhookSecret], retryDelaysMs: [100, 500, 2000] });

    await until(
      'every instance ready with both links running',
      async () => {
        for (const i of cluster.instances) {
          if ((await readyz(i.url, key)).status !== 200) return false;
          (await MllpSender.connect(i.mllpPort(linkPort))).close();
        }
        return true;
      },
      60_000,
      { tolerateErrors: true, everyMs: 200 },
    );
    // The practice software introduces its patient (Lucie ESSAI) and practitioner (Dr Alice
    // DOCTEUR-FICTIF): the agents book with them.
    const conn: { sender?: MllpSender; unanswered: number } = { unanswered: 0 };
    for (const fixture of ['adt-a28-create', 'siu-s23-blocked-slot']) {
      const code = await sendUntilAnswered(
        mllpFront,
        originalMode(hl7Fixture(fixture), `SEED-${fixture}`),
        conn,
      );
      if (code !== 'AA') throw new Error(`the seed ${fixture} was answered ${code}`);
    }
    conn.sender?.close();
    await until(
      'the practitioner and the patient on the secretariat',
      () => sim.state.list('practitioner').length === 1 && sim.state.list('patient').length === 1,
      60_000,
    );

    return {
      cluster,
      pgUrl: options.pgUrl,
      adminKey: key,
      practiceId,
      secretariatLinkId,
      hl7LinkId,
      mllpFront,
      linkPort,
      sim,
      webhookSecret,
      software,
      relay,
      hookUrl,
      async skew(index, offsetMs) {
        const instance = cluster.instances[index];
        const dir = dirs[index];
        if (!instance || !dir) throw new Error(`no instance ${index}`);
        writeFileSync(clockFile(dir), String(offsetMs));
        const line = `test clock: offset ${offsetMs} ms`;
        const seen = instance.output().split(line).length - 1;
        instance.child.kill('SIGUSR2');
        await until(
          `instance ${index} at ${offsetMs} ms`,
          () => instance.output().split(line).length - 1 > seen,
        );
      },
      stop: close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}

async function query<T extends pg.QueryResultRow>(url: string, sql: string, params: unknown[]): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(sql, params)).rows;
  } finally {
    await c.end();
  }
}

/** Appointments a link knows (identity map rows, distinct peer ids: the ids are keyed hashes). */
async function appointmentsOf(url: string, linkId: string): Promise<{ rows: number; distinct: number }> {
  const [r] = await query<{ n: string; d: string }>(
    url,
    "SELECT count(*) AS n, count(DISTINCT external_id) AS d FROM identity_map WHERE link_id = $1 AND kind = 'Appointment'",
    [linkId],
  );
  return { rows: Number(r?.n), distinct: Number(r?.d) };
}

/** Who holds the link-runner lease of a link (the one instance whose scheduled polls run). */
export async function leaseHolders(url: string, linkId: string): Promise<string[]> {
  const rows = await query<{ owner: string }>(
    url,
    'SELECT owner FROM cluster_leases WHERE name = $1 AND expires_at > now()',
    [`link:${linkId}`],
  );
  return rows.map((r) => r.owner);
}

let runs = 0;
const STEP = 20 * 60_000;

/** A day (UTC midnight) at least `days` ahead, far from other runs' bookings. */
function dayAhead(days: number): number {
  const now = new Date();
  return Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()) + days * 86_400_000;
}

export interface WebhookDropFigures extends FaultFigures {
  readonly webhooksDropped: number;
  readonly webhooksDelivered: number;
  readonly pushed: number;
  readonly leaseHolders: readonly string[];
}

/**
 * 10 % (or `dropShare`) of the platform's webhooks never sent, drawn from a seeded PRNG: agents
 * book `count` appointments on the platform; what a webhook brings is applied at once, what was
 * dropped comes with the secretariat link's next scheduled poll (on the one instance holding the
 * link's lease). Every booking must end in passerelle's store once and reach the practice software
 * once (SIU^S12).
 */
export async function runWebhookDrops(
  w: SyncClusterWorld,
  options: { readonly count: number; readonly dropShare?: number; readonly seed?: number },
): Promise<WebhookDropFigures> {
  const run = ++runs;
  const agentId = `agent-pannes-${run}-${Date.now().toString(36)}`;
  const sim = w.sim;
  const practitioner = sim.state.list('practitioner')[0];
  const patient = sim.state.list('patient').find((p) => p.identity.family === 'ESSAI');
  if (!practitioner || !patient) throw new Error('the seed practitioner and patient are missing');
  w.relay.target = w.hookUrl();
  sim.setFaults({ dropWebhookShare: options.dropShare ?? 0.1, seed: options.seed ?? 23 });
  const events: WebhookEvent[] = [];
  const onWebhook = (e: WebhookEvent) => events.push(e);
  sim.events.on('webhook', onWebhook);
  const before = await appointmentsOf(w.pgUrl, w.secretariatLinkId);
  const from = w.software.received.length;
  const bookedAt = new Map<string, number>();
  const seqs = new Set<number>();
  const base = dayAhead(30 + run * 7) + 7 * 3_600_000;
  try {
    for (let n = 0; n < options.count; n++) {
      const start = new Date(base + n * STEP);
      bookedAt.set(hl7LocalTime(start), Date.now());
      const a = await sim.agent(agentId).book({
        practitionerId: practitioner.id,
        patientId: patient.id,
        start: start.toISOString(),
        end: new Date(start.getTime() + STEP).toISOString(),
        appointmentTypeId: 'CONS-SUIVI',
      });
      for (const c of sim.state.changes())
        if (c.type === 'appointment' && c.id === a.id && c.version === a.version) seqs.add(c.seq);
    }
    await sim.webhooksIdle();
  } finally {
    sim.setFaults({ dropWebhookShare: 0 });
    sim.events.off('webhook', onWebhook);
  }
  const ours = events.filter((e) => seqs.has(e.seq));
  const firstSeen = new Map<string, number>();
  const received = () =>
    w.software.received
      .slice(from)
      .map((m) => ({ at: m.at, message: parseHl7(m.raw) }))
      .filter((m) => m.message.header.messageType === 'SIU^S12' && m.message.get('SCH-20') === agentId);
  await until(
    'every booking at the practice software',
    () => {
      const r = received();
      for (const m of r) {
        const start = m.message.get('SCH-11.4') ?? '';
        if (!firstSeen.has(start)) firstSeen.set(start, m.at);
      }
      return firstSeen.size >= options.count && r;
    },
    120_000,
    { everyMs: 50 },
  ).catch(() => received());
  const after = await until(
    'every booking in the store',
    async () => {
      const a = await appointmentsOf(w.pgUrl, w.secretariatLinkId);
      return a.distinct - before.distinct >= options.count && a;
    },
    60_000,
  ).catch(() => appointmentsOf(w.pgUrl, w.secretariatLinkId));
  // Whatever arrives late is a duplicate too: wait for both outboxes to be empty before counting.
  await until(
    'the outboxes drained',
    async () => {
      const [r] = await query<{ n: string }>(
        w.pgUrl,
        "SELECT count(*) AS n FROM outbox WHERE link_id = ANY($1) AND status IN ('pending', 'leased')",
        [[w.hl7LinkId, w.secretariatLinkId]],
      );
      return Number(r?.n) === 0;
    },
    60_000,
  );
  const final = received();
  const distinctPushed = new Set(final.map((m) => m.message.get('SCH-11.4'))).size;
  const applied = after.distinct - before.distinct;
  const lags = [...firstSeen].map(([start, at]) => at - (bookedAt.get(start) ?? at));
  return {
    sent: options.count,
    acked: new Set(ours.filter((e) => e.outcome === 'delivered').map((e) => e.seq)).size,
    applied,
    deadLettered: 0,
    lost: Math.max(0, options.count - applied) + Math.max(0, options.count - distinctPushed),
    duplicated: after.rows - before.rows - applied + (final.length - distinctPushed),
    maxLagMs: Math.max(0, ...lags),
    webhooksDropped: new Set(ours.filter((e) => e.outcome === 'dropped').map((e) => e.seq)).size,
    webhooksDelivered: new Set(ours.filter((e) => e.outcome === 'delivered').map((e) => e.seq)).size,
    pushed: distinctPushed,
    leaseHolders: await leaseHolders(w.pgUrl, w.secretariatLinkId),
  };
}

/** HL7 DTM in UTC, e.g. 20310317083000+0000. */
function dtm(ms: number): string {
  return `${new Date(ms).toISOString().replace(/[-:T]/g, '').slice(0, 14)}+0000`;
}

/** Version `v` of record `r`: SIU^S12 (v = 0) then SIU^S14 modifications moving it 15 min later each. */
function recordVersion(tag: string, r: number, v: number, start: number): Buffer {
  let m = hl7Fixture('siu-s12-new-appointment');
  m = withField(m, 'MSH', 9, v === 0 ? 'SIU^S12^SIU_S12' : 'SIU^S14^SIU_S12');
  m = originalMode(m, `${tag}-R${r}-V${v}`);
  m = withField(m, 'SCH', 2, `${tag}-R${r}^LOGICIEL-CABINET`);
  const [s, e] = [dtm(start), dtm(start + STEP)];
  m = withField(m, 'SCH', 11, `^^M20^${s}^${e}`);
  m = withField(m, 'TQ1', 7, s);
  return withField(m, 'TQ1', 8, e);
}

/** A modification of record `r` whose start is not a date: the profile cannot map it. */
function brokenVersion(tag: string, r: number, n: number): Buffer {
  let m = recordVersion(tag, r, 1, 0);
  m = originalMode(m, `${tag}-R${r}-X${n}`);
  m = withField(m, 'SCH', 11, '^^M20^20311345996100+0100^lundi matin');
  return withField(m, 'TQ1', 7, '20311345996100+0100');
}

/**
 * Real-world broken messages (test/fixtures/hl7/corpus: HAPI's PAM simulator message with a
 * broken MSH-2, nHapi's ADT^A08 without a patient id, medplum's v2.1 ADT without trigger event).
 */
const CORPUS_POISON = [
  'hapi-pamsimulator-adt-a01-bad-msh2.hl7',
  'nhapi-emm-adt-a08-v23.hl7',
  'medplum-adt-v21-no-trigger.hl7',
] as const;

function corpusPoison(tag: string, n: number): Buffer {
  const name = CORPUS_POISON[n % CORPUS_POISON.length] as string;
  return withControlId(readFileSync(join(FIXTURES, 'corpus', name)), `${tag}-P${n}`);
}

export interface PoisonFigures extends FaultFigures {
  readonly acks: Readonly<Record<string, number>>;
  readonly deadLetterReasons: Readonly<Record<string, number>>;
  /** Records whose versions reached the platform out of order, or not ending at the last one. */
  readonly outOfOrder: number;
  /** Broken messages answered AA (applied): must be 0. */
  readonly poisonAccepted: number;
}

/**
 * Poison among valid messages, through HAProxy: `records` appointments, each booked then moved
 * `versions - 1` times by the practice software, from `senders` connections at once (records
 * split between them, each connection waiting for an ACK before its next message, as MLLP
 * senders do); after each record's first modification a broken modification of the same record,
 * and every `poisonEvery` valid messages one of the corpus's broken messages. Valid messages must
 * be ACKed AA and applied once, in each record's order (the platform sees each record's versions
 * in order and ends at the last); broken ones ACKed AE/AR and dead-lettered with their reason.
 */
export async function runPoisonMessages(
  w: SyncClusterWorld,
  options: {
    readonly records: number;
    readonly versions: number;
    readonly senders: number;
    readonly poisonEvery?: number;
  },
): Promise<PoisonFigures> {
  const run = ++runs;
  const tag = `PZ${run}${Date.now().toString(36)}`;
  const base = dayAhead(400 + run * 30) + 6 * 3_600_000;
  const startOf = (r: number, v: number) => base + r * 86_400_000 + v * 15 * 60_000;
  const poisonEvery = options.poisonEvery ?? 7;
  type Item = { id: string; message: Buffer; valid: boolean };
  const queues: Item[][] = Array.from({ length: options.senders }, () => []);
  let validCount = 0;
  let poisonCount = 0;
  for (let v = 0; v < options.versions; v++)
    for (let r = 0; r < options.records; r++) {
      const q = queues[r % options.senders] as Item[];
      q.push({ id: `${tag}-R${r}-V${v}`, message: recordVersion(tag, r, v, startOf(r, v)), valid: true });
      validCount++;
      if (v === 1) {
        q.push({ id: `${tag}-R${r}-X${r}`, message: brokenVersion(tag, r, r), valid: false });
        poisonCount++;
      }
      if (validCount % poisonEvery === 0) {
        q.push({ id: `${tag}-P${poisonCount}`, message: corpusPoison(tag, poisonCount), valid: false });
        poisonCount++;
      }
    }
  const acks = new Map<string, string>();
  const lag: number[] = [];
  const inboxBefore = await query<{ status: string; n: string }>(
    w.pgUrl,
    'SELECT status, count(*) AS n FROM inbox WHERE link_id = $1 GROUP BY status',
    [w.hl7LinkId],
  );
  const dlBefore = await query<{ n: string }>(
    w.pgUrl,
    "SELECT count(*) AS n FROM dead_letters WHERE link_id = $1 AND source = 'inbox'",
    [w.hl7LinkId],
  );
  const feedFrom = w.sim.state.changes().length;
  await Promise.all(
    queues.map(async (q) => {
      const conn: { sender?: MllpSender; unanswered: number } = { unanswered: 0 };
      for (const item of q) {
        const t0 = Date.now();
        acks.set(item.id, await sendUntilAnswered(w.mllpFront, item.message, conn));
        lag.push(Date.now() - t0);
      }
      conn.sender?.close();
    }),
  );
  const all = queues.flat();
  const validAa = all.filter((i) => i.valid && acks.get(i.id) === 'AA').length;
  const poisonAcks = all.filter((i) => !i.valid).map((i) => acks.get(i.id) ?? 'none');

  // The platform's view of each record, in the order it was written (each version a change).
  const lastStart = (r: number) => new Date(startOf(r, options.versions - 1)).toISOString();
  const platformStarts = (): Map<number, number[]> => {
    const byRecord = new Map<number, number[]>();
    const index = new Map<string, [number, number]>();
    for (let r = 0; r < options.records; r++)
      for (let v = 0; v < options.versions; v++) index.set(new Date(startOf(r, v)).toISOString(), [r, v]);
    for (const c of w.sim.state.changes().slice(feedFrom) as ChangeRecord[]) {
      if (c.type !== 'appointment' || c.origin !== 'integration') continue;
      const start = (c.data as { start?: string } | null)?.start;
      const at = start === undefined ? undefined : index.get(new Date(start).toISOString());
      if (!at) continue;
      byRecord.set(at[0], [...(byRecord.get(at[0]) ?? []), at[1]]);
    }
    return byRecord;
  };
  const platformIds = (): Map<number, Set<string>> => {
    const ids = new Map<number, Set<string>>();
    for (let r = 0; r < options.records; r++) ids.set(r, new Set());
    const index = new Map<string, number>();
    for (let r = 0; r < options.records; r++)
      for (let v = 0; v < options.versions; v++) index.set(new Date(startOf(r, v)).toISOString(), r);
    for (const c of w.sim.state.changes().slice(feedFrom) as ChangeRecord[]) {
      const start = (c.data as { start?: string } | null)?.start;
      const r =
        start === undefined || c.type !== 'appointment'
          ? undefined
          : index.get(new Date(start).toISOString());
      if (r !== undefined) ids.get(r)?.add(c.id);
    }
    return ids;
  };
  await until(
    'every record at its last version on the platform',
    () => {
      for (let r = 0; r < options.records; r++) {
        const ids = [...(platformIds().get(r) ?? [])];
        const current = ids.map((id) => w.sim.state.get('appointment', id)?.start);
        if (!current.some((s) => s !== undefined && new Date(s).toISOString() === lastStart(r))) return false;
      }
      return true;
    },
    120_000,
    { everyMs: 100 },
  ).catch(() => false);
  const inbox = await query<{ status: string; n: string }>(
    w.pgUrl,
    'SELECT status, count(*) AS n FROM inbox WHERE link_id = $1 GROUP BY status',
    [w.hl7LinkId],
  );
  const statusDelta: Record<string, number> = {};
  for (const row of inbox) statusDelta[row.status] = Number(row.n);
  for (const row of inboxBefore) statusDelta[row.status] = (statusDelta[row.status] ?? 0) - Number(row.n);
  const dead = await query<{ reason_code: string; reason: string }>(
    w.pgUrl,
    "SELECT reason_code, reason FROM dead_letters WHERE link_id = $1 AND source = 'inbox' ORDER BY created_at OFFSET $2",
    [w.hl7LinkId, Number(dlBefore[0]?.n)],
  );
  const deadLetterReasons: Record<string, number> = {};
  for (const d of dead) deadLetterReasons[d.reason_code] = (deadLetterReasons[d.reason_code] ?? 0) + 1;
  const [dups] = await query<{ n: string }>(
    w.pgUrl,
    'SELECT count(*) - count(DISTINCT (dedupe_key, body_hash)) AS n FROM inbox WHERE link_id = $1',
    [w.hl7LinkId],
  );
  const starts = platformStarts();
  const ids = platformIds();
  let outOfOrder = 0;
  let duplicateRecords = 0;
  for (let r = 0; r < options.records; r++) {
    const seq = starts.get(r) ?? [];
    const inOrder = seq.every((v, i) => i === 0 || v > (seq[i - 1] as number));
    if (!inOrder || seq[seq.length - 1] !== options.versions - 1) outOfOrder++;
    duplicateRecords += Math.max(0, (ids.get(r)?.size ?? 0) - 1);
  }
  const ackCounts: Record<string, number> = {};
  for (const a of acks.values()) ackCounts[a] = (ackCounts[a] ?? 0) + 1;
  const appliedValid = Math.min(validCount, statusDelta['processed'] ?? 0);
  return {
    sent: validCount + poisonCount,
    acked: acks.size,
    applied: appliedValid,
    deadLettered: dead.length,
    lost: validCount - validAa + Math.max(0, validCount - appliedValid) + outOfOrder,
    duplicated: Number(dups?.n) + duplicateRecords,
    maxLagMs: Math.max(0, ...lag),
    acks: ackCounts,
    deadLetterReasons,
    outOfOrder,
    poisonAccepted: poisonAcks.filter((a) => a === 'AA').length,
  };
}

export interface SkewFigures {
  /** Per instance: its clock offset, the genuine webhooks it got and accepted. */
  readonly instances: readonly { offsetMs: number; genuine: number; accepted: number }[];
  /**
   * Exact replays of an accepted delivery, per instance: the status, and whether the body is the
   * first delivery's answer (what a duplicate gets back: it is not applied again).
   */
  readonly replays: readonly { status: number; sameAnswer: boolean }[];
  /** Captured deliveries replayed after the window (signed 16 min earlier / later), per instance. */
  readonly stale: readonly { status: number; code: string | undefined }[];
  readonly inboxRowsOfReplayed: number;
  /**
   * One new delivery (fresh webhook id, signed now) sent to every instance at the same moment:
   * the statuses, whether all answers are the same bytes, and the inbox rows of its id.
   */
  readonly simultaneous: { statuses: number[]; sameAnswers: boolean; inboxRows: number };
  /** The bookings of the run: sent, webhooks accepted at first try, applied once, lag to the answer. */
  readonly figures: FaultFigures;
}

/**
 * Webhook windows with skewed instance clocks: instance i runs `offsetsMs[i]` off real time;
 * the platform's clock is right, then `platformSkewSeconds` off. Genuine deliveries sent to each
 * instance directly must be accepted; an exact replay of one must be answered as a duplicate by
 * every instance (the replay store is the inbox's unique key, shared through the database); a
 * captured delivery replayed outside the window must be refused by every instance.
 */
export async function runSkewedWebhooks(
  w: SyncClusterWorld,
  options: { readonly offsetsMs: readonly number[]; readonly platformSkewSeconds: readonly number[] },
): Promise<SkewFigures> {
  const run = ++runs;
  const agentId = `agent-horloge-${run}-${Date.now().toString(36)}`;
  const practitioner = w.sim.state.list('practitioner')[0];
  const patient = w.sim.state.list('patient').find((p) => p.identity.family === 'ESSAI');
  if (!practitioner || !patient) throw new Error('the seed practitioner and patient are missing');
  for (const [i, offset] of options.offsetsMs.entries()) await w.skew(i, offset);
  const base = dayAhead(800 + run * 7) + 7 * 3_600_000;
  // Webhooks still queued (changes passerelle itself made) go where they were going.
  await w.sim.webhooksIdle();
  const before = await appointmentsOf(w.pgUrl, w.secretariatLinkId);
  const lags: number[] = [];
  let n = 0;
  const instances: { offsetMs: number; genuine: number; accepted: number }[] = [];
  try {
    for (const [i, offsetMs] of options.offsetsMs.entries()) {
      w.relay.target = w.hookUrl(i);
      const from = w.relay.deliveries.length;
      const ids = new Set<string>();
      for (const skewSeconds of options.platformSkewSeconds) {
        w.sim.setFaults({ webhookTimestampSkewSeconds: skewSeconds });
        const start = new Date(base + n++ * STEP);
        const t0 = Date.now();
        const a = await w.sim.agent(agentId).book({
          practitionerId: practitioner.id,
          patientId: patient.id,
          start: start.toISOString(),
          end: new Date(start.getTime() + STEP).toISOString(),
          appointmentTypeId: 'CONS',
        });
        for (const c of w.sim.state.changes())
          if (c.type === 'appointment' && c.id === a.id && c.version === a.version) ids.add(`evt_${c.seq}`);
        await w.sim.webhooksIdle();
        lags.push(Date.now() - t0);
      }
      const got = w.relay.deliveries.slice(from).filter((d) => ids.has(d.webhookId));
      // First attempts only: a refused one would have been retried with a fresh timestamp.
      const first = new Map<string, number>();
      for (const d of got) if (!first.has(d.webhookId)) first.set(d.webhookId, d.status);
      instances.push({
        offsetMs,
        genuine: first.size,
        accepted: [...first.values()].filter((s) => s === 200).length,
      });
    }
  } finally {
    w.sim.setFaults({ webhookTimestampSkewSeconds: 0 });
    w.relay.target = w.hookUrl();
  }
  // A delivery of the last booking (the platform's clock ahead), replayed as it was.
  const original = [...w.relay.deliveries].reverse().find((d) => d.status === 200) as RelayedWebhook;
  const replays: { status: number; sameAnswer: boolean }[] = [];
  for (const i of options.offsetsMs.keys()) {
    const res = await fetch(w.hookUrl(i), { method: 'POST', headers: original.headers, body: original.body });
    replays.push({ status: res.status, sameAnswer: (await res.text()) === original.answer });
  }
  const stale: { status: number; code: string | undefined }[] = [];
  const now = Math.floor(Date.now() / 1000);
  for (const i of options.offsetsMs.keys())
    for (const ts of [now - 16 * 60, now + 16 * 60]) {
      const res = await fetch(w.hookUrl(i), {
        method: 'POST',
        headers: {
          ...original.headers,
          'webhook-timestamp': String(ts),
          'webhook-signature': signWebhook([w.webhookSecret], original.webhookId, ts, original.body),
        },
        body: original.body,
      });
      stale.push({ status: res.status, code: ((await res.json()) as { code?: string }).code });
    }
  const [rows] = await query<{ n: string }>(
    w.pgUrl,
    'SELECT count(*) AS n FROM inbox WHERE link_id = $1 AND dedupe_key = $2',
    [w.secretariatLinkId, `webhook:${original.webhookId}`],
  );
  // The same delivery at every instance at once: the inbox's unique key lets one store it.
  const raceId = `evt_race_${run}_${Date.now().toString(36)}`;
  const raceTs = Math.floor(Date.now() / 1000);
  const raced = await Promise.all(
    [...options.offsetsMs.keys()].map(async (i) => {
      const res = await fetch(w.hookUrl(i), {
        method: 'POST',
        headers: {
          ...original.headers,
          'webhook-id': raceId,
          'webhook-timestamp': String(raceTs),
          'webhook-signature': signWebhook([w.webhookSecret], raceId, raceTs, original.body),
        },
        body: original.body,
      });
      return { status: res.status, answer: await res.text() };
    }),
  );
  const [raceRows] = await query<{ n: string }>(
    w.pgUrl,
    'SELECT count(*) AS n FROM inbox WHERE link_id = $1 AND dedupe_key = $2',
    [w.secretariatLinkId, `webhook:${raceId}`],
  );
  const after = await until(
    'every booking of the run in the store',
    async () => {
      const a = await appointmentsOf(w.pgUrl, w.secretariatLinkId);
      return a.distinct - before.distinct >= n && a;
    },
    60_000,
  ).catch(() => appointmentsOf(w.pgUrl, w.secretariatLinkId));
  for (const i of options.offsetsMs.keys()) await w.skew(i, 0);
  const applied = after.distinct - before.distinct;
  const inboxRowsOfReplayed = Number(rows?.n);
  return {
    instances,
    replays,
    stale,
    inboxRowsOfReplayed,
    simultaneous: {
      statuses: raced.map((r) => r.status),
      sameAnswers: raced.every((r) => r.answer === raced[0]?.answer),
      inboxRows: Number(raceRows?.n),
    },
    figures: {
      sent: n,
      acked: instances.reduce((sum, i) => sum + i.accepted, 0),
      applied,
      deadLettered: 0,
      lost: Math.max(0, n - applied),
      duplicated: after.rows - before.rows - applied + Math.max(0, inboxRowsOfReplayed - 1),
      maxLagMs: Math.max(0, ...lags),
    },
  };
}
