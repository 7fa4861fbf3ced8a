/**
 * A rolling restart of a cluster started by scripts/cluster.ts (docs/cluster.md): every
 * instance in turn gets SIGTERM, is waited for while it drains and exits, is started again on
 * the same ports, and is waited for until `/readyz` answers 200 and its MLLP listener accepts,
 * before the next one. Meanwhile a watcher asks every instance's `/readyz` and, after each 200,
 * connects to that instance's MLLP listener: a "ready" that no listener backs, or a "ready" from
 * an instance after it said it was stopping, is a lie. Used by test/cluster/rolling-restart.int.test.ts
 * (short form) and `npm run soak -- --faults restart` (long form).
 */
import net from 'node:net';

import { readyz } from '../test/helpers/cluster-world.js';
import { until } from '../test/helpers/until.js';
import type { Cluster, ClusterInstance } from './cluster.js';

export interface RestartStep {
  readonly index: number;
  /** Exit code after SIGTERM (0: stopped cleanly). */
  readonly exitCode: number | null;
  /** SIGTERM to exit. */
  readonly drainMs: number;
  /** Start to `/readyz` 200 with the listener accepting. */
  readonly readyMs: number;
}

/** Whether something accepts a TCP connection on 127.0.0.1:port (closed at once). */
export function accepts(port: number, timeoutMs = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** One instance: started, its `/readyz` 200 and its listener for `linkPort` accepting. */
export async function waitReady(
  instance: ClusterInstance,
  key: string,
  linkPort: number,
  ms = 60_000,
): Promise<void> {
  await until(
    `instance ${instance.index} listening and ready`,
    async () =>
      (await readyz(instance.url, key)).status === 200 && (await accepts(instance.mllpPort(linkPort))),
    ms,
    { tolerateErrors: true, everyMs: 200 },
  );
}

/** Every instance in turn: SIGTERM, drained and exited, started again, ready. */
export async function rollingRestart(
  cluster: Cluster,
  options: {
    readonly key: string;
    readonly linkPort: number;
    readonly log?: (line: string) => void;
    /** Told just before each SIGTERM (the watcher's record of who was asked to stop). */
    readonly onStopping?: (instance: ClusterInstance) => void;
    /** Asked before each step: false ends the restart there (a test that timed out, Ctrl-C). */
    readonly proceed?: () => boolean;
  },
): Promise<RestartStep[]> {
  const steps: RestartStep[] = [];
  for (let index = 0; index < cluster.instances.length; index++) {
    if (options.proceed && !options.proceed()) break;
    const old = cluster.instances[index] as ClusterInstance;
    options.onStopping?.(old);
    const stopAt = Date.now();
    const exitCode = await old.kill('SIGTERM');
    const drainMs = Date.now() - stopAt;
    options.log?.(
      `rolling restart: instance ${index} exited (${exitCode}) after ${drainMs} ms; starting it again`,
    );
    if (options.proceed && !options.proceed()) break;
    const startAt = Date.now();
    const fresh = await cluster.restart(index);
    await waitReady(fresh, options.key, options.linkPort);
    const step = { index, exitCode, drainMs, readyMs: Date.now() - startAt };
    steps.push(step);
    options.log?.(`rolling restart: instance ${index} ready again after ${step.readyMs} ms`);
  }
  return steps;
}

export interface ReadinessObservation {
  readonly index: number;
  /** Which process answered (an instance restarted is a new pid). */
  readonly pid: number;
  readonly status: number | 'refused';
  /** After a 200: whether the instance's MLLP listener accepted a connection right after. */
  readonly listenerAccepts?: boolean;
  /** Whether that process had been sent SIGTERM before the question was asked. */
  readonly askedAfterStop: boolean;
  /**
   * The process had exited (or been replaced) by the time the answer came: its restarted
   * successor, on the same ports, may have answered, so the answer is nobody's for sure.
   */
  readonly unattributed: boolean;
}

/**
 * Asks every instance's `/readyz` in a loop until stopped. `lies()` lists the answers that were
 * not true: 200 while the listener refused (and the process had not been asked to stop), or 200
 * from a process after it had answered anything but 200 since its SIGTERM.
 */
export function watchReadiness(cluster: Cluster, key: string, linkPort: number) {
  const observations: ReadinessObservation[] = [];
  const stopped = new Set<number>();
  let watching = true;
  const loop = (async () => {
    while (watching) {
      for (const instance of [...cluster.instances]) {
        const pid = instance.child.pid as number;
        const askedAfterStop = stopped.has(pid);
        let status: number | 'refused';
        try {
          status = (await readyz(instance.url, key)).status;
        } catch {
          status = 'refused';
        }
        const listenerAccepts = status === 200 ? await accepts(instance.mllpPort(linkPort)) : undefined;
        const gone =
          instance.child.exitCode !== null ||
          instance.child.signalCode !== null ||
          cluster.instances[instance.index] !== instance;
        observations.push({
          index: instance.index,
          pid,
          status,
          askedAfterStop,
          unattributed: gone,
          ...(listenerAccepts !== undefined && { listenerAccepts }),
        });
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    observations,
    /** Call just before sending SIGTERM to `instance`. */
    stopping(instance: ClusterInstance) {
      stopped.add(instance.child.pid as number);
    },
    async stop() {
      watching = false;
      await loop;
    },
    lies(): ReadinessObservation[] {
      const saidNo = new Set<number>();
      const lies: ReadinessObservation[] = [];
      for (const o of observations) {
        if (o.unattributed) continue;
        if (o.status === 200) {
          // A listener that refuses after SIGTERM was sent: the stop raced the question.
          if (o.listenerAccepts === false && !stopped.has(o.pid)) lies.push(o);
          else if (saidNo.has(o.pid)) lies.push(o);
        } else if (o.askedAfterStop) saidNo.add(o.pid);
      }
      return lies;
    },
  };
}

/** Counts of a watch, for the printed line. */
export function readinessSummary(observations: readonly ReadinessObservation[]): string {
  const of = (f: (o: ReadinessObservation) => boolean) => observations.filter(f).length;
  return `${observations.length} /readyz answers: ${of((o) => o.status === 200)} ready, ${of((o) => o.status === 503)} not ready (${of((o) => o.status === 503 && o.askedAfterStop)} while stopping), ${of((o) => o.status === 'refused')} refused`;
}

/**
 * The soak's `restart` fault (`npm run soak -- --faults restart`): a rolling restart with the
 * readiness watcher running; resolves with the untrue "ready" answers seen (none expected).
 */
export async function restartFault(
  cluster: Cluster,
  options: { readonly key: string; readonly linkPort: number; readonly log: (line: string) => void },
): Promise<number> {
  const watch = watchReadiness(cluster, options.key, options.linkPort);
  try {
    await rollingRestart(cluster, { ...options, onStopping: (i) => watch.stopping(i) });
  } finally {
    await watch.stop();
  }
  const lies = watch.lies();
  options.log(`rolling restart done: ${readinessSummary(watch.observations)}, ${lies.length} untrue "ready"`);
  return lies.length;
}
