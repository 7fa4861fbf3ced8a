/**
 * Readiness beyond the store: a module reports what should run and does not (a link whose
 * connector failed to start), and `/readyz` answers 503 naming it, so a load balancer or an
 * orchestrator stops sending work to an instance that would only queue it.
 */

/** One part that should run and is down: ids, codes and reasons only, never patient data. */
export interface NotReady {
  /** What is down: `link` for a sync link. */
  readonly kind: string;
  readonly id: string;
  readonly code: string;
  readonly reason: string;
  /** ISO time it went down. */
  readonly since: string;
  /** ISO time of the next automatic attempt, when one is scheduled. */
  readonly nextAttemptAt?: string;
}

export type ReadinessCheck = () => readonly NotReady[] | Promise<readonly NotReady[]>;
