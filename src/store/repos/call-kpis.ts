/**
 * The secretariat's call KPIs per practice and local day (0016_call_kpis, issue 21 point 4).
 * `upsert` is idempotent: a pass repeated on one day (a re-run, a second instance, today's
 * figures fetched again later) leaves one row holding the latest figures.
 */
import type { CallKpis, StoredCallKpis } from '../types.js';
import { fromJson, iso, type RepoContext, toJson } from './context.js';

export interface CallKpisRepo {
  upsert(input: {
    readonly practiceId: string;
    readonly linkId: string;
    readonly kpis: CallKpis;
  }): Promise<void>;
  /** Days `fromDay` ≤ day < `toDay` (YYYY-MM-DD, the practice's local days), oldest first. */
  list(practiceId: string, fromDay: string, toDay: string): Promise<StoredCallKpis[]>;
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
      const rows = await db
        .selectFrom('call_kpis')
        .selectAll()
        .where('practice_id', '=', practiceId)
        .where('day', '>=', fromDay)
        .where('day', '<', toDay)
        .orderBy('day')
        .execute();
      return rows.map((r) => ({
        ...fromJson<Omit<CallKpis, 'day'>>(r.figures),
        day: r.day,
        practiceId: r.practice_id,
        linkId: r.link_id,
        fetchedAt: iso(Number(r.fetched_at)),
      }));
    },
  };
}
