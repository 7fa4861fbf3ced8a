/**
 * A tiny practice-software peer over real HTTP on 127.0.0.1, for tests that run passerelle in
 * another process (the kill test). `POST /push` applies an OutboundChange once per idempotency
 * key, as the contract requires of peers (design rule 4), and records every request. It can
 * be told to apply a push and then never answer, so the test can kill the sender mid-dispatch.
 * The test-only `http-peer` connector below speaks to it. In the kill test it plays the practice
 * software, beside the secretariat simulator; the benchmark uses it as the practice side too.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import { z } from 'zod';

import type { ConnectorDefinition, OutboundChange, PushResult } from '../../src/connector/contract.js';
import { PasserelleError } from '../../src/errors.js';
import { RESOURCE_KINDS } from '../../src/model/resources.js';

export class HttpPeer {
  readonly requests: { key: string; effect: 'created' | 'updated' | 'replayed' }[] = [];
  readonly records = new Map<string, unknown>();
  readonly creations = new Map<string, number>();
  private readonly results = new Map<string, { externalId: string; version: string }>();
  private counter = 0;
  private hangAt: number | undefined;
  private onHang: (() => void) | undefined;
  private readonly hung = new Set<ServerResponse>();
  server!: Server;
  url = '';
  /** Called as each push arrives (benchmarks time the end of a sync path here). */
  onRequest: ((key: string) => void) | undefined;

  async listen(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** The `n`-th request from now is applied and then left unanswered; resolves when it arrives. */
  hangOn(n: number): Promise<void> {
    this.hangAt = this.requests.length + n;
    return new Promise((resolve) => (this.onHang = resolve));
  }

  duplicateCreations(): string[] {
    return [...this.creations].filter(([, n]) => n > 1).map(([k]) => k);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let body = '';
    for await (const chunk of req) body += String(chunk);
    const change = JSON.parse(body) as OutboundChange;
    this.onRequest?.(change.idempotencyKey);
    let result = this.results.get(change.idempotencyKey);
    if (result) {
      this.requests.push({ key: change.idempotencyKey, effect: 'replayed' });
    } else if (change.externalId === null) {
      result = { externalId: `peer-${++this.counter}`, version: '1' };
      this.records.set(result.externalId, change.data);
      this.creations.set(change.idempotencyKey, (this.creations.get(change.idempotencyKey) ?? 0) + 1);
      this.results.set(change.idempotencyKey, result);
      this.requests.push({ key: change.idempotencyKey, effect: 'created' });
    } else {
      result = { externalId: change.externalId, version: String(Date.now()) };
      this.records.set(change.externalId, change.data);
      this.results.set(change.idempotencyKey, result);
      this.requests.push({ key: change.idempotencyKey, effect: 'updated' });
    }
    if (this.hangAt !== undefined && this.requests.length >= this.hangAt) {
      // Applied and committed on the peer's side; the answer never leaves.
      this.hangAt = undefined;
      this.hung.add(res);
      res.on('close', () => this.hung.delete(res));
      this.onHang?.();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(result));
  }

  async close(): Promise<void> {
    for (const res of this.hung) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

export const HttpPeerConfig = z.strictObject({ url: z.url() });

/** Pushes each change to the HTTP peer; a transport failure is retryable (the key makes it safe). */
export const httpPeerConnector: ConnectorDefinition<z.infer<typeof HttpPeerConfig>> = {
  name: 'http-peer',
  protocol: 'http-peer',
  configSchema: HttpPeerConfig,
  capabilities: { kinds: RESOURCE_KINDS, pull: false, receive: false, push: RESOURCE_KINDS },
  create(config) {
    return {
      async push(change): Promise<PushResult> {
        try {
          const res = await fetch(`${config.url}/push`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(change),
          });
          if (!res.ok)
            return {
              ok: false,
              error: new PasserelleError('ERR_CONNECTOR_UNAVAILABLE', `peer answered ${res.status}`),
            };
          return { ok: true, ...((await res.json()) as { externalId: string; version: string }) };
        } catch (e) {
          return {
            ok: false,
            error: new PasserelleError(
              'ERR_CONNECTOR_UNAVAILABLE',
              `peer unreachable: ${(e as Error).message}`,
              { cause: e },
            ),
          };
        }
      },
      async health() {
        return { ok: true, checks: [] };
      },
      async stop() {},
    };
  },
};
