import type { Compilable, CompiledQuery, Kysely, QueryResult } from 'kysely';

import type { Dialect } from '../migrations/types.js';
import type { Database } from '../schema.js';
import type { BufferExec } from '../write-buffer.js';
import type { RepoContext } from './context.js';

/** Stands for a named parameter while the query is built; never reaches the database. */
type Placeholder = <T = string>(name: string) => T;

const MARK = '\u0000passerelle-param:';

/**
 * A query of the hot paths (ingest: a few statements per record, many records per page),
 * built and compiled by kysely once per dialect instead of once per call. Building and
 * compiling cost more than SQLite takes to run such a statement; the SQL is the same every
 * time, only the parameters change.
 *
 * `build` receives `p(name)`, a placeholder to use wherever a value goes; `run` takes the
 * values by name. Values written literally in `build` stay as they are.
 */
export function compiled<P extends string>(
  build: (db: Kysely<Database>, p: Placeholder, dialect: Dialect) => Compilable,
) {
  const byDialect = new Map<
    Dialect,
    { readonly query: CompiledQuery; readonly slots: readonly (string | { readonly value: unknown })[] }
  >();
  const prepare = (db: Kysely<Database>, dialect: Dialect) => {
    let c = byDialect.get(dialect);
    if (!c) {
      const query = build(db, ((name: string) => `${MARK}${name}`) as Placeholder, dialect).compile();
      const slots = query.parameters.map((v) =>
        typeof v === 'string' && v.startsWith(MARK) ? v.slice(MARK.length) : { value: v },
      );
      c = { query, slots };
      byDialect.set(dialect, c);
    }
    return c;
  };
  return {
    async run<R = unknown>(
      ctx: Pick<RepoContext, 'db' | 'dialect' | 'direct' | 'writes'> & {
        /** Straight on the connection, past kysely and the write buffer (its own writes). */
        readonly exec?: BufferExec;
      },
      values: Readonly<Record<P, unknown>>,
    ): Promise<QueryResult<R>> {
      const { query, slots } = prepare(ctx.db, ctx.dialect);
      const parameters = slots.map((s) =>
        typeof s === 'string' ? (values as Record<string, unknown>)[s] : s.value,
      );
      // Rows held for the group's multi-row writes that this statement may need to see.
      if (ctx.exec) return (await ctx.exec(query.sql, parameters)) as QueryResult<R>;
      const written = ctx.writes?.before(query.sql);
      if (written) await written;
      if (ctx.direct) return ctx.direct<R>(query.sql, parameters);
      return ctx.db.executeQuery<R>({ ...query, parameters } as CompiledQuery<R>);
    },
  };
}

/** A placeholder for every column of a row: an insert of whole rows, built once. */
export function rowOf<T extends object>(columns: readonly (keyof T & string)[], p: Placeholder): T {
  return Object.fromEntries(columns.map((c) => [c, p(c)])) as T;
}
