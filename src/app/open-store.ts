import { dirname, join, resolve } from 'node:path';

import { type Config, previousKeys } from '../config/schema.js';
import { PasserelleError } from '../errors.js';
import type { Keyring } from '../security/sealing.js';
import { loadOrCreateKey, type SecretBox } from '../security/secrets.js';
import { openPostgresStore, openSqliteStore, type Store } from '../store/index.js';
import type { Clock } from '../store/repos/context.js';

/**
 * Opens the store the config names (SQLite file by default), its patient data sealed under the
 * configured key ring (`keyring`, or the one `openSecretBox` gives for this config). Does not migrate.
 */
export async function openConfiguredStore(config: Config, options: { now?: Clock; cwd?: string; keyring?: Keyring } = {}): Promise<Store> {
  const now = options.now ? { now: options.now } : {};
  const sealing = options.keyring ?? openSecretBox(config, options.cwd === undefined ? {} : { cwd: options.cwd }).box.keyring;
  if (config.store.driver === 'postgres') {
    return openPostgresStore({ url: config.store.postgres.url as string, poolSize: config.store.postgres.poolSize, sealing, ...now });
  }
  return openSqliteStore({ path: resolve(options.cwd ?? process.cwd(), config.store.sqlite.path), sealing, ...now });
}

/**
 * The service key ring: it seals connector credentials (src/security/secrets.ts) and the
 * store's patient data (src/security/sealing.ts).
 */
export function openSecretBox(config: Config, options: { cwd?: string } = {}): { box: SecretBox; created: boolean; keyFile?: string } {
  if (config.store.driver === 'postgres' && config.security.encryptionKey === undefined) {
    throw new PasserelleError('ERR_CRYPTO_KEY_INVALID', 'security.encryptionKey (or PASSERELLE_SECURITY_ENCRYPTION_KEY[_FILE]) is required with the postgres store: instances must share one key');
  }
  const keyFile = join(dirname(resolve(options.cwd ?? process.cwd(), config.store.sqlite.path)), 'secret.key');
  const { box, created } = loadOrCreateKey(config.security.encryptionKey, keyFile, previousKeys(config.security.previousEncryptionKeys));
  return { box, created, ...(config.security.encryptionKey === undefined && { keyFile }) };
}
