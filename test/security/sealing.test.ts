import { createCipheriv, createHash, randomBytes } from 'node:crypto';

import { describe, expect, it } from '@jest/globals';

import { loadConfig } from '../../src/config/load.js';
import { previousKeys } from '../../src/config/schema.js';
import { isPasserelleError } from '../../src/errors.js';
import { Keyring } from '../../src/security/sealing.js';
import { SecretBox } from '../../src/security/secrets.js';

const where = 'resources.data:pat-1';

describe('sealing envelope', () => {
  it('seals text and bytes under the current key id and opens them with the same associated data', () => {
    const ring = new Keyring(randomBytes(32));
    const text = ring.sealText('{"family":"FICTIVE"}', where);
    expect(text.startsWith(`pz1.${ring.currentKeyId}.`)).toBe(true);
    expect(text).not.toContain('FICTIVE');
    expect(ring.openText(text, where)).toBe('{"family":"FICTIVE"}');

    const bytes = ring.sealBytes(Buffer.from('MSH|^~\\&|PID||FICTIVE'), 'inbox.body:l|k|h');
    expect(bytes.includes(Buffer.from('FICTIVE'))).toBe(false);
    expect(ring.openBytes(bytes, 'inbox.body:l|k|h').toString()).toBe('MSH|^~\\&|PID||FICTIVE');
    expect(ring.keyIdOf(bytes)).toBe(ring.currentKeyId);
  });

  it('uses a fresh nonce for every value, so equal contents do not look equal', () => {
    const ring = new Keyring(randomBytes(32));
    expect(ring.sealText('same', where)).not.toBe(ring.sealText('same', where));
  });

  it('refuses an altered ciphertext with ERR_CRYPTO_DECRYPT_FAILED', () => {
    const ring = new Keyring(randomBytes(32));
    const sealed = ring.sealText('{"phone":"+33612345678"}', where);
    const body = Buffer.from(sealed.slice(sealed.lastIndexOf('.') + 1), 'base64url');
    body[14] = (body[14] as number) ^ 1;
    const tampered = `${sealed.slice(0, sealed.lastIndexOf('.') + 1)}${body.toString('base64url')}`;
    expect(() => ring.openText(tampered, where)).toThrow(
      expect.objectContaining({ code: 'ERR_CRYPTO_DECRYPT_FAILED' }),
    );
    expect(() => ring.openText(sealed.slice(0, -6), where)).toThrow(
      expect.objectContaining({ code: 'ERR_CRYPTO_DECRYPT_FAILED' }),
    );
  });

  it('refuses a value moved to another row or column (wrong associated data)', () => {
    const ring = new Keyring(randomBytes(32));
    const sealed = ring.sealText('{"ins":"285037511234544"}', 'resources.data:pat-1');
    expect(() => ring.openText(sealed, 'resources.data:pat-2')).toThrow(
      expect.objectContaining({ code: 'ERR_CRYPTO_DECRYPT_FAILED' }),
    );
    expect(() => ring.openText(sealed, 'snapshots.data:pat-1')).toThrow(
      expect.objectContaining({ code: 'ERR_CRYPTO_DECRYPT_FAILED' }),
    );
    const bytes = ring.sealBytes(Buffer.from('x'), 'inbox.body:a');
    expect(() => ring.openBytes(bytes, 'inbox.body:b')).toThrow(
      expect.objectContaining({ code: 'ERR_CRYPTO_DECRYPT_FAILED' }),
    );
  });

  it('names a key that is not configured with ERR_CRYPTO_KEY_UNKNOWN and its id', () => {
    const old = new Keyring(randomBytes(32));
    const sealed = old.sealText('x', where);
    expect(() => new Keyring(randomBytes(32)).openText(sealed, where)).toThrow(
      expect.objectContaining({ code: 'ERR_CRYPTO_KEY_UNKNOWN', details: { keyId: old.currentKeyId } }),
    );
  });

  it('keeps values of a previous key readable during a rotation, and seals new ones under the new key only', () => {
    const oldKey = randomBytes(32);
    const newKey = randomBytes(32);
    const before = new Keyring(oldKey).sealText('old', where);
    const rotating = new Keyring(newKey, [oldKey]);
    expect(rotating.openText(before, where)).toBe('old');
    expect(rotating.isCurrent(before)).toBe(false);
    const after = rotating.sealText('new', where);
    expect(rotating.isCurrent(after)).toBe(true);
    expect(new Keyring(newKey).openText(after, where)).toBe('new');
    expect(() => new Keyring(oldKey).openText(after, where)).toThrow(
      expect.objectContaining({ code: 'ERR_CRYPTO_KEY_UNKNOWN' }),
    );
  });

  it('passes values written before sealing existed through unchanged', () => {
    const ring = new Keyring(randomBytes(32));
    expect(ring.openText('{"a":1}', where)).toBe('{"a":1}');
    expect(ring.openBytes(Buffer.from('MSH|^~\\&|'), where).toString()).toBe('MSH|^~\\&|');
    expect(ring.keyIdOf('{"a":1}')).toBeNull();
  });

  it('keys the lookup index: equal inputs match under one key, differ across keys and from the unkeyed hash', () => {
    const oldKey = randomBytes(32);
    const newKey = randomBytes(32);
    const matchKey = createHash('sha256').update('demo:FICTIVE|1985-03-14|female').digest('hex');
    const a = new Keyring(oldKey);
    const b = new Keyring(newKey, [oldKey]);
    expect(a.blindIndex(matchKey)).toBe(new Keyring(oldKey).blindIndex(matchKey));
    expect(a.blindIndex(matchKey)).not.toBe(matchKey);
    expect(b.blindIndex(matchKey)).not.toBe(a.blindIndex(matchKey));
    expect(b.blindIndexes(matchKey)).toEqual([b.blindIndex(matchKey), a.blindIndex(matchKey)]);
  });

  it('refuses a key that is not 32 bytes', () => {
    expect(() => new Keyring(randomBytes(16))).toThrow(
      expect.objectContaining({ code: 'ERR_CRYPTO_KEY_INVALID' }),
    );
  });
});

describe('credentials sealed before key ids', () => {
  /** The `v1.` format secrets.ts wrote before the envelope: raw key, no key id. */
  function sealV1(key: Buffer, plaintext: string, context: string): string {
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, nonce);
    cipher.setAAD(Buffer.from(context));
    const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [
      'v1',
      nonce.toString('base64url'),
      ct.toString('base64url'),
      cipher.getAuthTag().toString('base64url'),
    ].join('.');
  }

  it('opens v1 credentials under the current or a previous key, and re-seals them in the envelope', () => {
    const oldKey = randomBytes(32);
    const v1 = sealV1(oldKey, 'token', 'link-1');
    const box = new SecretBox(new Keyring(randomBytes(32), [oldKey]));
    expect(box.isCurrent(v1)).toBe(false);
    expect(box.open(v1, 'link-1')).toBe('token');
    const resealed = box.seal(box.open(v1, 'link-1'), 'link-1');
    expect(box.isCurrent(resealed)).toBe(true);
    expect(() => box.open(v1, 'link-2')).toThrow(
      expect.objectContaining({ code: 'ERR_CRYPTO_DECRYPT_FAILED' }),
    );
  });
});

describe('previous keys in the configuration', () => {
  it('reads security.previousEncryptionKeys as a comma-separated list and refuses a key that is not 32 bytes, without printing it', () => {
    const a = randomBytes(32).toString('base64');
    const b = randomBytes(32).toString('base64');
    const { config } = loadConfig({ env: { PASSERELLE_SECURITY_PREVIOUS_ENCRYPTION_KEYS: `${a}, ${b}` } });
    expect(previousKeys(config.security.previousEncryptionKeys)).toEqual([a, b]);
    let thrown: unknown;
    try {
      loadConfig({ env: { PASSERELLE_SECURITY_PREVIOUS_ENCRYPTION_KEYS: `${a},c2hvcnQ=` } });
    } catch (e) {
      thrown = e;
    }
    expect(isPasserelleError(thrown) && thrown.code).toBe('ERR_CONFIG_INVALID');
    expect(JSON.stringify(thrown)).not.toContain('c2hvcnQ');
    expect(JSON.stringify((thrown as { issues?: unknown }).issues)).toContain(
      'security.previousEncryptionKeys',
    );
  });
});
