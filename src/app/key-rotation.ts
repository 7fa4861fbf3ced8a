import { sql } from 'kysely';

import { sealContext } from '../reports/webhook.js';
import type { SecretBox } from '../security/secrets.js';
import type { Store } from '../store/index.js';
import { type ResealOptions, type ResealReport, resealStore } from '../store/reseal.js';
import type { JsonObject } from '../store/types.js';

export interface KeyRotationReport extends ResealReport {
  readonly keyId: string;
  /** Link credentials and practice webhook secrets re-sealed (done first, in one transaction). */
  readonly secrets: number;
}

/**
 * `passerelle key rotate`: re-seals everything not yet under the current key (security.encryptionKey)
 * — connector credentials, practices' webhook secrets, then the patient data of every table in
 * batches. The previous keys (security.previousEncryptionKeys) must stay configured until it
 * reports `complete`; running it again after an interruption resumes where rows are still old.
 * `store` must have been opened with `box.keyring`.
 */
export async function rotateKeys(
  store: Store,
  box: SecretBox,
  options: ResealOptions = {},
): Promise<KeyRotationReport> {
  const secrets = await store.transaction(async (tx) => {
    let n = 0;
    for (const link of await tx.links.list()) {
      if (link.secrets === null || box.isCurrent(link.secrets)) continue;
      await tx.db
        .updateTable('links')
        .set({ secrets: box.seal(box.open(link.secrets, link.id), link.id) })
        .where('id', '=', link.id)
        .execute();
      n++;
    }
    for (const practice of await tx.practices.list()) {
      const hook = practice.settings['digestWebhook'] as JsonObject | undefined;
      const sealed = hook?.['sealedSecret'];
      if (typeof sealed !== 'string' || box.isCurrent(sealed)) continue;
      const settings = {
        ...practice.settings,
        digestWebhook: {
          ...hook,
          sealedSecret: box.seal(box.open(sealed, sealContext(practice.id)), sealContext(practice.id)),
        },
      };
      await tx.db
        .updateTable('practices')
        .set({ settings: JSON.stringify(settings) })
        .where('id', '=', practice.id)
        .execute();
      n++;
    }
    return n;
  });
  const report = await resealStore(store, box.keyring, options);
  // The WAL may still hold page images from before the rotation: fold it into the database
  // (where secure_delete has zeroed what was rewritten) and empty it.
  if (report.complete && store.dialect === 'sqlite')
    await sql`PRAGMA wal_checkpoint(TRUNCATE)`.execute(store.db);
  await store.audit.append({
    actor: 'cli',
    action: 'key.rotate',
    outcome: 'success',
    via: 'cli',
    details: {
      keyId: box.keyring.currentKeyId,
      complete: report.complete,
      batches: report.batches,
      secrets,
      resealed: { ...report.resealed },
    },
  });
  return { ...report, keyId: box.keyring.currentKeyId, secrets };
}
