/**
 * The service's own HTTP(S) listener (issue 16 point 9). With `http.tls.certFile` and
 * `http.tls.keyFile`, it serves HTTPS (TLS 1.2+) and every answer carries HSTS; the files are
 * read again by `reloadTls()` (the CLI calls it on SIGHUP), so a renewed certificate is served
 * without a restart. A reload that fails (unreadable file, key not matching) keeps the current
 * certificate and says why: validate, then apply.
 */
import { readFileSync } from 'node:fs';
import http, {
  type IncomingMessage,
  type RequestListener,
  type Server,
  type ServerResponse,
} from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';

import { envName } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { PasserelleError } from '../errors.js';
import type { Logger } from '../log/logger.js';

/** RFC 6797: one year, the value browsers' preload lists expect as a minimum. */
export const HSTS = 'max-age=31536000';

export interface HttpListener {
  readonly server: Server;
  /** http(s)://address:port as bound. */
  readonly url: string;
  readonly tls: boolean;
  /** Reads the certificate files again and serves them to new connections; false (and the old certificate kept) on failure. */
  reloadTls(): boolean;
}

interface Pem {
  readonly cert: Buffer;
  readonly key: Buffer;
}

function readPem(files: NonNullable<Config['http']['tls']>): Pem {
  const read = (path: string, key: 'certFile' | 'keyFile'): Buffer => {
    try {
      return readFileSync(path);
    } catch (e) {
      const where = `http.tls.${key} (${envName(['http', 'tls', key])})`;
      throw new PasserelleError(
        'ERR_CONFIG_FILE_UNREADABLE',
        `${where}: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
        {
          cause: e,
          issues: [{ path: `http.tls.${key}`, message: 'cannot read the file' }],
        },
      );
    }
  };
  const pem = { cert: read(files.certFile, 'certFile'), key: read(files.keyFile, 'keyFile') };
  try {
    // Fails on a file that is not PEM, or a key that does not match the certificate.
    tls.createSecureContext(pem);
  } catch (e) {
    throw new PasserelleError(
      'ERR_CONFIG_INVALID',
      `http.tls: the certificate and key cannot be used together (${(e as Error).message.slice(0, 120)})`,
      {
        cause: e,
        issues: [
          { path: 'http.tls', message: 'certFile and keyFile must be a PEM certificate and its private key' },
        ],
      },
    );
  }
  return pem;
}

/** Binds the configured address; rejects with the bind error as is. */
export async function listenHttp(
  app: RequestListener,
  config: Config['http'],
  logger: Logger,
): Promise<HttpListener> {
  const files = config.tls;
  let server: Server;
  if (files) {
    const pem = readPem(files);
    const withHsts = (req: IncomingMessage, res: ServerResponse) => {
      res.setHeader('Strict-Transport-Security', HSTS);
      app(req, res);
    };
    server = https.createServer({ ...pem, minVersion: 'TLSv1.2' }, withHsts);
  } else {
    server = http.createServer(app);
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `${files ? 'https' : 'http'}://${host}:${address.port}`;
  return {
    server,
    url,
    tls: files !== undefined,
    reloadTls() {
      if (!files) return false;
      try {
        (server as https.Server).setSecureContext({ ...readPem(files), minVersion: 'TLSv1.2' });
        logger.info('TLS certificate reloaded', { certFile: files.certFile });
        return true;
      } catch (e) {
        logger.error('TLS certificate not reloaded; the current one is kept', { err: e });
        return false;
      }
    },
  };
}
