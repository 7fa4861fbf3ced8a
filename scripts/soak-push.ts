/**
 * The push side of `npm run soak` (issue 23): with `--faults` naming `push-kill` or `peer`, the
 * practice gets a secretariat link to a secretariat simulator in this process, every booking
 * becomes an outbox row pushed to it, and two more fault kinds join the rotation:
 *   push-kill — every request to the platform slowed (1.2 s) until an instance holds outbox
 *               leases, that instance killed -9, its rows taken over by the others once the lease
 *               (`sync.outboxLeaseMs`, 4 s here) runs out, then it is restarted;
 *   peer      — the platform's next 200 answers drawn from a seeded mix: 15 % 429 (Retry-After: 1),
 *               15 % 500, 5 % held past the client timeout (then applied).
 * At the end every ACKed booking must be on the platform once (counted on the platform's side:
 * test/helpers/cluster-push.ts).
 */
import type { SecretariatSimulator } from '../connectors/secretariat/simulator/index.js';
import {
  createSecretariatLink,
  outboxDepth,
  outboxLeaseHolders,
  peerFaultScript,
  type PushStats,
  pushStats,
  startPushPeer,
} from '../test/helpers/cluster-push.js';
import { until } from '../test/helpers/until.js';
import type { Cluster } from './cluster.js';

export const PUSH_FAULTS = ['push-kill', 'peer'] as const;
export type PushFault = (typeof PUSH_FAULTS)[number];

export const isPushFault = (f: string): f is PushFault => (PUSH_FAULTS as readonly string[]).includes(f);

/** Settings every instance needs for the push faults (leases short enough to see a takeover). */
export const PUSH_SOAK_ENV: Readonly<Record<string, string>> = {
  PASSERELLE_SYNC_OUTBOX_LEASE_MS: '4000',
  PASSERELLE_SYNC_PUSH_TIMEOUT_MS: '3000',
  PASSERELLE_SYNC_RETRY_BASE_MS: '200',
  PASSERELLE_SYNC_RETRY_CAP_MS: '2000',
  PASSERELLE_SYNC_MAX_ATTEMPTS: '40',
};

export interface PushSide {
  readonly sim: SecretariatSimulator;
  readonly secLinkId: string;
  /** Plays one push fault; returns the line to log. */
  fault(kind: PushFault, cluster: Cluster): Promise<string>;
  /** Waits (bounded) until every ACKed booking is pushed and the outbox drained; the platform's count. */
  settle(ids: readonly string[]): Promise<PushStats & { dead: number }>;
  close(): Promise<void>;
}

export async function startPushSide(input: {
  readonly pgUrl: string;
  readonly apiUrl: string;
  readonly key: string;
  readonly practiceId: string;
}): Promise<PushSide> {
  const sim = await startPushPeer();
  const secLinkId = await createSecretariatLink(input.apiUrl, input.key, input.practiceId, sim, 1500);
  const stats = (ids: readonly string[]) => Promise.resolve(pushStats(sim, ids));
  return {
    sim,
    secLinkId,
    async fault(kind, cluster) {
      const started = Date.now();
      if (kind === 'peer') {
        const counters = { ...sim.state.counters };
        sim.setFaults({
          script: peerFaultScript(200, { rate429: 0.15, error500: 0.15, hang: 0.05, hangMs: 2500 }, started),
        });
        // Played out, or cut short after a minute (the senders may be done, leaving few requests).
        await until(
          'the platform faults played',
          () => sim.state.counters.requests >= counters.requests + 200,
          60_000,
          { everyMs: 100 },
        ).catch(() => undefined);
        sim.setFaults({ script: [] });
        const c = sim.state.counters;
        return `fault platform 429/500/hang for ${Date.now() - started} ms: ${c.faults429 - counters.faults429} × 429, ${c.faults500 - counters.faults500} × 500`;
      }
      sim.setFaults({ latencyMs: 1200 });
      try {
        const pid = await until(
          'an instance holding outbox leases',
          async () =>
            [...(await outboxLeaseHolders(input.pgUrl, secLinkId))].sort((a, b) => b[1] - a[1])[0]?.[0],
          120_000,
          { everyMs: 20 },
        ).catch(() => undefined);
        if (pid === undefined) return 'fault push-kill skipped: nothing was being pushed for 2 min';
        const victim = cluster.instances.find((i) => i.child.pid === pid);
        if (!victim) return `fault push-kill: lease holder pid ${pid} is no instance of this cluster`;
        const held = (await outboxLeaseHolders(input.pgUrl, secLinkId)).get(pid) ?? 0;
        await victim.kill('SIGKILL');
        await until(
          'the killed instance rows taken over',
          async () => !(await outboxLeaseHolders(input.pgUrl, secLinkId)).has(pid),
          120_000,
          { everyMs: 100 },
        );
        const takenMs = Date.now() - started;
        await cluster.restart(victim.index);
        return `fault kill -9 of instance ${victim.index} holding ${held} outbox row(s): taken over after ${takenMs} ms, restarted after ${Date.now() - started} ms`;
      } finally {
        sim.setFaults({ latencyMs: 0 });
      }
    },
    async settle(ids) {
      await until(
        'every ACKed booking pushed',
        async () => {
          const [s, d] = await Promise.all([stats(ids), outboxDepth(input.pgUrl, secLinkId)]);
          return s.pushed === ids.length && d.pending + d.leased === 0;
        },
        300_000,
        { everyMs: 500 },
      ).catch(() => undefined);
      return { ...(await stats(ids)), dead: (await outboxDepth(input.pgUrl, secLinkId)).dead };
    },
    close: () => sim.close(),
  };
}
