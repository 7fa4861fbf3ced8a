import { dirname, join, resolve } from 'node:path';

import { type Config, previousKeys } from '../config/schema.js';
import { PasserelleError } from '../errors.js';
import { loadOrCreateAuditKey } from '../security/audit-key.js';
import type { Keyring } from '../security/sealing.js';
import { loadOrCreateKey, type SecretBox } from '../security/secrets.js';
import { openPostgresStore, openSqliteStore, type Store } from '../store/index.js';
import type { Clock } from '../store/repos/context.js';

/**
 * Opens the store the config names (SQLite file by default): its patient data sealed under the
 * configured key ring (`keyring`, or the one `openSecretBox` gives for this config), its audit
 * chain keyed with the audit key (given, or loaded and if need be created: openAuditKey). Does
 * not migrate.
 */
export async function openConfiguredStore(
  config: Config,
  options: { now?: Clock; cwd?: string; auditKey?: Buffer; keyring?: Keyring } = {},
): Promise<Store> {
  const now = options.now ? { now: options.now } : {};
  const cwd = options.cwd === undefined ? {} : { cwd: options.cwd };
  const auditKey = options.auditKey ?? openAuditKey(config, { ...cwd, create: true }).key;
  const sealing = options.keyring ?? openSecretBox(config, cwd).box.keyring;
  if (config.store.driver === 'postgres') {
    return openPostgresStore({
      url: config.store.postgres.url as string,
      poolSize: config.store.postgres.poolSize,
      sealing,
      ...now,
      auditKey,
    });
  }
  return openSqliteStore({
    path: resolve(options.cwd ?? process.cwd(), config.store.sqlite.path),
    sealing,
    ...now,
    auditKey,
  });
}

/** Beside the SQLite database by default: the service's data folder. */
const dataDir = (config: Config, cwd: string | undefined) =>
  dirname(resolve(cwd ?? process.cwd(), config.store.sqlite.path));

/** The audit chain's key (security/audit-key.ts): audit.key, else the file at audit.keyPath. */
export function openAuditKey(
  config: Config,
  options: { cwd?: string; create: boolean },
): { key: Buffer; created: boolean; keyPath: string } {
  const keyPath = config.audit.keyPath
    ? resolve(options.cwd ?? process.cwd(), config.audit.keyPath)
    : join(dataDir(config, options.cwd), 'audit.key');
  // With postgres a key created here would be this instance's alone: the config demands one.
  return {
    ...loadOrCreateAuditKey(config.audit.key, keyPath, options.create && config.store.driver === 'sqlite'),
    keyPath,
  };
}

export function auditCheckpointFile(config: Config, options: { cwd?: string } = {}): string {
  return config.audit.checkpoint.file
    ? resolve(options.cwd ?? process.cwd(), config.audit.checkpoint.file)
    : join(dataDir(config, options.cwd), 'audit-checkpoints.jsonl');
}

/**
 * The service key ring: it seals connector credentials (src/security/secrets.ts) and the
 * store's patient data (src/security/sealing.ts).
 */
export function openSecretBox(
  config: Config,
  options: { cwd?: string } = {},
): { box: SecretBox; created: boolean; keyFile?: string } {
  if (config.store.driver === 'postgres' && config.security.encryptionKey === undefined) {
    throw new PasserelleError(
      'ERR_CRYPTO_KEY_INVALID',
      'security.encryptionKey (or PASSERELLE_SECURITY_ENCRYPTION_KEY[_FILE]) is required with the postgres store: instances must share one key',
    );
  }
  const keyFile = join(
    dirname(resolve(options.cwd ?? process.cwd(), config.store.sqlite.path)),
    'secret.key',
  );
  const { box, created } = loadOrCreateKey(
    config.security.encryptionKey,
    keyFile,
    previousKeys(config.security.previousEncryptionKeys),
  );
  return { box, created, ...(config.security.encryptionKey === undefined && { keyFile }) };
}
