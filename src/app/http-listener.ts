/**
 * The service's HTTP socket, bound before anything else happens at start: when the address is
 * taken, `serve` must fail with one line naming it and the setting to change, having written
 * nothing (no store file, no migration, no generated key, no first admin key shown to nobody).
 * Until the app is attached, requests get 503 "starting" rather than hanging.
 */
import {
  createServer,
  type IncomingMessage,
  type RequestListener,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';

import { envName } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { PasserelleError } from '../errors.js';

export interface HttpListener {
  readonly server: Server;
  /** `http://host:port` as bound (the OS's port when the config says 0). */
  readonly url: string;
  /** Hands requests to the app from now on. */
  serve(app: RequestListener): void;
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

/** Binds `http.host:http.port`, or throws ERR_HTTP_LISTEN_FAILED with a one-line reason. */
export async function bindHttp(http: Config['http']): Promise<HttpListener> {
  let handler: RequestListener = starting;
  const server = createServer((req, res) => handler(req, res));
  // Calendar apps and proxies keep connections open; close() ends idle ones at once.
  server.keepAliveTimeout = 5000;
  const where = `${http.host.includes(':') ? `[${http.host}]` : http.host}:${http.port}`;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      const reason =
        explain(e.code) ?? `${e.code ?? e.message}; check ${setting('host')} and ${setting('port')}`;
      reject(
        new PasserelleError('ERR_HTTP_LISTEN_FAILED', `cannot listen on ${where}: ${reason}`, {
          cause: e,
          details: { host: http.host, port: http.port, errno: e.code ?? null },
        }),
      );
    });
    server.listen(http.port, http.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    server,
    url: `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`,
    serve(app) {
      handler = app;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
