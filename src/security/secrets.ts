import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

import { PasserelleError } from '../errors.js';

/**
 * Connector credentials at rest: AES-256-GCM, a random 96-bit nonce per value, the link id as
 * associated data so a ciphertext copied onto another link does not decrypt.
 * Format: `v1.<nonce b64url>.<ciphertext b64url>.<tag b64url>`.
 */
export class SecretBox {
  private readonly key: Buffer;

  constructor(key: Buffer) {
    if (key.length !== 32) throw new PasserelleError('ERR_CRYPTO_KEY_INVALID', 'the encryption key must be 32 bytes');
    this.key = key;
  }

  static fromBase64(b64: string): SecretBox {
    return new SecretBox(Buffer.from(b64, 'base64'));
  }

  seal(plaintext: string, context: string): string {
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, nonce);
    cipher.setAAD(Buffer.from(context));
    const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return ['v1', nonce.toString('base64url'), ct.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.');
  }

  open(sealed: string, context: string): string {
    const [v, nonce, ct, tag] = sealed.split('.');
    if (v !== 'v1' || !nonce || ct === undefined || !tag) throw new PasserelleError('ERR_CRYPTO_DECRYPT_FAILED', 'stored credentials are not in a known format');
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(nonce, 'base64url'));
      decipher.setAAD(Buffer.from(context));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString('utf8');
    } catch (e) {
      throw new PasserelleError('ERR_CRYPTO_DECRYPT_FAILED', 'stored credentials cannot be decrypted with the configured key', { cause: e });
    }
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
export function loadOrCreateKey(configured: string | undefined, keyFile: string): { box: SecretBox; created: boolean } {
  if (configured !== undefined) return { box: SecretBox.fromBase64(configured), created: false };
  if (existsSync(keyFile)) return { box: SecretBox.fromBase64(readFileSync(keyFile, 'utf8').trim()), created: false };
  mkdirSync(dirname(keyFile), { recursive: true });
  writeFileSync(keyFile, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(keyFile, 0o600);
  return { box: SecretBox.fromBase64(readFileSync(keyFile, 'utf8').trim()), created: true };
}
