import { type Kysely, sql } from 'kysely';

export type Dialect = 'sqlite' | 'postgres';

/** Column types that differ between the two stores; everything else is written once. */
export interface DialectTypes {
  /** Auto-increasing primary key, never reused (outbox order, audit chain order). */
  readonly serial: string;
  readonly bigint: string;
  readonly bytes: string;
}

export function dialectTypes(dialect: Dialect): DialectTypes {
  return dialect === 'sqlite'
    ? { serial: 'INTEGER PRIMARY KEY AUTOINCREMENT', bigint: 'INTEGER', bytes: 'BLOB' }
    : { serial: 'BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY', bigint: 'BIGINT', bytes: 'BYTEA' };
}

export interface StoreMigration {
  /** Sorted by name; never renamed once shipped. `NNNN_topic`. */
  readonly name: string;
  up(db: Kysely<unknown>, dialect: Dialect): Promise<void>;
}

/** Runs each `;`-separated statement of a DDL script. */
export async function runScript(db: Kysely<unknown>, script: string): Promise<void> {
  for (const statement of script.split(/;\s*\n/)) {
    const s = statement.trim();
    if (s) await sql.raw(s).execute(db);
  }
}
