/**
 * The service's HTTP(S) socket, bound before anything else happens at start: when the address
 * is taken, `serve` must fail with one line naming it and the setting to change, having written
 * nothing (no store file, no migration, no generated key, no first admin key shown to nobody).
 * Until the app is attached, requests get 503 "starting" rather than hanging.
 *
 * With `http.tls.certFile` and `http.tls.keyFile` it serves HTTPS (TLS 1.2+) and every answer
 * carries HSTS; `reloadTls()` (the CLI calls it on SIGHUP) reads the files again, so a renewed
 * certificate is served without a restart. A reload that fails (unreadable file, key not
 * matching) keeps the current certificate and says why: validate, then apply.
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
  /** `http(s)://host:port` as bound (the OS's port when the config says 0). */
  readonly url: string;
  readonly tls: boolean;
  /** Hands requests to the app from now on. */
  serve(app: RequestListener): void;
  /** Reads the certificate files again and serves them to new connections; false (and the old certificate kept) on failure. */
  reloadTls(): boolean;
  close(): Promise<void>;
}

const setting = (key: 'host' | 'port') => `http.${key} (${envName(['http', key])})`;

/** What to tell the operator for the usual bind failures; undefined for the others. */
function explain(code: string | undefined): string | undefined {
  switch (code) {
    case 'EADDRINUSE':
      return `the address is already in use (another passerelle, or another program); change ${setting('port')}`;
    case 'EACCES':
      return `permission denied (ports below 1024 need privileges); change ${setting('port')}`;
    case 'EADDRNOTAVAIL':
      return `no interface of this machine has that address; change ${setting('host')}`;
    default:
      return undefined;
  }
}

function starting(_req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(503, { 'Content-Type': 'application/json', 'Retry-After': '1' }).end('{"status":"starting"}');
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

/** Binds `http.host:http.port` (HTTPS when `http.tls` is set), or throws ERR_HTTP_LISTEN_FAILED with a one-line reason. */
export async function bindHttp(config: Config['http'], logger: Logger): Promise<HttpListener> {
  const files = config.tls;
  let handler: RequestListener = starting;
  // Once closing, every answer ends its connection: a keep-alive client asking more often than
  // the idle timeout (a balancer's or an operator's /readyz poll) would otherwise keep
  // server.close() from ever completing, and the stop with it (found by the rolling restart).
  let closing = false;
  const serve: RequestListener = (req, res) => {
    if (closing) res.setHeader('Connection', 'close');
    handler(req, res);
  };
  let server: Server;
  if (files) {
    // Read before binding: unusable certificate files fail the start like a taken port.
    const pem = readPem(files);
    server = https.createServer({ ...pem, minVersion: 'TLSv1.2' }, (req, res) => {
      res.setHeader('Strict-Transport-Security', HSTS);
      serve(req, res);
    });
  } else {
    server = http.createServer(serve);
  }
  // Calendar apps and proxies keep connections open; close() ends idle ones at once.
  server.keepAliveTimeout = 5000;
  const where = `${config.host.includes(':') ? `[${config.host}]` : config.host}:${config.port}`;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      const reason =
        explain(e.code) ?? `${e.code ?? e.message}; check ${setting('host')} and ${setting('port')}`;
      reject(
        new PasserelleError('ERR_HTTP_LISTEN_FAILED', `cannot listen on ${where}: ${reason}`, {
          cause: e,
          details: { host: config.host, port: config.port, errno: e.code ?? null },
        }),
      );
    });
    server.listen(config.port, config.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    server,
    url: `${files ? 'https' : 'http'}://${host}:${address.port}`,
    tls: files !== undefined,
    serve(app) {
      handler = app;
    },
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
    close: () =>
      new Promise<void>((resolve) => {
        closing = true;
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
