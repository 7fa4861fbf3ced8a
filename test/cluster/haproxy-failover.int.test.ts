/**
 * Issue 23: three real `passerelle serve` processes on one PostgreSQL database, each with the
 * practice's MLLP listener on its own port, HAProxy 2.6 (TCP mode, `check inter 1s fall 2`,
 * `option redispatch`, `retries 2`) in front. The same message reaching two instances at once is
 * applied once and gets the same ACK from both; killing (-9) the instance that serves the
 * sender's connection loses no ACKed message and duplicates none: the sender reconnects through
 * HAProxy, resends what was not ACKed, and another instance answers; `/readyz` of every live
 * instance stays truthful throughout. The instances reach PostgreSQL through a TCP proxy of the
 * test (test/helpers/tcp-proxy.ts): cutting it mid-flow stands for "PostgreSQL restarted" (the
 * machine's server is never restarted), stalling it for a partition. HAProxy is part of this machine (.ci/run installs it):
 * without it the test fails saying so, it never skips.
 */
import { execFileSync } from 'node:child_process';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

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
  booking,
  createMllpLink,
  type Exchange,
  MllpSender,
  readyz,
  sendOnce,
  storedCounts,
} from '../helpers/cluster-world.js';
import { createPgDatabase, PG_URL, tempDir } from '../helpers/stores.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { until } from '../helpers/until.js';

/** Which instance's MLLP port holds the established connections (HAProxy → instance). */
function connectionOwner(
  instances: readonly ClusterInstance[],
  linkPort: number,
): ClusterInstance | undefined {
  let best: ClusterInstance | undefined;
  let most = 0;
  for (const i of instances) {
    const out = execFileSync('ss', ['-Htn', 'state', 'established', `( sport = :${i.mllpPort(linkPort)} )`], {
      encoding: 'utf8',
    });
    const n = out.split('\n').filter((l) => l.trim()).length;
    if (n > most) [best, most] = [i, n];
  }
  return best;
}

describe('three instances behind HAProxy: the instance serving MLLP is killed', () => {
  const dir = tempDir('passerelle-cluster-');
  let db: { url: string; drop: () => Promise<void> };
  let cluster: Cluster;
  let key: string;
  let linkPort: number;
  let front: number;
  let linkId: string;
  const acked = new Map<string, Exchange>();
  let sender: MllpSender | undefined;
  let reconnects = 0;
  let killed: ClusterInstance | undefined;
  let proxy: TcpProxy;
  /** Per message: first send to CA (ms), for the fault runs' max lag. */
  const lag = new Map<string, number>();
  /** Sends that got no CA (no answer, a closed connection, a negative ACK). */
  let unanswered = 0;

  /**
   * At-least-once, as an MLLP sender does: no ACK, or a negative one (an instance stopping
   * refuses new messages), → reconnect through HAProxy and send the same message again.
   */
  const deliver = async (id: string) => {
    const m = booking(id);
    const first = Date.now();
    const x = await until(
      `an ACK for ${id}`,
      async () => {
        if (!sender?.open) {
          if (sender) reconnects++;
          sender = await MllpSender.connect(front);
        }
        try {
          const answer = await sender.send(m, 3000);
          if (answer.code === 'CA') return answer;
          unanswered++;
          sender.close();
          return false;
        } catch (e) {
          unanswered++;
          sender.close();
          throw e;
        }
      },
      30_000,
      { tolerateErrors: true, everyMs: 100 },
    );
    expect(x.acknowledges).toBe(`C-${id}`);
    acked.set(id, x);
    lag.set(id, Date.now() - first);
  };

  beforeAll(async () => {
    haproxyBinary(); // fails at once, with the way to install it, when HAProxy is missing
    db = await createPgDatabase();
    const server = new URL(PG_URL);
    proxy = await TcpProxy.start(server.hostname, Number(server.port || 5432));
    linkPort = await freePortRange(3);
    front = await freePort();
    cluster = await startCluster({
      instances: 3,
      pgUrl: proxy.urlThrough(db.url),
      dir: dir.path,
      mllp: [{ linkPort, frontPort: front }],
      httpFrontPort: await freePort(),
      linkRestartCapMs: 1000,
    });
    key = cluster.adminKey as string;
    // Through HAProxy's HTTP front, once it has found a live instance.
    ({ linkId } = await until(
      'the admin API through HAProxy',
      () => createMllpLink(cluster.httpUrl as string, key, linkPort),
      20_000,
      { tolerateErrors: true, everyMs: 200 },
    ));
    // Each instance reads the links table every 5 s and starts its own listener.
    for (const i of cluster.instances) await waitReady(i, key, linkPort, 30_000);
    // HAProxy marks a server up after two good checks (`rise 2`, 1 s apart).
    await until('a message through HAProxy', () => sendOnce(front, booking('warm-up')), 10_000, {
      tolerateErrors: true,
      everyMs: 200,
    });
  }, 240_000);

  afterAll(async () => {
    await cluster?.stop();
    await proxy?.close();
    await db?.drop();
    dir.remove();
  }, 30_000);

  it('applies once and answers the same ACK when one message reaches two instances at once', async () => {
    const [a, b] = cluster.instances as [ClusterInstance, ClusterInstance, ClusterInstance];
    for (let n = 0; n < 5; n++) {
      const m = booking(`twin-${n}`);
      const [x, y] = await Promise.all([
        sendOnce(a.mllpPort(linkPort), m),
        sendOnce(b.mllpPort(linkPort), m),
      ]);
      expect([x.code, x.acknowledges]).toEqual(['CA', `C-twin-${n}`]);
      expect(y.ack.toString('latin1')).toBe(x.ack.toString('latin1'));
    }
    const counts = await until('the twins applied', async () => {
      const c = await storedCounts(db.url, linkId);
      return c.appointments === 6 && c;
    });
    // warm-up + 5 twins: one inbox row and one appointment each.
    expect(counts).toEqual({
      inbox: 6,
      distinctKeys: 6,
      statuses: { processed: 6 },
      appointments: 6,
      distinctAppointments: 6,
    });
  });

  it('loses no ACKed message and duplicates none when the instance serving the connection is killed -9', async () => {
    for (let n = 0; n < 10; n++) await deliver(`seq-${n}`);
    const owner = connectionOwner(cluster.instances, linkPort);
    expect(owner).toBeDefined();
    const victim = owner as ClusterInstance;
    killed = victim;
    const survivors = cluster.instances.filter((i) => i !== victim);

    // /readyz of the survivors, polled while the owner dies and the sender fails over.
    const readiness: number[] = [];
    let watching = true;
    const watch = (async () => {
      while (watching) {
        for (const i of survivors) readiness.push((await readyz(i.url, key)).status);
        await new Promise((r) => setTimeout(r, 200));
      }
    })();

    const killedAt = Date.now();
    await victim.kill('SIGKILL');
    await deliver('seq-10');
    const failoverMs = Date.now() - killedAt;
    for (let n = 11; n < 30; n++) await deliver(`seq-${n}`);
    watching = false;
    await watch;
    sender?.close();

    // The killed instance is down (its HTTP port refuses), the others answered ready throughout.
    await expect(readyz(victim.url, key)).rejects.toThrow();
    expect(readiness.length).toBeGreaterThan(0);
    expect(readiness.filter((s) => s !== 200)).toEqual([]);
    // Through HAProxy's HTTP front, the cluster is ready too.
    expect((await readyz(cluster.httpUrl as string, key)).status).toBe(200);

    expect(acked.size).toBe(30);
    const counts = await until('every ACKed message applied', async () => {
      const c = await storedCounts(db.url, linkId);
      return c.appointments >= 36 && c;
    });
    // 6 from the first test + 30 here: each ACKed message stored and applied exactly once.
    expect(counts).toEqual({
      inbox: 36,
      distinctKeys: 36,
      statuses: { processed: 36 },
      appointments: 36,
      distinctAppointments: 36,
    });
    process.stdout.write(
      `failover through HAProxy after kill -9 of instance ${victim.index}: first ACK after ${failoverMs} ms, ${reconnects} reconnect(s)\n`,
    );
  });

  it('takes the killed instance back after its restart, and loses nothing when the next one is stopped gracefully (SIGTERM)', async () => {
    const back = await cluster.restart((killed as ClusterInstance).index);
    await until(
      'the restarted instance listening and ready',
      async () => {
        (await MllpSender.connect(back.mllpPort(linkPort))).close();
        return (await readyz(back.url, key)).status === 200;
      },
      30_000,
      { tolerateErrors: true, everyMs: 200 },
    );
    sender?.close();
    for (let n = 30; n < 35; n++) await deliver(`seq-${n}`);
    const owner = connectionOwner(cluster.instances, linkPort) as ClusterInstance;
    expect(owner).toBeDefined();
    const stopping = owner.kill('SIGTERM');
    for (let n = 35; n < 50; n++) await deliver(`seq-${n}`);
    expect(await stopping).toBe(0);
    sender?.close();

    expect(acked.size).toBe(50);
    const counts = await until('every ACKed message applied', async () => {
      const c = await storedCounts(db.url, linkId);
      return c.appointments >= 56 && c;
    });
    expect(counts).toEqual({
      inbox: 56,
      distinctKeys: 56,
      statuses: { processed: 56 },
      appointments: 56,
      distinctAppointments: 56,
    });
    process.stdout.write(
      `rolling step: instance ${back.index} back and serving, instance ${owner.index} stopped with SIGTERM mid-flow: 20/20 ACKed, ${reconnects} reconnect(s) in all\n`,
    );
  }, 60_000);

  /**
   * The fault suite's short form on this one cluster: messages keep coming through HAProxy
   * while PostgreSQL goes away under every instance at once, then comes back. Nothing may be
   * ACKed that is not stored, and nothing stored twice.
   */
  const throughStoreFault = async (fault: 'cut' | 'stall', from: number, count: number) => {
    const ids = Array.from({ length: count }, (_, n) => `${fault}-${from + n}`);
    const before = await storedCounts(db.url, linkId);
    const failedBefore = unanswered;
    const flow = (async () => {
      for (const id of ids) await deliver(id);
    })();
    // A third of the flow through, PostgreSQL goes; it comes back once senders felt it.
    await until(
      'a third of the messages ACKed',
      () => acked.has(ids[Math.floor(count / 3)] as string),
      30_000,
    );
    if (fault === 'cut') proxy.cut();
    else proxy.stall();
    const faultAt = Date.now();
    await until('a sender without an ACK', () => unanswered > failedBefore, 30_000, { everyMs: 50 });
    proxy.restore();
    const outageMs = Date.now() - faultAt;
    await flow;
    sender?.close();
    const expected = before.inbox + count;
    const after = await until('every ACKed message applied', async () => {
      const c = await storedCounts(db.url, linkId);
      return c.appointments >= expected && c;
    });
    const applied = after.appointments - before.appointments;
    const stats = {
      sent: count,
      acked: ids.filter((id) => acked.has(id)).length,
      applied,
      lost: ids.filter((id) => !acked.has(id)).length + Math.max(0, count - applied),
      duplicated: after.inbox - after.distinctKeys + (after.appointments - after.distinctAppointments),
      maxLagMs: Math.max(...ids.map((id) => lag.get(id) ?? 0)),
    };
    process.stdout.write(
      `fault ${fault === 'cut' ? 'PostgreSQL cut (restart)' : 'PostgreSQL stalled (partition)'} for ${outageMs} ms: sent ${stats.sent}, ACKed ${stats.acked}, applied ${stats.applied}, lost ${stats.lost}, duplicated ${stats.duplicated}, max lag ${stats.maxLagMs} ms, ${unanswered - failedBefore} unanswered send(s)\n`,
    );
    expect(stats).toMatchObject({ sent: count, acked: count, applied: count, lost: 0, duplicated: 0 });
    expect(after).toMatchObject({ statuses: { processed: expected } });
  };

  it('loses and duplicates no message when PostgreSQL is cut under every instance mid-flow and comes back', async () => {
    await throughStoreFault('cut', 0, 15);
  }, 90_000);

  it('loses and duplicates no message when the instances connections to PostgreSQL stall mid-flow', async () => {
    await throughStoreFault('stall', 0, 15);
  }, 90_000);
});
