import { createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

import { PasserelleError } from '../errors.js';
import { Keyring } from './sealing.js';

/**
 * Connector credentials at rest, sealed by the one sealing module (./sealing.ts): AES-256-GCM
 * with the link id (or the practice's context) as associated data, so a ciphertext copied onto
 * another link does not open. Values sealed before key ids existed (`v1.<nonce>.<ct>.<tag>`,
 * under the raw key) still open, under any configured key, until `passerelle key rotate`
 * re-seals them.
 */
export class SecretBox {
  readonly keyring: Keyring;

  constructor(key: Buffer | Keyring) {
    this.keyring = key instanceof Keyring ? key : new Keyring(key);
  }

  static fromBase64(b64: string): SecretBox {
    return new SecretBox(Buffer.from(b64, 'base64'));
  }

  seal(plaintext: string, context: string): string {
    return this.keyring.sealText(plaintext, context);
  }

  open(sealed: string, context: string): string {
    if (this.keyring.keyIdOf(sealed) !== null) return this.keyring.openText(sealed, context);
    const [v, nonce, ct, tag] = sealed.split('.');
    if (v !== 'v1' || !nonce || ct === undefined || !tag)
      throw new PasserelleError('ERR_CRYPTO_DECRYPT_FAILED', 'stored credentials are not in a known format');
    for (const key of this.keyring.keys) {
      try {
        const decipher = createDecipheriv('aes-256-gcm', key.raw, Buffer.from(nonce, 'base64url'));
        decipher.setAAD(Buffer.from(context));
        decipher.setAuthTag(Buffer.from(tag, 'base64url'));
        return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString(
          'utf8',
        );
      } catch {
        // the next configured key, if any
      }
    }
    throw new PasserelleError(
      'ERR_CRYPTO_DECRYPT_FAILED',
      'stored credentials cannot be decrypted with the configured keys',
    );
  }

  /** Whether `sealed` is already under the current key (key rotation skips it then). */
  isCurrent(sealed: string): boolean {
    return this.keyring.isCurrent(sealed);
  }

  sealJson(value: unknown, context: string): string {
    return this.seal(JSON.stringify(value), context);
  }

  openJson<T>(sealed: string, context: string): T {
    return JSON.parse(this.open(sealed, context)) as T;
  }
}

/**
 * The key from config, or for the embedded store a key file created beside the database on
 * first start (mode 0600). A key file next to the data protects a copied database only if
 * the key file is not copied with it: production deployments set security.encryptionKey.
 */
export function loadOrCreateKey(
  configured: string | undefined,
  keyFile: string,
  previous: readonly string[] = [],
): { box: SecretBox; created: boolean } {
  const box = (current: string) => new SecretBox(Keyring.fromBase64(current, previous));
  if (configured !== undefined) return { box: box(configured), created: false };
  if (existsSync(keyFile)) return { box: box(readFileSync(keyFile, 'utf8').trim()), created: false };
  mkdirSync(dirname(keyFile), { recursive: true, mode: 0o700 });
  writeFileSync(keyFile, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(keyFile, 0o600);
  return { box: box(readFileSync(keyFile, 'utf8').trim()), created: true };
}
