import { runScript, type StoreMigration } from './types.js';

/**
 * Sealed at rest (docs/security.md): patient-bearing columns keep their types and receive
 * envelopes (src/security/sealing.ts), so only the lookup columns change shape: the match keys'
 * `key_hash` and the identity map's `external_id` (a peer's id may be a patient's INS) become
 * HMACs under the store key, and `key_sealed` / `external_sealed` keep the value itself sealed,
 * for reading back and so that a key rotation can recompute the HMAC.
 *
 * A migration has no key: rows written before this version stay readable as they are, and
 * `passerelle key rotate` seals them (and re-keys the old match keys) in resumable batches.
 */
export const migration0007: StoreMigration = {
  name: '0007_sealing',
  async up(db) {
    await runScript(
      db,
      `
ALTER TABLE match_keys ADD COLUMN key_sealed TEXT;
ALTER TABLE identity_map ADD COLUMN external_sealed TEXT
`,
    );
  },
};
