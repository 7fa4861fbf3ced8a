import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from '@jest/globals';

import { generateApiKey, hashSecret, roleAllows } from '../../src/security/api-keys.js';
import { loadOrCreateKey, SecretBox } from '../../src/security/secrets.js';
import { tempDir } from '../helpers/stores.js';

describe('credentials at rest', () => {
  it('seals and opens connector credentials bound to their link', () => {
    const box = new SecretBox(randomBytes(32));
    const sealed = box.sealJson({ password: 's3cret' }, 'link-1');
    expect(sealed).not.toContain('s3cret');
    expect(box.openJson(sealed, 'link-1')).toEqual({ password: 's3cret' });
    expect(() => box.open(sealed, 'link-2')).toThrow(
      expect.objectContaining({ code: 'ERR_CRYPTO_DECRYPT_FAILED' }),
    );
    expect(() => new SecretBox(randomBytes(32)).open(sealed, 'link-1')).toThrow(
      expect.objectContaining({ code: 'ERR_CRYPTO_KEY_UNKNOWN' }),
    );
  });

  it('creates a key file readable by its owner only, and reuses it', () => {
    const dir = tempDir();
    try {
      const file = join(dir.path, 'data', 'secret.key');
      const first = loadOrCreateKey(undefined, file);
      expect(first.created).toBe(true);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      const second = loadOrCreateKey(undefined, file);
      expect(second.created).toBe(false);
      expect(second.box.open(first.box.seal('x', 'c'), 'c')).toBe('x');
    } finally {
      dir.remove();
    }
  });

  it('generates 256-bit API keys stored only as their SHA-256', () => {
    const a = generateApiKey();
    expect(a.key).toMatch(/^psk_[A-Za-z0-9_-]{43}$/);
    expect(a.hash).toBe(hashSecret(a.key));
    expect(a.hash).not.toContain(a.key.slice(4));
    expect(a.key.startsWith(a.prefix)).toBe(true);
    expect(generateApiKey().key).not.toBe(a.key);
  });

  it('orders roles admin > integrator > viewer', () => {
    expect(roleAllows('admin', 'integrator')).toBe(true);
    expect(roleAllows('integrator', 'admin')).toBe(false);
    expect(roleAllows('viewer', 'viewer')).toBe(true);
    expect(roleAllows('viewer', 'integrator')).toBe(false);
  });
});
