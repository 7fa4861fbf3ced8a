/**
 * The console (issue 19): the French web console at /console, a client of the admin API. This
 * module only serves its page and assets; what it shows and does goes through /api/v1, where
 * every permission is checked.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import type { RequestHandler } from 'express';

import { consoleRouter, loadConsoleAssets } from '../../api/console/assets.js';
import type { ServiceModule } from '../service.js';

/** The project root (where package.json is), from sources or from dist/. */
export function projectRoot(from = dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${from}`);
    dir = up;
  }
  return dir;
}

export function consoleModule(options: { root?: string } = {}): ServiceModule {
  return {
    name: 'console',
    http: (ctx) => {
      // Built on the first console request, not at start: most starts (the CLI, tests, a
      // headless instance) never serve the console and should not pay for an esbuild run.
      let router: Promise<RequestHandler> | undefined;
      const load = () =>
        (router ??= loadConsoleAssets(options.root ?? projectRoot()).then((assets) => {
          ctx.logger.debug('console ready', { firstLoadBrotliBytes: assets.firstLoadBrotliBytes });
          return consoleRouter(assets);
        }));
      return (req, res, next) => {
        if (req.path !== '/console' && !req.path.startsWith('/console/')) return next();
        load().then(
          (handler) => handler(req, res, next),
          (e: unknown) => {
            router = undefined; // a failed build is retried on the next request
            next(e);
          },
        );
      };
    },
  };
}
