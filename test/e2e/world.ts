/**
 * The e2e "world": passerelle as a real child process (`node bin/passerelle.js serve`, temp dir,
 * temp SQLite file) between the peers it syncs, every one reached over real sockets on 127.0.0.1.
 * Tests talk to passerelle only through its public interfaces (admin API, webhooks, MLLP, iCal
 * URLs); the peers run in the test process (they are not passerelle) and are read and driven
 * through their own APIs.
 *
 *   secretariat simulator A ──webhooks/API──┐                 ┌── fault proxy ── FHIR peer      (practice "fhir")
 *                                          passerelle (child) ─┤
 *   secretariat simulator B ──webhooks/API──┘                 └── TCP relay ── HL7 simulator   (practice "hl7")
 *
 * One secretariat simulator per practice: a simulator sends its webhooks to one URL, and a
 * secretariat link takes them on its own `/hooks/secretariat/<link id>`.
 *
 * API (stable — other scenario files build on it):
 *
 *   const w = await startWorld();             // everything up, both practices synced once (~15 s: give beforeAll 120 s)
 *   w.url, w.adminKey, w.integratorKey        // passerelle's base URL (fixed port for the world's life) and API keys
 *   w.api(path, { method, json, key })        // fetch on passerelle with a Bearer key (admin by default; key: null for none)
 *   w.json<T>(path, init?, status = 200)      // same, expects `status`, parses the body
 *   w.logs()                                  // passerelle's JSON log lines (every run so far)
 *   w.until(what, check, ms = 30_000)         // polls `check` every 50 ms until it gives a value (not undefined/false)
 *   w.settled(practice)                       // both links' outboxes empty and the simulator's webhooks delivered
 *   w.activity(practiceId)                    // GET /api/v1/reports/activity over [yesterday, +3 days) UTC
 *   w.linkStatus(linkId)                      // GET /api/v1/links/:id/status
 *   w.cli(args)                               // `passerelle <args>` on the world's store and config (e.g. ical token create)
 *   w.kill9()                                 // SIGKILL passerelle, wait for its exit
 *   w.start()                                 // start it again on the same store and ports (links resume)
 *   w.restart()                               // kill9() then start()
 *   w.dispose()                               // stops passerelle (SIGTERM, then SIGKILL), the peers, removes temp files
 *   w.day0                                    // a Monday ≥ tomorrow (UTC): the FHIR demo agenda starts on it
 *
 *   w.fhir: FhirPractice
 *     id, practiceLinkId, secretariatLinkId, secretariat (SecretariatSimulator), peer (FhirPeer), proxy (FaultProxy)
 *     fhir<T>(method, path, body?, headers?)  // HTTP straight to the FHIR peer (the practice's own users), not via the proxy
 *     notify()                                // a Subscription rest-hook notification to passerelle: it polls the FHIR link now
 *     cut() / restore()                       // every request through the proxy reset / forwarded again
 *   Seed: demoPractice(day0) without its two appointments — 2 practitioners (prat-medecin-1/2,
 *   Alice GENERALISTE, Bruno PEDIATRE), 2 agendas, 90 slots (slot-<agenda>-<day>-<k>, 09:00 UTC +
 *   20 min·k, k = 0 urgent-only, day 1 k ≥ 6 blocked), 10 patients (pat-000001…). Its secretariat holds
 *   all of them once started. Polls: on notify(), and every 5 s. Its secretariat link publishes the
 *   appointment types of FHIR_APPOINTMENT_TYPES (the shipped FHIR profile's catalogue: CONS, CONS-SUIVI,
 *   CONS-LONG, ECHO; the profile maps them to the software's CONSULT, SUIVI, LONGUE, ECHO).
 *
 *   w.hl7: Hl7Practice
 *     id, practiceLinkId, secretariatLinkId, secretariat, software (Hl7Simulator: received[] in order), relay (TcpRelay)
 *     mllpPort                                // passerelle's MLLP listener for this link
 *     send(raw)                               // the practice software sends one message to passerelle; resolves with the ACK code
 *     received(from = 0)                      // messages the practice software received, parsed (Hl7Message)
 *     cut() / restore()                       // passerelle → practice software connections refused / allowed again
 *                                             // (relay.counts.refused / .forwarded: connections seen by the relay)
 *   Seed (sent by the practice software, IHE PAM FR profile): ADT^A28 of Lucie ESSAI (IPP000303, identity
 *   PROV, no INS) and SIU^S23 of Dr Alice DOCTEUR-FICTIF (RPPS 19999900012, agenda AGENDA-ALICE, a blocked slot
 *   in March 2025). The secretariat link publishes the appointment types in HL7_APPOINTMENT_TYPES.
 *
 * The secretariat simulators' links poll every 5 s besides the webhooks. Dispatcher and link
 * refresh run with the product defaults (backoff from 1 s, doubling, full jitter): after a cut is
 * restored, delivery resumes at the next retry, which can be several seconds away.
 * No activity exists in either practice when startWorld resolves (the seeds book nothing).
 */
import net from 'node:net';
import { join } from 'node:path';

import type { Resource, Slot as FhirSlot } from '@medplum/fhirtypes';

import {
  demoPractice,
  type FaultProxy,
  type FhirPeer,
  startFaultProxy,
  startFhirPeer,
} from '../../connectors/fhir/peer/index.js';
import { Hl7Simulator, withControlId, withField } from '../../connectors/hl7v2/simulator/index.js';
import {
  type SecretariatSimulator,
  startSecretariatSimulator,
} from '../../connectors/secretariat/simulator/index.js';
import { type Hl7Message, parseHl7 } from '../../src/hl7/index.js';
import { generateWebhookSecret } from '../../src/security/webhook-signature.js';
import { freePort } from '../../src/util/free-port.js';
import { type CliResult, runCli, type ServingProcess, startServe } from '../helpers/cli.js';
import { fhirRequest } from '../helpers/fhir-world.js';
import { hl7Fixture } from '../helpers/hl7.js';
import { tempDir } from '../helpers/stores.js';
import { untilWith } from '../helpers/until.js';

export const FHIR_SUBSCRIPTION_SECRET = 'abonnement-secret-e2e-0123456789';
export const HL7_APPOINTMENT_TYPES = [
  { id: 'CONS-SUIVI', label: 'Consultation de suivi', durationMinutes: 20 },
  { id: 'CONS-LONG', label: 'Consultation longue et bilan', durationMinutes: 40 },
  { id: 'CONS', label: 'Consultation', durationMinutes: 15 },
  { id: 'ECHO', label: 'Échographie abdominale', durationMinutes: 30 },
] as const;
/** The shipped FHIR profile's catalogue (mappings/fhir-r4-fr-core.yaml, appointmentTypes), as the secretariat link publishes it. */
export const FHIR_APPOINTMENT_TYPES = [
  { id: 'CONS', label: 'Consultation', durationMinutes: 20 },
  { id: 'CONS-SUIVI', label: 'Consultation de suivi', durationMinutes: 20 },
  { id: 'CONS-LONG', label: 'Consultation longue', durationMinutes: 40 },
  { id: 'ECHO', label: 'Échographie', durationMinutes: 30 },
] as const;
/** Poll schedules of the world's links (node-cron, with seconds). */
const POLL_EVERY_5S = '*/5 * * * * *';

export interface LogLine {
  readonly level: string;
  readonly message: string;
  readonly [key: string]: unknown;
}

export type ApiInit = RequestInit & { key?: string | null; json?: unknown };

/** The scenarios' waits: the shared helper with their longer default and pace. */
export const until = untilWith({ ms: 30_000, everyMs: 50 });

/** A TCP relay to a target that a test can cut (connections reset, new ones refused) and restore. */
export class TcpRelay {
  private readonly sockets = new Set<net.Socket>();
  private isCut = false;
  /** Connections accepted and forwarded / reset because the relay was cut. */
  readonly counts = { forwarded: 0, refused: 0 };

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
  ) {}

  static async start(target: { host: string; port: number }): Promise<TcpRelay> {
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const relay = new TcpRelay(server, (server.address() as net.AddressInfo).port);
    server.on('connection', (client) => relay.accept(client, target));
    return relay;
  }

  get cut(): boolean {
    return this.isCut;
  }

  private accept(client: net.Socket, target: { host: string; port: number }): void {
    client.on('error', () => undefined);
    if (this.isCut) {
      this.counts.refused++;
      client.resetAndDestroy();
      return;
    }
    this.counts.forwarded++;
    const upstream = net.connect(target.port, target.host);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    }
    client.pipe(upstream);
    upstream.pipe(client);
  }

  /** Resets every open connection and refuses new ones until restore(). */
  cutOff(): void {
    this.isCut = true;
    for (const s of this.sockets) s.resetAndDestroy();
  }

  restore(): void {
    this.isCut = false;
  }

  async close(): Promise<void> {
    this.cutOff();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

interface PracticeBase {
  readonly id: string;
  readonly practiceLinkId: string;
  readonly secretariatLinkId: string;
  readonly secretariat: SecretariatSimulator;
  cut(): void;
  restore(): void;
}

export interface FhirPractice extends PracticeBase {
  readonly peer: FhirPeer;
  readonly proxy: FaultProxy;
  fhir<T = Resource>(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: T; etag: string | null }>;
  /** A Subscription rest-hook notification: passerelle polls the FHIR link now. */
  notify(): Promise<void>;
}

export interface Hl7Practice extends PracticeBase {
  readonly software: Hl7Simulator;
  readonly relay: TcpRelay;
  readonly mllpPort: number;
  /** The practice software sends `raw` (fresh control id unless `keepControlId`); resolves with MSA-1. */
  send(raw: Buffer, options?: { keepControlId?: boolean }): Promise<string | undefined>;
  received(from?: number): Hl7Message[];
}

export interface World {
  readonly url: string;
  readonly adminKey: string;
  readonly integratorKey: string;
  readonly dir: string;
  readonly day0: Date;
  readonly fhir: FhirPractice;
  readonly hl7: Hl7Practice;
  api(path: string, init?: ApiInit): Promise<Response>;
  json<T>(path: string, init?: ApiInit, status?: number): Promise<T>;
  logs(): LogLine[];
  until: typeof until;
  settled(practice: PracticeBase): Promise<void>;
  activity(practiceId: string): Promise<ActivityReport>;
  linkStatus(linkId: string): Promise<LinkStatus>;
  cli(args: string[]): Promise<CliResult>;
  kill9(): Promise<void>;
  start(): Promise<void>;
  restart(): Promise<void>;
  dispose(): Promise<void>;
}

/** The parts of GET /api/v1/reports/activity the scenarios read (docs/reports.md). */
export interface ActivityCounts {
  readonly booked: number;
  readonly moved: number;
  readonly cancelled: number;
  readonly noshow: number;
  readonly arrived: number;
  readonly refused: number;
}
export interface MessageCounts {
  readonly received: number;
  readonly delivered: number;
  readonly latencyMs: { readonly count: number };
}
export interface ActivityReport {
  readonly appointments: {
    readonly total: ActivityCounts;
    readonly byOrigin: Readonly<Record<'secretariat' | 'practice', ActivityCounts>>;
    readonly byPractitioner: readonly { practitionerId: string | null; total: ActivityCounts }[];
  };
  readonly messages: {
    readonly all: MessageCounts;
    readonly urgencies: MessageCounts;
    readonly byPriority: Readonly<Record<'routine' | 'urgent' | 'asap' | 'stat', MessageCounts>>;
  };
  readonly conflicts: Readonly<Record<string, number>>;
  readonly deadLetters: {
    readonly total: number;
    readonly openNow: number;
    readonly byReason: readonly { reasonCode: string; source: string; count: number }[];
  };
}
export interface LinkStatus {
  readonly state: string;
  readonly errors: readonly unknown[];
  readonly outbox: Readonly<Record<string, number>>;
  readonly deadLetters: number;
}

/** The first Monday (UTC) after today: the demo agenda's first day, inside the iCal window. */
function nextMonday(now = new Date()): Date {
  const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1));
  while (d.getUTCDay() !== 1) d.setUTCDate(d.getUTCDate() + 1);
  return d;
}

/** The demo practice with no appointment booked (its slots free again): the world starts with no activity. */
function demoAgenda(day0: Date): Resource[] {
  return demoPractice(day0)
    .filter((r) => r.resourceType !== 'Appointment')
    .map((r) =>
      r.resourceType === 'Slot' && r.status === 'busy' ? ({ ...r, status: 'free' } satisfies FhirSlot) : r,
    );
}

export async function startWorld(options: { timeoutMs?: number } = {}): Promise<World> {
  const startTimeout = options.timeoutMs ?? 60_000;
  const dir = tempDir('passerelle-e2e-');
  const day0 = nextMonday();
  const cleanups: (() => Promise<void> | void)[] = [() => dir.remove()];
  const runs: ServingProcess[] = [];
  let current: ServingProcess | undefined;
  const dispose = async () => {
    if (current && current.child.exitCode === null && current.child.signalCode === null) {
      current.child.kill('SIGTERM');
      const timer = setTimeout(() => current?.child.kill('SIGKILL'), 10_000);
      await current.exited;
      clearTimeout(timer);
    }
    for (const c of cleanups.reverse()) await c();
  };
  try {
    const [httpPort, mllpPort] = [await freePort(), await freePort()];
    const env = {
      PASSERELLE_HTTP_PORT: String(httpPort),
      PASSERELLE_STORE_SQLITE_PATH: join(dir.path, 'data', 'passerelle.db'),
      PASSERELLE_LOG_LEVEL: 'info',
    };
    const launch = async () => {
      current = await startServe({ cwd: dir.path, env, timeoutMs: startTimeout });
      runs.push(current);
      return current;
    };
    const first = await launch();
    const url = first.url;
    const adminKey = first.adminKey;
    if (!adminKey) throw new Error('passerelle printed no admin key on a new store');

    const api = (path: string, init: ApiInit = {}) => {
      const { key, json, ...rest } = init;
      const headers = new Headers(rest.headers);
      if (key !== null) headers.set('authorization', `Bearer ${key ?? adminKey}`);
      if (json !== undefined) headers.set('content-type', 'application/json');
      return fetch(`${url}${path}`, {
        ...rest,
        headers,
        ...(json !== undefined && { body: JSON.stringify(json) }),
      });
    };
    const json = async <T>(path: string, init: ApiInit = {}, status = 200): Promise<T> => {
      const res = await api(path, init);
      const body = await res.text();
      if (res.status !== status)
        throw new Error(
          `${init.method ?? 'GET'} ${path}: expected HTTP ${status}, got ${res.status}: ${body}`,
        );
      return (body ? JSON.parse(body) : undefined) as T;
    };
    // An integrator key through the CLI, as an operator would (passerelle holds the store, SQLite WAL allows it).
    const keyRun = await runCli(['apikey', 'create', '--role', 'integrator', '--label', 'e2e'], {
      cwd: dir.path,
      env,
      timeoutMs: startTimeout,
    });
    if (keyRun.code !== 0) throw new Error(`apikey create failed: ${keyRun.stderr}`);
    const integratorKey = keyRun.stdout.trim();
    const link = async (body: Record<string, unknown>) =>
      (
        await json<{ id: string }>(
          '/api/v1/links',
          { method: 'POST', key: integratorKey, json: { isTest: true, ...body } },
          201,
        )
      ).id;
    const practice = async (name: string) =>
      (
        await json<{ id: string }>(
          '/api/v1/practices',
          { method: 'POST', json: { name, timezone: 'Europe/Paris' } },
          201,
        )
      ).id;
    const secretariatLink = async (
      practiceId: string,
      sim: SecretariatSimulator,
      extra: Record<string, unknown> = {},
    ) => {
      const webhookSecret = generateWebhookSecret();
      const id = await link({
        practiceId,
        role: 'secretariat',
        connector: 'secretariat',
        name: 'Télésecrétariat',
        schedule: POLL_EVERY_5S,
        config: {
          baseUrl: sim.url,
          platformPracticeId: sim.practiceId,
          timeoutMs: 3000,
          retry: { maxAttempts: 2, baseDelayMs: 50, maxDelayMs: 500, maxRetryAfterSeconds: 5 },
          ...extra,
        },
        secrets: { apiToken: sim.apiToken, webhookSecret },
      });
      sim.setWebhook({
        url: `${url}/hooks/secretariat/${id}`,
        secrets: [webhookSecret],
        retryDelaysMs: [100, 500, 2000, 5000],
      });
      return id;
    };
    const linkStatus = (linkId: string) => json<LinkStatus>(`/api/v1/links/${linkId}/status`);
    const running = (linkId: string) =>
      until(`link ${linkId} running`, async () => {
        const s = await linkStatus(linkId);
        if (s.state === 'failed') throw new Error(`link ${linkId} failed: ${JSON.stringify(s.errors)}`);
        return s.state === 'running';
      });

    // Practice 1: FHIR practice software behind the fault proxy.
    const peer = await startFhirPeer();
    cleanups.push(() => peer.close());
    await peer.seed(demoAgenda(day0));
    const proxy = await startFaultProxy({ target: peer.url });
    cleanups.push(() => proxy.close());
    const fhirSec = await startSecretariatSimulator({
      port: 0,
      host: '127.0.0.1',
      seed: 'empty',
      stateFile: join(dir.path, 'secretariat-fhir.json'),
    });
    cleanups.push(() => fhirSec.close());
    const fhirId = await practice('Maison de santé des Essais (FHIR)');
    const fhirSecLink = await secretariatLink(fhirId, fhirSec, { appointmentTypes: FHIR_APPOINTMENT_TYPES });
    const fhirLink = await link({
      practiceId: fhirId,
      role: 'practice',
      connector: 'fhir',
      name: 'Logiciel du cabinet (FHIR)',
      schedule: POLL_EVERY_5S,
      config: {
        baseUrl: proxy.url,
        timeoutMs: 3000,
        retry: { max: 2, baseDelayMs: 50, maxDelayMs: 1000 },
        pageSize: 50,
      },
      secrets: { subscriptionSecret: FHIR_SUBSCRIPTION_SECRET },
    });
    const fhirPractice: FhirPractice = {
      id: fhirId,
      practiceLinkId: fhirLink,
      secretariatLinkId: fhirSecLink,
      secretariat: fhirSec,
      peer,
      proxy,
      cut: () => proxy.setShare({ rate: 1, faults: [{ kind: 'reset' }] }),
      restore: () => proxy.setShare(undefined),
      fhir: (method, path, body, headers) => fhirRequest(peer.url, method, path, body, headers),
      async notify() {
        const res = await fetch(`${url}/hooks/fhir/${fhirLink}`, {
          method: 'POST',
          headers: {
            'content-type': 'application/fhir+json',
            'x-passerelle-secret': FHIR_SUBSCRIPTION_SECRET,
          },
          body: JSON.stringify({ resourceType: 'Bundle', type: 'history', entry: [] }),
        });
        await res.arrayBuffer();
        if (!res.ok) throw new Error(`FHIR notification refused: ${res.status}`);
      },
    };

    // Practice 2: HL7 v2 practice software over MLLP, behind a relay that can be cut.
    const software = await Hl7Simulator.start({ port: 0, host: '127.0.0.1' });
    cleanups.push(() => software.close());
    const relay = await TcpRelay.start({ host: '127.0.0.1', port: software.port });
    cleanups.push(() => relay.close());
    const hl7Sec = await startSecretariatSimulator({
      port: 0,
      host: '127.0.0.1',
      seed: 'empty',
      stateFile: join(dir.path, 'secretariat-hl7.json'),
    });
    cleanups.push(() => hl7Sec.close());
    const hl7Id = await practice('Cabinet des Essais (HL7)');
    const hl7SecLink = await secretariatLink(hl7Id, hl7Sec, { appointmentTypes: HL7_APPOINTMENT_TYPES });
    const hl7Link = await link({
      practiceId: hl7Id,
      role: 'practice',
      connector: 'hl7v2',
      name: 'Logiciel du cabinet (HL7)',
      config: {
        mllp: {
          listen: { host: '127.0.0.1', port: mllpPort },
          send: { host: '127.0.0.1', port: relay.port, ackTimeoutMs: 5000, connectTimeoutMs: 2000 },
        },
      },
    });
    let controlSeq = 0;
    const hl7Practice: Hl7Practice = {
      id: hl7Id,
      practiceLinkId: hl7Link,
      secretariatLinkId: hl7SecLink,
      secretariat: hl7Sec,
      software,
      relay,
      mllpPort,
      cut: () => relay.cutOff(),
      restore: () => relay.restore(),
      async send(raw, opts = {}) {
        // Original acknowledgment mode (MSH-15/16 empty): the ACK tells the application outcome.
        let message = withField(withField(raw, 'MSH', 15, ''), 'MSH', 16, '');
        if (!opts.keepControlId)
          message = withControlId(message, `E2E${Date.now().toString(36)}${++controlSeq}`);
        const [sent] = await software.send({ host: '127.0.0.1', port: mllpPort }, [message]);
        return sent?.ack?.get('MSA-1');
      },
      received: (from = 0) => software.received.slice(from).map((m) => parseHl7(m.raw)),
    };

    const settled = async (p: PracticeBase) => {
      const drained = async () => {
        const [a, b] = [await linkStatus(p.practiceLinkId), await linkStatus(p.secretariatLinkId)];
        return (
          (a.outbox['pending'] ?? 0) +
            (a.outbox['leased'] ?? 0) +
            (b.outbox['pending'] ?? 0) +
            (b.outbox['leased'] ?? 0) ===
          0
        );
      };
      for (let round = 0; round < 3; round++) {
        await until('the outboxes to drain', drained, 60_000);
        await p.secretariat.webhooksIdle();
      }
      await until('the outboxes to drain', drained, 60_000);
    };

    for (const l of [fhirSecLink, fhirLink, hl7SecLink, hl7Link]) await running(l);

    // First sync: the FHIR agenda reaches its secretariat; the HL7 practice software introduces its patient and practitioner.
    await fhirPractice.notify();
    await until(
      'the FHIR agenda on the secretariat',
      () =>
        fhirSec.state.list('slot').length === 90 &&
        fhirSec.state.list('practitioner').length === 2 &&
        fhirSec.state.list('patient').length === 10,
      60_000,
    );
    for (const fixture of ['adt-a28-create', 'siu-s23-blocked-slot']) {
      const code = await until(
        `${fixture} accepted`,
        async () => (await hl7Practice.send(hl7Fixture(fixture)).catch(() => undefined)) ?? false,
        30_000,
      );
      if (code !== 'AA') throw new Error(`the HL7 seed ${fixture} was answered ${code}`);
    }
    await until(
      'the HL7 practitioner and patient on the secretariat',
      () => hl7Sec.state.list('practitioner').length === 1 && hl7Sec.state.list('patient').length === 1,
      60_000,
    );
    await settled(fhirPractice);
    await settled(hl7Practice);

    const activity = (practiceId: string) => {
      const day = 86_400_000;
      const today = Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate());
      const q = new URLSearchParams({
        practice: practiceId,
        from: new Date(today - day).toISOString(),
        to: new Date(today + 3 * day).toISOString(),
      });
      return json<ActivityReport>(`/api/v1/reports/activity?${q.toString()}`);
    };
    const kill9 = async () => {
      const c = current;
      if (!c || c.child.exitCode !== null || c.child.signalCode !== null) return;
      c.child.kill('SIGKILL');
      await c.exited;
    };
    const start = async () => {
      if (current && current.child.exitCode === null && current.child.signalCode === null)
        throw new Error('passerelle is still running');
      await launch();
      for (const l of [fhirSecLink, fhirLink, hl7SecLink, hl7Link]) await running(l);
    };
    return {
      url,
      adminKey,
      integratorKey,
      dir: dir.path,
      day0,
      fhir: fhirPractice,
      hl7: hl7Practice,
      api,
      json,
      logs: () =>
        runs
          .flatMap((r) => r.output().split('\n'))
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as LogLine),
      until,
      settled,
      activity,
      linkStatus,
      cli: (args) => runCli(args, { cwd: dir.path, env, timeoutMs: startTimeout }),
      kill9,
      start,
      async restart() {
        await kill9();
        await start();
      },
      dispose,
    };
  } catch (e) {
    await dispose().catch(() => undefined);
    throw e;
  }
}
