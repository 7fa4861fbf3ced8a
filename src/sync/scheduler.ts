/**
 * Scheduled polls, one node-cron task per link (design rule 5: push is a hint, polling is the
 * truth). `noOverlap` skips a tick while the previous poll of the link still runs; the runtime
 * also takes the store lease `poll:<link>` so two instances never poll one link at once.
 * node-cron logs through console by default (shared/libraries.md §5): ours gets its lines.
 */
import cron, { type ScheduledTask } from 'node-cron';

import { PasserelleError } from '../errors.js';
import { cronLogger } from '../log/cron.js';
import type { Logger } from '../log/logger.js';

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
