/**
 * The digest webhook client against real HTTP servers on 127.0.0.1: which answers it retries,
 * which it does not, timeouts, redirects, unsigned posts, and a stop that ends the waits.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import { afterEach, describe, expect, it } from '@jest/globals';

import { postDigest, type PostOptions } from '../../src/reports/webhook.js';
import { until } from '../helpers/until.js';

const servers: Server[] = [];
async function serve(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ url: string; hits: IncomingMessage[] }> {
  const hits: IncomingMessage[] = [];
  const server = createServer((req, res) => {
    hits.push(req);
    req.resume();
    req.on('end', () => handler(req, res));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, hits };
}
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
});

const options = (over: Partial<PostOptions> = {}): PostOptions => ({
  id: 'digest_test',
  now: () => Date.parse('2026-11-24T05:05:00Z'),
  timeoutMs: 2000,
  attempts: 3,
  backoffMs: 5,
  ...over,
});
const body = Buffer.from('{"type":"passerelle.digest.daily"}');

describe('digest webhook client', () => {
  it('retries 429 and 5xx answers within a run and stops at the first 2xx', async () => {
    const statuses = [429, 502];
    const peer = await serve((_req, res) => res.writeHead(statuses.shift() ?? 204).end());
    const result = await postDigest({ url: peer.url }, body, options());
    expect(result).toEqual({ ok: true, status: 204, attempts: 3 });
    expect(peer.hits).toHaveLength(3);
  });

  it('does not retry an answer that will not change (400), and says which it was', async () => {
    const peer = await serve((_req, res) => res.writeHead(400).end());
    const result = await postDigest({ url: peer.url }, body, options());
    expect(result).toMatchObject({
      ok: false,
      attempts: 1,
      error: { code: 'ERR_REPORTS_WEBHOOK_FAILED', message: 'digest webhook answered HTTP 400' },
    });
    expect(peer.hits).toHaveLength(1);
  });

  it('gives up on a peer that does not answer in time, after every attempt', async () => {
    const peer = await serve(() => undefined);
    const result = await postDigest({ url: peer.url }, body, options({ timeoutMs: 150, attempts: 2 }));
    expect(result).toMatchObject({
      ok: false,
      attempts: 2,
      error: { code: 'ERR_REPORTS_WEBHOOK_FAILED', message: 'digest webhook did not answer within 150 ms' },
    });
    expect(peer.hits).toHaveLength(2);
  });

  it('does not follow a redirect, and sends no signature without a secret', async () => {
    const target = await serve((_req, res) => res.writeHead(200).end());
    const peer = await serve((_req, res) => res.writeHead(307, { location: target.url }).end());
    const result = await postDigest({ url: peer.url }, body, options());
    expect(result).toMatchObject({
      ok: false,
      attempts: 1,
      error: { message: 'digest webhook answered HTTP 307' },
    });
    expect(target.hits).toHaveLength(0);
    const headers = peer.hits[0]?.headers;
    expect(headers?.['webhook-signature']).toBeUndefined();
    expect(headers?.['webhook-id']).toBe('digest_test');
    expect(headers?.['webhook-timestamp']).toBe(String(Date.parse('2026-11-24T05:05:00Z') / 1000));
  });

  it('stops waiting between attempts when passerelle stops', async () => {
    const peer = await serve((_req, res) => res.writeHead(503).end());
    const stop = new AbortController();
    const pending = postDigest({ url: peer.url }, body, options({ backoffMs: 60_000, signal: stop.signal }));
    await until('the digest webhook to be tried', () => peer.hits.length > 0, 10_000, { everyMs: 5 });
    stop.abort();
    expect(await pending).toMatchObject({
      ok: false,
      attempts: 1,
      error: { message: 'digest webhook not sent: passerelle is stopping' },
    });
  });
});
