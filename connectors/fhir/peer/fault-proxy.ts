import {
  createServer,
  type IncomingMessage,
  request as httpRequest,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

import { prng } from './prng.js';

/** Which requests a fault applies to; all given fields must match. */
export interface FaultMatch {
  /** HTTP method, e.g. `PUT`. */
  readonly method?: string;
  /** The path without query string: exact string, or a RegExp tested against it. */
  readonly path?: string | RegExp;
}

export type FaultKind =
  /** A status answered by the proxy itself (429, 500, 502, 503, 412…) with an OperationOutcome. */
  | { readonly kind: 'status'; readonly status: number; readonly retryAfter?: string | number }
  /** No answer at all until the client gives up, or `maxMs` (default 10 s) passes, then the socket is destroyed. */
  | { readonly kind: 'hang'; readonly maxMs?: number }
  /** The connection is destroyed without any response (a network error for the client). */
  | { readonly kind: 'reset' }
  /**
   * The request reaches the peer and is applied, then the connection is destroyed before the
   * answer: the client cannot tell a write that happened from one that did not (a lost answer).
   */
  | { readonly kind: 'lose-answer' };

export type Fault = FaultKind &
  FaultMatch & {
    /** How many matching requests this fault applies to (default 1). */
    readonly times?: number;
  };

export interface FaultShare {
  /** Share of matching requests that get a fault, 0..1. */
  readonly rate: number;
  /** Faults drawn from, uniformly. */
  readonly faults: readonly FaultKind[];
  readonly match?: FaultMatch;
  /** PRNG seed: the same seed gives the same sequence of faults (default 1). */
  readonly seed?: number;
}

export interface FaultProxyOptions {
  /** The peer's base URL (only its origin is used: the proxy keeps paths as they come). */
  readonly target: string;
  readonly host?: string;
  readonly port?: number;
  readonly share?: FaultShare;
}

export interface ProxiedRequest {
  readonly method: string;
  /** Path without query string (queries can hold patient data). */
  readonly path: string;
  /** `forwarded`, or the fault injected (`lose-answer`: forwarded, answer dropped). */
  readonly outcome: 'forwarded' | 'status' | 'hang' | 'reset' | 'lose-answer';
  /** Status the client saw, if any. */
  readonly status?: number;
}

export interface FaultProxyStats {
  /** Every request received, in order. */
  readonly requests: readonly ProxiedRequest[];
  /** Requests received for `METHOD /path` (faulted ones included). */
  count(method: string, path: string | RegExp): number;
  /** Requests that reached the peer for `METHOD /path`. */
  forwarded(method: string, path: string | RegExp): number;
  reset(): void;
}

export interface FaultProxy {
  /** The target's base URL with the proxy's origin: use it as the FHIR base. */
  readonly url: string;
  readonly port: number;
  /** Queues scripted faults; each request consumes the first queued fault it matches. */
  plan(faults: readonly Fault[]): void;
  /** Scripted faults not consumed yet. */
  pending(): number;
  /** Drops every scripted fault not consumed yet. */
  clearPlan(): void;
  /** Sets or clears (undefined) the random share of faults. */
  setShare(share: FaultShare | undefined): void;
  readonly stats: FaultProxyStats;
  close(): Promise<void>;
}

function matches(m: FaultMatch | undefined, method: string, path: string): boolean {
  if (!m) return true;
  if (m.method !== undefined && m.method.toUpperCase() !== method) return false;
  if (m.path === undefined) return true;
  return typeof m.path === 'string' ? m.path === path : m.path.test(path);
}

const REASONS: Readonly<Record<number, [string, string]>> = {
  412: ['processing', 'Precondition Failed (injected)'],
  429: ['throttled', 'Too Many Requests (injected)'],
  500: ['exception', 'Internal Server Error (injected)'],
  502: ['transient', 'Bad Gateway (injected)'],
  503: ['transient', 'Service Unavailable (injected)'],
  504: ['timeout', 'Gateway Timeout (injected)'],
};

/**
 * A small HTTP proxy in front of the FHIR peer that injects faults a real server or network
 * shows and the peer does not: 429 with Retry-After, 5xx, a hang, a dropped connection, a 412
 * on a write. It keeps the Host header, so the peer's Location and paging links point back at
 * the proxy and a client following `next` stays behind it.
 */
export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const target = new URL(options.target);
  const host = options.host ?? '127.0.0.1';
  const queue: Array<Fault & { left: number }> = [];
  let share: (FaultShare & { next: () => number }) | undefined;
  const log: ProxiedRequest[] = [];
  const hanging = new Set<Socket>();

  const setShare = (s: FaultShare | undefined): void => {
    share = s ? { ...s, next: prng(s.seed ?? 1) } : undefined;
  };
  setShare(options.share);

  function pickFault(method: string, path: string): FaultKind | undefined {
    const i = queue.findIndex((f) => matches(f, method, path));
    if (i >= 0) {
      const f = queue[i] as Fault & { left: number };
      f.left -= 1;
      if (f.left <= 0) queue.splice(i, 1);
      return f;
    }
    if (share && share.faults.length > 0 && matches(share.match, method, path)) {
      const roll = share.next();
      const which = share.next();
      if (roll < share.rate) return share.faults[Math.floor(which * share.faults.length)];
    }
    return undefined;
  }

  function forward(
    req: IncomingMessage,
    res: ServerResponse,
    body: Buffer,
    path: string,
    loseAnswer = false,
  ): void {
    const upstream = httpRequest(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        if (loseAnswer) {
          // The peer has applied it; its answer is read to the end and thrown away.
          log.push({ method: req.method ?? 'GET', path, outcome: 'lose-answer', status: up.statusCode ?? 0 });
          up.resume();
          up.on('end', () => req.socket.destroy());
          return;
        }
        log.push({ method: req.method ?? 'GET', path, outcome: 'forwarded', status: up.statusCode ?? 0 });
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => {
      log.push({ method: req.method ?? 'GET', path, outcome: 'forwarded', status: 502 });
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/fhir+json' });
      res.end(
        JSON.stringify({
          resourceType: 'OperationOutcome',
          issue: [{ severity: 'error', code: 'transient', diagnostics: 'peer unreachable' }],
        }),
      );
    });
    upstream.end(body);
  }

  function inject(fault: FaultKind, req: IncomingMessage, res: ServerResponse, path: string): void {
    const method = req.method ?? 'GET';
    switch (fault.kind) {
      case 'status': {
        log.push({ method, path, outcome: 'status', status: fault.status });
        const [code, text] = REASONS[fault.status] ?? ['exception', `HTTP ${fault.status} (injected)`];
        const headers: Record<string, string> = { 'content-type': 'application/fhir+json; charset=utf-8' };
        if (fault.retryAfter !== undefined) headers['retry-after'] = String(fault.retryAfter);
        res.writeHead(fault.status, headers);
        res.end(
          JSON.stringify({
            resourceType: 'OperationOutcome',
            issue: [{ severity: 'error', code, details: { text } }],
          }),
        );
        return;
      }
      case 'hang': {
        log.push({ method, path, outcome: 'hang' });
        const socket = req.socket;
        hanging.add(socket);
        const timer = setTimeout(() => socket.destroy(), fault.maxMs ?? 10_000);
        socket.once('close', () => {
          clearTimeout(timer);
          hanging.delete(socket);
        });
        return;
      }
      case 'reset':
        log.push({ method, path, outcome: 'reset' });
        req.socket.destroy();
        return;
      case 'lose-answer':
        return;
      default:
        fault satisfies never;
    }
  }

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const method = req.method ?? 'GET';
      const path = (req.url ?? '/').split('?')[0] as string;
      const fault = pickFault(method, path);
      if (fault?.kind === 'lose-answer') forward(req, res, Buffer.concat(chunks), path, true);
      else if (fault) inject(fault, req, res, path);
      else forward(req, res, Buffer.concat(chunks), path);
    });
  });
  // Longer than any client's idle pool timeout, so a client never reuses a socket the server is
  // closing (a reset on a POST is not retried), even when seeding blocks the event loop.
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const countWhere = (method: string, path: string | RegExp, forwardedOnly: boolean): number =>
    log.filter(
      (r) =>
        r.method === method.toUpperCase() &&
        matches({ path }, r.method, r.path) &&
        (!forwardedOnly || r.outcome === 'forwarded' || r.outcome === 'lose-answer'),
    ).length;

  return {
    url: `http://${host}:${port}${target.pathname.replace(/\/+$/, '')}`,
    port,
    plan(faults) {
      for (const f of faults) queue.push({ ...f, left: f.times ?? 1 });
    },
    pending: () => queue.reduce((n, f) => n + f.left, 0),
    clearPlan: () => {
      queue.length = 0;
    },
    setShare,
    stats: {
      requests: log,
      count: (method, path) => countWhere(method, path, false),
      forwarded: (method, path) => countWhere(method, path, true),
      reset: () => {
        log.length = 0;
      },
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        for (const s of hanging) s.destroy();
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
