import type { ApiKeysTable, IcalTokensTable } from '../schema.js';
import type {
  ApiKey,
  ApiKeyInput,
  ApiRole,
  ChangeCounter,
  IcalPrivacy,
  IcalToken,
  IcalTokenInput,
  Practice,
} from '../types.js';
import { iso, isoOrNull, msOrNull, newId, notFound, type RepoContext } from './context.js';
import { toPractice } from './practices.js';

// Both tables keep only SHA-256 hashes of the secrets: a stolen database reveals no usable URL or key.

const toIcalToken = (r: IcalTokensTable): IcalToken => ({
  id: r.id,
  tokenHash: r.token_hash,
  practiceId: r.practice_id,
  practitionerId: r.practitioner_id,
  label: r.label,
  privacy: r.privacy as IcalPrivacy,
  fullAllowed: r.full_allowed === 1,
  createdBy: r.created_by,
  createdAt: iso(r.created_at),
  expiresAt: isoOrNull(r.expires_at),
  unusedExpiryDays: r.unused_expiry_days,
  lastUsedAt: isoOrNull(r.last_used_at),
  revokedAt: isoOrNull(r.revoked_at),
  version: r.version,
  updatedAt: iso(r.updated_at ?? r.created_at),
});

export interface IcalTokensRepo {
  create(input: IcalTokenInput): Promise<IcalToken>;
  get(id: string): Promise<IcalToken | undefined>;
  findByHash(tokenHash: string): Promise<IcalToken | undefined>;
  /**
   * The token with its practice and the practice's change counter, in one query: everything a
   * feed's conditional GET needs to answer 304 (0003_ical).
   */
  findFeedByHash(
    tokenHash: string,
  ): Promise<{ token: IcalToken; practice: Practice; counter: ChangeCounter | undefined } | undefined>;
  list(filter?: { practiceId?: string; includeRevoked?: boolean }): Promise<IcalToken[]>;
  /** Changes settings or the secret's hash; bumps `version` and `updatedAt` (the feed's ETag changes). */
  update(
    id: string,
    patch: Partial<
      Pick<IcalToken, 'label' | 'privacy' | 'fullAllowed' | 'expiresAt' | 'unusedExpiryDays' | 'tokenHash'>
    >,
  ): Promise<IcalToken>;
  revoke(id: string): Promise<void>;
  touch(id: string): Promise<void>;
}

export function icalTokensRepo(ctx: RepoContext): IcalTokensRepo {
  const { db } = ctx;
  const get = async (id: string) => {
    const r = await db.selectFrom('ical_tokens').selectAll().where('id', '=', id).executeTakeFirst();
    return r && toIcalToken(r);
  };
  return {
    async create(input) {
      const now = ctx.now();
      const row: IcalTokensTable = {
        id: input.id ?? newId(),
        token_hash: input.tokenHash,
        practice_id: input.practiceId,
        practitioner_id: input.practitionerId ?? null,
        label: input.label ?? null,
        privacy: input.privacy ?? 'busy',
        full_allowed: input.fullAllowed ? 1 : 0,
        created_by: input.createdBy ?? null,
        created_at: now,
        expires_at: msOrNull(input.expiresAt),
        unused_expiry_days: input.unusedExpiryDays ?? null,
        last_used_at: null,
        revoked_at: null,
        version: 1,
        updated_at: now,
      };
      await db.insertInto('ical_tokens').values(row).execute();
      return toIcalToken(row);
    },
    get,
    async findByHash(tokenHash) {
      const r = await db
        .selectFrom('ical_tokens')
        .selectAll()
        .where('token_hash', '=', tokenHash)
        .executeTakeFirst();
      return r && toIcalToken(r);
    },
    async findFeedByHash(tokenHash) {
      const r = await db
        .selectFrom('ical_tokens as t')
        .innerJoin('practices as p', 'p.id', 't.practice_id')
        .leftJoin('change_counters as c', 'c.practice_id', 't.practice_id')
        .selectAll('t')
        .select([
          'p.name as p_name',
          'p.timezone as p_timezone',
          'p.settings as p_settings',
          'p.version as p_version',
          'p.created_at as p_created_at',
          'p.updated_at as p_updated_at',
          'c.seq as c_seq',
          'c.updated_at as c_updated_at',
        ])
        .where('t.token_hash', '=', tokenHash)
        .executeTakeFirst();
      if (!r) return undefined;
      const {
        p_name,
        p_timezone,
        p_settings,
        p_version,
        p_created_at,
        p_updated_at,
        c_seq,
        c_updated_at,
        ...token
      } = r;
      return {
        token: toIcalToken(token),
        practice: toPractice({
          id: token.practice_id,
          name: p_name,
          timezone: p_timezone,
          settings: p_settings,
          version: p_version,
          created_at: p_created_at,
          updated_at: p_updated_at,
        }),
        counter:
          c_seq === null || c_updated_at === null
            ? undefined
            : { practiceId: token.practice_id, seq: Number(c_seq), updatedAt: iso(Number(c_updated_at)) },
      };
    },
    async list(f = {}) {
      let q = db.selectFrom('ical_tokens').selectAll();
      if (f.practiceId !== undefined) q = q.where('practice_id', '=', f.practiceId);
      if (!f.includeRevoked) q = q.where('revoked_at', 'is', null);
      return (await q.orderBy('created_at').orderBy('id').execute()).map(toIcalToken);
    },
    async update(id, patch) {
      const res = await db
        .updateTable('ical_tokens')
        .set({
          ...(patch.label !== undefined && { label: patch.label }),
          ...(patch.privacy !== undefined && { privacy: patch.privacy }),
          ...(patch.fullAllowed !== undefined && { full_allowed: patch.fullAllowed ? 1 : 0 }),
          ...(patch.expiresAt !== undefined && { expires_at: msOrNull(patch.expiresAt) }),
          ...(patch.unusedExpiryDays !== undefined && { unused_expiry_days: patch.unusedExpiryDays }),
          ...(patch.tokenHash !== undefined && { token_hash: patch.tokenHash }),
          version: (eb) => eb('version', '+', 1),
          updated_at: ctx.now(),
        })
        .where('id', '=', id)
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) !== 1) throw notFound('ical token', id);
      return (await get(id)) as IcalToken;
    },
    async revoke(id) {
      const res = await db
        .updateTable('ical_tokens')
        .set({ revoked_at: ctx.now() })
        .where('id', '=', id)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) !== 1 && !(await get(id))) throw notFound('ical token', id);
    },
    async touch(id) {
      await db.updateTable('ical_tokens').set({ last_used_at: ctx.now() }).where('id', '=', id).execute();
    },
  };
}

const toApiKey = (r: ApiKeysTable): ApiKey => ({
  id: r.id,
  keyHash: r.key_hash,
  prefix: r.prefix,
  role: r.role as ApiRole,
  label: r.label,
  practiceId: r.practice_id,
  createdBy: r.created_by,
  createdAt: iso(r.created_at),
  lastUsedAt: isoOrNull(r.last_used_at),
  revokedAt: isoOrNull(r.revoked_at),
});

export interface ApiKeysRepo {
  create(input: ApiKeyInput): Promise<ApiKey>;
  get(id: string): Promise<ApiKey | undefined>;
  findByHash(keyHash: string): Promise<ApiKey | undefined>;
  list(filter?: { includeRevoked?: boolean }): Promise<ApiKey[]>;
  /** Active (unrevoked) keys; 0 means start-up should print a first admin key. */
  countActive(): Promise<number>;
  revoke(id: string): Promise<void>;
  touch(id: string): Promise<void>;
}

export function apiKeysRepo(ctx: RepoContext): ApiKeysRepo {
  const { db } = ctx;
  const get = async (id: string) => {
    const r = await db.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirst();
    return r && toApiKey(r);
  };
  return {
    async create(input) {
      const row: ApiKeysTable = {
        id: input.id ?? newId(),
        key_hash: input.keyHash,
        prefix: input.prefix,
        role: input.role,
        label: input.label ?? null,
        practice_id: input.practiceId ?? null,
        created_by: input.createdBy ?? null,
        created_at: ctx.now(),
        last_used_at: null,
        revoked_at: null,
      };
      await db.insertInto('api_keys').values(row).execute();
      return toApiKey(row);
    },
    get,
    async findByHash(keyHash) {
      const r = await db
        .selectFrom('api_keys')
        .selectAll()
        .where('key_hash', '=', keyHash)
        .executeTakeFirst();
      return r && toApiKey(r);
    },
    async list(f = {}) {
      let q = db.selectFrom('api_keys').selectAll();
      if (!f.includeRevoked) q = q.where('revoked_at', 'is', null);
      return (await q.orderBy('created_at').orderBy('id').execute()).map(toApiKey);
    },
    async countActive() {
      const r = await db
        .selectFrom('api_keys')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('revoked_at', 'is', null)
        .executeTakeFirstOrThrow();
      return Number(r.n);
    },
    async revoke(id) {
      const res = await db
        .updateTable('api_keys')
        .set({ revoked_at: ctx.now() })
        .where('id', '=', id)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) !== 1 && !(await get(id))) throw notFound('api key', id);
    },
    async touch(id) {
      await db.updateTable('api_keys').set({ last_used_at: ctx.now() }).where('id', '=', id).execute();
    },
  };
}
