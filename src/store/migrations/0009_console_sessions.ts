import { dialectTypes, runScript, type StoreMigration } from './types.js';

/**
 * Console sessions (issue 19): the web console signs in with an API key or OpenID Connect and
 * then authenticates with an HttpOnly cookie. One row per signed-in browser.
 * - `token_hash`: SHA-256 of the cookie's token; the token itself is never stored.
 * - `actor`: the API key id (via `key`) or `oidc:<issuer host>:<sub>` (via `oidc`), written to
 *   the audit trail as the actor of every request of the session.
 * - `key_id`: the API key a `key` session was opened with; revoking that key ends the session.
 * - `last_seen_at` drives the idle timeout, `expires_at` is the absolute cap.
 * No foreign key to `api_keys`: the session check joins it (a deleted key ends the session too).
 */
export const migration0009: StoreMigration = {
  name: '0009_console_sessions',
  async up(db, dialect) {
    const t = dialectTypes(dialect);
    await runScript(
      db,
      `
CREATE TABLE console_sessions (
  id TEXT PRIMARY KEY,
  token_hash TEXT NOT NULL,
  actor TEXT NOT NULL,
  label TEXT,
  role TEXT NOT NULL,
  practice_id TEXT,
  via TEXT NOT NULL,
  key_id TEXT,
  csrf_token TEXT NOT NULL,
  created_at ${t.bigint} NOT NULL,
  last_seen_at ${t.bigint} NOT NULL,
  expires_at ${t.bigint} NOT NULL
);
CREATE UNIQUE INDEX console_sessions_token ON console_sessions (token_hash);
CREATE INDEX console_sessions_key ON console_sessions (key_id);
CREATE INDEX console_sessions_expiry ON console_sessions (expires_at)
`,
    );
  },
};
