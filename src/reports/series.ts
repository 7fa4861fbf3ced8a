/**
 * Time series for the console's charts (issue 19): a practice's period cut into local days or
 * ISO weeks (Monday to Monday, in the practice's zone — Europe/Paris by default — so a bucket is
 * 23 or 25 hours on a DST day), each with the counts of the activity report (report.ts):
 * appointments by origin, call messages and their delivery delay (nearest-rank p50/p95), and the
 * dead letters made. Built from the activity events kept for reports: no patient data.
 *
 * Not a series: the sync lag of the past. The store keeps where each link stands now (cursor
 * times, outbox ages: GET /api/v1/dashboard), not its history; the delivery delay of call
 * messages is the sync delay that is measured, message by message.
 */
import { DateTime } from 'luxon';
import { z } from 'zod';

import type { Store } from '../store/index.js';
import type { Period } from '../store/repos/reports.js';
import type { Practice } from '../store/types.js';
import { csvDocument, type CsvValue } from './csv.js';
import { aggregateActivity } from './report.js';
import { AppointmentCounts, MessageStats } from './report-schema.js';

export const SERIES_BUCKETS = ['day', 'week'] as const;
export type SeriesBucket = (typeof SERIES_BUCKETS)[number];

export const SeriesPoint = z.object({
  start: z.string().describe('Start of the bucket (UTC instant, inclusive)'),
  end: z.string().describe('End of the bucket (UTC instant, exclusive)'),
  label: z.string().describe('The local day the bucket starts on, YYYY-MM-DD'),
  appointments: z.object({ secretariat: AppointmentCounts, practice: AppointmentCounts }),
  urgentMessages: MessageStats.describe('Call messages of priority urgent, asap or stat'),
  messages: MessageStats.describe('Every call message'),
  deadLetters: z.object({ total: z.number().int(), inbox: z.number().int(), outbox: z.number().int() }),
});
export type SeriesPoint = z.infer<typeof SeriesPoint>;

export const ActivitySeries = z.object({
  practice: z.object({ id: z.string(), name: z.string(), timezone: z.string() }),
  bucket: z.enum(SERIES_BUCKETS),
  period: z.object({ from: z.string(), to: z.string() }),
  points: z.array(SeriesPoint),
});
export type ActivitySeries = z.infer<typeof ActivitySeries>;

/** The buckets of [from, to): cut at local midnights (day) or local Monday midnights (week). */
export function seriesBuckets(period: Period, zone: string, bucket: SeriesBucket): Period[] {
  const end = DateTime.fromISO(period.to, { zone });
  let cursor = DateTime.fromISO(period.from, { zone });
  const out: Period[] = [];
  while (cursor < end) {
    const boundary = cursor.startOf(bucket).plus(bucket === 'day' ? { days: 1 } : { weeks: 1 });
    const next = boundary < end ? boundary : end;
    out.push({ from: cursor.toUTC().toISO() as string, to: next.toUTC().toISO() as string });
    cursor = next;
  }
  return out;
}

export async function buildActivitySeries(
  store: Store,
  options: { readonly practice: Practice; readonly period: Period; readonly bucket: SeriesBucket },
): Promise<ActivitySeries> {
  const { practice, period, bucket } = options;
  const zone = practice.timezone;
  const points: SeriesPoint[] = [];
  for (const b of seriesBuckets(period, zone, bucket)) {
    const [counts, latencies, dead] = await Promise.all([
      store.activity.counts(practice.id, b),
      store.activity.latencies(practice.id, b),
      store.activity.deadLetterCounts(practice.id, b),
    ]);
    const a = aggregateActivity(counts, latencies);
    const bySource = (s: 'inbox' | 'outbox') =>
      dead.filter((d) => d.source === s).reduce((n, d) => n + d.count, 0);
    points.push({
      start: b.from,
      end: b.to,
      label: DateTime.fromISO(b.from, { zone }).toISODate() as string,
      appointments: a.appointments.byOrigin,
      urgentMessages: a.messages.urgencies,
      messages: a.messages.all,
      deadLetters: {
        total: bySource('inbox') + bySource('outbox'),
        inbox: bySource('inbox'),
        outbox: bySource('outbox'),
      },
    });
  }
  return { practice: { id: practice.id, name: practice.name, timezone: zone }, bucket, period, points };
}

const SERIES_HEADER = [
  'Début (heure locale)',
  'Fin (heure locale)',
  'RDV pris par le secrétariat',
  'RDV pris par le cabinet',
  'RDV déplacés par le secrétariat',
  'RDV déplacés par le cabinet',
  'RDV annulés par le secrétariat',
  'RDV annulés par le cabinet',
  'Urgences reçues',
  'Urgences remises au cabinet',
  'Délai des urgences p50 (ms)',
  'Délai des urgences p95 (ms)',
  'Messages reçus',
  'Messages remis au cabinet',
  'Délai des messages p50 (ms)',
  'Délai des messages p95 (ms)',
  'Changements en échec (dead letters)',
] as const;

/** One line per bucket, French headers, times in the practice's zone (csv.ts conventions). */
export function seriesCsv(series: ActivitySeries): string {
  const zone = series.practice.timezone;
  const local = (iso: string) => DateTime.fromISO(iso, { zone }).toFormat('yyyy-MM-dd HH:mm:ss');
  const rows: CsvValue[][] = [[...SERIES_HEADER]];
  for (const p of series.points) {
    const { secretariat: s, practice: c } = p.appointments;
    rows.push([
      local(p.start),
      local(p.end),
      s.booked,
      c.booked,
      s.moved,
      c.moved,
      s.cancelled,
      c.cancelled,
      p.urgentMessages.received,
      p.urgentMessages.delivered,
      p.urgentMessages.latencyMs.p50,
      p.urgentMessages.latencyMs.p95,
      p.messages.received,
      p.messages.delivered,
      p.messages.latencyMs.p50,
      p.messages.latencyMs.p95,
      p.deadLetters.total,
    ]);
  }
  return csvDocument(rows);
}

/** `passerelle-series-<practice>-<bucket>-<from>-<to>.csv` (local dates). */
export function seriesFilename(series: ActivitySeries): string {
  const zone = series.practice.timezone;
  const day = (iso: string) => DateTime.fromISO(iso, { zone }).toFormat('yyyy-MM-dd');
  const practice = series.practice.id.replace(/[^A-Za-z0-9._-]/g, '_');
  return `passerelle-series-${practice}-${series.bucket}-${day(series.period.from)}-${day(series.period.to)}.csv`;
}
