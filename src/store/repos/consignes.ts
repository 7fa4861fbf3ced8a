/**
 * Consignes (issue 21 point 1): a practice's instructions and scripts for the secretariat's
 * agents, versioned — each change is a new row with its author and its diff from the previous
 * version; nothing is overwritten. Not patient data: nothing is sealed.
 */
import type { ConsignesTable } from '../schema.js';
import type { JsonObject } from '../types.js';
import { fromJson, iso, isoOrNull, isUniqueViolation, type RepoContext, toJson } from './context.js';

export interface ConsignesVersion {
  readonly practiceId: string;
  readonly version: number;
  readonly document: JsonObject;
  readonly author: string;
  readonly diff: readonly { readonly path: string; readonly before: unknown; readonly after: unknown }[];
  readonly createdAt: string;
  /** When the platform took this version; null while not (yet). */
  readonly publishedAt: string | null;
  readonly publishError: string | null;
}

export interface ConsignesRepo {
  current(practiceId: string): Promise<ConsignesVersion | undefined>;
  /** Every version, newest first. */
  versions(practiceId: string): Promise<ConsignesVersion[]>;
  /** Adds version `version`; false when it exists already (a concurrent change won). */
  add(input: {
    readonly practiceId: string;
    readonly version: number;
    readonly document: JsonObject;
    readonly author: string;
    readonly diff: ConsignesVersion['diff'];
  }): Promise<boolean>;
  markPublished(practiceId: string, version: number, error: string | null): Promise<void>;
  /** The version in force at `at` (the latest created at or before it), or null. */
  versionAt(practiceId: string, at: number): Promise<number | null>;
}

const toVersion = (r: ConsignesTable): ConsignesVersion => ({
  practiceId: r.practice_id,
  version: Number(r.version),
  document: fromJson<JsonObject>(r.document),
  author: r.author,
  diff: fromJson<ConsignesVersion['diff']>(r.diff),
  createdAt: iso(Number(r.created_at)),
  publishedAt: isoOrNull(r.published_at === null ? null : Number(r.published_at)),
  publishError: r.publish_error,
});

export function consignesRepo(ctx: RepoContext): ConsignesRepo {
  const { db } = ctx;
  return {
    async current(practiceId) {
      const r = await db
        .selectFrom('consignes')
        .selectAll()
        .where('practice_id', '=', practiceId)
        .orderBy('version', 'desc')
        .limit(1)
        .executeTakeFirst();
      return r && toVersion(r);
    },
    async versions(practiceId) {
      const rows = await db
        .selectFrom('consignes')
        .selectAll()
        .where('practice_id', '=', practiceId)
        .orderBy('version', 'desc')
        .execute();
      return rows.map(toVersion);
    },
    async add(input) {
      try {
        await db
          .insertInto('consignes')
          .values({
            practice_id: input.practiceId,
            version: input.version,
            document: toJson(input.document),
            author: input.author,
            diff: toJson(input.diff),
            created_at: ctx.now(),
            published_at: null,
            publish_error: null,
          })
          .execute();
        return true;
      } catch (e) {
        if (isUniqueViolation(e)) return false;
        throw e;
      }
    },
    async versionAt(practiceId, at) {
      const r = await db
        .selectFrom('consignes')
        .select('version')
        .where('practice_id', '=', practiceId)
        .where('created_at', '<=', at)
        .orderBy('version', 'desc')
        .limit(1)
        .executeTakeFirst();
      return r ? Number(r.version) : null;
    },
    async markPublished(practiceId, version, error) {
      await db
        .updateTable('consignes')
        .set(error === null ? { published_at: ctx.now(), publish_error: null } : { publish_error: error })
        .where('practice_id', '=', practiceId)
        .where('version', '=', version)
        .execute();
    },
  };
}
