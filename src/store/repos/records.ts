import { PasserelleError } from '../../errors.js';
import type { ResourceKind } from '../../model/resources.js';
import { contentHash } from '../../util/stable-stringify.js';
import type { CursorsTable, IdentityMapTable, ResourcesTable, SnapshotsTable } from '../schema.js';
import { aad, type Seal } from '../sealer.js';
import type {
  Cursor,
  IdentityLink,
  JsonObject,
  RecordOrigin,
  ResourceQuery,
  ResourceWrite,
  Snapshot,
  StoredResource,
} from '../types.js';
import type { BufferedRow, BufferedTable } from '../write-buffer.js';
import { compiled, rowOf } from './compiled.js';
import { fromJson, iso, isoOrNull, msOrNull, type RepoContext, toJson } from './context.js';

const RESOURCE_COLUMNS = [
  'id',
  'practice_id',
  'kind',
  'data',
  'hash',
  'version',
  'origin',
  'start_at',
  'end_at',
  'practitioner_id',
  'patient_id',
  'status',
  'created_at',
  'updated_at',
] as const;
const SNAPSHOT_COLUMNS = [
  'link_id',
  'kind',
  'canonical_id',
  'data',
  'hash',
  'external_version',
  'synced_at',
] as const;

// The statements of the ingest path, compiled once (see compiled.ts).
const resourceById = compiled<'id'>((db, p) =>
  db.selectFrom('resources').selectAll().where('id', '=', p('id')),
);
const resourceVersion = compiled<'id'>((db, p) =>
  db
    .selectFrom('resources')
    .select(['version', 'created_at', 'origin', 'practice_id'])
    .where('id', '=', p('id')),
);
const insertResource = compiled<(typeof RESOURCE_COLUMNS)[number]>((db, p) =>
  db.insertInto('resources').values(rowOf<ResourcesTable>(RESOURCE_COLUMNS, p)),
);
/** A record expected not to exist yet: inserted only if it does not (a row already there is a conflict). */
const insertNewResource = compiled<(typeof RESOURCE_COLUMNS)[number]>((db, p) =>
  db
    .insertInto('resources')
    .values(rowOf<ResourcesTable>(RESOURCE_COLUMNS, p))
    .onConflict((oc) => oc.column('id').doNothing()),
);
const updateResource = compiled<(typeof RESOURCE_COLUMNS)[number] | 'expected'>((db, p) => {
  const { id: _id, created_at: _c, ...set } = rowOf<ResourcesTable>(RESOURCE_COLUMNS, p);
  return db
    .updateTable('resources')
    .set(set)
    .where('id', '=', p('id'))
    .where('version', '=', p<number>('expected'));
});
const setIdentity = compiled<
  'link_id' | 'kind' | 'external_id' | 'external_sealed' | 'canonical_id' | 'practice_id' | 'created_at'
>((db, p) =>
  db
    .insertInto('identity_map')
    .values({
      link_id: p('link_id'),
      kind: p('kind'),
      external_id: p('external_id'),
      external_sealed: p('external_sealed'),
      canonical_id: p('canonical_id'),
      practice_id: p('practice_id'),
      created_at: p<number>('created_at'),
    })
    .onConflict((oc) =>
      oc.columns(['link_id', 'kind', 'external_id']).doUpdateSet({ canonical_id: p('canonical_id') }),
    ),
);
/** One statement per number of lookup values (one per configured key, plus the value itself for rows not yet re-sealed). */
const canonicalOfStatements = new Map<number, ReturnType<typeof compiled<string>>>();
function canonicalOf(values: number) {
  let q = canonicalOfStatements.get(values);
  if (!q) {
    const names = Array.from({ length: values }, (_, i) => `x${i}`);
    q = compiled<string>((db, p) =>
      db
        .selectFrom('identity_map')
        .select('canonical_id')
        .where('link_id', '=', p('linkId'))
        .where('kind', '=', p('kind'))
        .where(
          'external_id',
          'in',
          names.map((n) => p(n)),
        ),
    );
    canonicalOfStatements.set(values, q);
  }
  return q;
}
const snapshotOf = compiled<'linkId' | 'kind' | 'canonicalId'>((db, p) =>
  db
    .selectFrom('snapshots')
    .selectAll()
    .where('link_id', '=', p('linkId'))
    .where('kind', '=', p('kind'))
    .where('canonical_id', '=', p('canonicalId')),
);
const putSnapshot = compiled<(typeof SNAPSHOT_COLUMNS)[number]>((db, p) =>
  db
    .insertInto('snapshots')
    .values(rowOf<SnapshotsTable>(SNAPSHOT_COLUMNS, p))
    .onConflict((oc) =>
      oc.columns(['link_id', 'kind', 'canonical_id']).doUpdateSet({
        data: p('data'),
        hash: p('hash'),
        external_version: p('external_version'),
        synced_at: p<number>('synced_at'),
      }),
    ),
);
const deleteMatchKeys = compiled<'resourceId'>((db, p) =>
  db.deleteFrom('match_keys').where('resource_id', '=', p('resourceId')),
);
const insertMatchKey = compiled<
  'practice_id' | 'key_hash' | 'key_sealed' | 'resource_id' | 'kind' | 'created_at'
>((db, p) =>
  db
    .insertInto('match_keys')
    .values({
      practice_id: p('practice_id'),
      key_hash: p('key_hash'),
      key_sealed: p('key_sealed'),
      resource_id: p('resource_id'),
      kind: p('kind'),
      created_at: p<number>('created_at'),
    })
    .onConflict((oc) => oc.columns(['practice_id', 'key_hash', 'resource_id']).doNothing()),
);
/** Values per `IN (…)` of the many-at-once look-ups (well under SQLite's and PostgreSQL's limits). */
const IN_CHUNK = 500;
/** One statement per number of lookup values (one per configured key, plus the unkeyed one). */
const findMatchKeys = new Map<number, ReturnType<typeof compiled<string>>>();
function findMatchKey(values: number) {
  let q = findMatchKeys.get(values);
  if (!q) {
    const names = Array.from({ length: values }, (_, i) => `k${i}`);
    q = compiled<string>((db, p) =>
      db
        .selectFrom('match_keys')
        .select('resource_id')
        .distinct()
        .where('practice_id', '=', p('practiceId'))
        .where(
          'key_hash',
          'in',
          names.map((n) => p(n)),
        )
        .orderBy('resource_id'),
    );
    findMatchKeys.set(values, q);
  }
  return q;
}

/** The associated data of a match key's sealed value. */
export const matchKeyAad = (practiceId: string, resourceId: string): string =>
  aad('match_keys', 'key_sealed', `${practiceId}|${resourceId}`);

/** Where a record's content lives, for its sealing's associated data. */
export const resourceAad = (id: string): string => aad('resources', 'data', id);
export const snapshotAad = (linkId: string, kind: string, canonicalId: string): string =>
  aad('snapshots', 'data', `${linkId}|${kind}|${canonicalId}`);

/** A stored row, its content opened; `json` is the clear content when the caller has it already. */
const toResource = (r: ResourcesTable, seal: Seal, json?: string): StoredResource => ({
  id: r.id,
  practiceId: r.practice_id,
  kind: r.kind as ResourceKind,
  data: fromJson<JsonObject>(json ?? seal.open(r.data, resourceAad(r.id))),
  hash: r.hash,
  version: r.version,
  origin: r.origin as RecordOrigin,
  startAt: isoOrNull(r.start_at),
  endAt: isoOrNull(r.end_at),
  practitionerId: r.practitioner_id,
  patientId: r.patient_id,
  status: r.status,
  createdAt: iso(r.created_at),
  updatedAt: iso(r.updated_at),
});

/** The row of `w` as version 1, created now, its content sealed once here (`json` is the clear content). */
function newResourceRow(w: ResourceWrite, now: number, seal: Seal, json: string): ResourcesTable {
  return {
    id: w.id,
    practice_id: w.practiceId,
    kind: w.kind,
    data: seal.text(json, resourceAad(w.id)),
    hash: contentHash(w.data),
    version: 1,
    origin: w.origin,
    start_at: msOrNull(w.startAt),
    end_at: msOrNull(w.endAt),
    practitioner_id: w.practitionerId ?? null,
    patient_id: w.patientId ?? null,
    status: w.status ?? null,
    created_at: now,
    updated_at: now,
  };
}

export interface ResourcesRepo {
  get(id: string): Promise<StoredResource | undefined>;
  /**
   * Inserts or replaces a canonical record, bumping its version. With `expectedVersion`, a
   * concurrent writer gets ERR_STORE_CONFLICT instead of silently overwriting.
   */
  put(write: ResourceWrite): Promise<StoredResource>;
  list(query: ResourceQuery): Promise<StoredResource[]>;
  /** The records with these ids that exist, in no particular order (one query per 500 ids). */
  getMany(ids: readonly string[]): Promise<StoredResource[]>;
}

export function resourcesRepo(ctx: RepoContext): ResourcesRepo {
  const { db, seal } = ctx;
  const repo: ResourcesRepo = {
    async get(id) {
      const r = (await resourceById.run<ResourcesTable>(ctx, { id })).rows[0];
      return r && toResource(r, seal);
    },
    async put(w) {
      const now = ctx.now();
      const json = toJson(w.data);
      if (w.expectedVersion === 0) {
        // A new record (ingest: one per new patient): its insert is the version check, no read first.
        const row = newResourceRow(w, now, seal, json);
        const res = await insertNewResource.run(ctx, row);
        if (Number(res.numAffectedRows) !== 1) {
          const version =
            (await resourceVersion.run<Pick<ResourcesTable, 'version'>>(ctx, { id: w.id })).rows[0]
              ?.version ?? 0;
          throw new PasserelleError(
            'ERR_STORE_CONFLICT',
            `${w.kind} ${w.id} is at version ${version}, not 0`,
            { details: { kind: w.kind, id: w.id, version } },
          );
        }
        ctx.touchedPractices?.add(w.practiceId);
        return toResource(row, seal, json);
      }
      const current = (
        await resourceVersion.run<Pick<ResourcesTable, 'version' | 'created_at' | 'origin' | 'practice_id'>>(
          ctx,
          { id: w.id },
        )
      ).rows[0];
      const currentVersion = current?.version ?? 0;
      if (w.expectedVersion !== undefined && w.expectedVersion !== currentVersion) {
        throw new PasserelleError(
          'ERR_STORE_CONFLICT',
          `${w.kind} ${w.id} is at version ${currentVersion}, not ${w.expectedVersion}`,
          {
            details: { kind: w.kind, id: w.id, version: currentVersion },
          },
        );
      }
      const row: ResourcesTable = {
        ...newResourceRow(w, now, seal, json),
        version: currentVersion + 1,
        origin: current?.origin ?? w.origin,
        created_at: current?.created_at ?? now,
      };
      // The practices whose change counters this transaction must bump (repos/changes.ts).
      ctx.touchedPractices?.add(w.practiceId);
      if (current && current.practice_id !== w.practiceId) ctx.touchedPractices?.add(current.practice_id);
      if (current) {
        const res = await updateResource.run(ctx, { ...row, expected: currentVersion });
        if (Number(res.numAffectedRows) !== 1)
          throw new PasserelleError('ERR_STORE_CONFLICT', `${w.kind} ${w.id} was changed concurrently`);
      } else {
        await insertResource.run(ctx, row);
      }
      return toResource(row, seal, json);
    },
    async list(q) {
      let query = db
        .selectFrom('resources')
        .selectAll()
        .where('practice_id', '=', q.practiceId)
        .where('kind', '=', q.kind);
      if (q.practitionerId !== undefined) query = query.where('practitioner_id', '=', q.practitionerId);
      if (q.patientId !== undefined) query = query.where('patient_id', '=', q.patientId);
      if (q.to !== undefined) query = query.where('start_at', '<', Date.parse(q.to));
      if (q.from !== undefined) query = query.where('end_at', '>', Date.parse(q.from));
      if (q.updatedSince !== undefined) query = query.where('updated_at', '>=', Date.parse(q.updatedSince));
      if (q.patientIds !== undefined) {
        if (q.patientIds.length === 0) return [];
        query = query.where('patient_id', 'in', q.patientIds);
      }
      if (q.page !== undefined) {
        if (q.page.after !== null) query = query.where('id', '>', q.page.after);
        query = query.orderBy('id').limit(q.page.size);
      } else query = query.orderBy('start_at').orderBy('id');
      if (q.limit !== undefined) query = query.limit(q.limit);
      return (await query.execute()).map((r) => toResource(r, seal));
    },
    async getMany(ids) {
      const unique = [...new Set(ids)];
      const out: StoredResource[] = [];
      for (let i = 0; i < unique.length; i += 500) {
        const rows = await db
          .selectFrom('resources')
          .selectAll()
          .where('id', 'in', unique.slice(i, i + 500))
          .execute();
        for (const r of rows) out.push(toResource(r, seal));
      }
      return out;
    },
  };
  return repo;
}

/**
 * A peer's id for a record can be a patient identifier (an HL7 patient without IPP is known by
 * its INS): `external_id` holds its HMAC for lookups, `external_sealed` the id itself, bound to
 * the row by link, kind and that HMAC. Rows written before 0007_sealing hold it in clear.
 */
export const externalIdAad = (linkId: string, kind: string, externalIdColumn: string): string =>
  aad('identity_map', 'external_sealed', `${linkId}|${kind}|${externalIdColumn}`);
const externalIdOf = (
  r: Pick<IdentityMapTable, 'link_id' | 'kind' | 'external_id' | 'external_sealed'>,
  seal: Seal,
): string =>
  r.external_sealed === null
    ? r.external_id
    : seal.open(r.external_sealed, externalIdAad(r.link_id, r.kind, r.external_id));

const toIdentity = (r: IdentityMapTable, seal: Seal): IdentityLink => ({
  linkId: r.link_id,
  kind: r.kind as ResourceKind,
  externalId: externalIdOf(r, seal),
  canonicalId: r.canonical_id,
  practiceId: r.practice_id,
  createdAt: iso(r.created_at),
});

export interface IdentityMapRepo {
  /** Records that `externalId` on `linkId` is canonical record `canonicalId`; idempotent. */
  set(entry: Omit<IdentityLink, 'createdAt'>): Promise<void>;
  findCanonical(linkId: string, kind: ResourceKind, externalId: string): Promise<string | undefined>;
  /** `findCanonical` of many ids in one query per 500 (a pulled page's ids): only the mapped ones. */
  findCanonicalMany(
    linkId: string,
    kind: ResourceKind,
    externalIds: readonly string[],
  ): Promise<Map<string, string>>;
  findExternal(linkId: string, kind: ResourceKind, canonicalId: string): Promise<string[]>;
  /** All links' external ids of a canonical record. */
  listByCanonical(canonicalId: string): Promise<IdentityLink[]>;
  /** Points every external id of `fromCanonicalId` at `toCanonicalId` (ADT A40 merge). Returns rows moved. */
  repoint(fromCanonicalId: string, toCanonicalId: string): Promise<number>;
  remove(linkId: string, kind: ResourceKind, externalId: string): Promise<void>;
  /**
   * One page of the link's ids of `kind`, by canonical id after `afterCanonicalId` (keyset: the
   * external ids are sealed, so they cannot be ordered in SQL), every external id of the last
   * canonical id included. Records already cancelled or entered-in-error are left out: a
   * deletion could change nothing of them. For a poller that checks which still exist.
   */
  pageKnown(
    linkId: string,
    kind: ResourceKind,
    afterCanonicalId: string | null,
    limit: number,
  ): Promise<{ canonicalId: string; externalId: string }[]>;
}

/** Statuses a peer's deletion leaves as they are (src/sync/records.ts tombstone). */
const FINAL_STATUSES = ['cancelled', 'entered-in-error'];

export function identityMapRepo(ctx: RepoContext): IdentityMapRepo {
  const { db, seal } = ctx;
  const lookup = (linkId: string, kind: string, externalId: string) => {
    const values = seal.indexes(externalId);
    const params: Record<string, unknown> = { linkId, kind };
    values.forEach((v, i) => (params[`x${i}`] = v));
    return { values, params };
  };
  return {
    async set(e) {
      const external_id = seal.index(e.externalId);
      await setIdentity.run(ctx, {
        link_id: e.linkId,
        kind: e.kind,
        external_id,
        external_sealed: seal.text(e.externalId, externalIdAad(e.linkId, e.kind, external_id)),
        canonical_id: e.canonicalId,
        practice_id: e.practiceId,
        created_at: ctx.now(),
      });
    },
    async findCanonical(linkId, kind, externalId) {
      const { values, params } = lookup(linkId, kind, externalId);
      return (await canonicalOf(values.length).run<Pick<IdentityMapTable, 'canonical_id'>>(ctx, params))
        .rows[0]?.canonical_id;
    },
    async findCanonicalMany(linkId, kind, externalIds) {
      const byIndex = new Map<string, string>();
      for (const id of externalIds) for (const v of seal.indexes(id)) byIndex.set(v, id);
      const found = new Map<string, string>();
      const values = [...byIndex.keys()];
      for (let i = 0; i < values.length; i += IN_CHUNK) {
        const rows = await db
          .selectFrom('identity_map')
          .select(['external_id', 'canonical_id'])
          .where('link_id', '=', linkId)
          .where('kind', '=', kind)
          .where('external_id', 'in', values.slice(i, i + IN_CHUNK))
          .execute();
        for (const r of rows) {
          const id = byIndex.get(r.external_id);
          if (id !== undefined && !found.has(id)) found.set(id, r.canonical_id);
        }
      }
      return found;
    },
    async findExternal(linkId, kind, canonicalId) {
      const rows = await db
        .selectFrom('identity_map')
        .select(['link_id', 'kind', 'external_id', 'external_sealed'])
        .where('link_id', '=', linkId)
        .where('kind', '=', kind)
        .where('canonical_id', '=', canonicalId)
        .orderBy('created_at')
        .execute();
      return rows.map((r) => externalIdOf(r, seal));
    },
    async listByCanonical(canonicalId) {
      return (
        await db.selectFrom('identity_map').selectAll().where('canonical_id', '=', canonicalId).execute()
      ).map((r) => toIdentity(r, seal));
    },
    async repoint(from, to) {
      const res = await db
        .updateTable('identity_map')
        .set({ canonical_id: to })
        .where('canonical_id', '=', from)
        .executeTakeFirst();
      return Number(res.numUpdatedRows);
    },
    async remove(linkId, kind, externalId) {
      await db
        .deleteFrom('identity_map')
        .where('link_id', '=', linkId)
        .where('kind', '=', kind)
        .where('external_id', 'in', seal.indexes(externalId))
        .execute();
    },
    async pageKnown(linkId, kind, after, limit) {
      const base = () =>
        db
          .selectFrom('identity_map as m')
          .leftJoin('resources as r', 'r.id', 'm.canonical_id')
          .select(['m.link_id', 'm.kind', 'm.external_id', 'm.external_sealed', 'm.canonical_id'])
          .where('m.link_id', '=', linkId)
          .where('m.kind', '=', kind)
          .where((eb) => eb.or([eb('r.status', 'is', null), eb('r.status', 'not in', FINAL_STATUSES)]));
      const rows = await (after === null ? base() : base().where('m.canonical_id', '>', after))
        .orderBy('m.canonical_id')
        .orderBy('m.external_id')
        .limit(limit)
        .execute();
      const last = rows.at(-1);
      // The limit may have cut the last record's ids in two: take all of them.
      if (last !== undefined && rows.length === limit) {
        const rest = await base()
          .where('m.canonical_id', '=', last.canonical_id)
          .where('m.external_id', '>', last.external_id)
          .orderBy('m.external_id')
          .execute();
        rows.push(...rest);
      }
      return rows.map((r) => ({ canonicalId: r.canonical_id, externalId: externalIdOf(r, seal) }));
    },
  };
}

/**
 * What a snapshot read held, by its `data` object: a snapshot written back with the same content
 * (the engine does so when only the peer's version moved) keeps its sealed value instead of
 * being encrypted again. Compared by JSON text, so a `data` changed in place is sealed anew.
 */
const sealedSnapshots = new WeakMap<
  object,
  { readonly where: string; readonly json: string; readonly sealed: string }
>();

function toSnapshot(r: SnapshotsTable, seal: Seal, json?: string): Snapshot {
  let data: JsonObject;
  if (json === undefined) {
    const where = snapshotAad(r.link_id, r.kind, r.canonical_id);
    const clear = seal.open(r.data, where);
    data = fromJson<JsonObject>(clear);
    sealedSnapshots.set(data, { where, json: clear, sealed: r.data });
  } else data = fromJson<JsonObject>(json);
  return {
    linkId: r.link_id,
    kind: r.kind as ResourceKind,
    canonicalId: r.canonical_id,
    data,
    hash: r.hash,
    externalVersion: r.external_version,
    syncedAt: iso(r.synced_at),
  };
}

export interface SnapshotsRepo {
  get(linkId: string, kind: ResourceKind, canonicalId: string): Promise<Snapshot | undefined>;
  put(s: Omit<Snapshot, 'syncedAt' | 'hash'> & { hash?: string }): Promise<Snapshot>;
  delete(linkId: string, kind: ResourceKind, canonicalId: string): Promise<void>;
}

/** The snapshots a group writes, upserted together at its end (write-buffer.ts); the newest per key. */
const HELD_SNAPSHOTS: BufferedTable = {
  name: 'snapshots',
  columns: SNAPSHOT_COLUMNS,
  key: ['link_id', 'kind', 'canonical_id'],
  merge: true,
  conflict:
    'on conflict ("link_id", "kind", "canonical_id") do update set "data" = excluded."data", ' +
    '"hash" = excluded."hash", "external_version" = excluded."external_version", "synced_at" = excluded."synced_at"',
};

export function snapshotsRepo(ctx: RepoContext): SnapshotsRepo {
  const { db, seal, writes } = ctx;
  return {
    async get(linkId, kind, canonicalId) {
      if (writes) {
        const held = writes.find(HELD_SNAPSHOTS, [linkId, kind, canonicalId]);
        if (held) return toSnapshot(held as unknown as SnapshotsTable, seal);
        // Not held: the stored row answers, without writing the held ones first.
        const r = (
          await writes.past(() => snapshotOf.run<SnapshotsTable>(ctx, { linkId, kind, canonicalId }))
        ).rows[0];
        return r && toSnapshot(r, seal);
      }
      const r = (await snapshotOf.run<SnapshotsTable>(ctx, { linkId, kind, canonicalId })).rows[0];
      return r && toSnapshot(r, seal);
    },
    async put(s) {
      const json = toJson(s.data);
      const where = snapshotAad(s.linkId, s.kind, s.canonicalId);
      const read = sealedSnapshots.get(s.data);
      const row: SnapshotsTable = {
        link_id: s.linkId,
        kind: s.kind,
        canonical_id: s.canonicalId,
        // Not a value of a previous key: a rotation may have passed this row already.
        data:
          read && read.where === where && read.json === json && seal.isCurrent(read.sealed)
            ? read.sealed
            : seal.text(json, where),
        hash: s.hash ?? contentHash(s.data),
        external_version: s.externalVersion,
        synced_at: ctx.now(),
      };
      if (writes) writes.add(HELD_SNAPSHOTS, row as unknown as BufferedRow);
      else await putSnapshot.run(ctx, row);
      return toSnapshot(row, seal, json);
    },
    async delete(linkId, kind, canonicalId) {
      await db
        .deleteFrom('snapshots')
        .where('link_id', '=', linkId)
        .where('kind', '=', kind)
        .where('canonical_id', '=', canonicalId)
        .execute();
    },
  };
}

const toCursor = (r: CursorsTable): Cursor => ({
  linkId: r.link_id,
  stream: r.stream,
  cursor: r.cursor,
  lastSuccessAt: isoOrNull(r.last_success_at),
  lastError: r.last_error,
  updatedAt: iso(r.updated_at),
});

export interface CursorsRepo {
  get(linkId: string, stream: string): Promise<Cursor | undefined>;
  list(linkId: string): Promise<Cursor[]>;
  /** Advances the cursor; call in the same transaction as the records of the page it follows. */
  set(linkId: string, stream: string, cursor: string | null): Promise<void>;
  recordError(linkId: string, stream: string, error: string): Promise<void>;
}

export function cursorsRepo(ctx: RepoContext): CursorsRepo {
  const { db } = ctx;
  return {
    async get(linkId, stream) {
      const r = await db
        .selectFrom('cursors')
        .selectAll()
        .where('link_id', '=', linkId)
        .where('stream', '=', stream)
        .executeTakeFirst();
      return r && toCursor(r);
    },
    async list(linkId) {
      return (
        await db.selectFrom('cursors').selectAll().where('link_id', '=', linkId).orderBy('stream').execute()
      ).map(toCursor);
    },
    async set(linkId, stream, cursor) {
      const now = ctx.now();
      await db
        .insertInto('cursors')
        .values({ link_id: linkId, stream, cursor, last_success_at: now, last_error: null, updated_at: now })
        .onConflict((oc) =>
          oc
            .columns(['link_id', 'stream'])
            .doUpdateSet({ cursor, last_success_at: now, last_error: null, updated_at: now }),
        )
        .execute();
    },
    async recordError(linkId, stream, error) {
      const now = ctx.now();
      await db
        .insertInto('cursors')
        .values({
          link_id: linkId,
          stream,
          cursor: null,
          last_success_at: null,
          last_error: error,
          updated_at: now,
        })
        .onConflict((oc) =>
          oc.columns(['link_id', 'stream']).doUpdateSet({ last_error: error, updated_at: now }),
        )
        .execute();
    },
  };
}

export interface MatchKeysRepo {
  /** Replaces the lookup keys of one record (hashes only; see src/sync/patient-match.ts). */
  replace(
    practiceId: string,
    kind: ResourceKind,
    resourceId: string,
    keyHashes: readonly string[],
  ): Promise<void>;
  /** `replace` for a record created in this transaction, which has no keys to remove yet. */
  add(
    practiceId: string,
    kind: ResourceKind,
    resourceId: string,
    keyHashes: readonly string[],
  ): Promise<void>;
  /** Ids of the practice's records filed under `keyHash`. */
  find(practiceId: string, keyHash: string): Promise<string[]>;
  /** `find` of many keys in one query per 500 (a pulled page's patients): every key, [] if none. */
  findMany(practiceId: string, keyHashes: readonly string[]): Promise<Map<string, string[]>>;
}

/**
 * Match keys reach the store as unkeyed SHA-256 of a normalised identity (src/sync/patient-match.ts),
 * which a dictionary of names and birth dates would reverse: the lookup column holds their HMAC
 * under the store key instead, and the key itself is kept sealed so a rotation can recompute it.
 */
export function matchKeysRepo(ctx: RepoContext): MatchKeysRepo {
  const { seal } = ctx;
  const repo: MatchKeysRepo = {
    async replace(practiceId, kind, resourceId, keyHashes) {
      await deleteMatchKeys.run(ctx, { resourceId });
      await repo.add(practiceId, kind, resourceId, keyHashes);
    },
    async add(practiceId, kind, resourceId, keyHashes) {
      const now = ctx.now();
      // One statement per key (a patient has one to three): the same compiled insert each time.
      for (const key of new Set(keyHashes)) {
        await insertMatchKey.run(ctx, {
          practice_id: practiceId,
          key_hash: seal.index(key),
          key_sealed: seal.text(key, matchKeyAad(practiceId, resourceId)),
          resource_id: resourceId,
          kind,
          created_at: now,
        });
      }
    },
    async find(practiceId, keyHash) {
      const values = seal.indexes(keyHash);
      const params: Record<string, unknown> = { practiceId };
      values.forEach((v, i) => (params[`k${i}`] = v));
      return (await findMatchKey(values.length).run<{ resource_id: string }>(ctx, params)).rows.map(
        (r) => r.resource_id,
      );
    },
    async findMany(practiceId, keyHashes) {
      const byIndex = new Map<string, string>();
      const ids = new Map<string, Set<string>>();
      for (const key of keyHashes) {
        ids.set(key, new Set());
        for (const v of seal.indexes(key)) byIndex.set(v, key);
      }
      const values = [...byIndex.keys()];
      for (let i = 0; i < values.length; i += IN_CHUNK) {
        const rows = await ctx.db
          .selectFrom('match_keys')
          .select(['key_hash', 'resource_id'])
          .where('practice_id', '=', practiceId)
          .where('key_hash', 'in', values.slice(i, i + IN_CHUNK))
          .execute();
        for (const r of rows) {
          const key = byIndex.get(r.key_hash);
          if (key !== undefined) ids.get(key)?.add(r.resource_id);
        }
      }
      // As `find`: distinct ids in id order.
      return new Map([...ids].map(([key, set]) => [key, [...set].sort()]));
    },
  };
  return repo;
}
