/**
 * The secretariat's call KPIs (issue 21 point 4): fetched each day per practice from its
 * secretariat link (`Connector.callStatistics`, GET /call-statistics of the platform contract),
 * kept one row per practice and local day, summed over a review's period, and checked against
 * the thresholds the practice's contract names (`settings.callThresholds`, else
 * `reports.callThresholds`). `ingestCallKpis` is a plain function: whoever schedules it decides
 * how often and on which instance it runs; a repeated pass only replaces a day's row.
 */
import { CallThresholds } from '../config/schema.js';
import type { Connector } from '../connector/contract.js';
import { isPasserelleError, PasserelleError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { Store } from '../store/index.js';
import type { CallKpis, JsonObject, Practice } from '../store/types.js';
import { runOncePerCluster } from '../sync/scheduler.js';
import { daysBefore, localDay } from './period.js';

export const CALL_THRESHOLD_KEYS = [
  'answeredWithin',
  'minAnsweredPercent',
  'maxAbandonedPercent',
  'maxWaitP95Seconds',
  'minSatisfaction',
] as const;
export type CallThresholdKey = (typeof CALL_THRESHOLD_KEYS)[number];

/** One threshold checked: the value measured (null when nothing was measured) and whether it was missed. */
export interface ThresholdCheck {
  readonly key: CallThresholdKey;
  /** What the contract asks, as a number (a percentage, seconds or a score). */
  readonly target: number;
  /** For `answeredWithin`: the wait in seconds. */
  readonly withinSeconds?: number;
  readonly value: number | null;
  readonly missed: boolean;
}

/** KPIs summed over several days. */
export interface CallKpiTotals {
  readonly days: number;
  readonly received: number;
  readonly answered: number;
  readonly abandoned: number;
  readonly answeredWithin: Readonly<Record<string, number>>;
  /** Over several days: the call-weighted median of the daily medians. */
  readonly waitP50Seconds: number | null;
  /** Over several days: the highest daily p95 (the period's worst day). */
  readonly waitP95Seconds: number | null;
  readonly outcomes: CallKpis['outcomes'];
  /** Response-weighted average; null when no day was surveyed (or the platform does not survey). */
  readonly satisfaction: { readonly responses: number; readonly averageScore: number | null } | null;
}

const pct = (n: number, of: number): number | null => (of === 0 ? null : Math.round((n / of) * 1000) / 10);

/** Sums days of KPIs (an empty list gives zeros and nulls). */
export function totalCallKpis(days: readonly CallKpis[]): CallKpiTotals {
  const sum = (f: (d: CallKpis) => number) => days.reduce((n, d) => n + f(d), 0);
  const within: Record<string, number> = {};
  for (const d of days)
    for (const [k, v] of Object.entries(d.answeredWithin)) within[k] = (within[k] ?? 0) + v;
  // Weighted median of daily medians: sort days by p50, take the one holding the middle call.
  const medians = days
    .filter((d) => d.waitSeconds.p50 !== null && d.answered > 0)
    .map((d) => ({ p50: d.waitSeconds.p50 as number, n: d.answered }))
    .sort((a, b) => a.p50 - b.p50);
  const total = medians.reduce((n, m) => n + m.n, 0);
  let seen = 0;
  let p50: number | null = null;
  for (const m of medians) {
    seen += m.n;
    if (seen * 2 >= total) {
      p50 = m.p50;
      break;
    }
  }
  const p95s = days.map((d) => d.waitSeconds.p95).filter((v): v is number => v !== null);
  const surveyed = days.filter((d) => d.satisfaction !== null);
  const responses = surveyed.reduce((n, d) => n + (d.satisfaction?.responses ?? 0), 0);
  const scored = surveyed.reduce(
    (n, d) => n + (d.satisfaction?.averageScore ?? 0) * (d.satisfaction?.responses ?? 0),
    0,
  );
  return {
    days: days.length,
    received: sum((d) => d.received),
    answered: sum((d) => d.answered),
    abandoned: sum((d) => d.abandoned),
    answeredWithin: within,
    waitP50Seconds: p50,
    waitP95Seconds: p95s.length === 0 ? null : Math.max(...p95s),
    outcomes: {
      booked: sum((d) => d.outcomes.booked),
      message: sum((d) => d.outcomes.message),
      urgent: sum((d) => d.outcomes.urgent),
      redirected: sum((d) => d.outcomes.redirected),
    },
    satisfaction:
      surveyed.length === 0
        ? null
        : { responses, averageScore: responses === 0 ? null : Math.round((scored / responses) * 10) / 10 },
  };
}

/**
 * Checks the figures against the thresholds set. A threshold with nothing to measure (no call
 * received, no survey) is reported with `value: null` and not missed: an empty day breaks no
 * promise.
 */
export function checkCallThresholds(k: CallKpiTotals, thresholds: CallThresholds): ThresholdCheck[] {
  const out: ThresholdCheck[] = [];
  const atLeast = (key: CallThresholdKey, target: number, value: number | null, extra = {}) =>
    out.push({ key, target, value, missed: value !== null && value < target, ...extra });
  const atMost = (key: CallThresholdKey, target: number, value: number | null) =>
    out.push({ key, target, value, missed: value !== null && value > target });
  if (thresholds.answeredWithin) {
    const { seconds, minPercent } = thresholds.answeredWithin;
    atLeast('answeredWithin', minPercent, pct(k.answeredWithin[String(seconds)] ?? 0, k.received), {
      withinSeconds: seconds,
    });
  }
  if (thresholds.minAnsweredPercent !== undefined)
    atLeast('minAnsweredPercent', thresholds.minAnsweredPercent, pct(k.answered, k.received));
  if (thresholds.maxAbandonedPercent !== undefined)
    atMost('maxAbandonedPercent', thresholds.maxAbandonedPercent, pct(k.abandoned, k.received));
  if (thresholds.maxWaitP95Seconds !== undefined)
    atMost('maxWaitP95Seconds', thresholds.maxWaitP95Seconds, k.waitP95Seconds);
  if (thresholds.minSatisfaction !== undefined)
    atLeast('minSatisfaction', thresholds.minSatisfaction, k.satisfaction?.averageScore ?? null);
  return out;
}

/**
 * The thresholds of a practice: its own `settings.callThresholds` when set (checked when
 * written), else the service's. A stored value that no longer parses falls back to the
 * service's rather than hiding the KPIs.
 */
export function thresholdsOf(settings: JsonObject, fallback: CallThresholds): CallThresholds {
  const own = settings['callThresholds'];
  if (own === undefined || own === null) return fallback;
  const parsed = CallThresholds.safeParse(own);
  return parsed.success ? parsed.data : fallback;
}

/**
 * Checks `settings.callThresholds` as the practice API receives it. Throws ERR_VALIDATION
 * naming `body.settings.callThresholds.*`; nothing is stored then.
 */
export function validateCallThresholdSettings(settings: JsonObject): JsonObject {
  const raw = settings['callThresholds'];
  if (raw === undefined || raw === null) return settings;
  const parsed = CallThresholds.safeParse(raw);
  if (parsed.success) return { ...settings, callThresholds: parsed.data as unknown as JsonObject };
  const issues = parsed.error.issues.map((i) => ({
    path: ['body', 'settings', 'callThresholds', ...i.path.map(String)].join('.'),
    message: i.message,
  }));
  throw new PasserelleError('ERR_VALIDATION', `${issues[0]?.path}: ${issues[0]?.message}`, { issues });
}

export interface CallKpiIngestOptions {
  readonly store: Store;
  readonly logger: Logger;
  readonly now: () => number;
  /** The running connector of a link (the sync runtime's). */
  readonly connectorOf: (linkId: string) => Connector | undefined;
  /** Past local days fetched again besides today (default 3: yesterday's final figures, after downtime). */
  readonly days?: number;
}

export interface CallKpiIngestResult {
  readonly practiceId: string;
  /** Days stored (or replaced) in this pass. */
  readonly stored: readonly string[];
  /** Days the platform did not answer for, with the error code. */
  readonly failed: readonly { readonly day: string; readonly code: string }[];
}

/**
 * One pass for one practice: today and the `days` local days before it, from the practice's
 * first enabled secretariat link that is running and offers call statistics. Idempotent.
 */
export async function ingestCallKpis(
  practice: Practice,
  options: CallKpiIngestOptions,
): Promise<CallKpiIngestResult> {
  const { store } = options;
  const log = options.logger.child({ component: 'reports', practiceId: practice.id });
  const now = options.now();
  const links = (await store.links.list({ practiceId: practice.id, enabled: true })).filter(
    (l) => l.role === 'secretariat',
  );
  const source = links
    .map((l) => ({ link: l, connector: options.connectorOf(l.id) }))
    .find((x) => x.connector?.callStatistics !== undefined);
  if (!source) return { practiceId: practice.id, stored: [], failed: [] };
  const firstDay = localDay(Date.parse(practice.createdAt), practice.timezone);
  const stored: string[] = [];
  const failed: { day: string; code: string }[] = [];
  for (let n = options.days ?? 3; n >= 0; n--) {
    const day = daysBefore(now, practice.timezone, n);
    if (day < firstDay) continue;
    try {
      const kpis = await (source.connector as Required<Pick<Connector, 'callStatistics'>>).callStatistics(
        day,
      );
      await store.callKpis.upsert({
        practiceId: practice.id,
        linkId: source.link.id,
        kpis: { ...kpis, day },
      });
      stored.push(day);
    } catch (e) {
      const code = isPasserelleError(e) ? e.code : 'ERR_INTERNAL';
      failed.push({ day, code });
      log.warn('call statistics not fetched; tried again at the next pass', { linkId: source.link.id, code });
    }
  }
  return { practiceId: practice.id, stored, failed };
}

export interface CallKpiCatchUpResult {
  readonly zone: string;
  /** The zone's yesterday, the occurrence claimed across the cluster. */
  readonly day: string;
  /** false: nothing was missing, or another instance claimed the zone's catch-up of that day. */
  readonly ran: boolean;
  readonly practices: readonly CallKpiIngestResult[];
}

/**
 * The catch-up at start: the KPI pass otherwise runs only with the daily digests
 * (`reports.digestSchedule`, 06:05 local), so a service down at that time would leave
 * yesterday's figures missing for a day. For each zone in use, the practices that existed
 * yesterday (local) and have no KPI row for it get one pass now (`ingestCallKpis`: today and the
 * days before it). Once per zone and day across the cluster (`runOncePerCluster`, job
 * `call-kpis-catch-up:<zone>`, occurrence the zone's yesterday): instances starting together do
 * not all ask the platform, and a restart later the same day does not ask again for a day the
 * platform could not give (the next daily run fetches it with the others).
 */
export async function catchUpCallKpis(options: CallKpiIngestOptions): Promise<CallKpiCatchUpResult[]> {
  const { store } = options;
  const log = options.logger.child({ component: 'reports' });
  const now = options.now();
  const byZone = new Map<string, Practice[]>();
  for (const p of await store.practices.list())
    byZone.set(p.timezone, [...(byZone.get(p.timezone) ?? []), p]);
  const out: CallKpiCatchUpResult[] = [];
  for (const [zone, practices] of [...byZone].sort(([a], [b]) => a.localeCompare(b))) {
    const yesterday = daysBefore(now, zone, 1);
    const today = daysBefore(now, zone, 0);
    const missing: Practice[] = [];
    for (const p of practices) {
      if (localDay(Date.parse(p.createdAt), zone) > yesterday) continue;
      if ((await store.callKpis.list(p.id, yesterday, today)).length === 0) missing.push(p);
    }
    if (missing.length === 0) {
      out.push({ zone, day: yesterday, ran: false, practices: [] });
      continue;
    }
    const run = await runOncePerCluster(store, `call-kpis-catch-up:${zone}`, yesterday, async () => {
      const results: CallKpiIngestResult[] = [];
      for (const p of missing) {
        // One practice's failure (store hiccup) never stops the others.
        try {
          results.push(await ingestCallKpis(p, options));
        } catch (e) {
          log.error('call KPI catch-up failed for a practice', {
            practiceId: p.id,
            code: isPasserelleError(e) ? e.code : 'ERR_INTERNAL',
            err: e,
          });
        }
      }
      return results;
    });
    out.push({ zone, day: yesterday, ran: run.ran, practices: run.ran ? run.result : [] });
  }
  return out;
}
