/**
 * Set-wise writes (issue 22 point 2): the single-row inserts of the ingest path (audit events,
 * activity events, outbox rows, snapshots) are kept per transaction and written at the end of the
 * group commit as one multi-row statement per table, instead of one statement per row.
 *
 * What stays true, and how:
 *
 * - **Read-your-writes.** Every statement of the transaction passes through `before(sql)` first
 *   (compiled.ts for the hot-path statements, the transaction's connection for kysely's): a
 *   statement that names a table with rows still held here (or a table they guard, such as the
 *   audit head) writes them all first. So any read, update or delete sees what the transaction
 *   wrote, without each repository having to think of it. The hot keyed reads (a snapshot by its
 *   key, an outbox row by its idempotency key) look here first and, when the key is not held,
 *   read the database `past` the buffer: the rows held here cannot answer for another key.
 * - **Savepoints.** `mark` / `release` / `rollbackTo` follow the transaction's savepoints. Rolling
 *   back drops the rows added since the savepoint, and makes pending again the rows that were
 *   written to the database after the savepoint opened (the rollback undid them there too): a
 *   flush inside a job that then fails never loses the rows of the jobs before it.
 * - **Order.** Rows are written table by table in the order the tables were first written to,
 *   each table's rows in the order they were added (outbox sequence numbers and the audit chain
 *   keep the order of the calls). Foreign keys of these tables point only at practices and links,
 *   which the ingest never writes: a statement that changes either writes the held rows first.
 * - **Errors.** A row that a constraint refuses now fails at the end of the group, with every
 *   job of it, as a failed COMMIT does: only rows that cannot conflict with the transaction's own
 *   writes are held (the keyed ones are looked up here first), and a conflict with another
 *   instance is resolved by the table's ON CONFLICT clause as the single-row statement did.
 *
 * Dialect-neutral: the statements are plain multi-row `INSERT … VALUES (…), (…)` with `?` on
 * SQLite and `$n` on PostgreSQL, built once per table and row count.
 */
import type { QueryResult } from 'kysely';

import type { Dialect } from './migrations/types.js';

export type BufferedRow = Record<string, unknown>;

/** Runs one statement on the transaction's connection, without passing through `before`. */
export type BufferExec = (sql: string, parameters: readonly unknown[]) => Promise<QueryResult<BufferedRow>>;

/** How a table's held rows are written. One object per repository and transaction. */
export interface BufferedTable {
  readonly name: string;
  readonly columns: readonly string[];
  /** Columns rows are found by (`find`). */
  readonly key?: readonly string[];
  /** Keyed rows are upserts: a later row of the same key replaces the earlier one. */
  readonly merge?: boolean;
  /** SQL after the VALUES list (ON CONFLICT …). */
  readonly conflict?: string;
  /** A column to return (the audit chain's sequence numbers). */
  readonly returning?: string;
  /** Other tables whose statements must see these rows written (the audit head). */
  readonly guards?: readonly string[];
  /**
   * Just before the rows are written, in order (the audit chain hashes them from its head). Its
   * statements go through `exec`: a flush may run inside another statement's turn on the
   * connection (PostgreSQL: kysely's, which would wait for it).
   */
  readonly prepare?: (rows: readonly BufferedRow[], exec: BufferExec) => Promise<void>;
  /** Just after, with what `returning` returned (the audit head moved once); through `exec` too. */
  readonly after?: (
    rows: readonly BufferedRow[],
    returned: readonly BufferedRow[],
    exec: BufferExec,
  ) => Promise<void>;
}

interface Entry {
  readonly table: BufferedTable;
  row: BufferedRow;
  readonly key: string | undefined;
}

/** What a written row that no rollback can need again is replaced with. */
const WRITTEN: BufferedRow = Object.freeze({});

interface Mark {
  readonly name: string;
  /** Entries in the log when the savepoint opened. */
  readonly at: number;
  /** Entries already in the database then. */
  readonly written: number;
}

/** Parameters per statement: under SQLite's historical 999 and PostgreSQL's 65,535. */
const MAX_PARAMETERS = 999;
/** Rows held at most before the next statement writes them (a page of 1,000 records holds ≈ 4,000). */
const MAX_HELD = 1000;
/** Tables that the held rows' foreign keys point at (0001_core.ts). */
const PARENTS = ['practices', 'links'];

const statements = new Map<string, string>();
function insertSql(dialect: Dialect, t: BufferedTable, rows: number): string {
  const id = `${dialect}|${t.name}|${t.conflict ?? ''}|${t.returning ?? ''}|${rows}`;
  let s = statements.get(id);
  if (s) return s;
  let n = 0;
  const tuple = () => `(${t.columns.map(() => (dialect === 'postgres' ? `$${++n}` : '?')).join(', ')})`;
  s =
    `insert into "${t.name}" (${t.columns.map((c) => `"${c}"`).join(', ')}) values ` +
    Array.from({ length: rows }, tuple).join(', ') +
    (t.conflict ? ` ${t.conflict}` : '') +
    (t.returning ? ` returning "${t.returning}"` : '');
  if (statements.size > 2000) statements.clear();
  statements.set(id, s);
  return s;
}

/**
 * The identifiers a statement names, by its text: the hot statements repeat, so short texts are
 * kept; long ones (a page's `IN` lists, one text per length) are read each time, not kept.
 */
const wordsOf = new Map<string, { readonly words: ReadonlySet<string>; readonly read: boolean }>();
function words(sql: string) {
  let w = wordsOf.get(sql);
  if (!w) {
    const lower = sql.toLowerCase();
    w = { words: new Set(lower.match(/[a-z_][a-z0-9_]*/g) ?? []), read: /^\s*select\b/.test(lower) };
    if (sql.length <= 2000) {
      if (wordsOf.size >= 500) wordsOf.clear();
      wordsOf.set(sql, w);
    }
  }
  return w;
}

const keyOf = (t: BufferedTable, row: BufferedRow): string | undefined =>
  t.key && `${t.name}\u0000${t.key.map((c) => String(row[c])).join('\u0000')}`;

/**
 * On in the product. The hl7-ingest benchmark switches it off for some rounds to measure, in the
 * same run, the one-statement-per-row writes it replaced.
 */
export const writeBuffering = { enabled: true };

export class WriteBuffer {
  /** Every row held or written by this transaction, in order; `written` of them are in the database. */
  private log: Entry[] = [];
  private written = 0;
  private readonly marks: Mark[] = [];
  /** The newest pending entry per key (`find`). */
  private readonly byKey = new Map<string, number>();
  /** Tables (and what they guard) with pending rows. */
  private readonly pendingNames = new Set<string>();
  private flushing = false;
  private bypass = 0;

  constructor(
    private readonly dialect: Dialect,
    private readonly exec: BufferExec,
  ) {}

  /** Holds a row until the end of the group (or until a statement needs it). */
  add(table: BufferedTable, row: BufferedRow): void {
    const key = keyOf(table, row);
    if (key !== undefined && table.merge) {
      const i = this.byKey.get(key);
      const top = this.marks.at(-1)?.at ?? 0;
      // Replaced in place only within the current savepoint: a rollback must find the old row.
      if (i !== undefined && i >= top && i >= this.written) {
        (this.log[i] as Entry).row = row;
        return;
      }
    }
    if (key !== undefined) this.byKey.set(key, this.log.length);
    this.log.push({ table, row, key });
    this.pendingNames.add(table.name);
    for (const g of table.guards ?? []) this.pendingNames.add(g);
  }

  /** The newest held row of `table` with these key values (the key's columns, in order). */
  find(table: BufferedTable, values: readonly unknown[]): BufferedRow | undefined {
    if (this.byKey.size === 0) return undefined;
    const i = this.byKey.get(`${table.name}\u0000${values.map(String).join('\u0000')}`);
    return i === undefined ? undefined : this.log[i]?.row;
  }

  /** Whether rows of `table` are held. */
  holds(table: string): boolean {
    return this.pendingNames.has(table);
  }

  /** Runs a read that the held rows cannot answer (a key not held) without writing them first. */
  async past<T>(fn: () => Promise<T>): Promise<T> {
    this.bypass++;
    try {
      return await fn();
    } finally {
      this.bypass--;
    }
  }

  /**
   * Called before every statement of the transaction: writes the held rows it may need to see.
   * Synchronous when nothing is to be written (the common case, on the hot path).
   */
  before(sql: string): Promise<void> | undefined {
    if (this.pendingNames.size === 0 || this.flushing || this.bypass > 0) return undefined;
    // Memory stays bounded in a long transaction (a pulled page): written early, still set-wise.
    if (this.log.length - this.written >= MAX_HELD) return this.flush();
    const w = words(sql);
    let needed = !w.read && PARENTS.some((p) => w.words.has(p));
    if (!needed) for (const name of this.pendingNames) if (w.words.has(name)) needed = true;
    return needed ? this.flush() : undefined;
  }

  /** Writes every held row: one multi-row statement per table (and per 999 parameters). */
  async flush(): Promise<void> {
    if (this.written >= this.log.length || this.flushing) return;
    this.flushing = true;
    try {
      const pending = this.log.slice(this.written);
      const byTable = new Map<BufferedTable, BufferedRow[]>();
      // A merged key keeps its newest row: one statement cannot upsert a key twice.
      const newest = new Map<string, Entry>();
      for (const e of pending) if (e.key !== undefined && e.table.merge) newest.set(e.key, e);
      for (const e of pending) {
        if (e.key !== undefined && e.table.merge && newest.get(e.key) !== e) continue;
        let rows = byTable.get(e.table);
        if (!rows) byTable.set(e.table, (rows = []));
        rows.push(e.row);
      }
      for (const [table, rows] of byTable) {
        await table.prepare?.(rows, this.exec);
        const per = Math.max(1, Math.floor(MAX_PARAMETERS / table.columns.length));
        const returned: BufferedRow[] = [];
        for (let i = 0; i < rows.length; i += per) {
          const chunk = rows.slice(i, i + per);
          const parameters: unknown[] = [];
          for (const r of chunk) for (const c of table.columns) parameters.push(r[c]);
          const res = await this.exec(insertSql(this.dialect, table, chunk.length), parameters);
          if (table.returning) returned.push(...res.rows);
        }
        await table.after?.(rows, returned, this.exec);
      }
      // A written row is needed again only if a rollback could undo it and then hold it again:
      // one added before an open savepoint and written after it opened. The others (most of a
      // page's rows) are let go, so a long transaction does not keep every row it wrote.
      for (let i = this.written; i < this.log.length; i++) {
        if (!this.marks.some((m) => m.written <= i && i < m.at)) (this.log[i] as Entry).row = WRITTEN;
      }
      this.written = this.log.length;
      this.byKey.clear();
      this.pendingNames.clear();
    } finally {
      this.flushing = false;
    }
  }

  mark(name: string): void {
    this.marks.push({ name, at: this.log.length, written: this.written });
  }

  release(name: string): void {
    const i = this.markIndex(name);
    if (i >= 0) this.marks.length = i;
  }

  /** After ROLLBACK TO `name`: what was added since is dropped, what was written since is pending again. */
  rollbackTo(name: string): void {
    const i = this.markIndex(name);
    if (i < 0) return;
    const m = this.marks[i] as Mark;
    this.marks.length = i;
    this.log.length = m.at;
    this.written = Math.min(this.written, m.written);
    this.reindex();
  }

  /** Forgets everything (the transaction rolled back or committed). */
  clear(): void {
    this.log = [];
    this.written = 0;
    this.marks.length = 0;
    this.reindex();
  }

  private markIndex(name: string): number {
    for (let i = this.marks.length - 1; i >= 0; i--) if (this.marks[i]?.name === name) return i;
    return -1;
  }

  private reindex(): void {
    this.byKey.clear();
    this.pendingNames.clear();
    for (let i = this.written; i < this.log.length; i++) {
      const e = this.log[i] as Entry;
      if (e.key !== undefined) this.byKey.set(e.key, i);
      this.pendingNames.add(e.table.name);
      for (const g of e.table.guards ?? []) this.pendingNames.add(g);
    }
  }
}
