/**
 * Serves the console: the built files under /console/assets/ (content-hashed, cached for a
 * year, precompressed) and one HTML page for every other /console path, so the browser's
 * router shows the page the URL names. Everything comes from passerelle: no CDN, works offline.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

import express, { type Request, type Response } from 'express';

import { buildConsole, type ConsoleBuild, consoleSourcesPresent } from './build.js';

interface Asset {
  readonly type: string;
  readonly raw: Buffer;
  readonly gzip: Buffer;
  readonly br: Buffer;
}

export interface ConsoleAssets {
  /** The page every console URL answers (it loads the script, which routes). */
  readonly html: Asset;
  readonly assets: ReadonlyMap<string, Asset>;
  /** Bytes a first visit downloads, compressed (brotli), for the budget test and the docs. */
  readonly firstLoadBrotliBytes: number;
}

const TYPES: Readonly<Record<string, string>> = {
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
};

function asset(type: string, raw: Buffer): Asset {
  return {
    type,
    raw,
    gzip: gzipSync(raw, { level: 9 }),
    br: brotliCompressSync(raw, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }),
  };
}

function page(build: ConsoleBuild): string {
  return `<!doctype html>
<html lang="fr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light">
<title>passerelle — console</title>
${build.stylesheet ? `<link rel="stylesheet" href="/console/assets/${build.stylesheet}">` : ''}
<script type="module" src="/console/assets/${build.script}"></script>
</head>
<body>
<div id="app"><p class="boot">Chargement de la console…</p></div>
<noscript>La console de passerelle a besoin de JavaScript. L'API reste disponible sous /api/v1.</noscript>
</body>
</html>
`;
}

export function assetsFrom(build: ConsoleBuild): ConsoleAssets {
  const assets = new Map<string, Asset>();
  for (const f of build.files) {
    const ext = f.name.slice(f.name.lastIndexOf('.') + 1);
    assets.set(f.name, asset(TYPES[ext] ?? 'application/octet-stream', Buffer.from(f.contents)));
  }
  const html = asset('text/html; charset=utf-8', Buffer.from(page(build)));
  let first = html.br.length;
  for (const a of assets.values()) first += a.br.length;
  return { html, assets, firstLoadBrotliBytes: first };
}

/**
 * From the sources when they are here (built at start), else from dist/console (the image,
 * written by `npm run build`).
 */
export async function loadConsoleAssets(root: string): Promise<ConsoleAssets> {
  if (consoleSourcesPresent(root)) return assetsFrom(await buildConsole(root));
  const dir = join(root, 'dist', 'console');
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as {
    script: string;
    stylesheet: string | null;
    files: string[];
  };
  return assetsFrom({
    script: manifest.script,
    stylesheet: manifest.stylesheet,
    files: manifest.files.map((name) => ({ name, contents: readFileSync(join(dir, name)) })),
  });
}

// The console's own code only: inline scripts and styles are refused, and it may talk to its
// own origin only (the API and the event stream).
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

function send(req: Request, res: Response, a: Asset): void {
  res.vary('Accept-Encoding');
  res.type(a.type);
  const accepts = req.acceptsEncodings('br', 'gzip', 'identity');
  if (accepts === 'br') res.set('Content-Encoding', 'br').send(a.br);
  else if (accepts === 'gzip') res.set('Content-Encoding', 'gzip').send(a.gzip);
  else res.send(a.raw);
}

export function consoleRouter(assets: ConsoleAssets): express.Router {
  const router = express.Router();
  router.get('/console/assets/:file', (req, res, next) => {
    const a = assets.assets.get(req.params.file);
    if (!a) return next();
    res.set('Cache-Control', 'public, max-age=31536000, immutable');
    res.set('X-Content-Type-Options', 'nosniff');
    send(req, res, a);
  });
  const html = (req: Request, res: Response) => {
    res.set('Cache-Control', 'no-store');
    res.set('Content-Security-Policy', CSP);
    res.set('X-Content-Type-Options', 'nosniff');
    res.set('Referrer-Policy', 'no-referrer');
    send(req, res, assets.html);
  };
  // A regular expression: a string path would also match /console/ and loop.
  router.get(/^\/console$/, (_req, res) => res.redirect(302, '/console/'));
  router.get('/console/', html);
  // Every other console URL is a page of the browser's router (not an asset: those 404 above).
  router.get(/^\/console\/(?!assets\/|auth\/)[^.]*$/, html);
  return router;
}
