/**
 * `passerelle serve` with `http.tls` (issue 16 point 9), as an operator runs it: HTTPS with HSTS
 * on 127.0.0.1, and `kill -HUP` serves renewed certificate files without a restart.
 */
import { X509Certificate } from 'node:crypto';
import { copyFileSync, readFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';

import { afterAll, describe, expect, it } from '@jest/globals';

import { startServe } from '../helpers/cli.js';
import { until } from '../helpers/fhir-world.js';
import { tempDir } from '../helpers/stores.js';
import { selfSignedCertificate } from '../helpers/tls.js';

const dir = tempDir('passerelle-cli-tls-');

/** A self-signed certificate for 127.0.0.1 in this test's folder. */
const selfSigned = (name: string) => selfSignedCertificate(dir.path, name);

function served(url: string, ca: string[]): Promise<{ status: number; hsts: unknown; fingerprint: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ca: ca.map((f) => readFileSync(f)), agent: false }, (res) => {
      const fingerprint = (res.socket as TLSSocket).getPeerCertificate().fingerprint256;
      res.resume();
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, hsts: res.headers['strict-transport-security'], fingerprint }),
      );
    });
    req.on('error', reject);
  });
}

describe('passerelle serve over HTTPS', () => {
  afterAll(() => dir.remove());

  it('serves HTTPS with HSTS and picks up renewed certificate files on SIGHUP', async () => {
    const first = selfSigned('first');
    const second = selfSigned('second');
    const live = { cert: join(dir.path, 'live.crt'), key: join(dir.path, 'live.key') };
    copyFileSync(first.cert, live.cert);
    copyFileSync(first.key, live.key);
    const s = await startServe({
      cwd: dir.path,
      env: { PASSERELLE_HTTP_TLS_CERT_FILE: live.cert, PASSERELLE_HTTP_TLS_KEY_FILE: live.key },
    });
    try {
      expect(s.url).toMatch(/^https:\/\/127\.0\.0\.1:/);
      expect(await served(`${s.url}/healthz`, [first.cert])).toEqual({
        status: 200,
        hsts: 'max-age=31536000',
        fingerprint: new X509Certificate(readFileSync(first.cert)).fingerprint256,
      });

      copyFileSync(second.cert, live.cert);
      copyFileSync(second.key, live.key);
      s.child.kill('SIGHUP');
      await until('the reload logged', () => s.output().includes('"message":"TLS certificate reloaded"'));
      expect((await served(`${s.url}/healthz`, [second.cert])).fingerprint).toBe(
        new X509Certificate(readFileSync(second.cert)).fingerprint256,
      );
    } finally {
      s.child.kill('SIGTERM');
    }
    expect(await s.exited).toBe(0);
    // A process of its own (SIGHUP, SIGTERM): a cold start, slow on a busy machine.
  }, 120_000);
});
