import { PasserelleError } from '../../errors.js';
import type { MappingProfilesTable } from '../schema.js';
import { iso, isUniqueViolation, notFound, type RepoContext } from './context.js';

/** One version of a link's mapping profile. */
export interface MappingProfileVersion {
  readonly linkId: string;
  readonly version: number;
  readonly name: string;
  readonly yaml: string;
  readonly hash: string;
  readonly createdBy: string | null;
  readonly createdAt: string;
  readonly active: boolean;
  readonly comment: string | null;
}

export interface MappingProfileInput {
  readonly linkId: string;
  readonly name: string;
  readonly yaml: string;
  readonly hash: string;
  readonly createdBy?: string | null;
  readonly comment?: string | null;
}

export interface MappingProfilesRepo {
  /** Adds the link's next version and makes it the active one, atomically. */
  add(input: MappingProfileInput): Promise<MappingProfileVersion>;
  active(linkId: string): Promise<MappingProfileVersion | undefined>;
  get(linkId: string, version: number): Promise<MappingProfileVersion | undefined>;
  /** Newest first. */
  list(linkId: string): Promise<MappingProfileVersion[]>;
  /** Makes an existing version the active one; ERR_NOT_FOUND if there is no such version. */
  activate(linkId: string, version: number): Promise<MappingProfileVersion>;
}

const toVersion = (r: MappingProfilesTable): MappingProfileVersion => ({
  linkId: r.link_id,
  version: Number(r.version),
  name: r.name,
  yaml: r.yaml,
  hash: r.hash,
  createdBy: r.created_by,
  createdAt: iso(Number(r.created_at)),
  active: Number(r.active) === 1,
  comment: r.comment,
});

export function mappingProfilesRepo(ctx: RepoContext): MappingProfilesRepo {
  const { db } = ctx;
  const get = async (linkId: string, version: number) => {
    const r = await db
      .selectFrom('mapping_profiles')
      .selectAll()
      .where('link_id', '=', linkId)
      .where('version', '=', version)
      .executeTakeFirst();
    return r && toVersion(r);
  };
  return {
    async add(input) {
      const last = await db
        .selectFrom('mapping_profiles')
        .select((eb) => eb.fn.max('version').as('v'))
        .where('link_id', '=', input.linkId)
        .executeTakeFirst();
      const version = Number(last?.v ?? 0) + 1;
      const row: MappingProfilesTable = {
        link_id: input.linkId,
        version,
        name: input.name,
        yaml: input.yaml,
        hash: input.hash,
        created_by: input.createdBy ?? null,
        created_at: ctx.now(),
        active: 1,
        comment: input.comment ?? null,
      };
      await db
        .updateTable('mapping_profiles')
        .set({ active: 0 })
        .where('link_id', '=', input.linkId)
        .where('active', '=', 1)
        .execute();
      try {
        await db.insertInto('mapping_profiles').values(row).execute();
      } catch (e) {
        if (isUniqueViolation(e))
          throw new PasserelleError(
            'ERR_STORE_CONFLICT',
            `mapping profile version ${version} of link ${input.linkId} was added concurrently; retry`,
            { cause: e },
          );
        throw e;
      }
      return toVersion(row);
    },
    async active(linkId) {
      const r = await db
        .selectFrom('mapping_profiles')
        .selectAll()
        .where('link_id', '=', linkId)
        .where('active', '=', 1)
        .executeTakeFirst();
      return r && toVersion(r);
    },
    get,
    async list(linkId) {
      return (
        await db
          .selectFrom('mapping_profiles')
          .selectAll()
          .where('link_id', '=', linkId)
          .orderBy('version', 'desc')
          .execute()
      ).map(toVersion);
    },
    async activate(linkId, version) {
      const target = await get(linkId, version);
      if (!target) throw notFound('mapping profile version', `${linkId} v${version}`);
      await db
        .updateTable('mapping_profiles')
        .set({ active: 0 })
        .where('link_id', '=', linkId)
        .where('active', '=', 1)
        .execute();
      await db
        .updateTable('mapping_profiles')
        .set({ active: 1 })
        .where('link_id', '=', linkId)
        .where('version', '=', version)
        .execute();
      return { ...target, active: true };
    },
  };
}
