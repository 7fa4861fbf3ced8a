import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomFillSync } from 'node:crypto';

import { PasserelleError } from '../errors.js';
import type { ColumnSealer } from '../store/sealer.js';

/**
 * The one sealing module: AES-256-GCM (NIST SP 800-38D) with a random 96-bit nonce per value and
 * associated data naming where the value lives (table, column, row), so a ciphertext copied onto
 * another row or column does not open. Keys come from the service key (security.encryptionKey or
 * the key file) through HKDF-SHA256 (RFC 5869), one subkey per purpose, so the AES key is never
 * also used as an HMAC key.
 *
 * Envelope, version 1 (`pz1`), self-describing so that rotation can tell which key sealed what:
 * - text columns: `pz1.<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>`
 * - byte columns: the ASCII bytes `pz1.<key id>.` followed by nonce ‖ ciphertext ‖ tag.
 * A stored JSON value starts with `{` or `[`, an HL7 or webhook body with `MSH`/`{`: nothing
 * written before sealing existed can be mistaken for an envelope, so such legacy rows are read
 * as they are until `passerelle key rotate` seals them.
 */

const VERSION = 'pz1';
const NONCE = 12;
const TAG = 16;

/**
 * Random nonces drawn from the system CSPRNG a thousand at a time: one call per nonce costs more
 * than the encryption of a record. Each nonce is copied out before the pool is refilled.
 */
const noncePool = Buffer.alloc(NONCE * 1024);
let nonceOffset = noncePool.length;
function nextNonce(): Buffer {
  if (nonceOffset >= noncePool.length) {
    randomFillSync(noncePool);
    nonceOffset = 0;
  }
  const nonce = noncePool.subarray(nonceOffset, nonceOffset + NONCE);
  nonceOffset += NONCE;
  return nonce;
}

/** One service key and what is derived from it once (key derivation is the costly part). */
export interface SealingKey {
  /** Names the key in envelopes without revealing anything about it: 8 base64url characters. */
  readonly id: string;
  readonly enc: Buffer;
  readonly mac: Buffer;
  /** The raw key: only for the credentials sealed before envelopes had a key id (`v1.` values). */
  readonly raw: Buffer;
}

function derive(raw: Buffer, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', raw, Buffer.alloc(0), `passerelle ${info}`, 32));
}

export function sealingKey(raw: Buffer): SealingKey {
  if (raw.length !== 32)
    throw new PasserelleError('ERR_CRYPTO_KEY_INVALID', 'the encryption key must be 32 bytes');
  return {
    id: derive(raw, 'key id').subarray(0, 6).toString('base64url'),
    enc: derive(raw, 'seal v1'),
    mac: derive(raw, 'blind index v1'),
    raw,
  };
}

/** `pz1.<id>.` of a text or byte envelope, or undefined when the value is not one. */
function envelopeKeyId(head: string): string | undefined {
  if (!head.startsWith(`${VERSION}.`)) return undefined;
  const end = head.indexOf('.', VERSION.length + 1);
  return end < 0 ? undefined : head.slice(VERSION.length + 1, end);
}

/**
 * The current key, which seals everything written, and the previous ones, which still open what
 * they sealed until `passerelle key rotate` has re-sealed it under the current key.
 */
export class Keyring implements ColumnSealer {
  readonly current: SealingKey;
  readonly keys: readonly SealingKey[];
  private readonly byId: ReadonlyMap<string, SealingKey>;
  private readonly textPrefix: string;
  private readonly bytePrefix: Buffer;

  constructor(current: Buffer, previous: readonly Buffer[] = []) {
    this.current = sealingKey(current);
    const keys = [this.current];
    for (const p of previous) {
      const k = sealingKey(p);
      if (!keys.some((x) => x.id === k.id)) keys.push(k);
    }
    this.keys = keys;
    this.byId = new Map(keys.map((k) => [k.id, k]));
    this.textPrefix = `${VERSION}.${this.current.id}.`;
    this.bytePrefix = Buffer.from(this.textPrefix, 'ascii');
  }

  static fromBase64(current: string, previous: readonly string[] = []): Keyring {
    return new Keyring(
      Buffer.from(current, 'base64'),
      previous.map((p) => Buffer.from(p, 'base64')),
    );
  }

  get currentKeyId(): string {
    return this.current.id;
  }

  private encrypt(plaintext: Buffer, aad: string): Buffer {
    const nonce = nextNonce();
    const cipher = createCipheriv('aes-256-gcm', this.current.enc, nonce);
    cipher.setAAD(Buffer.from(aad, 'utf8'));
    const ct = cipher.update(plaintext);
    cipher.final(); // GCM is a stream mode: nothing is held back
    return Buffer.concat([nonce, ct, cipher.getAuthTag()], NONCE + ct.length + TAG);
  }

  private decrypt(keyId: string, body: Buffer, aad: string): Buffer {
    const key = this.byId.get(keyId);
    if (!key) {
      throw new PasserelleError(
        'ERR_CRYPTO_KEY_UNKNOWN',
        `a stored value is sealed under key ${keyId}, which is not configured (security.encryptionKey / security.previousEncryptionKeys)`,
        {
          details: { keyId },
        },
      );
    }
    if (body.length < NONCE + TAG)
      throw new PasserelleError('ERR_CRYPTO_DECRYPT_FAILED', 'a sealed value is truncated');
    try {
      const decipher = createDecipheriv('aes-256-gcm', key.enc, body.subarray(0, NONCE));
      decipher.setAAD(Buffer.from(aad, 'utf8'));
      decipher.setAuthTag(body.subarray(body.length - TAG));
      return Buffer.concat([decipher.update(body.subarray(NONCE, body.length - TAG)), decipher.final()]);
    } catch (e) {
      // Altered bytes, or a value moved from the row or column its associated data names.
      throw new PasserelleError(
        'ERR_CRYPTO_DECRYPT_FAILED',
        'a sealed value does not authenticate (altered, or moved from another row)',
        { cause: e, details: { keyId } },
      );
    }
  }

  sealText(plaintext: string, aad: string): string {
    return this.textPrefix + this.encrypt(Buffer.from(plaintext, 'utf8'), aad).toString('base64url');
  }

  openText(stored: string, aad: string): string {
    const keyId = envelopeKeyId(stored.slice(0, 32));
    if (keyId === undefined) return stored;
    return this.decrypt(
      keyId,
      Buffer.from(stored.slice(VERSION.length + keyId.length + 2), 'base64url'),
      aad,
    ).toString('utf8');
  }

  sealBytes(plaintext: Buffer, aad: string): Buffer {
    return Buffer.concat([this.bytePrefix, this.encrypt(plaintext, aad)]);
  }

  openBytes(stored: Buffer, aad: string): Buffer {
    const keyId = envelopeKeyId(stored.subarray(0, 32).toString('latin1'));
    if (keyId === undefined) return stored;
    return this.decrypt(keyId, stored.subarray(VERSION.length + keyId.length + 2), aad);
  }

  /** The key id a stored value is sealed under, or null for a value written before sealing. */
  keyIdOf(stored: string | Buffer): string | null {
    const head = typeof stored === 'string' ? stored.slice(0, 32) : stored.subarray(0, 32).toString('latin1');
    return envelopeKeyId(head) ?? null;
  }

  isCurrent(stored: string | Buffer): boolean {
    return this.keyIdOf(stored) === this.current.id;
  }

  /** Keyed lookup value (HMAC-SHA256 under the current key): equal inputs match, nothing else is learnt. */
  blindIndex(value: string): string {
    return createHmac('sha256', this.current.mac).update(value).digest('hex');
  }

  /** `blindIndex` under every configured key, current first: lookups during a rotation. */
  blindIndexes(value: string): string[] {
    return this.keys.map((k) => createHmac('sha256', k.mac).update(value).digest('hex'));
  }
}
