import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

import { PasserelleError } from '../errors.js';

const decode = (b64: string, where: string): Buffer => {
  const key = Buffer.from(b64.trim(), 'base64');
  if (key.length !== 32)
    throw new PasserelleError(
      'ERR_AUDIT_KEY_INVALID',
      `the audit key from ${where} must be base64 of 32 bytes`,
    );
  return key;
};

/**
 * The audit chain's HMAC key: from config, else from `keyPath`, created there on first start
 * (mode 0600) when `create` allows it — as the credentials key is (secrets.ts). The key must
 * not live in the store nor travel with its backups: whoever holds both can rewrite the chain.
 */
export function loadOrCreateAuditKey(
  configured: string | undefined,
  keyPath: string,
  create: boolean,
): { key: Buffer; created: boolean } {
  if (configured !== undefined) return { key: decode(configured, 'audit.key'), created: false };
  if (existsSync(keyPath)) {
    try {
      return { key: decode(readFileSync(keyPath, 'utf8'), keyPath), created: false };
    } catch (e) {
      if (e instanceof PasserelleError) throw e;
      throw new PasserelleError(
        'ERR_AUDIT_KEY_INVALID',
        `cannot read the audit key file ${keyPath}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
        { cause: e },
      );
    }
  }
  if (!create)
    throw new PasserelleError(
      'ERR_AUDIT_KEY_INVALID',
      `no audit key: set audit.key, or start the service once to create ${keyPath}`,
    );
  mkdirSync(dirname(keyPath), { recursive: true, mode: 0o700 });
  writeFileSync(keyPath, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(keyPath, 0o600);
  return { key: decode(readFileSync(keyPath, 'utf8'), keyPath), created: true };
}

/** Names a key without revealing it: written in checkpoints so a verifier can tell keys apart. */
export function auditKeyId(key: Buffer): string {
  return createHash('sha256').update('passerelle-audit-key-id\n').update(key).digest('hex').slice(0, 16);
}
