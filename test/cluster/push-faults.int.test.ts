/**
 * Issue 23, the fault suite's push side (short form): three `passerelle serve` processes on one
 * PostgreSQL database behind HAProxy; the practice's bookings arrive over MLLP through HAProxy
 * and each becomes an outbox row pushed to the secretariat simulator, a real HTTP peer on
 * 127.0.0.1 in this process (test/helpers/cluster-push.ts counts on its side). One cluster world
 * for the file (starting processes is the slow part):
 *
 * - kill -9 of the instance holding the outbox leases while it pushes (every request to the
 *   platform slowed so pushes are in flight): the survivors take its rows over once the lease
 *   (`sync.outboxLeaseMs`, 4 s here, on the database's clock) runs out and push them with the
 *   same idempotency keys;
 * - the platform answering a seeded share of requests 429 (Retry-After), 500, or not before the
 *   client's timeout (then applying the write anyway), under three senders at once;
 * - an agent changing appointments on the platform unknown to passerelle, then the practice
 *   moving them: each push meets a 412 and is merged again; only the ones both sides moved open
 *   a conflict.
 *
 * Each run prints sent / ACKed / applied / pushed / lost / duplicated / max lag and asserts 0 lost,
 * 0 duplicated. HAProxy is part of this machine (.ci/run installs it): without it the test fails.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';

import type { SecretariatSimulator } from '../../connectors/secretariat/simulator/index.js';
import {
  type Cluster,
  type ClusterInstance,
  freePort,
  freePortRange,
  haproxyBinary,
  startCluster,
} from '../../scripts/cluster.js';
import { waitReady } from '../../scripts/rolling-restart.js';
import {
  bookingOf,
  createSecretariatLink,
  outboxDepth,
  outboxLeaseHolders,
  peerFaultScript,
  platformAppointments,
  pushBooking,
  pushLine,
  pushStats,
  startPushPeer,
} from '../helpers/cluster-push.js';
import {
  createMllpLink,
  type Exchange,
  MllpSender,
  readyz,
  sendOnce,
  storedCounts,
} from '../helpers/cluster-world.js';
import { withControlId, withField } from '../helpers/hl7.js';
import { agentEditsAppointment } from '../helpers/secretariat-agent.js';
import { createPgDatabase, tempDir } from '../helpers/stores.js';
import { until } from '../helpers/until.js';

/** Client timeout of the secretariat link; a "hang" answers after HANG_MS. */
const CLIENT_TIMEOUT_MS = 1500;
const HANG_MS = 2500;

describe('three instances pushing to the secretariat platform: instance killed, peer failing', () => {
  const dir = tempDir('passerelle-cluster-push-');
  let db: { url: string; drop: () => Promise<void> };
  let cluster: Cluster;
  let key: string;
  let front: number;
  let practiceId: string;
  let linkId: string;
  let secLinkId: string;
  let sim: SecretariatSimulator;
  /** Every booking sent to the platform's practice so far (the warm-up included). */
  const known: string[] = [];
  const acked = new Map<string, Exchange>();
  const firstSent = new Map<string, number>();
  /** Booking id → when the platform created its appointment. */
  const createdAt = new Map<string, number>();

  /** At-least-once over one connection of the sender's own, as an MLLP sender does. */
  const sender = () => {
    let conn: MllpSender | undefined;
    /** Sends `message` (MSH-10 `C-<id>`) until it is ACKed CA. */
    const deliverRaw = async ({ id, message }: { id: string; message: Buffer }) => {
      const x = await until(
        `an ACK for ${id}`,
        async () => {
          if (!conn?.open) conn = await MllpSender.connect(front);
          try {
            const answer = await conn.send(message, 3000);
            if (answer.code === 'CA' && answer.acknowledges === `C-${id}`) return answer;
          } catch {
            // no answer: resend on a new connection
          }
          conn.close();
          return false;
        },
        60_000,
        { tolerateErrors: true, everyMs: 100 },
      );
      acked.set(id, x);
    };
    return {
      deliverRaw,
      async deliver(id: string) {
        known.push(id);
        firstSent.set(id, Date.now());
        await deliverRaw({ id, message: pushBooking(id) });
      },
      close: () => conn?.close(),
    };
  };

  /** `senders` connections sending `ids` between them, each message at least once. */
  const sendAll = async (ids: readonly string[], senders: number) => {
    const queue = [...ids];
    await Promise.all(
      Array.from({ length: senders }, async () => {
        const s = sender();
        try {
          for (let id = queue.shift(); id !== undefined; id = queue.shift()) await s.deliver(id);
        } finally {
          s.close();
        }
      }),
    );
  };

  /** Waits until every ACKed booking of `ids` is on the platform and the outbox is drained. */
  const settledRun = async (what: string, ids: readonly string[], extra: () => string = () => '') => {
    const settled = await until(
      'every ACKed booking pushed and the outbox drained',
      async () => {
        const [stats, depth] = await Promise.all([pushStats(sim, ids), outboxDepth(db.url, secLinkId)]);
        return stats.pushed === ids.length && depth.pending + depth.leased === 0 && { stats, depth };
      },
      90_000,
      { everyMs: 200 },
    ).catch(async (e: unknown) => {
      const [stats, depth] = await Promise.all([pushStats(sim, ids), outboxDepth(db.url, secLinkId)]);
      throw new Error(`${String(e)}: ${JSON.stringify({ stats, depth })}`);
    });
    const applied = await until('every ACKed booking applied', async () => {
      const c = await storedCounts(db.url, linkId);
      return c.appointments >= known.length && c;
    });
    const lags = ids.map((id) => (createdAt.get(id) ?? 0) - (firstSent.get(id) ?? 0));
    const line = {
      sent: ids.length,
      acked: ids.filter((id) => acked.has(id)).length,
      applied: applied.distinctAppointments - (known.length - ids.length),
      pushed: settled.stats.pushed,
      lost: settled.stats.lost + ids.filter((id) => !acked.has(id)).length,
      duplicated:
        settled.stats.duplicated +
        (applied.inbox - applied.distinctKeys) +
        (applied.appointments - applied.distinctAppointments),
      maxLagMs: Math.max(...lags),
    };
    process.stdout.write(
      pushLine(what, line, `${settled.stats.replays} idempotent replay(s) in all${extra()}`),
    );
    expect(line).toMatchObject({
      sent: ids.length,
      acked: ids.length,
      applied: ids.length,
      pushed: ids.length,
      lost: 0,
      duplicated: 0,
    });
    expect(settled.depth.dead).toBe(0);
  };

  beforeAll(async () => {
    haproxyBinary();
    db = await createPgDatabase();
    sim = await startPushPeer();
    sim.events.on('change', (c) => {
      if (c.type !== 'appointment') return;
      const a = sim.state.get('appointment', c.id);
      const id = a && bookingOf(a);
      if (id !== undefined && !createdAt.has(id)) createdAt.set(id, Date.now());
    });
    const linkPort = await freePortRange(3);
    front = await freePort();
    cluster = await startCluster({
      instances: 3,
      pgUrl: db.url,
      dir: dir.path,
      mllp: [{ linkPort, frontPort: front }],
      httpFrontPort: await freePort(),
      linkRestartCapMs: 1000,
      env: {
        // A killed instance's rows come back after 4 s (on the database's clock).
        PASSERELLE_SYNC_OUTBOX_LEASE_MS: '4000',
        PASSERELLE_SYNC_PUSH_TIMEOUT_MS: '3000',
        PASSERELLE_SYNC_RETRY_BASE_MS: '200',
        PASSERELLE_SYNC_RETRY_CAP_MS: '2000',
        PASSERELLE_SYNC_MAX_ATTEMPTS: '40',
      },
    });
    key = cluster.adminKey as string;
    ({ linkId, practiceId } = await until(
      'the admin API through HAProxy',
      () => createMllpLink(cluster.httpUrl as string, key, linkPort),
      20_000,
      { tolerateErrors: true, everyMs: 200 },
    ));
    secLinkId = await createSecretariatLink(
      cluster.httpUrl as string,
      key,
      practiceId,
      sim,
      CLIENT_TIMEOUT_MS,
    );
    for (const i of cluster.instances) await waitReady(i, key, linkPort, 30_000);
    known.push('warm-up');
    await until('a message through HAProxy', () => sendOnce(front, pushBooking('warm-up')), 10_000, {
      tolerateErrors: true,
      everyMs: 200,
    });
    // The booking brings its practitioner and patient to the platform first.
    await until(
      'the warm-up booking on the platform',
      () =>
        sim.state.list('appointment').length === 1 &&
        sim.state.list('practitioner').length >= 1 &&
        sim.state.list('patient').length === 1,
      60_000,
    );
  }, 240_000);

  afterAll(async () => {
    await cluster?.stop();
    await sim?.close();
    await db?.drop();
    dir.remove();
  }, 30_000);

  it('pushes every booking once when the instance holding the outbox leases is killed -9 mid-push', async () => {
    const ids = Array.from({ length: 24 }, (_, n) => `push-kill-${n}`);
    // Every request to the platform takes 1.2 s (under the client's 1.5 s timeout) while the
    // first half comes in: rows pile up, each instance leases a batch and waits on the platform
    // with the rest of the batch leased behind.
    sim.setFaults({ latencyMs: 1200 });
    const replaysBefore = sim.state.idempotencyKeys().reduce((n, k) => n + k.replays, 0);
    const firstHalf = sendAll(ids.slice(0, 12), 2);
    const [victimPid, held] = await until(
      'an instance holding several outbox rows',
      async () => {
        const top = [...(await outboxLeaseHolders(db.url, secLinkId))].sort((a, b) => b[1] - a[1])[0];
        return top !== undefined && top[1] >= 2 && top;
      },
      60_000,
      { everyMs: 20 },
    );
    const victim = cluster.instances.find((i) => i.child.pid === victimPid) as ClusterInstance;
    expect(victim).toBeDefined();
    const killedAt = Date.now();
    await victim.kill('SIGKILL');
    sim.setFaults({ latencyMs: 0 });
    await firstHalf;
    // The second half arrives after the kill, through the survivors.
    await sendAll(ids.slice(12), 2);
    // The victim's rows, still leased to a dead process, are pushed by the others after the lease.
    let drainedMs = 0;
    await until(
      'the killed instance rows taken over',
      async () => {
        const n = (await outboxLeaseHolders(db.url, secLinkId)).get(victimPid) ?? 0;
        if (n === 0) drainedMs = Date.now() - killedAt;
        return n === 0;
      },
      60_000,
      { everyMs: 100 },
    );
    await settledRun(
      `kill -9 of instance ${victim.index} while pushing (held ${held} row(s))`,
      ids,
      () =>
        `, its rows taken over ${drainedMs} ms after the kill (lease 4000 ms), ${
          sim.state.idempotencyKeys().reduce((n, k) => n + k.replays, 0) - replaysBefore
        } of them the write it had in flight`,
    );
    // No instance holds a row of the dead process any more, and the survivors answer ready.
    for (const i of cluster.instances.filter((x) => x !== victim))
      expect((await readyz(i.url, key)).status).toBe(200);
  }, 180_000);

  it('pushes every booking once when the platform answers 429, 500 or nothing in time to a share of requests under load', async () => {
    const ids = Array.from({ length: 30 }, (_, n) => `push-peer-${n}`);
    const counters = { ...sim.state.counters };
    // 15 % 429 (Retry-After: 1), 15 % 500, 5 % held past the client timeout and applied after.
    const script = peerFaultScript(400, { rate429: 0.15, error500: 0.15, hang: 0.05, hangMs: HANG_MS });
    sim.setFaults({ script });
    await sendAll(ids, 3);
    await settledRun('platform answering 429/500/hang', ids, () => {
      const c = sim.state.counters;
      return `, platform answered ${c.faults429 - counters.faults429} × 429, ${c.faults500 - counters.faults500} × 500, ${c.requests - counters.requests} request(s)`;
    });
    expect(sim.state.counters.faults429).toBeGreaterThan(counters.faults429);
    expect(sim.state.counters.faults500).toBeGreaterThan(counters.faults500);
    sim.setFaults({ script: [] });
  }, 180_000);

  it('answers a 412 by merging the platform record: a conflict where both sides moved the appointment, none where the agent changed only the note', async () => {
    const ids = Array.from({ length: 6 }, (_, n) => `push-412-${n}`);
    await sendAll(ids, 2);
    await settledRun('412 set-up', ids);
    const held = platformAppointments(sim);
    const mapped = new Map(ids.map((id) => [id, held.get(id)?.[0]?.id as string]));
    const agentAt = (n: number) => new Date(Date.UTC(2025, 3, 1 + n, 8, 0)).toISOString();
    const practiceAt = (n: number) => Date.UTC(2025, 4, 1 + n, 9, 0);
    for (const [n, id] of ids.entries()) {
      await agentEditsAppointment(
        sim,
        mapped.get(id) as string,
        () =>
          n < 3
            ? { start: agentAt(n), end: new Date(Date.parse(agentAt(n)) + 20 * 60_000).toISOString() }
            : { note: `Note de l'agent ${n}` },
        'agent-cluster',
      );
    }
    const s = sender();
    try {
      for (const [n, id] of ids.entries()) await s.deliverRaw(reschedule(id, practiceAt(n)));
    } finally {
      s.close();
    }
    const dump = async () => {
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      const rows = await c.query(
        'SELECT seq, link_id = $1 AS sec, kind, status, attempts, last_error_code FROM outbox ORDER BY seq DESC LIMIT 30',
        [secLinkId],
      );
      await c.end();
      return JSON.stringify({
        rows: rows.rows,
        conflicts: await openConflicts(cluster.httpUrl as string, key, practiceId),
        platform: ids.map((id) => {
          const a = sim.state.get('appointment', mapped.get(id) as string);
          return [a?.version, a?.start, a?.note];
        }),
      });
    };
    await until(
      'the moves handled',
      async () => {
        const depth = await outboxDepth(db.url, secLinkId);
        const conflicts = await openConflicts(cluster.httpUrl as string, key, practiceId);
        const merged = ids.filter(
          (id, n) =>
            n >= 3 &&
            Date.parse(sim.state.get('appointment', mapped.get(id) as string)?.start ?? '') === practiceAt(n),
        );
        return depth.pending + depth.leased === 0 && conflicts.length >= 3 && merged.length === 3;
      },
      60_000,
      { everyMs: 500 },
    ).catch(async (e: unknown) => {
      throw new Error(`${String(e)}: ${await dump()}`);
    });
    const conflicts = await openConflicts(cluster.httpUrl as string, key, practiceId);
    process.stdout.write(`fault 412: 6 moved by the practice, ${conflicts.length} conflict(s) open\n`);
    // One start/end conflict per appointment both sides moved; none where the agent changed
    // only the note (the platform still held the time passerelle wrote there).
    expect(conflicts).toEqual(
      Array.from({ length: 3 }, () => expect.objectContaining({ kind: 'Appointment', paths: ['start/end'] })),
    );
    for (const [n, id] of ids.entries())
      if (n >= 3)
        expect(sim.state.get('appointment', mapped.get(id) as string)?.note).toBe(`Note de l'agent ${n}`);
  }, 180_000);

  /** SIU^S13 moving booking `id` to `at` (20 minutes). */
  function reschedule(id: string, at: number): { id: string; message: Buffer } {
    const hl7 = (t: number) =>
      new Date(t)
        .toISOString()
        .replace(/[-:T]/g, '')
        .replace(/\.\d+Z$/, '+0000');
    const [start, end] = [hl7(at), hl7(at + 20 * 60_000)];
    let m = withControlId(pushBooking(id), `C-${id}-moved`);
    m = withField(m, 'MSH', 7, hl7(Date.now()));
    m = withField(m, 'MSH', 9, 'SIU^S13^SIU_S12');
    m = withField(m, 'SCH', 11, `^^M20^${start}^${end}`);
    m = withField(m, 'TQ1', 7, start);
    m = withField(m, 'TQ1', 8, end);
    return { id: `${id}-moved`, message: m };
  }
});

async function openConflicts(
  url: string,
  key: string,
  practiceId: string,
): Promise<{ kind: string; paths: string[] }[]> {
  const res = await fetch(`${url}/api/v1/conflicts?practiceId=${practiceId}&status=open`, {
    headers: { authorization: `Bearer ${key}` },
  });
  if (!res.ok) throw new Error(`GET conflicts: ${res.status}`);
  return ((await res.json()) as { items: { kind: string; paths: string[] }[] }).items;
}
