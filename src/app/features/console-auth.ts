import { oidcRouter } from '../../api/oidc.js';
import { sessionRoutes } from '../../api/routes/session.js';
import { ConsoleSessions, sessionSettings } from '../../api/session.js';
import type { ServiceModule } from '../service.js';

/**
 * The console's sign-in (issue 19): `/api/v1/session` (API key → session cookie, who am I,
 * sign-out, sign-in options) and the OpenID Connect redirects under `/console/auth/oidc`. The
 * cookie itself is checked by the API's mount code (api/app.ts), like a key.
 */
export function consoleAuthModule(): ServiceModule {
  return {
    name: 'console-auth',
    routes(ctx) {
      const oidc = ctx.config.console.oidc;
      return sessionRoutes({
        store: ctx.store,
        sessions: new ConsoleSessions(ctx.store, sessionSettings(ctx.config.console)),
        throttle: ctx.authThrottle,
        options: { oidc: { enabled: oidc !== undefined, label: oidc?.label ?? null } },
      });
    },
    http(ctx) {
      return oidcRouter({
        store: ctx.store,
        sessions: new ConsoleSessions(ctx.store, sessionSettings(ctx.config.console)),
        config: ctx.config.console.oidc,
        secrets: ctx.secrets,
        baseUrl: ctx.baseUrl,
        logger: ctx.logger,
      });
    },
  };
}
