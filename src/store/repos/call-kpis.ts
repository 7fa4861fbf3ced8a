/**
 * The secretariat's call KPIs per practice and local day (0016_call_kpis, issue 21 point 4).
 * `upsert` is idempotent: a pass repeated on one day (a re-run, a second instance, today's
 * figures fetched again later) leaves one row holding the latest figures.
 */
import type { CallKpis, StoredCallKpis } from '../types.js';
import { fromJson, iso, type RepoContext, toJson } from './context.js';
import { rowsOfDays } from './days.js';

export interface CallKpisRepo {
  upsert(input: {
    readonly practiceId: string;
    readonly linkId: string;
    readonly kpis: CallKpis;
  }): Promise<void>;
  /** Days `fromDay` ≤ day < `toDay` (YYYY-MM-DD, the practice's local days), oldest first. */
  list(practiceId: string, fromDay: string, toDay: string): Promise<StoredCallKpis[]>;
  /** Whether the review of (practice, kind, first day) already reached the practice's webhook. */
  reviewDelivered(practiceId: string, kind: string, startDay: string): Promise<boolean>;
  /** Records one run's POSTs of a review: delivered, or the last error met. */
  recordReviewDelivery(
    practiceId: string,
    kind: string,
    startDay: string,
    outcome: { readonly attempts: number; readonly error: string | null },
  ): Promise<void>;
}

export function callKpisRepo(ctx: RepoContext): CallKpisRepo {
  const { db } = ctx;
  return {
    async upsert({ practiceId, linkId, kpis }) {
      const { day, ...figures } = kpis;
      const row = { link_id: linkId, figures: toJson(figures), fetched_at: ctx.now() };
      await db
        .insertInto('call_kpis')
        .values({ practice_id: practiceId, day, ...row })
        .onConflict((oc) => oc.columns(['practice_id', 'day']).doUpdateSet(row))
        .execute();
    },
    async list(practiceId, fromDay, toDay) {
      const rows = await rowsOfDays(db, 'call_kpis', practiceId, fromDay, toDay);
      return rows.map((r) => ({
        ...fromJson<Omit<CallKpis, 'day'>>(r.figures),
        day: r.day,
        practiceId: r.practice_id,
        linkId: r.link_id,
        fetchedAt: iso(Number(r.fetched_at)),
      }));
    },
    async reviewDelivered(practiceId, kind, startDay) {
      const r = await db
        .selectFrom('review_deliveries')
        .select('delivered_at')
        .where('practice_id', '=', practiceId)
        .where('kind', '=', kind)
        .where('start_day', '=', startDay)
        .executeTakeFirst();
      return r !== undefined && r.delivered_at !== null;
    },
    async recordReviewDelivery(practiceId, kind, startDay, outcome) {
      const now = ctx.now();
      const delivered = outcome.error === null ? now : null;
      await db
        .insertInto('review_deliveries')
        .values({
          practice_id: practiceId,
          kind,
          start_day: startDay,
          attempts: outcome.attempts,
          delivered_at: delivered,
          last_error: outcome.error,
          updated_at: now,
        })
        .onConflict((oc) =>
          oc.columns(['practice_id', 'kind', 'start_day']).doUpdateSet((eb) => ({
            attempts: eb('review_deliveries.attempts', '+', outcome.attempts),
            delivered_at: delivered,
            last_error: outcome.error,
            updated_at: now,
          })),
        )
        .execute();
    },
  };
}
