/**
 * Scheduled polls, one node-cron task per link (design rule 5: push is a hint, polling is the
 * truth). `noOverlap` skips a tick while the previous poll of the link still runs; the runtime
 * also takes the store lease `poll:<link>` so two instances never poll one link at once.
 * node-cron logs through console by default (shared/libraries.md §5): ours gets its lines.
 */
import cron, { type ScheduledTask, type TaskContext } from 'node-cron';

import { isPasserelleError, PasserelleError } from '../errors.js';
import { cronLogger } from '../log/cron.js';
import type { Logger } from '../log/logger.js';
import type { Store } from '../store/index.js';
import { instanceId } from './cluster-leases.js';

export const DEFAULT_POLL_SCHEDULE = '* * * * *';

interface Entry {
  readonly task: ScheduledTask;
  running: Promise<unknown> | undefined;
}

export class PollScheduler {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly log: Logger) {}

  /** Schedules `run` for `key`; an invalid expression throws ERR_CONNECTOR_CONFIG_INVALID. */
  schedule(key: string, expression: string, timezone: string, run: () => Promise<unknown>): void {
    if (!cron.validate(expression)) {
      throw new PasserelleError('ERR_CONNECTOR_CONFIG_INVALID', `schedule is not a valid cron expression`, {
        issues: [{ path: 'schedule', message: 'not a valid cron expression' }],
      });
    }
    this.unscheduleNow(key);
    const entry: Entry = { task: undefined as unknown as ScheduledTask, running: undefined };
    // A plain function (not a jest.fn from another realm): node-cron checks `instanceof Function`.
    const fn = () => {
      const p = run().catch((e: unknown) => this.log.error('scheduled poll failed', { key, err: e }));
      entry.running = p;
      return p.finally(() => {
        if (entry.running === p) entry.running = undefined;
      });
    };
    (entry as { task: ScheduledTask }).task = cron.schedule(expression, fn, {
      name: `poll:${key}`,
      timezone,
      noOverlap: true,
      logger: cronLogger(this.log),
    });
    this.entries.set(key, entry);
  }

  private unscheduleNow(key: string): Entry | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    this.entries.delete(key);
    void entry.task.destroy();
    return entry;
  }

  /** Stops the schedule of `key` and waits for a poll in flight. */
  async unschedule(key: string): Promise<void> {
    const entry = this.unscheduleNow(key);
    await entry?.running;
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.entries.keys()].map((k) => this.unschedule(k)));
  }

  nextRun(key: string): Date | null {
    return this.entries.get(key)?.task.getNextRun() ?? null;
  }
}

/** This process's name in the job-claim table (one per process, like the dispatcher's owner). */
const JOB_OWNER = instanceId();

/** Claims older than this are deleted when a job is claimed: the table only has to outlive one occurrence. */
const JOB_CLAIM_DAYS = 7;

/**
 * The occurrence a schedule fired for: its scheduled second (UTC, node-cron's finest field).
 * Every instance computes the same string for the same firing of its own schedule, even when
 * their clocks disagree by minutes: each fires at its own clock's time and names that time.
 */
export function occurrenceOf(scheduledAt: Date | number): string {
  const ms = typeof scheduledAt === 'number' ? scheduledAt : scheduledAt.getTime();
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().slice(0, 19);
}

export type ClusterJobRun<T> = { readonly ran: true; readonly result: T } | { readonly ran: false };

/**
 * Runs one occurrence of a scheduled job on one instance of the cluster (issue 23): the first
 * instance to claim (`job`, `occurrence`) in the store runs `fn`, the others return
 * `{ ran: false }` at once. On SQLite (no `store.cluster`: one process owns the file) it just
 * runs `fn`. A claimer that dies mid-run leaves the occurrence unfinished (its row says so);
 * jobs are written to catch up at their next occurrence (digest: missing days; purge and the
 * urgent pass: whatever is due).
 */
export async function runOncePerCluster<T>(
  store: Store,
  job: string,
  occurrence: string,
  fn: () => Promise<T>,
  owner: string = JOB_OWNER,
): Promise<ClusterJobRun<T>> {
  const cluster = store.cluster;
  if (!cluster) return { ran: true, result: await fn() };
  if (!(await cluster.claimJob(job, occurrence, owner))) return { ran: false };
  let outcome: 'done' | 'failed' = 'failed';
  try {
    const result = await fn();
    outcome = 'done';
    return { ran: true, result };
  } finally {
    await cluster.finishJob(job, occurrence, owner, outcome).catch(() => undefined);
    await cluster.forgetJobs(JOB_CLAIM_DAYS).catch(() => undefined);
  }
}

export interface ClusterJobOptions {
  readonly store: Store;
  readonly logger: Logger;
  /** The job's name in logs and in the claim table; one name per job (add the zone, etc.). */
  readonly name: string;
  /** node-cron expression. */
  readonly expression: string;
  /** Time zone the expression is read in (default: the server's). */
  readonly timezone?: string;
  readonly run: () => Promise<unknown>;
}

/**
 * THE way to schedule a job (purge, digest, urgent pass, reminders, KPIs…): a node-cron task
 * (`noOverlap`, our logger) whose every occurrence runs once across the cluster
 * (`runOncePerCluster`). Failures are logged with their code; the next occurrence runs anyway.
 * Stop it with `task.destroy()`.
 */
export function scheduleClusterJob(options: ClusterJobOptions): ScheduledTask {
  const { store, logger, name } = options;
  // A plain function (not a jest.fn from another realm): node-cron checks `instanceof Function`.
  const fn = async (context?: TaskContext) => {
    const occurrence = occurrenceOf(context?.date ?? Date.now());
    try {
      const r = await runOncePerCluster(store, name, occurrence, options.run);
      if (!r.ran) logger.debug('scheduled job run by another instance', { job: name, occurrence });
    } catch (e) {
      logger.error('scheduled job failed', {
        job: name,
        code: isPasserelleError(e) ? e.code : 'ERR_INTERNAL',
        err: e,
      });
    }
  };
  return cron.schedule(options.expression, fn, {
    name,
    noOverlap: true,
    logger: cronLogger(logger),
    ...(options.timezone !== undefined && { timezone: options.timezone }),
  });
}
