import { PasserelleError } from '../../errors.js';
import type { LinksTable, PracticesTable } from '../schema.js';
import type { JsonObject, Link, LinkInput, LinkPatch, Practice, PracticeInput } from '../types.js';
import { compiled } from './compiled.js';
import { fromJson, iso, isUniqueViolation, newId, notFound, type RepoContext, toJson } from './context.js';

// What the sync engine reads at the start of every transaction (its practice and links), compiled once (compiled.ts).
const practiceById = compiled<'id'>((db, p) =>
  db.selectFrom('practices').selectAll().where('id', '=', p('id')),
);
const linksOfPractice = compiled<'practiceId'>((db, p) =>
  db
    .selectFrom('links')
    .selectAll()
    .where('practice_id', '=', p('practiceId'))
    .orderBy('created_at')
    .orderBy('id'),
);

export const toPractice = (r: PracticesTable): Practice => ({
  id: r.id,
  name: r.name,
  timezone: r.timezone,
  settings: fromJson<JsonObject>(r.settings),
  version: r.version,
  createdAt: iso(r.created_at),
  updatedAt: iso(r.updated_at),
});

const toLink = (r: LinksTable): Link => ({
  id: r.id,
  practiceId: r.practice_id,
  role: r.role as Link['role'],
  connector: r.connector,
  name: r.name,
  profile: r.profile,
  config: fromJson<JsonObject>(r.config),
  secrets: r.secrets,
  schedule: r.schedule,
  isTest: r.is_test === 1,
  enabled: r.enabled === 1,
  version: r.version,
  createdAt: iso(r.created_at),
  updatedAt: iso(r.updated_at),
});

export interface PracticesRepo {
  create(input: PracticeInput): Promise<Practice>;
  get(id: string): Promise<Practice | undefined>;
  require(id: string): Promise<Practice>;
  list(): Promise<Practice[]>;
  /** `expectedVersion` makes the update conditional (HTTP If-Match). */
  update(id: string, patch: Partial<Omit<PracticeInput, 'id'>>, expectedVersion?: number): Promise<Practice>;
  /** Refused while links still point at the practice. */
  delete(id: string): Promise<void>;
}

export function practicesRepo(ctx: RepoContext): PracticesRepo {
  const { db } = ctx;
  const repo: PracticesRepo = {
    async create(input) {
      const now = ctx.now();
      const row: PracticesTable = {
        id: input.id ?? newId(),
        name: input.name,
        timezone: input.timezone ?? 'Europe/Paris',
        settings: toJson(input.settings ?? {}),
        version: 1,
        created_at: now,
        updated_at: now,
      };
      try {
        await db.insertInto('practices').values(row).execute();
      } catch (e) {
        if (isUniqueViolation(e))
          throw new PasserelleError('ERR_CONFLICT', `practice ${row.id} already exists`, { cause: e });
        throw e;
      }
      return toPractice(row);
    },
    async get(id) {
      const r = (await practiceById.run<PracticesTable>(ctx, { id })).rows[0];
      return r && toPractice(r);
    },
    async require(id) {
      const p = await repo.get(id);
      if (!p) throw notFound('practice', id);
      return p;
    },
    async list() {
      return (await db.selectFrom('practices').selectAll().orderBy('created_at').orderBy('id').execute()).map(
        toPractice,
      );
    },
    async update(id, patch, expectedVersion) {
      const current = await repo.require(id);
      if (expectedVersion !== undefined && expectedVersion !== current.version) {
        throw new PasserelleError(
          'ERR_CONFLICT',
          `practice ${id} is at version ${current.version}, not ${expectedVersion}`,
          { details: { reason: 'stale-version', version: current.version } },
        );
      }
      const res = await db
        .updateTable('practices')
        .set({
          ...(patch.name !== undefined && { name: patch.name }),
          ...(patch.timezone !== undefined && { timezone: patch.timezone }),
          ...(patch.settings !== undefined && { settings: toJson(patch.settings) }),
          version: current.version + 1,
          updated_at: ctx.now(),
        })
        .where('id', '=', id)
        .where('version', '=', current.version)
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) !== 1)
        throw new PasserelleError('ERR_CONFLICT', `practice ${id} was changed concurrently`, {
          details: { reason: 'stale-version' },
        });
      return repo.require(id);
    },
    async delete(id) {
      await repo.require(id);
      const link = await db.selectFrom('links').select('id').where('practice_id', '=', id).executeTakeFirst();
      if (link)
        throw new PasserelleError('ERR_CONFLICT', `practice ${id} still has links; delete them first`, {
          details: { linkId: link.id },
        });
      await db.deleteFrom('ical_tokens').where('practice_id', '=', id).execute();
      await db.deleteFrom('resources').where('practice_id', '=', id).execute();
      await db.deleteFrom('practices').where('id', '=', id).execute();
    },
  };
  return repo;
}

export interface LinksRepo {
  create(input: LinkInput): Promise<Link>;
  get(id: string): Promise<Link | undefined>;
  require(id: string): Promise<Link>;
  list(filter?: { practiceId?: string; connector?: string; enabled?: boolean }): Promise<Link[]>;
  update(id: string, patch: LinkPatch, expectedVersion?: number): Promise<Link>;
  /** Refused while the outbox still holds undelivered changes for the link. */
  delete(id: string): Promise<void>;
}

export function linksRepo(ctx: RepoContext): LinksRepo {
  const { db } = ctx;
  const repo: LinksRepo = {
    async create(input) {
      const practice = await db
        .selectFrom('practices')
        .select('id')
        .where('id', '=', input.practiceId)
        .executeTakeFirst();
      if (!practice) throw notFound('practice', input.practiceId);
      const now = ctx.now();
      const row: LinksTable = {
        id: input.id ?? newId(),
        practice_id: input.practiceId,
        role: input.role,
        connector: input.connector,
        name: input.name,
        profile: input.profile ?? null,
        config: toJson(input.config ?? {}),
        secrets: input.secrets ?? null,
        schedule: input.schedule ?? null,
        is_test: input.isTest ? 1 : 0,
        enabled: input.enabled === false ? 0 : 1,
        version: 1,
        created_at: now,
        updated_at: now,
      };
      try {
        await db.insertInto('links').values(row).execute();
      } catch (e) {
        if (isUniqueViolation(e))
          throw new PasserelleError('ERR_CONFLICT', `link ${row.id} already exists`, { cause: e });
        throw e;
      }
      return toLink(row);
    },
    async get(id) {
      const r = await db.selectFrom('links').selectAll().where('id', '=', id).executeTakeFirst();
      return r && toLink(r);
    },
    async require(id) {
      const l = await repo.get(id);
      if (!l) throw notFound('link', id);
      return l;
    },
    async list(filter = {}) {
      if (filter.practiceId !== undefined && filter.connector === undefined && filter.enabled === undefined) {
        return (await linksOfPractice.run<LinksTable>(ctx, { practiceId: filter.practiceId })).rows.map(
          toLink,
        );
      }
      let q = db.selectFrom('links').selectAll();
      if (filter.practiceId !== undefined) q = q.where('practice_id', '=', filter.practiceId);
      if (filter.connector !== undefined) q = q.where('connector', '=', filter.connector);
      if (filter.enabled !== undefined) q = q.where('enabled', '=', filter.enabled ? 1 : 0);
      return (await q.orderBy('created_at').orderBy('id').execute()).map(toLink);
    },
    async update(id, patch, expectedVersion) {
      const current = await repo.require(id);
      if (expectedVersion !== undefined && expectedVersion !== current.version) {
        throw new PasserelleError(
          'ERR_CONFLICT',
          `link ${id} is at version ${current.version}, not ${expectedVersion}`,
          { details: { reason: 'stale-version', version: current.version } },
        );
      }
      const res = await db
        .updateTable('links')
        .set({
          ...(patch.role !== undefined && { role: patch.role }),
          ...(patch.connector !== undefined && { connector: patch.connector }),
          ...(patch.name !== undefined && { name: patch.name }),
          ...(patch.profile !== undefined && { profile: patch.profile }),
          ...(patch.config !== undefined && { config: toJson(patch.config) }),
          ...(patch.secrets !== undefined && { secrets: patch.secrets }),
          ...(patch.schedule !== undefined && { schedule: patch.schedule }),
          ...(patch.isTest !== undefined && { is_test: patch.isTest ? 1 : 0 }),
          ...(patch.enabled !== undefined && { enabled: patch.enabled ? 1 : 0 }),
          version: current.version + 1,
          updated_at: ctx.now(),
        })
        .where('id', '=', id)
        .where('version', '=', current.version)
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) !== 1)
        throw new PasserelleError('ERR_CONFLICT', `link ${id} was changed concurrently`, {
          details: { reason: 'stale-version' },
        });
      return repo.require(id);
    },
    async delete(id) {
      await repo.require(id);
      const pending = await db
        .selectFrom('outbox')
        .select('seq')
        .where('link_id', '=', id)
        .where('status', 'in', ['pending', 'leased'])
        .executeTakeFirst();
      if (pending)
        throw new PasserelleError('ERR_CONFLICT', `link ${id} still has undelivered changes in the outbox`);
      for (const table of [
        'identity_map',
        'snapshots',
        'cursors',
        'outbox',
        'inbox',
        'practitioner_mappings',
        'practitioner_mapping_holds',
      ] as const) {
        await db.deleteFrom(table).where('link_id', '=', id).execute();
      }
      await db.deleteFrom('links').where('id', '=', id).execute();
    },
  };
  return repo;
}
