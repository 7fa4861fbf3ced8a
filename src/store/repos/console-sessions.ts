/**
 * Console sessions (0009_console_sessions): what a signed-in browser's cookie stands for. Only
 * the SHA-256 of the cookie's token is stored; the CSRF token is stored as is (it is useless
 * without the cookie, and the console reads it back after a reload through GET /api/v1/session).
 * Nothing here is patient data: nothing is sealed.
 */
import type { ConsoleSessionsTable } from '../schema.js';
import type { ApiRole } from '../types.js';
import { iso, newId, type RepoContext } from './context.js';

export const CONSOLE_SESSION_VIAS = ['key', 'oidc'] as const;
/** How the session was opened: an API key typed in the console, or an OpenID Connect sign-in. */
export type ConsoleSessionVia = (typeof CONSOLE_SESSION_VIAS)[number];

export interface ConsoleSession {
  readonly id: string;
  /** The API key id (via `key`) or `oidc:<issuer host>:<sub>`: the audit trail's actor. */
  readonly actor: string;
  /** The key's label, or the OIDC user's name or e-mail, for the console to show. */
  readonly label: string | null;
  readonly role: ApiRole;
  /** The practice the session is limited to, or null. */
  readonly practiceId: string | null;
  readonly via: ConsoleSessionVia;
  /** The API key a `key` session was opened with; its revocation ends the session. */
  readonly keyId: string | null;
  readonly csrfToken: string;
  readonly createdAt: string;
  readonly lastSeenAt: string;
  /** The absolute cap: past it the session ends, however active. */
  readonly expiresAt: string;
}

export interface ConsoleSessionInput {
  /** SHA-256 (hex) of the cookie's token. */
  readonly tokenHash: string;
  readonly actor: string;
  readonly label?: string | null;
  readonly role: ApiRole;
  readonly practiceId?: string | null;
  readonly via: ConsoleSessionVia;
  readonly keyId?: string | null;
  readonly csrfToken: string;
  readonly expiresAt: string;
}

export interface ConsoleSessionsRepo {
  create(input: ConsoleSessionInput): Promise<ConsoleSession>;
  get(id: string): Promise<ConsoleSession | undefined>;
  /**
   * The session of a cookie's token hash, with whether the API key it was opened with is
   * revoked or gone (always false for an OIDC session).
   */
  findByTokenHash(tokenHash: string): Promise<{ session: ConsoleSession; keyRevoked: boolean } | undefined>;
  /** Sets `lastSeenAt` to now. */
  touch(id: string): Promise<void>;
  /** Ends one session; false when it did not exist (already ended). */
  end(id: string): Promise<boolean>;
  /** Ends every session opened with an API key (its revocation); returns how many. */
  endForKey(keyId: string): Promise<number>;
  /** Removes the sessions past their cap or not seen since `idleSince`; returns how many. */
  endExpired(idleSince: string): Promise<number>;
}

const toSession = (r: ConsoleSessionsTable): ConsoleSession => ({
  id: r.id,
  actor: r.actor,
  label: r.label,
  role: r.role as ApiRole,
  practiceId: r.practice_id,
  via: r.via as ConsoleSessionVia,
  keyId: r.key_id,
  csrfToken: r.csrf_token,
  createdAt: iso(Number(r.created_at)),
  lastSeenAt: iso(Number(r.last_seen_at)),
  expiresAt: iso(Number(r.expires_at)),
});

export function consoleSessionsRepo(ctx: RepoContext): ConsoleSessionsRepo {
  const { db } = ctx;
  return {
    async create(input) {
      const now = ctx.now();
      const row: ConsoleSessionsTable = {
        id: newId(),
        token_hash: input.tokenHash,
        actor: input.actor,
        label: input.label ?? null,
        role: input.role,
        practice_id: input.practiceId ?? null,
        via: input.via,
        key_id: input.keyId ?? null,
        csrf_token: input.csrfToken,
        created_at: now,
        last_seen_at: now,
        expires_at: Date.parse(input.expiresAt),
      };
      await db.insertInto('console_sessions').values(row).execute();
      return toSession(row);
    },
    async get(id) {
      const r = await db.selectFrom('console_sessions').selectAll().where('id', '=', id).executeTakeFirst();
      return r && toSession(r);
    },
    async findByTokenHash(tokenHash) {
      const r = await db
        .selectFrom('console_sessions as s')
        .leftJoin('api_keys as k', 'k.id', 's.key_id')
        .selectAll('s')
        .select(['k.id as k_id', 'k.revoked_at as k_revoked_at'])
        .where('s.token_hash', '=', tokenHash)
        .executeTakeFirst();
      if (!r) return undefined;
      const { k_id, k_revoked_at, ...row } = r;
      return {
        session: toSession(row),
        keyRevoked: row.key_id !== null && (k_id === null || k_revoked_at !== null),
      };
    },
    async touch(id) {
      await db
        .updateTable('console_sessions')
        .set({ last_seen_at: ctx.now() })
        .where('id', '=', id)
        .execute();
    },
    async end(id) {
      const res = await db.deleteFrom('console_sessions').where('id', '=', id).executeTakeFirst();
      return Number(res.numDeletedRows) > 0;
    },
    async endForKey(keyId) {
      const res = await db.deleteFrom('console_sessions').where('key_id', '=', keyId).executeTakeFirst();
      return Number(res.numDeletedRows);
    },
    async endExpired(idleSince) {
      const res = await db
        .deleteFrom('console_sessions')
        .where((eb) =>
          eb.or([eb('expires_at', '<=', ctx.now()), eb('last_seen_at', '<=', Date.parse(idleSince))]),
        )
        .executeTakeFirst();
      return Number(res.numDeletedRows);
    },
  };
}
