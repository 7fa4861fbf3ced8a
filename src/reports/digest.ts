/**
 * The daily digest: each morning (reports.digestSchedule, read in the practice's own zone), the
 * activity report of the practice's previous local day is computed and kept in the store, one
 * per practice and day; a re-run, or a second instance, keeps the first. Missing days of the
 * last `catchUpDays` are filled in (after downtime). When the practice has a webhook
 * (`settings.digestWebhook`), the digest is POSTed to it; a failure is logged (ids only) and
 * retried at each run for `webhookRetryDays`, and never stops the other practices.
 *
 * Scheduling: one node-cron task per time zone in use (practices of one zone share it), with
 * `noOverlap`, node-cron's own lines routed to our log, and the store lease
 * `reports-digest:<zone>` so two instances never make one zone's digests at once.
 */
import cron, { type ScheduledTask, type TaskContext } from 'node-cron';

import type { ReportsConfig } from '../config/schema.js';
import { isPasserelleError, PasserelleError } from '../errors.js';
import { cronLogger } from '../log/cron.js';
import type { Logger } from '../log/logger.js';
import type { SecretBox } from '../security/secrets.js';
import type { Store } from '../store/index.js';
import type { Clock } from '../store/repos/context.js';
import type { JsonObject, Practice } from '../store/types.js';
import { occurrenceOf, runOncePerCluster } from '../sync/scheduler.js';
import { dayPeriod, daysBefore, localDay } from './period.js';
import { buildActivityReport } from './report.js';
import { buildReview, REVIEW_PERIODS, reviewPeriod, type ReviewPeriodKind } from './review.js';
import { reviewHtml } from './review-html.js';
import { reviewLayout } from './review-layout.js';
import { reviewPdf } from './review-pdf.js';
import { digestWebhookId, digestWebhookOf, postDigest } from './webhook.js';

export interface DigestJobOptions {
  readonly store: Store;
  readonly logger: Logger;
  readonly config: ReportsConfig;
  readonly now: Clock;
  /** Opens the digest webhook secrets sealed in practice settings. */
  readonly secrets: SecretBox;
  /** Aborted when the service stops: webhook waits end at once. */
  readonly signal?: AbortSignal;
  /**
   * Also run for each practice at each daily run, before its digests (the call KPI pass,
   * call-kpis.ts); a failure is logged and never stops the digests.
   */
  readonly beforePractice?: (practice: Practice) => Promise<unknown>;
}

export interface PracticeDigestRun {
  readonly practiceId: string;
  /** Days whose digest this run made. */
  readonly created: readonly string[];
  /** Days whose digest reached the webhook in this run. */
  readonly delivered: readonly string[];
  /** Days whose webhook failed in this run, with the error code. */
  readonly failed: readonly { day: string; code: string }[];
}

/** The body POSTed to a practice's webhook. */
export interface DigestPayload extends JsonObject {
  readonly type: 'passerelle.digest.daily';
  readonly practiceId: string;
  readonly day: string;
  readonly report: JsonObject;
}

export class DigestJob {
  private readonly log: Logger;

  constructor(private readonly options: DigestJobOptions) {
    this.log = options.logger.child({ component: 'reports' });
  }

  /** Every practice of `zone`, under the zone's store lease; `acquired: false` when another holder runs it. */
  async runZone(zone: string): Promise<{ acquired: boolean; practices: PracticeDigestRun[] }> {
    const leased = await this.options.store.withLease(`reports-digest:${zone}`, async () => {
      const practices = (await this.options.store.practices.list()).filter((p) => p.timezone === zone);
      const out: PracticeDigestRun[] = [];
      for (const practice of practices) {
        if (this.options.beforePractice)
          await this.options.beforePractice(practice).catch((e: unknown) =>
            this.log.error('daily pass before the digest failed for a practice', {
              practiceId: practice.id,
              code: isPasserelleError(e) ? e.code : 'ERR_INTERNAL',
              err: e,
            }),
          );
        try {
          out.push(await this.runPractice(practice));
        } catch (e) {
          // One practice's failure (store hiccup) never stops the others; the next run catches up.
          this.log.error('digest run failed for a practice', {
            practiceId: practice.id,
            code: isPasserelleError(e) ? e.code : 'ERR_INTERNAL',
            err: e,
          });
        }
      }
      return out;
    });
    return leased.acquired
      ? { acquired: true, practices: leased.result }
      : { acquired: false, practices: [] };
  }

  /** Every zone in use, one after the other (the CLI, tests). */
  async runAll(): Promise<PracticeDigestRun[]> {
    const zones = [...new Set((await this.options.store.practices.list()).map((p) => p.timezone))].sort();
    const out: PracticeDigestRun[] = [];
    for (const zone of zones) out.push(...(await this.runZone(zone)).practices);
    return out;
  }

  /**
   * Makes the practice's missing digests of the last `catchUpDays` local days (never a day
   * before the practice existed), oldest first, then posts those its webhook still waits for.
   */
  async runPractice(practice: Practice): Promise<PracticeDigestRun> {
    const { store, config } = this.options;
    const now = this.options.now();
    const zone = practice.timezone;
    const firstDay = localDay(Date.parse(practice.createdAt), zone);
    const hook = digestWebhookOf(practice.settings, this.options.secrets, practice.id);
    // Logs name a day by the instant it starts: the log redactor blanks date-only values
    // (they look like birth dates, src/log/redact.ts).
    const dayStart = (day: string) => dayPeriod(day, zone).from;
    const created: string[] = [];
    for (let n = config.catchUpDays; n >= 1; n--) {
      const day = daysBefore(now, zone, n);
      if (day < firstDay || (await store.digests.get(practice.id, day))) continue;
      const report = await buildActivityReport(store, { practice, period: dayPeriod(day, zone), now });
      const put = await store.digests.put({
        practiceId: practice.id,
        day,
        report: report as unknown as JsonObject,
        webhook: !('webhook' in hook && hook.webhook === null),
      });
      if (put.created) {
        created.push(day);
        this.log.info('daily digest made', { practiceId: practice.id, dayStart: dayStart(day) });
      }
    }

    const delivered: string[] = [];
    const failed: { day: string; code: string }[] = [];
    const pending = await store.digests.pendingWebhooks(
      practice.id,
      daysBefore(now, zone, config.webhookRetryDays),
    );
    if (pending.length > 0 && 'error' in hook) {
      for (const digest of pending) {
        await store.digests.recordWebhook(practice.id, digest.day, {
          attempts: 0,
          delivered: false,
          error: `${hook.error.code}: ${hook.error.message}`,
        });
        failed.push({ day: digest.day, code: hook.error.code });
      }
      this.log.warn('digest webhook settings are unusable', {
        practiceId: practice.id,
        code: hook.error.code,
        issues: hook.error.issues.map((i) => i.path),
      });
    } else if ('webhook' in hook && hook.webhook) {
      for (const digest of pending) {
        const payload: DigestPayload = {
          type: 'passerelle.digest.daily',
          practiceId: practice.id,
          day: digest.day,
          report: digest.report,
        };
        const result = await postDigest(hook.webhook, Buffer.from(JSON.stringify(payload)), {
          id: digestWebhookId(practice.id, digest.day),
          now: this.options.now,
          timeoutMs: config.webhookTimeoutMs,
          attempts: config.webhookAttempts,
          backoffMs: config.webhookBackoffMs,
          ...(this.options.signal && { signal: this.options.signal }),
        });
        if (result.ok) {
          await store.digests.recordWebhook(practice.id, digest.day, {
            attempts: result.attempts,
            delivered: true,
          });
          delivered.push(digest.day);
          this.log.info('daily digest posted', {
            practiceId: practice.id,
            dayStart: dayStart(digest.day),
            httpStatus: result.status,
            attempts: result.attempts,
          });
        } else {
          await store.digests.recordWebhook(practice.id, digest.day, {
            attempts: result.attempts,
            delivered: false,
            error: `${result.error.code}: ${result.error.message}`,
          });
          failed.push({ day: digest.day, code: result.error.code });
          this.log.warn('daily digest webhook failed; retried at the next run', {
            practiceId: practice.id,
            dayStart: dayStart(digest.day),
            code: result.error.code,
            attempts: result.attempts,
            ...result.error.details,
          });
        }
      }
    }
    if ('webhook' in hook && hook.webhook) await this.postReviews(practice, hook.webhook, now);
    return { practiceId: practice.id, created, delivered, failed };
  }

  /**
   * Posts the review of the last complete week and month (issue 21 point 5) to the digest
   * webhook, once each: `passerelle.review.weekly|monthly` with the figures, the HTML page and
   * the PDF (base64), for the practice's mail or document gateway. Not delivered: tried again at
   * each run until the next period ends. Failures are logged with ids and codes only.
   */
  private async postReviews(
    practice: Practice,
    webhook: Parameters<typeof postDigest>[0],
    now: number,
  ): Promise<void> {
    const { store, config } = this.options;
    const zone = practice.timezone;
    const firstDay = localDay(Date.parse(practice.createdAt), zone);
    const today = daysBefore(now, zone, 0);
    for (const kind of REVIEW_PERIODS.filter((k) => config.reviewWebhook.includes(k))) {
      // A day of the last complete period: a week ago, or the last day of the previous month.
      const inLast: string =
        kind === 'week' ? daysBefore(now, zone, 7) : daysBefore(now, zone, Number(today.slice(8, 10)));
      const period = reviewPeriod(kind as ReviewPeriodKind, inLast, zone);
      if (period.endDay <= firstDay || period.endDay > today) continue;
      if (await store.callKpis.reviewDelivered(practice.id, kind, period.startDay)) continue;
      const review = await buildReview(store, {
        practice,
        kind,
        start: period.startDay,
        now,
        thresholds: config.callThresholds,
      });
      const layout = reviewLayout(review);
      const pdf = await reviewPdf(layout, { createdAt: new Date(now) });
      const payload = {
        type: `passerelle.review.${kind === 'week' ? 'weekly' : 'monthly'}`,
        practiceId: practice.id,
        period: { kind, startDay: period.startDay, endDay: period.endDay, title: period.title },
        review: review as unknown as JsonObject,
        html: reviewHtml(layout),
        pdf: pdf.toString('base64'),
      };
      const result = await postDigest(webhook, Buffer.from(JSON.stringify(payload)), {
        id: digestWebhookId(practice.id, `review-${kind}-${period.startDay}`),
        now: this.options.now,
        timeoutMs: config.webhookTimeoutMs,
        attempts: config.webhookAttempts,
        backoffMs: config.webhookBackoffMs,
        ...(this.options.signal && { signal: this.options.signal }),
      });
      await store.callKpis.recordReviewDelivery(practice.id, kind, period.startDay, {
        attempts: result.attempts,
        error: result.ok ? null : `${result.error.code}: ${result.error.message}`,
      });
      if (result.ok)
        this.log.info('practice review posted', { practiceId: practice.id, kind, attempts: result.attempts });
      else
        this.log.warn('practice review webhook failed; retried at the next run', {
          practiceId: practice.id,
          kind,
          code: result.error.code,
          attempts: result.attempts,
        });
    }
  }
}

export interface DigestSchedulerOptions {
  readonly job: DigestJob;
  readonly store: Store;
  readonly logger: Logger;
  readonly schedule: string;
  /** How often the practices' zones are looked at again (a new zone gets its task); 0: only on start. */
  readonly refreshMs?: number;
}

interface ZoneTask {
  readonly task: ScheduledTask;
  running: Promise<unknown> | undefined;
}

/** One node-cron task per time zone in use, each running `job.runZone(zone)`. */
export class DigestScheduler {
  private readonly tasks = new Map<string, ZoneTask>();
  private readonly log: Logger;
  private timer: NodeJS.Timeout | undefined;
  private unwatch: (() => Promise<void>) | undefined;
  private refreshing: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(private readonly options: DigestSchedulerOptions) {
    this.log = options.logger.child({ component: 'reports' });
    if (!cron.validate(options.schedule))
      throw new PasserelleError(
        'ERR_CONFIG_INVALID',
        'reports.digestSchedule is not a valid cron expression',
        { issues: [{ path: 'reports.digestSchedule', message: 'not a valid cron expression' }] },
      );
  }

  async start(): Promise<void> {
    await this.refresh();
    // PostgreSQL: a practice created, or moved to another zone, by any instance (0017's NOTIFY)
    // gets its zone's task at once; the periodic re-read stays the safety net.
    this.unwatch = await this.options.store
      .watch?.('passerelle_practices', () => {
        void this.refresh().catch((e: unknown) =>
          this.log.error('digest schedule refresh failed', { err: e }),
        );
      })
      .catch(() => undefined);
    const every = this.options.refreshMs ?? 5 * 60_000;
    if (every > 0) {
      this.timer = setInterval(
        () =>
          void this.refresh().catch((e: unknown) =>
            this.log.error('digest schedule refresh failed', { err: e }),
          ),
        every,
      );
      this.timer.unref();
    }
  }

  /** Adds a task for each zone in use and removes those of zones no practice has any more. */
  refresh(): Promise<void> {
    const next = this.refreshing.then(async () => {
      if (this.stopped) return;
      const zones = new Set((await this.options.store.practices.list()).map((p) => p.timezone));
      for (const zone of zones) if (!this.tasks.has(zone)) this.add(zone);
      for (const [zone, entry] of [...this.tasks]) {
        if (zones.has(zone)) continue;
        this.tasks.delete(zone);
        await entry.task.destroy();
      }
    });
    this.refreshing = next.catch(() => undefined);
    return next;
  }

  private add(zone: string): void {
    const entry: ZoneTask = { task: undefined as unknown as ScheduledTask, running: undefined };
    // A plain function: node-cron checks `instanceof Function` (shared/libraries.md §5).
    // Each occurrence runs on one instance of a cluster (sync/scheduler.ts runOncePerCluster);
    // the zone's store lease inside stays for runs started elsewhere (CLI, catch-up).
    const fn = (context?: TaskContext) => {
      const p = runOncePerCluster(
        this.options.store,
        `reports-digest:${zone}`,
        occurrenceOf(context?.date ?? Date.now()),
        () => this.options.job.runZone(zone),
      ).catch((e: unknown) => this.log.error('digest run failed', { zone, err: e }));
      entry.running = p;
      return p.finally(() => {
        if (entry.running === p) entry.running = undefined;
      });
    };
    (entry as { task: ScheduledTask }).task = cron.schedule(this.options.schedule, fn, {
      name: `reports-digest:${zone}`,
      timezone: zone,
      noOverlap: true,
      logger: cronLogger(this.log),
    });
    this.tasks.set(zone, entry);
  }

  /** Zones with a task. */
  zones(): string[] {
    return [...this.tasks.keys()].sort();
  }

  nextRun(zone: string): Date | null {
    return this.tasks.get(zone)?.task.getNextRun() ?? null;
  }

  /** Stops every task and waits for runs in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.unwatch?.();
    await this.refreshing;
    const entries = [...this.tasks.values()];
    this.tasks.clear();
    for (const e of entries) await e.task.destroy();
    await Promise.allSettled(entries.map((e) => e.running));
  }
}
