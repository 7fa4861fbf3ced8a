import { sql } from 'kysely';

import { inboxBodyAad, outboxPayloadAad, queueAad } from './repos/queues.js';
import { externalIdAad, matchKeyAad, resourceAad, snapshotAad } from './repos/records.js';
import type { ColumnSealer } from './sealer.js';
import type { Store } from './store.js';

type Row = Record<string, unknown>;

interface SealedColumn {
  readonly name: string;
  readonly bytes?: boolean;
  readonly aad: (row: Row) => string;
}

interface SealedTable {
  readonly table: string;
  /** Primary key, in the order batches walk it. */
  readonly key: readonly string[];
  /** Columns the associated data needs besides the key. */
  readonly extra?: readonly string[];
  readonly columns: readonly SealedColumn[];
}

const str = (v: unknown): string => String(v);
const queue = (
  table: 'conflicts' | 'review_items' | 'dead_letters',
  column: 'fields' | 'payload' | 'resolution',
): SealedColumn => ({
  name: column,
  aad: (r) => queueAad(table, column, str(r['id'])),
});

/** Every patient-bearing column of the store, with the associated data its repository seals it under. */
const SEALED: readonly SealedTable[] = [
  { table: 'resources', key: ['id'], columns: [{ name: 'data', aad: (r) => resourceAad(str(r['id'])) }] },
  {
    table: 'snapshots',
    key: ['link_id', 'kind', 'canonical_id'],
    columns: [
      { name: 'data', aad: (r) => snapshotAad(str(r['link_id']), str(r['kind']), str(r['canonical_id'])) },
    ],
  },
  {
    table: 'inbox',
    key: ['id'],
    extra: ['link_id', 'dedupe_key', 'body_hash'],
    columns: [
      {
        name: 'body',
        bytes: true,
        aad: (r) =>
          inboxBodyAad({
            link_id: str(r['link_id']),
            dedupe_key: str(r['dedupe_key']),
            body_hash: str(r['body_hash']),
          }),
      },
    ],
  },
  {
    table: 'outbox',
    key: ['seq'],
    extra: ['idempotency_key'],
    columns: [{ name: 'payload', aad: (r) => outboxPayloadAad(str(r['idempotency_key'])) }],
  },
  {
    table: 'conflicts',
    key: ['id'],
    columns: [queue('conflicts', 'fields'), queue('conflicts', 'resolution')],
  },
  {
    table: 'review_items',
    key: ['id'],
    columns: [queue('review_items', 'payload'), queue('review_items', 'resolution')],
  },
  { table: 'dead_letters', key: ['id'], columns: [queue('dead_letters', 'payload')] },
];

export const SEALED_TABLES: readonly string[] = [...SEALED.map((t) => t.table), 'match_keys', 'identity_map'];

export interface ResealOptions {
  /** Rows read per batch; each batch commits on its own. */
  readonly batchSize?: number;
  /** Stop after this many batches (a rotation spread over several runs); the next run resumes. */
  readonly maxBatches?: number;
  /** Told after each committed batch. */
  readonly onBatch?: (progress: {
    readonly table: string;
    readonly scanned: number;
    readonly resealed: number;
  }) => void;
}

export interface ResealReport {
  /** Rows re-sealed under the current key, per table. */
  readonly resealed: Readonly<Record<string, number>>;
  readonly batches: number;
  /** False when `maxBatches` stopped it: run it again to finish. */
  readonly complete: boolean;
}

/**
 * Re-seals every patient-bearing value that is not under the sealer's current key: values of an
 * older key, and values written in clear before sealing existed. Walks each table in primary-key
 * order, one transaction per batch, so a run stopped anywhere (killed, or by `maxBatches`)
 * leaves every row readable — old rows under a key still configured — and the next run goes
 * through the rows again, skipping those already current.
 *
 * `sealer` must be the key ring the store was opened with.
 */
export async function resealStore(
  store: Store,
  sealer: ColumnSealer,
  options: ResealOptions = {},
): Promise<ResealReport> {
  const batchSize = options.batchSize ?? 500;
  const resealed: Record<string, number> = {};
  let batches = 0;
  const budgetLeft = () => options.maxBatches === undefined || batches < options.maxBatches;

  const walk = async (
    table: string,
    key: readonly string[],
    columns: readonly string[],
    rewrite: (tx: Parameters<Parameters<Store['transaction']>[0]>[0], row: Row) => Promise<boolean>,
  ) => {
    resealed[table] = 0;
    let last: unknown[] | undefined;
    for (;;) {
      if (!budgetLeft()) return false;
      const done = await store.transaction(async (tx) => {
        const keyList = sql.join(key.map((k) => sql.ref(k)));
        const after = last ? sql`WHERE (${keyList}) > (${sql.join(last)})` : sql``;
        const { rows } =
          await sql<Row>`SELECT ${sql.join([...new Set([...key, ...columns])].map((c) => sql.ref(c)))} FROM ${sql.table(table)} ${after} ORDER BY ${keyList} LIMIT ${batchSize}`.execute(
            tx.db,
          );
        let n = 0;
        for (const row of rows) if (await rewrite(tx, row)) n++;
        const lastRow = rows[rows.length - 1];
        if (lastRow) last = key.map((k) => lastRow[k]);
        resealed[table] = (resealed[table] ?? 0) + n;
        options.onBatch?.({ table, scanned: rows.length, resealed: n });
        return rows.length < batchSize;
      });
      batches++;
      if (done) return true;
    }
  };

  for (const spec of SEALED) {
    const columns = [...(spec.extra ?? []), ...spec.columns.map((c) => c.name)];
    const complete = await walk(spec.table, spec.key, columns, async (tx, row) => {
      const set: Row = {};
      for (const c of spec.columns) {
        const v = row[c.name];
        if (v === null || v === undefined) continue;
        if (c.bytes) {
          const stored = Buffer.isBuffer(v) ? v : Buffer.from(v as Uint8Array);
          if (!sealer.isCurrent(stored))
            set[c.name] = sealer.sealBytes(sealer.openBytes(stored, c.aad(row)), c.aad(row));
        } else if (!sealer.isCurrent(str(v))) {
          set[c.name] = sealer.sealText(sealer.openText(str(v), c.aad(row)), c.aad(row));
        }
      }
      const names = Object.keys(set);
      if (names.length === 0) return false;
      await sql`UPDATE ${sql.table(spec.table)} SET ${sql.join(names.map((n) => sql`${sql.ref(n)} = ${set[n]}`))} WHERE ${sql.join(
        spec.key.map((k) => sql`${sql.ref(k)} = ${row[k]}`),
        sql` AND `,
      )}`.execute(tx.db);
      return true;
    });
    if (!complete) return { resealed, batches, complete: false };
  }

  // Match keys: the lookup column is an HMAC, which cannot be re-keyed; the sealed key it was
  // computed from can (before 0007_sealing, the lookup column held that key itself).
  const complete = await walk(
    'match_keys',
    ['practice_id', 'key_hash', 'resource_id'],
    ['kind', 'created_at', 'key_sealed'],
    async (tx, row) => {
      const sealed = row['key_sealed'] as string | null;
      if (sealed !== null && sealer.isCurrent(sealed)) return false;
      const where = matchKeyAad(str(row['practice_id']), str(row['resource_id']));
      const key = sealed === null ? str(row['key_hash']) : sealer.openText(sealed, where);
      await tx.db
        .deleteFrom('match_keys')
        .where('practice_id', '=', str(row['practice_id']))
        .where('key_hash', '=', str(row['key_hash']))
        .where('resource_id', '=', str(row['resource_id']))
        .execute();
      await tx.db
        .insertInto('match_keys')
        .values({
          practice_id: str(row['practice_id']),
          key_hash: sealer.blindIndex(key),
          key_sealed: sealer.sealText(key, where),
          resource_id: str(row['resource_id']),
          kind: str(row['kind']),
          created_at: Number(row['created_at']),
        })
        .onConflict((oc) => oc.columns(['practice_id', 'key_hash', 'resource_id']).doNothing())
        .execute();
      return true;
    },
  );
  if (!complete) return { resealed, batches, complete };

  // The identity map likewise: `external_id` is the HMAC of the peer's id, kept sealed beside it.
  const mapped = await walk(
    'identity_map',
    ['link_id', 'kind', 'external_id'],
    ['canonical_id', 'practice_id', 'created_at', 'external_sealed'],
    async (tx, row) => {
      const sealed = row['external_sealed'] as string | null;
      if (sealed !== null && sealer.isCurrent(sealed)) return false;
      const [linkId, kind, column] = [str(row['link_id']), str(row['kind']), str(row['external_id'])];
      const externalId =
        sealed === null ? column : sealer.openText(sealed, externalIdAad(linkId, kind, column));
      await tx.db
        .deleteFrom('identity_map')
        .where('link_id', '=', linkId)
        .where('kind', '=', kind)
        .where('external_id', '=', column)
        .execute();
      const keyed = sealer.blindIndex(externalId);
      await tx.db
        .insertInto('identity_map')
        .values({
          link_id: linkId,
          kind,
          external_id: keyed,
          external_sealed: sealer.sealText(externalId, externalIdAad(linkId, kind, keyed)),
          canonical_id: str(row['canonical_id']),
          practice_id: str(row['practice_id']),
          created_at: Number(row['created_at']),
        })
        // A row the service wrote under the new key meanwhile is the newer one.
        .onConflict((oc) => oc.columns(['link_id', 'kind', 'external_id']).doNothing())
        .execute();
      return true;
    },
  );
  return { resealed, batches, complete: mapped };
}
