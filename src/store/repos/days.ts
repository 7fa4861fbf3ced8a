/**
 * Reads of tables kept one row per practice and local day (`day`, YYYY-MM-DD in the practice's
 * zone): the call KPIs, the reminder passes. The day strings sort as the days do, so a range of
 * days is a range of strings.
 */
import type { Kysely, Selectable } from 'kysely';

import type { Database } from '../schema.js';

/** The tables with a `practice_id` and a local `day`. */
export type DayTable = {
  [K in keyof Database]: Database[K] extends { practice_id: string; day: string } ? K : never;
}[keyof Database];

/** A practice's rows of the days `fromDay` ≤ day < `toDay`, oldest first. */
export async function rowsOfDays<T extends DayTable>(
  db: Kysely<Database>,
  table: T,
  practiceId: string,
  fromDay: string,
  toDay: string,
): Promise<Selectable<Database[T]>[]> {
  // Kysely cannot check column names against a generic table; DayTable guarantees both columns.
  const rows = await (db as unknown as Kysely<Record<DayTable, { practice_id: string; day: string }>>)
    .selectFrom(table as DayTable)
    .selectAll()
    .where('practice_id', '=', practiceId)
    .where('day', '>=', fromDay)
    .where('day', '<', toDay)
    .orderBy('day')
    .execute();
  return rows as unknown as Selectable<Database[T]>[];
}
