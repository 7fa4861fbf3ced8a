/**
 * The console's page and assets as a browser gets them from a real HTTP server: every console
 * address answers the one page, assets are content-hashed, cached, compressed and within the
 * first-load budget of issue 19 (≤ 300 KB compressed), and the page forbids foreign code.
 */
import type { Server } from 'node:http';
import { brotliDecompressSync } from 'node:zlib';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import express from 'express';

import { type ConsoleAssets, consoleRouter, loadConsoleAssets } from '../../../src/api/console/assets.js';
import { projectRoot } from '../../../src/app/features/console.js';

let server: Server;
let base: string;
let assets: ConsoleAssets;

beforeAll(async () => {
  assets = await loadConsoleAssets(projectRoot());
  const app = express();
  app.use(consoleRouter(assets));
  app.use((_req, res) => res.status(404).end());
  await new Promise<void>((resolve) => {
    server = app.listen(0, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
}, 60_000);

afterAll(async () => {
  await new Promise((r) => server.close(r));
});

describe('console assets', () => {
  it('answers the same French page for every console address, so deep links work', async () => {
    for (const path of ['/console/', '/console/liaisons/lnk-1', '/console/conflits?statut=open']) {
      const res = await fetch(`${base}${path}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/html');
      const html = await res.text();
      expect(html).toContain('<html lang="fr">');
      expect(html).toMatch(/<script type="module" src="\/console\/assets\/app-[A-Z0-9]+\.js">/);
      expect(res.headers.get('cache-control')).toBe('no-store');
    }
  });

  it('redirects /console to /console/ without looping', async () => {
    const res = await fetch(`${base}/console`, { redirect: 'manual' });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe('/console/');
  });

  it('forbids inline and foreign scripts, framing and foreign connections on the page', async () => {
    const csp = (await fetch(`${base}/console/`)).headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
  });

  it('serves hashed assets compressed and cached for a year, and 404 for an unknown one', async () => {
    const html = await (await fetch(`${base}/console/`)).text();
    const script = /src="(\/console\/assets\/[^"]+)"/.exec(html)?.[1] ?? '';
    const res = await fetch(`${base}${script}`, { headers: { 'Accept-Encoding': 'br' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-encoding')).toBe('br');
    expect(res.headers.get('cache-control')).toContain('immutable');
    expect(res.headers.get('content-type')).toContain('text/javascript');
    // fetch decodes br itself: the body is the script.
    expect((await res.text()).includes('Clé d’API')).toBe(true);
    expect((await fetch(`${base}/console/assets/app-NOPE.js`)).status).toBe(404);
  });

  it('keeps the first load of any page under 300 KB compressed', () => {
    expect(assets.firstLoadBrotliBytes).toBeLessThan(300 * 1024);
    // The figure is what a browser downloads: the page plus every asset it references.
    const page = brotliDecompressSync(assets.html.br).toString('utf8');
    for (const name of assets.assets.keys()) expect(page).toContain(name);
  });

  it('answers the page without a session: the sign-in is the browser’s first screen', async () => {
    const res = await fetch(`${base}/console/connexion`);
    expect(res.status).toBe(200);
  });
});
