/**
 * Issue 23, rolling restart: three `passerelle serve` processes on one PostgreSQL database
 * behind HAProxy; while MLLP senders keep sending through HAProxy (at least once: no ACK or a
 * negative one → reconnect and resend), every instance in turn is stopped with SIGTERM, waited
 * for while it drains and exits, started again and waited for until `/readyz` answers 200
 * (scripts/rolling-restart.ts, also `npm run soak -- --faults restart`). Every ACKed message is
 * stored and applied once, none twice, and `/readyz` never said "ready" untruly. Before that,
 * HAProxy's framed MLLP check (scripts/cluster.ts) takes out an instance whose listener accepts
 * connections but does not answer (SIGSTOP), and takes it back after SIGCONT. One cluster
 * world for the file; HAProxy is part of this machine (.ci/run installs it): without it the test
 * fails saying so.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import {
  type Cluster,
  type ClusterInstance,
  freePort,
  freePortRange,
  haproxyBinary,
  startCluster,
} from '../../scripts/cluster.js';
import {
  accepts,
  readinessSummary,
  rollingRestart,
  waitReady,
  watchReadiness,
} from '../../scripts/rolling-restart.js';
import {
  booking,
  createMllpLink,
  type Exchange,
  MllpSender,
  sendOnce,
  storedCounts,
} from '../helpers/cluster-world.js';
import { createPgDatabase, tempDir } from '../helpers/stores.js';
import { until } from '../helpers/until.js';

describe('three instances behind HAProxy: a rolling restart while senders send', () => {
  const dir = tempDir('passerelle-rolling-');
  let db: { url: string; drop: () => Promise<void> };
  let cluster: Cluster;
  let key: string;
  let linkPort: number;
  let front: number;
  let linkId: string;
  let closing = false;
  const log = (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`);

  beforeAll(async () => {
    haproxyBinary(); // fails at once, with the way to install it, when HAProxy is missing
    db = await createPgDatabase();
    linkPort = await freePortRange(3);
    front = await freePort();
    cluster = await startCluster({
      instances: 3,
      pgUrl: db.url,
      dir: dir.path,
      mllp: [{ linkPort, frontPort: front }],
      httpFrontPort: await freePort(),
      linkRestartCapMs: 1000,
    });
    key = cluster.adminKey as string;
    ({ linkId } = await until(
      'the admin API through HAProxy',
      () => createMllpLink(cluster.httpUrl as string, key, linkPort),
      20_000,
      { tolerateErrors: true, everyMs: 200 },
    ));
    for (const i of cluster.instances) await waitReady(i, key, linkPort, 60_000);
    log('rolling restart world: 3 instances ready');
    await until('a message through HAProxy', () => sendOnce(front, booking('warm-up')), 10_000, {
      tolerateErrors: true,
      everyMs: 200,
    });
  }, 240_000);

  afterAll(async () => {
    closing = true;
    await cluster?.stop();
    await db?.drop();
    dir.remove();
  }, 30_000);

  it('takes out of HAProxy an instance whose listener accepts connections but does not answer (SIGSTOP), and takes it back once it answers', async () => {
    const stuck = cluster.instances[1] as ClusterInstance;
    const server = `passerelle_mllp0/i${stuck.index}`;
    const marks = () =>
      cluster
        .haproxyOutput()
        .split('\n')
        .filter((l) => l.includes(`${server} is`));
    const before = marks().length;
    stuck.child.kill('SIGSTOP');
    let down: string;
    try {
      // The kernel still completes TCP handshakes from the backlog: a connect check would pass.
      expect(await accepts(stuck.mllpPort(linkPort))).toBe(true);
      down = await until(
        'HAProxy marking the stuck instance down',
        () =>
          marks()
            .slice(before)
            .find((l) => l.includes('is DOWN')),
        30_000,
        { everyMs: 100 },
      );
      // Meanwhile messages through HAProxy are answered by the others.
      for (let n = 0; n < 5; n++) {
        const x = await sendOnce(front, booking(`stuck-${n}`));
        expect([x.code, x.acknowledges]).toEqual(['CA', `C-stuck-${n}`]);
      }
    } finally {
      stuck.child.kill('SIGCONT');
    }
    const up = await until(
      'HAProxy taking the instance back',
      () =>
        marks()
          .slice(before)
          .find((l) => l.includes('is UP')),
      30_000,
      { everyMs: 100 },
    );
    const counts = await until('the messages applied', async () => {
      const c = await storedCounts(db.url, linkId);
      return c.appointments >= 6 && c;
    });
    // warm-up + 5: the checks themselves stored nothing (no control id: answered AR, not stored).
    expect(counts).toMatchObject({ inbox: 6, distinctKeys: 6, appointments: 6 });
    log(`stuck listener: ${down} / ${up}`);
  }, 120_000);

  it('loses and duplicates no ACKed message and never answers ready untruly while every instance is restarted in turn', async () => {
    const acked = new Map<string, Exchange>();
    let resends = 0;
    let rolling = true;
    /** One MLLP sender: one message at a time, until the rolling restart is over (and 5 at least). */
    const sender = async (s: number) => {
      let conn: MllpSender | undefined;
      for (let n = 0; rolling || n < 5; n++) {
        const id = `roll-${s}-${n}`;
        const x = await until(
          `an ACK for ${id}`,
          async () => {
            if (!conn?.open) conn = await MllpSender.connect(front);
            try {
              const answer = await conn.send(booking(id), 3000);
              if (answer.code === 'CA') return answer;
            } catch {
              // no answer: resend on a new connection
            }
            resends++;
            conn.close();
            return false;
          },
          60_000,
          { tolerateErrors: true, everyMs: 100 },
        );
        expect(x.acknowledges).toBe(`C-${id}`);
        acked.set(id, x);
      }
      conn?.close();
    };
    const watch = watchReadiness(cluster, key, linkPort);
    const senders = Promise.all([0, 1, 2].map((s) => sender(s)));
    let steps;
    try {
      steps = await rollingRestart(cluster, {
        key,
        linkPort,
        onStopping: (i) => watch.stopping(i),
        proceed: () => !closing,
        log,
      });
    } finally {
      rolling = false;
      await senders;
      await watch.stop();
    }

    expect(steps.map((s) => [s.index, s.exitCode])).toEqual([
      [0, 0],
      [1, 0],
      [2, 0],
    ]);
    const expected = acked.size + 6; // the warm-up and the stuck test's 5
    const counts = await until('every ACKed message applied', async () => {
      const c = await storedCounts(db.url, linkId);
      return c.appointments >= expected && c;
    });
    expect(counts).toEqual({
      inbox: expected,
      distinctKeys: expected,
      statuses: { processed: expected },
      appointments: expected,
      distinctAppointments: expected,
    });
    expect(watch.lies()).toEqual([]);
    process.stdout.write(
      `rolling restart of 3 instances: ${steps.map((s) => `i${s.index} drained in ${s.drainMs} ms, ready ${s.readyMs} ms later`).join('; ')}; sent and ACKed ${acked.size}, applied ${counts.distinctAppointments - 6}, lost 0, duplicated 0, ${resends} resend(s); ${readinessSummary(watch.observations)}\n`,
    );
  }, 600_000);
});
