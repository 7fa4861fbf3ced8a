/**
 * The service's own HTTPS (issue 16 point 9) on 127.0.0.1, with self-signed certificates made
 * by openssl at test time: HSTS on every answer, a renewed certificate served after a reload
 * (what SIGHUP calls), a bad reload keeping the current one, unusable files refused at start
 * with the config key named.
 */
import { X509Certificate } from 'node:crypto';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { isPasserelleError } from '../../src/errors.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { tempDir } from '../helpers/stores.js';
import { selfSignedCertificate } from '../helpers/tls.js';

const dir = tempDir('passerelle-tls-');

/** A self-signed certificate for 127.0.0.1 in this test's folder. */
const selfSigned = (name: string) => selfSignedCertificate(dir.path, name);

function fingerprint(certFile: string): string {
  return new X509Certificate(readFileSync(certFile)).fingerprint256;
}

/** One HTTPS GET on a fresh connection, trusting `caFiles`; the status, HSTS header and the served certificate. */
function get(
  url: string,
  caFiles: string[],
): Promise<{ status: number; hsts: string | undefined; served: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ca: caFiles.map((f) => readFileSync(f)), agent: false }, (res) => {
      const served = (res.socket as TLSSocket).getPeerCertificate().fingerprint256;
      res.resume();
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          hsts: res.headers['strict-transport-security'] as string | undefined,
          served,
        }),
      );
    });
    req.on('error', reject);
  });
}

describe('HTTPS on the service itself', () => {
  let t: TestService;
  const first = selfSigned('first');
  const second = selfSigned('second');
  const live = { cert: join(dir.path, 'live.crt'), key: join(dir.path, 'live.key') };

  beforeAll(async () => {
    copyFileSync(first.cert, live.cert);
    copyFileSync(first.key, live.key);
    t = await startTestService({
      env: { PASSERELLE_HTTP_TLS_CERT_FILE: live.cert, PASSERELLE_HTTP_TLS_KEY_FILE: live.key },
    });
  });
  afterAll(async () => {
    await t?.dispose();
    dir.remove();
  });

  it('answers over HTTPS on 127.0.0.1 with Strict-Transport-Security', async () => {
    expect(t.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const res = await get(`${t.url}/healthz`, [first.cert]);
    expect(res).toEqual({ status: 200, hsts: 'max-age=31536000', served: fingerprint(first.cert) });
  });

  it('serves the renewed certificate after a reload, and keeps it when the next files are unusable', async () => {
    copyFileSync(second.cert, live.cert);
    copyFileSync(second.key, live.key);
    expect(t.service.reloadTls()).toBe(true);
    expect((await get(`${t.url}/healthz`, [first.cert, second.cert])).served).toBe(fingerprint(second.cert));

    // The first key with the second certificate: they do not match, so nothing changes.
    copyFileSync(first.key, live.key);
    expect(t.service.reloadTls()).toBe(false);
    const res = await get(`${t.url}/healthz`, [second.cert]);
    expect(res.served).toBe(fingerprint(second.cert));
    expect(res.status).toBe(200);
  });

  it('refuses to start on a key file that is not PEM, naming the config key', async () => {
    const bad = join(dir.path, 'bad.key');
    writeFileSync(bad, 'not a key\n');
    const error = await startTestService({
      env: { PASSERELLE_HTTP_TLS_CERT_FILE: first.cert, PASSERELLE_HTTP_TLS_KEY_FILE: bad },
    }).then(
      (s) => s.dispose().then(() => undefined),
      (e: unknown) => e,
    );
    expect(isPasserelleError(error) && error.code).toBe('ERR_CONFIG_INVALID');
    expect((error as Error).message).toContain('http.tls');
  });

  it('sends no HSTS over plain HTTP', async () => {
    const plain = await startTestService();
    try {
      expect(plain.url).toMatch(/^http:\/\//);
      const res = await fetch(`${plain.url}/healthz`);
      expect(res.status).toBe(200);
      expect(res.headers.get('strict-transport-security')).toBeNull();
    } finally {
      await plain.dispose();
    }
  });
});
