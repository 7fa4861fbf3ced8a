/** Self-signed certificates for the TLS tests (HTTPS and MLLP over TLS), made by openssl at test time. */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

/**
 * Writes `<name>.crt` and `<name>.key` into `dir`: a two-day self-signed certificate whose
 * common name is `name`, valid for 127.0.0.1 and localhost. Returns their paths.
 */
export function selfSignedCertificate(dir: string, name: string): { cert: string; key: string } {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  const args = ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${name}`];
  execFileSync(
    'openssl',
    [...args, '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', key, '-out', cert],
    { stdio: 'ignore' },
  );
  return { cert, key };
}
