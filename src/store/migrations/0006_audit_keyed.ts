import { dialectTypes, runScript, type StoreMigration } from './types.js';

/**
 * Keyed audit chain (docs/security.md, repos/audit.ts):
 * - `audit_events.practice_id`: the practice an event concerns, so the audit read API can
 *   filter a practice-limited key to its own events. Null on older events and on global ones.
 * - `audit_head.anchor_*`: where the chain switched from plain SHA-256 to HMAC-SHA256 under
 *   the audit key. Set by the first append made with a key; `anchor_mac` is an HMAC of the
 *   anchor under that key, so moving it forward (to pass re-chained rows off as old ones)
 *   needs the key.
 * - `audit_head.base_*`: the first kept event's predecessor when a prefix of the chain was
 *   purged by retention; verification then starts there instead of at the genesis hash.
 */
export const migration0006: StoreMigration = {
  name: '0006_audit_keyed',
  async up(db, dialect) {
    const t = dialectTypes(dialect);
    await runScript(
      db,
      `
ALTER TABLE audit_events ADD COLUMN practice_id TEXT;
CREATE INDEX audit_events_practice ON audit_events (practice_id, seq);
CREATE INDEX audit_events_at ON audit_events (at);
ALTER TABLE audit_head ADD COLUMN anchor_seq ${t.bigint};
ALTER TABLE audit_head ADD COLUMN anchor_hash TEXT;
ALTER TABLE audit_head ADD COLUMN anchor_mac TEXT;
ALTER TABLE audit_head ADD COLUMN base_seq ${t.bigint};
ALTER TABLE audit_head ADD COLUMN base_hash TEXT;
ALTER TABLE audit_head ADD COLUMN base_mac TEXT
`,
    );
  },
};
