/**
 * The push side of the cluster fault suite (issue 23; test/cluster/push-faults.int.test.ts and
 * `npm run soak -- --faults push-kill,peer`): the practice's bookings, ingested through HAProxy,
 * become outbox rows that the instances push to the secretariat simulator — a real HTTP peer on
 * 127.0.0.1, in the test's own process so that what it received can be counted on its side.
 *
 * Counting on the peer: each booking's note (NTE-3, which passerelle carries to the platform's
 * appointment `note`) names it, so the platform's own appointments say which bookings arrived
 * (else: lost) and which arrived more than once (duplicated) — whatever passerelle's database
 * says. Idempotent replays (a write sent again with its key and answered from the platform's
 * idempotency store) are counted apart: they are repeats, not duplicates.
 */
import pg from 'pg';

import type { Appointment } from '../../connectors/secretariat/contract.js';
import {
  type ScriptedFault,
  type SecretariatSimulator,
  startSecretariatSimulator,
} from '../../connectors/secretariat/simulator/index.js';
import { seededRandom } from '../../connectors/secretariat/simulator/prng.js';
import { booking } from './cluster-world.js';
import { withField } from './hl7.js';

/** The appointment types the HL7 fixtures book (as test/e2e/world.ts publishes them). */
export const CLUSTER_APPOINTMENT_TYPES = [
  { id: 'CONS-SUIVI', label: 'Consultation de suivi', durationMinutes: 20 },
  { id: 'CONS', label: 'Consultation', durationMinutes: 15 },
] as const;

/** The secretariat platform, empty, on a free port of 127.0.0.1; no webhooks (the test adds none). */
export function startPushPeer(stateFile?: string): Promise<SecretariatSimulator> {
  return startSecretariatSimulator({
    port: 0,
    host: '127.0.0.1',
    seed: 'empty',
    ...(stateFile !== undefined && { stateFile }),
  });
}

/**
 * The practice's secretariat link, created through the admin API. No poll schedule and no
 * webhook: passerelle learns of the platform's own changes only from the answers to its pushes
 * (a 412 carries the current record), which is what the 412 runs need.
 */
export async function createSecretariatLink(
  url: string,
  key: string,
  practiceId: string,
  sim: SecretariatSimulator,
  timeoutMs: number,
): Promise<string> {
  const res = await fetch(`${url}/api/v1/links`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      practiceId,
      role: 'secretariat',
      connector: 'secretariat',
      name: 'Télésecrétariat',
      isTest: true,
      config: {
        baseUrl: sim.url,
        platformPracticeId: sim.practiceId,
        timeoutMs,
        // One HTTP attempt per push: the outbox's own retries (backoff, Retry-After, the same
        // idempotency key) are what the fault runs exercise, on whichever instance leases the row.
        retry: { maxAttempts: 1 },
        appointmentTypes: CLUSTER_APPOINTMENT_TYPES,
      },
      secrets: { apiToken: sim.apiToken },
    }),
  });
  if (res.status !== 201)
    throw new Error(`POST /api/v1/links (secretariat): ${res.status} ${await res.text()}`);
  return ((await res.json()) as { id: string }).id;
}

export interface PeerFaultShares {
  /** Share of requests answered 429 with Retry-After: 1. */
  readonly rate429: number;
  readonly error500: number;
  /** Share held longer than the client's timeout, then applied (the answer goes nowhere). */
  readonly hang: number;
  readonly hangMs: number;
}

/**
 * The simulator's answers to its next `count` API requests, drawn from a seeded PRNG: the same
 * mix on every run. A hang is applied after `hangMs`, when the client has given up.
 */
export function peerFaultScript(count: number, shares: PeerFaultShares, seed = 23): ScriptedFault[] {
  const random = seededRandom(seed);
  const out: ScriptedFault[] = [];
  for (let i = 0; i < count; i++) {
    const r = random();
    if (r < shares.rate429) out.push({ status: 429, retryAfter: '1' });
    else if (r < shares.rate429 + shares.error500) out.push({ status: 500 });
    else if (r < shares.rate429 + shares.error500 + shares.hang) out.push({ latencyMs: shares.hangMs });
    else out.push({ latencyMs: 0 });
  }
  return out;
}

/** The pids of the instances holding outbox leases of `linkId`, with how many rows each. */
export async function outboxLeaseHolders(pgUrl: string, linkId: string): Promise<Map<number, number>> {
  const c = new pg.Client({ connectionString: pgUrl });
  await c.connect();
  try {
    const r = await c.query<{ owner: string; n: string }>(
      `SELECT lease_owner AS owner, count(*) AS n FROM outbox
       WHERE link_id = $1 AND status = 'leased' GROUP BY lease_owner`,
      [linkId],
    );
    // Owner: host:pid:nonce (src/sync/dispatcher.ts).
    return new Map(r.rows.map((row) => [Number(row.owner.split(':')[1]), Number(row.n)]));
  } finally {
    await c.end();
  }
}

export interface OutboxDepth {
  readonly pending: number;
  readonly leased: number;
  readonly done: number;
  readonly dead: number;
}

export async function outboxDepth(pgUrl: string, linkId: string): Promise<OutboxDepth> {
  const c = new pg.Client({ connectionString: pgUrl });
  await c.connect();
  try {
    const r = await c.query<{ status: keyof OutboxDepth; n: string }>(
      'SELECT status, count(*) AS n FROM outbox WHERE link_id = $1 GROUP BY status',
      [linkId],
    );
    const out = { pending: 0, leased: 0, done: 0, dead: 0 };
    for (const row of r.rows) out[row.status] = Number(row.n);
    return out;
  } finally {
    await c.end();
  }
}

/** SIU^S12 booking `B<id>` whose note (NTE-3, the platform's `note`) names the booking. */
export function pushBooking(id: string): Buffer {
  return withField(booking(id), 'NTE', 3, noteOf(id));
}

export const noteOf = (id: string): string => `Rendez-vous ${id}`;
const NOTE = /^Rendez-vous (\S+)$/;

/** The booking an appointment of the platform stands for, read from its note. */
export const bookingOf = (a: Appointment): string | undefined => NOTE.exec(a.note ?? '')?.[1];

/** Per booking id: the platform's appointments carrying it. */
export function platformAppointments(sim: SecretariatSimulator): Map<string, Appointment[]> {
  const out = new Map<string, Appointment[]>();
  for (const a of sim.state.list('appointment')) {
    const id = bookingOf(a);
    if (id !== undefined) (out.get(id) ?? out.set(id, []).get(id))?.push(a);
  }
  return out;
}

export interface PushStats {
  /** Bookings of the run the platform holds. */
  readonly pushed: number;
  /** ACKed bookings the platform does not hold. */
  readonly lost: number;
  /** Appointments beyond the first the platform holds for one booking. */
  readonly duplicated: number;
  /** Writes the platform answered from its idempotency store (a push repeated after a kill, a hang). */
  readonly replays: number;
}

/** The platform's side of a run whose ACKed bookings are `ids`, counted by their notes. */
export function pushStats(sim: SecretariatSimulator, ids: readonly string[]): PushStats {
  const held = platformAppointments(sim);
  const pushed = ids.filter((id) => (held.get(id)?.length ?? 0) > 0).length;
  return {
    pushed,
    lost: ids.length - pushed,
    duplicated: [...held.values()].reduce((n, list) => n + list.length - 1, 0),
    replays: sim.state.idempotencyKeys().reduce((n, k) => n + k.replays, 0),
  };
}

/** One line per run, as the other fault runs print it. */
export function pushLine(
  what: string,
  s: {
    sent: number;
    acked: number;
    applied: number;
    pushed: number;
    lost: number;
    duplicated: number;
    maxLagMs: number;
  },
  extra = '',
): string {
  return `fault ${what}: sent ${s.sent}, ACKed ${s.acked}, applied ${s.applied}, pushed ${s.pushed}, lost ${s.lost}, duplicated ${s.duplicated}, max lag ${s.maxLagMs} ms${extra ? `, ${extra}` : ''}\n`;
}
