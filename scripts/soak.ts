/**
 * `npm run soak`: the long form of the cluster fault suite (issue 23; the short form runs in
 * `npm test`, test/cluster/haproxy-failover.int.test.ts). N instances on a throwaway PostgreSQL
 * database behind HAProxy, C MLLP senders sending M messages at least once (resend what was
 * not ACKed, as MLLP senders do), and every `--fault-every` ACKs one fault, in turn:
 *   cut   — every instance's PostgreSQL connections dropped and refused (PostgreSQL restarted),
 *   stall — connections kept but silent (a partition), until a sender goes without an ACK,
 *   kill  — SIGKILL of one instance, restarted once the senders have failed over;
 *   restart — a rolling restart: every instance in turn SIGTERMed, drained, started again and
 *             ready before the next (scripts/rolling-restart.ts); `/readyz` watched throughout;
 *   push-kill, peer — the push side (scripts/soak-push.ts): bookings pushed to a secretariat
 *           simulator, the instance holding outbox leases killed -9 mid-push, the platform
 *           answering 429/500/hang; then every ACKed booking must be on the platform once.
 * PostgreSQL is reached through a TCP proxy of ours: the machine's server is never restarted.
 * It stops by itself, prints sent/ACKed/applied/lost/duplicated/max lag and exits 1 if any
 * message was lost or duplicated (or, with `restart`, if `/readyz` said ready untruly).
 * The kinds `webhook-drop`, `poison` and `skew` need both sides of a practice: they run in a
 * world of their own (scripts/soak-sync.ts), before the others.
 *
 *   npm run soak -- --instances 3 --clients 4 --messages 600 --fault-every 100 --faults cut,stall,kill
 *   npm run soak -- --instances 3 --clients 3 --messages 200 --faults webhook-drop,poison,skew
 *   npm run soak -- --messages 300 --fault-every 60 --faults push-kill,peer,kill
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import pg from 'pg';

import { pushBooking } from '../test/helpers/cluster-push.js';
import {
  booking,
  createMllpLink,
  type Exchange,
  MllpSender,
  readyz,
  sendOnce,
  storedCounts,
} from '../test/helpers/cluster-world.js';
import { TcpProxy } from '../test/helpers/tcp-proxy.js';
import { until } from '../test/helpers/until.js';
import { freePort, freePortRange, haproxyBinary, startCluster } from './cluster.js';
import { restartFault } from './rolling-restart.js';
import { isPushFault, PUSH_SOAK_ENV, type PushFault, type PushSide, startPushSide } from './soak-push.js';
import { isSyncFault, soakSyncFaults } from './soak-sync.js';

type Fault = 'cut' | 'stall' | 'kill' | 'restart' | PushFault;

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? (process.argv[i + 1] as string) : fallback;
}

async function main(): Promise<number> {
  const instances = Number(arg('instances', '3'));
  const clients = Number(arg('clients', '4'));
  const messages = Number(arg('messages', '600'));
  const faultEvery = Number(arg('fault-every', '100'));
  const kinds = arg('faults', 'cut,stall,kill').split(',').filter(Boolean);
  const faults = kinds.filter((k) => !isSyncFault(k)) as Fault[];
  const pushing = faults.some(isPushFault);
  const serverUrl = process.env['PASSERELLE_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  haproxyBinary();
  const syncKinds = kinds.filter(isSyncFault);
  const syncCode =
    syncKinds.length === 0
      ? 0
      : await soakSyncFaults({
          instances,
          clients,
          messages,
          faults: syncKinds,
          serverUrl,
          log: (line) => process.stdout.write(`${new Date().toISOString()} ${line}\n`),
        });
  if (faults.length === 0) return syncCode;

  const name = `passerelle_soak_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const dbUrl = new URL(serverUrl);
  dbUrl.pathname = `/${name}`;
  const direct = dbUrl.toString();
  const server = new URL(serverUrl);
  const proxy = await TcpProxy.start(server.hostname, Number(server.port || 5432));
  const dir = mkdtempSync(join(tmpdir(), 'passerelle-soak-'));
  const linkPort = await freePortRange(instances);
  const front = await freePort();
  const cluster = await startCluster({
    instances,
    pgUrl: proxy.urlThrough(direct),
    dir,
    mllp: [{ linkPort, frontPort: front }],
    httpFrontPort: await freePort(),
    linkRestartCapMs: 1000,
    ...(pushing && { env: PUSH_SOAK_ENV }),
  });
  let push: PushSide | undefined;
  const log = (line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`);
  try {
    const key = cluster.adminKey;
    if (!key) throw new Error(`no admin key printed by instance 0:\n${cluster.instances[0]?.output() ?? ''}`);
    const { linkId, practiceId } = await until(
      'the admin API through HAProxy',
      () => createMllpLink(cluster.httpUrl as string, key, linkPort),
      60_000,
      { tolerateErrors: true, everyMs: 200 },
    );
    await until(
      'every instance ready',
      async () => {
        for (const i of cluster.instances) if ((await readyz(i.url, key)).status !== 200) return false;
        return true;
      },
      60_000,
      { tolerateErrors: true, everyMs: 200 },
    );
    if (pushing)
      push = await startPushSide({
        pgUrl: direct,
        apiUrl: cluster.httpUrl as string,
        key,
        practiceId,
      });
    // Bookings whose note names them, for the platform to count (the MLLP counts are the same).
    const message = (id: string) => (pushing ? pushBooking(id) : booking(id));
    await until('a message through HAProxy', () => sendOnce(front, message('soak-warm-up')), 30_000, {
      tolerateErrors: true,
      everyMs: 200,
    });
    log(
      `${instances} instances, ${clients} senders, ${messages} messages, a fault every ${faultEvery} ACKs (${faults.join(', ')})`,
    );

    const acked = new Map<string, Exchange>();
    const lag: number[] = [];
    let unanswered = 0;
    let untrueReady = 0;
    let next = 0;
    const sender = async (c: number) => {
      let conn: MllpSender | undefined;
      for (;;) {
        const n = next++;
        if (n >= messages) break;
        const id = `soak-${n}`;
        const first = Date.now();
        const x = await until(
          `an ACK for ${id}`,
          async () => {
            if (!conn?.open) conn = await MllpSender.connect(front);
            try {
              const answer = await conn.send(message(id), 3000);
              if (answer.code === 'CA' && answer.acknowledges === `C-${id}`) return answer;
            } catch {
              // no answer: resend on a new connection
            }
            unanswered++;
            conn.close();
            return false;
          },
          120_000,
          { tolerateErrors: true, everyMs: 100 },
        );
        acked.set(id, x);
        lag.push(Date.now() - first);
      }
      conn?.close();
      return c;
    };
    const flow = Promise.all(Array.from({ length: clients }, (_, c) => sender(c)));

    let done = false;
    void flow.finally(() => {
      done = true;
    });
    for (let f = 0; !done; f++) {
      const at = (f + 1) * faultEvery;
      await until(`${at} ACKs`, () => done || acked.size >= at, 600_000, { everyMs: 50 });
      if (done) break;
      const fault = faults[f % faults.length] as Fault;
      const failed = unanswered;
      const started = Date.now();
      if (fault === 'restart') {
        untrueReady += await restartFault(cluster, { key, linkPort, log });
      } else if (isPushFault(fault)) {
        if (push) log(await push.fault(fault, cluster));
      } else if (fault === 'kill') {
        const victim = cluster.instances[f % cluster.instances.length];
        if (!victim) continue;
        await victim.kill('SIGKILL');
        await until(
          'senders failing over',
          () => done || unanswered > failed || acked.size >= at + clients,
          60_000,
          {
            everyMs: 50,
          },
        );
        await cluster.restart(victim.index);
        log(`fault kill -9 of instance ${victim.index}, restarted after ${Date.now() - started} ms`);
      } else {
        if (fault === 'cut') proxy.cut();
        else proxy.stall();
        await until('a sender without an ACK', () => done || unanswered > failed, 60_000, { everyMs: 50 });
        proxy.restore();
        log(`fault PostgreSQL ${fault} for ${Date.now() - started} ms`);
      }
    }
    await flow;
    const expected = messages + 1;
    const counts = await until(
      'every ACKed message applied',
      async () => {
        const c = await storedCounts(direct, linkId);
        return c.appointments >= expected && c;
      },
      120_000,
    ).catch(() => storedCounts(direct, linkId));
    const sorted = [...lag].sort((a, b) => a - b);
    const stats = {
      sent: messages,
      acked: acked.size,
      applied: counts.distinctAppointments - 1,
      lost: messages - acked.size + Math.max(0, expected - counts.distinctAppointments),
      duplicated: counts.inbox - counts.distinctKeys + (counts.appointments - counts.distinctAppointments),
      p50LagMs: sorted[Math.floor(sorted.length / 2)] ?? 0,
      maxLagMs: sorted[sorted.length - 1] ?? 0,
      unanswered,
    };
    log(
      `soak: sent ${stats.sent}, ACKed ${stats.acked}, applied ${stats.applied}, lost ${stats.lost}, duplicated ${stats.duplicated}, lag p50 ${stats.p50LagMs} ms, max ${stats.maxLagMs} ms, ${stats.unanswered} unanswered send(s)`,
    );
    let pushOk = true;
    if (push) {
      const ids = Array.from({ length: messages }, (_, n) => `soak-${n}`).filter((id) => acked.has(id));
      const p = await push.settle(ids);
      log(
        `soak push: sent ${stats.sent}, ACKed ${stats.acked}, applied ${stats.applied}, pushed ${p.pushed}, lost ${p.lost}, duplicated ${p.duplicated}, dead ${p.dead}, ${p.replays} idempotent replay(s), max lag ${stats.maxLagMs} ms (ACK)`,
      );
      pushOk = p.lost === 0 && p.duplicated === 0 && p.dead === 0;
    }
    return stats.lost === 0 && stats.duplicated === 0 && pushOk && untrueReady === 0 ? syncCode : 1;
  } finally {
    await push?.close();
    await cluster.stop();
    await proxy.close();
    const c = new pg.Client({ connectionString: serverUrl });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await c.end();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`soak failed: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
