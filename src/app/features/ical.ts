import { icalFeedRoutes } from '../../api/routes/ical-feed.js';
import { icalTokenRoutes } from '../../api/routes/ical-tokens.js';
import { FeedService } from '../../ical/feed-service.js';
import { type FeedRateLimits, feedRateLimits } from '../../ical/rate-limit.js';
import type { ServiceContext, ServiceModule } from '../service.js';

interface IcalRuntime {
  readonly feeds: FeedService;
  readonly limits: FeedRateLimits;
}

/** The `ical` feature: `GET /ical/<token>.ics`, the token admin API, and their caches and limits. */
export function icalModule(): ServiceModule {
  // routes() and components() are called separately for one service: share one runtime per service.
  const runtimes = new WeakMap<ServiceContext, IcalRuntime>();
  const runtime = (ctx: ServiceContext): IcalRuntime => {
    let r = runtimes.get(ctx);
    if (!r) {
      const logger = ctx.logger.child({ component: 'ical' });
      const { ical } = ctx.config;
      r = {
        feeds: new FeedService(ctx.store, ical, logger),
        limits: feedRateLimits(
          { perClient: ical.rateLimitPerClient, perToken: ical.rateLimitPerToken },
          logger,
        ),
      };
      runtimes.set(ctx, r);
    }
    return r;
  };
  return {
    name: 'ical',
    routes(ctx) {
      const { feeds, limits } = runtime(ctx);
      return [
        ...icalFeedRoutes({ store: ctx.store, feeds, limits }),
        ...icalTokenRoutes({ store: ctx.store, baseUrl: ctx.baseUrl }),
      ];
    },
    components(ctx) {
      return [
        {
          name: 'ical',
          start: async () => undefined,
          stop: async () => {
            const r = runtime(ctx);
            r.limits.shutdown();
            r.feeds.clearBodies();
            r.feeds.renderer.clearCache();
          },
        },
      ];
    },
  };
}
