import type { Request, Response } from 'express';
import { MemoryStore, rateLimit, type RateLimitRequestHandler } from 'express-rate-limit';

import { PasserelleError } from '../errors.js';
import type { Logger } from '../log/logger.js';

/**
 * Two fixed one-minute windows (express-rate-limit, in memory, per instance):
 * - per client address, over every /ical/ request, known token or not: bounds guessing;
 * - per feed (keyed by the token's *id*, never the secret): bounds a misbehaving app.
 * Over the limit: 429 ERR_RATE_LIMITED with Retry-After.
 */
export interface FeedRateLimits {
  /** Resolves, or rejects with ERR_RATE_LIMITED. */
  client(req: Request, res: Response): Promise<void>;
  feed(req: Request, res: Response, tokenId: string): Promise<void>;
  /** Stops the stores' cleanup timers. */
  shutdown(): void;
}

const WINDOW_MS = 60_000;
const TOKEN_ID_LOCAL = 'icalTokenId';

function run(limiter: RateLimitRequestHandler, req: Request, res: Response): Promise<void> {
  return new Promise((resolve, reject) => {
    void limiter(req, res, (err?: unknown) => (err ? reject(err) : resolve()));
  });
}

export function feedRateLimits(
  limits: { perClient: number; perToken: number },
  logger: Logger,
): FeedRateLimits {
  const stores = [new MemoryStore(), new MemoryStore()] as const;
  const common = {
    windowMs: WINDOW_MS,
    standardHeaders: false,
    legacyHeaders: false,
    // Its configuration checks go to our logger, not the console; they never see the URL.
    logger: {
      warn: (e: unknown) => logger.warn('rate limiter configuration', { err: e }),
      error: (e: unknown) => logger.error('rate limiter configuration', { err: e }),
    },
    handler: (req: Request, _res: Response, next: (err?: unknown) => void) => {
      const reset = (req as Request & { rateLimit?: { resetTime?: Date } }).rateLimit?.resetTime;
      const retryAfterSeconds = Math.max(
        1,
        Math.ceil(((reset?.getTime() ?? Date.now() + WINDOW_MS) - Date.now()) / 1000),
      );
      // Nothing of the URL in the message: it holds the feed's secret.
      next(
        new PasserelleError('ERR_RATE_LIMITED', `too many feed requests; retry in ${retryAfterSeconds} s`, {
          retryAfterSeconds,
        }),
      );
    },
  };
  const perClient = rateLimit({ ...common, limit: limits.perClient, store: stores[0] });
  const perToken = rateLimit({
    ...common,
    limit: limits.perToken,
    store: stores[1],
    keyGenerator: (_req, res) => `feed:${String(res.locals[TOKEN_ID_LOCAL])}`,
  });
  return {
    client: (req, res) => run(perClient, req, res),
    feed: (req, res, tokenId) => {
      res.locals[TOKEN_ID_LOCAL] = tokenId;
      return run(perToken, req, res);
    },
    shutdown: () => stores.forEach((s) => s.shutdown()),
  };
}
