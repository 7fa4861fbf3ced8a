/**
 * The practice's review document (issue 21 point 5): a week (Monday to Monday, local) or a
 * calendar month of the practice, in French, for its staff — calls (the secretariat's KPIs and
 * the contract's thresholds), bookings by origin, urgent messages and their acknowledgement,
 * agenda coverage and reminders (when the activity report carries them), sync health, and what
 * changed in the consignes. `buildReview` reads the store; `reviewModel` is pure and is what
 * the HTML and PDF renderings (review-html.ts, review-pdf.ts) draw.
 */
import { DateTime } from 'luxon';

import type { CallThresholds } from '../config/schema.js';
import { PasserelleError } from '../errors.js';
import type { Store } from '../store/index.js';
import type { ConsignesVersion } from '../store/repos/consignes.js';
import type { Period } from '../store/repos/reports.js';
import type { CallKpis, Practice } from '../store/types.js';
import {
  type CallKpiTotals,
  checkCallThresholds,
  type ThresholdCheck,
  thresholdsOf,
  totalCallKpis,
} from './call-kpis.js';
import { buildActivityReport } from './report.js';
import type { ActivityReport, LinkReport } from './report-schema.js';
import { buildActivitySeries, type SeriesPoint } from './series.js';

export const REVIEW_PERIODS = ['week', 'month'] as const;
export type ReviewPeriodKind = (typeof REVIEW_PERIODS)[number];

export interface ReviewPeriod {
  readonly kind: ReviewPeriodKind;
  /** First local day, YYYY-MM-DD (a Monday, or the 1st of the month). */
  readonly startDay: string;
  /** The local day after the last one (exclusive). */
  readonly endDay: string;
  /** UTC instants of local midnights. */
  readonly period: Period;
  /** « Semaine du 30 novembre au 6 décembre 2026 », « Novembre 2026 ». */
  readonly title: string;
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** The week holding `start` (from its Monday) or the month holding it, in the practice's zone. */
export function reviewPeriod(kind: ReviewPeriodKind, start: string, zone: string): ReviewPeriod {
  const day = DAY.test(start) ? DateTime.fromISO(start, { zone }) : undefined;
  if (!day?.isValid)
    throw new PasserelleError('ERR_VALIDATION', 'query.start: expected a date (YYYY-MM-DD)', {
      issues: [{ path: 'query.start', message: 'expected a date (YYYY-MM-DD)' }],
    });
  const first = day.startOf(kind === 'week' ? 'week' : 'month');
  const next = first.plus(kind === 'week' ? { weeks: 1 } : { months: 1 });
  const last = next.minus({ days: 1 });
  const fr = (d: DateTime, f: string) => d.setLocale('fr').toFormat(f);
  const title =
    kind === 'week'
      ? `Semaine du ${fr(first, first.month === last.month ? 'd' : first.year === last.year ? 'd MMMM' : 'd MMMM yyyy')} au ${fr(last, 'd MMMM yyyy')}`
      : capitalize(fr(first, 'MMMM yyyy'));
  return {
    kind,
    startDay: first.toISODate() as string,
    endDay: next.toISODate() as string,
    period: { from: first.toUTC().toISO() as string, to: next.toUTC().toISO() as string },
    title,
  };
}

const capitalize = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

export interface ReviewCallDay extends CallKpis {
  readonly checks: readonly ThresholdCheck[];
}

/** A section another part of passerelle adds to the activity report (coverage, reminders): figures by name. */
export interface ReviewExtraSection {
  readonly available: boolean;
  /** Numeric leaves of the section, by their path (`confirmed`, `byChannel.sms`…). */
  readonly figures: readonly { readonly key: string; readonly value: number }[];
}

export interface PracticeReview {
  readonly practice: { readonly id: string; readonly name: string; readonly timezone: string };
  readonly period: ReviewPeriod;
  readonly generatedAt: string;
  readonly calls: {
    /** False when no day of the period has figures from the platform. */
    readonly available: boolean;
    readonly days: readonly ReviewCallDay[];
    readonly totals: CallKpiTotals;
    readonly checks: readonly ThresholdCheck[];
    readonly thresholds: CallThresholds;
  };
  readonly bookings: {
    readonly secretariat: number;
    readonly practice: number;
    readonly cancelled: number;
    readonly refused: number;
    readonly byDay: readonly {
      readonly day: string;
      readonly secretariat: number;
      readonly practice: number;
    }[];
  };
  readonly urgent: {
    readonly received: number;
    readonly delivered: number;
    readonly deliveryP50Ms: number | null;
    readonly deliveryP95Ms: number | null;
    readonly acknowledgement: ActivityReport['urgentAcknowledgement'] | null;
  };
  readonly coverage: ReviewExtraSection;
  readonly reminders: ReviewExtraSection;
  readonly sync: {
    readonly links: readonly LinkReport[];
    readonly deadLetters: number;
    readonly deadLettersOpenNow: number;
    readonly conflictsForReview: number;
    readonly conflictsOpenNow: number;
  };
  readonly consignes: {
    readonly versionInForce: number | null;
    readonly changes: readonly {
      readonly version: number;
      readonly author: string;
      readonly createdAt: string;
      readonly paths: readonly string[];
      readonly published: boolean;
    }[];
  };
}

/** Numeric leaves of an unknown report section, or unavailable when it is absent. */
export function extraSection(value: unknown): ReviewExtraSection {
  if (value === undefined || value === null || typeof value !== 'object')
    return { available: false, figures: [] };
  const figures: { key: string; value: number }[] = [];
  const walk = (v: unknown, path: string) => {
    if (typeof v === 'number' && Number.isFinite(v)) figures.push({ key: path, value: v });
    else if (v !== null && typeof v === 'object' && !Array.isArray(v))
      for (const [k, x] of Object.entries(v)) walk(x, path === '' ? k : `${path}.${k}`);
  };
  walk(value, '');
  return { available: true, figures };
}

export interface ReviewInputs {
  readonly practice: Practice;
  readonly period: ReviewPeriod;
  readonly now: number;
  readonly report: ActivityReport;
  readonly points: readonly SeriesPoint[];
  readonly callDays: readonly CallKpis[];
  readonly thresholds: CallThresholds;
  /** Every consignes version of the practice, newest first. */
  readonly consignes: readonly ConsignesVersion[];
}

export function reviewModel(input: ReviewInputs): PracticeReview {
  const { report, period, thresholds } = input;
  const totals = totalCallKpis(input.callDays);
  const from = Date.parse(period.period.from);
  const to = Date.parse(period.period.to);
  const inForce = input.consignes.find((c) => Date.parse(c.createdAt) < to);
  const extra = report as unknown as Record<string, unknown>;
  return {
    practice: { id: input.practice.id, name: input.practice.name, timezone: input.practice.timezone },
    period,
    generatedAt: new Date(input.now).toISOString(),
    calls: {
      available: input.callDays.length > 0,
      days: input.callDays.map((d) => ({
        ...d,
        checks: checkCallThresholds(totalCallKpis([d]), thresholds),
      })),
      totals,
      checks: checkCallThresholds(totals, thresholds),
      thresholds,
    },
    bookings: {
      secretariat: report.appointments.byOrigin.secretariat.booked,
      practice: report.appointments.byOrigin.practice.booked,
      cancelled: report.appointments.total.cancelled,
      refused: report.appointments.total.refused,
      byDay: input.points.map((p) => ({
        day: p.label,
        secretariat: p.appointments.secretariat.booked,
        practice: p.appointments.practice.booked,
      })),
    },
    urgent: {
      received: report.messages.urgencies.received,
      delivered: report.messages.urgencies.delivered,
      deliveryP50Ms: report.messages.urgencies.latencyMs.p50,
      deliveryP95Ms: report.messages.urgencies.latencyMs.p95,
      acknowledgement: report.urgentAcknowledgement ?? null,
    },
    // Other helpers add these to the activity report (agenda coverage, reminder outcomes);
    // the review shows whatever figures they carry, and « non disponible » without them.
    coverage: extraSection(extra['coverage'] ?? extra['agendaCoverage']),
    reminders: extraSection(extra['reminders']),
    sync: {
      links: report.links,
      deadLetters: report.deadLetters.total,
      deadLettersOpenNow: report.deadLetters.openNow,
      conflictsForReview: report.conflicts.openedForReview,
      conflictsOpenNow: report.conflicts.openNow,
    },
    consignes: {
      versionInForce: inForce?.version ?? null,
      changes: input.consignes
        .filter((c) => {
          const at = Date.parse(c.createdAt);
          return at >= from && at < to;
        })
        .map((c) => ({
          version: c.version,
          author: c.author,
          createdAt: c.createdAt,
          paths: c.diff.map((d) => d.path),
          published: c.publishedAt !== null,
        }))
        .sort((a, b) => a.version - b.version),
    },
  };
}

export interface ReviewOptions {
  readonly practice: Practice;
  readonly kind: ReviewPeriodKind;
  /** Any local day of the week or month (YYYY-MM-DD). */
  readonly start: string;
  readonly now: number;
  /** The service's thresholds (reports.callThresholds), for practices that set none. */
  readonly thresholds: CallThresholds;
}

export async function buildReview(store: Store, options: ReviewOptions): Promise<PracticeReview> {
  const { practice } = options;
  const period = reviewPeriod(options.kind, options.start, practice.timezone);
  const [report, series, callDays, consignes] = await Promise.all([
    buildActivityReport(store, { practice, period: period.period, now: options.now, names: true }),
    buildActivitySeries(store, { practice, period: period.period, bucket: 'day' }),
    store.callKpis.list(practice.id, period.startDay, period.endDay),
    store.consignes.versions(practice.id),
  ]);
  return reviewModel({
    practice,
    period,
    now: options.now,
    report,
    points: series.points,
    callDays: callDays.map(({ practiceId: _p, linkId: _l, fetchedAt: _f, ...d }) => d),
    thresholds: thresholdsOf(practice.settings, options.thresholds),
    consignes,
  });
}
