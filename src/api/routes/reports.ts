/**
 * Supervision reports (docs/reports.md): the activity of a practice over a period, as JSON or,
 * with `Accept: text/csv` (or `format=csv`), as a CSV file for the practice's staff; and the
 * daily digests kept in the store. Viewers read; a key limited to a practice reads only that
 * practice. Ids, codes and counts only: no patient data, so no audited read.
 */
import { z } from 'zod';

import type { ReportsConfig } from '../../config/schema.js';
import { PasserelleError } from '../../errors.js';
import { CSV_CONTENT_TYPE, reportCsv, reportFilename } from '../../reports/csv.js';
import { dayPeriod, parsePeriod } from '../../reports/period.js';
import { buildActivityReport } from '../../reports/report.js';
import { ActivityReport } from '../../reports/report-schema.js';
import { buildReview, REVIEW_PERIODS } from '../../reports/review.js';
import { reviewHtml } from '../../reports/review-html.js';
import { reviewLayout } from '../../reports/review-layout.js';
import { reviewPdf } from '../../reports/review-pdf.js';
import {
  ActivitySeries,
  buildActivitySeries,
  SERIES_BUCKETS,
  seriesCsv,
  seriesFilename,
} from '../../reports/series.js';
import type { Store } from '../../store/index.js';
import type { Clock } from '../../store/repos/context.js';
import { DIGEST_WEBHOOK_STATUSES } from '../../store/types.js';
import { type AnyRoute, defineRoute, type RouteContext } from '../route.js';

const practiceId = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, { error: 'not a practice id' });
const when = z
  .string()
  .min(10)
  .max(40)
  .describe(
    'A date (2026-11-23, midnight in the practice’s zone) or an ISO-8601 date-time (2026-11-23T08:00:00Z)',
  );
const format = z
  .enum(['json', 'csv'])
  .optional()
  .describe('Overrides the Accept header: csv downloads the file');

const DigestSummary = z.object({
  practiceId: z.string(),
  day: z.string().describe('The practice’s local day, YYYY-MM-DD'),
  createdAt: z.string(),
  webhook: z.object({
    status: z
      .enum(DIGEST_WEBHOOK_STATUSES)
      .nullable()
      .describe('null: the practice had no webhook when the digest was made'),
    attempts: z.number().int(),
    lastError: z.string().nullable(),
    deliveredAt: z.string().nullable(),
  }),
});
const Digest = DigestSummary.extend({ report: ActivityReport });

export interface ReportRoutesDeps {
  readonly store: Store;
  readonly config: ReportsConfig;
  readonly now: Clock;
}

/** CSV when asked by `format=csv`, or by an Accept header preferring text/csv to JSON. */
function wantsCsv(ctx: RouteContext<unknown, { format?: 'json' | 'csv' | undefined }, unknown>): boolean {
  if (ctx.query.format) return ctx.query.format === 'csv';
  return ctx.req.accepts(['application/json', 'text/csv']) === 'text/csv';
}

function sendCsv(ctx: RouteContext<unknown, unknown, unknown>, report: ActivityReport): void {
  ctx.res
    .status(200)
    .set({
      'Content-Type': CSV_CONTENT_TYPE,
      'Content-Disposition': `attachment; filename="${reportFilename(report)}"`,
      'Cache-Control': 'no-store',
    })
    .send(Buffer.from(reportCsv(report), 'utf8'));
}

export function reportRoutes(deps: ReportRoutesDeps): AnyRoute[] {
  const { store } = deps;
  const practiceOf = async (id: string) => {
    const practice = await store.practices.get(id);
    if (!practice)
      throw new PasserelleError('ERR_NOT_FOUND', `practice ${id} not found`, { details: { practice: id } });
    return practice;
  };
  return [
    defineRoute({
      method: 'get',
      path: '/api/v1/practices/:practiceId/reviews',
      summary:
        'The practice’s weekly or monthly review in French (HTML page or PDF): calls and contract thresholds, bookings by origin, urgent messages and their acknowledgement, agenda coverage, sync health, consignes changes',
      description:
        '`period=week` is the week (Monday to Monday, the practice’s local days) holding `start`; `period=month` its calendar month. `Accept: application/pdf` (or `format=pdf`) gives the PDF, `Accept: application/json` (or `format=json`) the review’s figures, anything else the HTML page.',
      tags: ['reports', 'console'],
      access: 'viewer',
      scope: { practice: { from: 'params', field: 'practiceId' } },
      params: z.object({ practiceId }),
      query: z.object({
        period: z.enum(REVIEW_PERIODS).describe('week or month'),
        start: z
          .string()
          .regex(/^\d{4}-\d{2}-\d{2}$/, { error: 'expected YYYY-MM-DD' })
          .describe('Any local day of the week or month'),
        format: z.enum(['html', 'pdf', 'json']).optional().describe('Overrides the Accept header'),
      }),
      responses: {
        200: { description: 'The review (text/html, application/pdf or application/json)' },
        404: { description: 'No such practice' },
      },
      handler: async (ctx) => {
        const { params, query } = ctx;
        const practice = await practiceOf(params.practiceId);
        const now = deps.now();
        const review = await buildReview(store, {
          practice,
          kind: query.period,
          start: query.start,
          now,
          thresholds: deps.config.callThresholds,
        });
        const preferred = ctx.req.accepts(['text/html', 'application/pdf', 'application/json']);
        const format =
          query.format ??
          (preferred === 'application/pdf' ? 'pdf' : preferred === 'application/json' ? 'json' : 'html');
        if (format === 'json') return review;
        const layout = reviewLayout(review);
        const file = `passerelle-revue-${practice.id}-${query.period === 'week' ? 'semaine' : 'mois'}-${review.period.startDay}`;
        if (format === 'pdf') {
          const pdf = await reviewPdf(layout, { createdAt: new Date(now) });
          ctx.res
            .status(200)
            .set({
              'Content-Type': 'application/pdf',
              'Content-Disposition': `inline; filename="${file}.pdf"`,
              'Cache-Control': 'no-store',
            })
            .send(pdf);
          return undefined;
        }
        ctx.res
          .status(200)
          .set({
            'Content-Type': 'text/html; charset=utf-8',
            'Content-Disposition': `inline; filename="${file}.html"`,
            'Cache-Control': 'no-store',
          })
          .send(reviewHtml(layout));
        return undefined;
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/v1/reports/activity',
      summary:
        'Activity of a practice over a period: appointments by origin and practitioner, call messages with delivery delays, conflicts, dead letters, link lag and queues',
      description:
        'The period is [from, to). Dates without an offset are read in the practice’s time zone. JSON by default; `Accept: text/csv` (or `format=csv`) returns a `;`-separated UTF-8 CSV with a BOM, one section per table, French labels, as an attachment named `passerelle-activite-<practice>-<from>-<to>.csv`.',
      tags: ['reports'],
      access: 'viewer',
      scope: { practice: { from: 'query', field: 'practice' } },
      query: z.object({ practice: practiceId, from: when, to: when, format }),
      responses: {
        200: { description: 'The report (JSON; CSV with Accept: text/csv)', schema: ActivityReport },
        404: { description: 'No such practice' },
      },
      handler: async (ctx) => {
        const { query } = ctx;
        const practice = await practiceOf(query.practice);
        const period = parsePeriod(query.from, query.to, practice.timezone, deps.config.maxRangeDays);
        const report = await buildActivityReport(store, { practice, period, now: deps.now(), names: true });
        if (wantsCsv(ctx)) return sendCsv(ctx, report);
        return report;
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/v1/reports/series',
      summary:
        'Time series for charts: appointments by origin, urgent-message delivery delay p50/p95, messages, dead letters, per local day or week',
      description:
        'The period [from, to) cut into the practice’s local days, or ISO weeks (Monday 00:00 local), each point with the counts of the activity report. Dates without an offset are read in the practice’s time zone. JSON by default; `Accept: text/csv` (or `format=csv`) gives one line per bucket, French headers, local times, `;`-separated UTF-8 with a BOM. The sync lag of the past is not kept (the dashboard shows the current one); the delivery delay of call messages is the measured sync delay.',
      tags: ['reports', 'console'],
      access: 'viewer',
      scope: { practice: { from: 'query', field: 'practiceId' } },
      query: z.object({
        practiceId,
        from: when,
        to: when,
        bucket: z.enum(SERIES_BUCKETS).optional().describe('day (default) or week'),
        format,
      }),
      responses: {
        200: { description: 'The series (JSON; CSV with Accept: text/csv)', schema: ActivitySeries },
        404: { description: 'No such practice' },
      },
      handler: async (ctx) => {
        const { query } = ctx;
        const practice = await practiceOf(query.practiceId);
        const period = parsePeriod(query.from, query.to, practice.timezone, deps.config.maxRangeDays);
        const series = await buildActivitySeries(store, { practice, period, bucket: query.bucket ?? 'day' });
        if (!wantsCsv(ctx)) return series;
        ctx.res
          .status(200)
          .set({
            'Content-Type': CSV_CONTENT_TYPE,
            'Content-Disposition': `attachment; filename="${seriesFilename(series)}"`,
            'Cache-Control': 'no-store',
          })
          .send(Buffer.from(seriesCsv(series), 'utf8'));
        return undefined;
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/v1/reports/digests',
      summary: 'Daily digests kept for a practice, newest first, with their webhook delivery state',
      tags: ['reports'],
      access: 'viewer',
      scope: { practice: { from: 'query', field: 'practice' } },
      query: z.object({ practice: practiceId, limit: z.coerce.number().int().min(1).max(1000).optional() }),
      responses: {
        200: {
          description: 'Digests, without their reports',
          schema: z.object({ items: z.array(DigestSummary) }),
        },
        404: { description: 'No such practice' },
      },
      handler: async ({ query }) => {
        await practiceOf(query.practice);
        return { items: await store.digests.list({ practiceId: query.practice, limit: query.limit ?? 100 }) };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/v1/reports/digests/:practice/:day',
      summary:
        'One daily digest: the activity report of the practice’s local day (JSON; CSV with Accept: text/csv)',
      tags: ['reports'],
      access: 'viewer',
      scope: { practice: { from: 'params', field: 'practice' } },
      params: z.object({
        practice: practiceId,
        day: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, { error: 'expected YYYY-MM-DD' }),
      }),
      query: z.object({ format }),
      responses: {
        200: { description: 'The digest', schema: Digest },
        404: { description: 'No digest for that practice and day' },
      },
      handler: async (ctx) => {
        const { params } = ctx;
        const practice = await practiceOf(params.practice);
        dayPeriod(params.day, practice.timezone);
        const digest = await store.digests.get(params.practice, params.day);
        if (!digest)
          throw new PasserelleError(
            'ERR_NOT_FOUND',
            `no digest for practice ${params.practice} on ${params.day}`,
            { details: { practice: params.practice, day: params.day } },
          );
        if (wantsCsv(ctx)) return sendCsv(ctx, digest.report as unknown as ActivityReport);
        return digest;
      },
    }),
  ];
}
