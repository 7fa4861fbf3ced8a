import { mappingRoutes } from '../../api/routes/mapping.js';
import type { ConnectorRegistry } from '../../connector/registry.js';
import { ActivePlans } from '../../mapping/active-plans.js';
import type { OwnershipResolver } from '../../sync/engine.js';
import { defaultConnectorRegistry } from '../connectors.js';
import type { ServiceContext, ServiceModule } from '../service.js';

export interface MappingModule extends ServiceModule {
  /** For the sync module: each practice link's ownership rules from its running profile. */
  readonly ownership: OwnershipResolver;
  /** The one plan cache of a running service, for the sync module (connector contexts). */
  plansOf(ctx: ServiceContext): ActivePlans;
}

/**
 * The mapping admin API (GET/PUT /api/v1/links/:id/mapping, versions, dry-run, rollback) and
 * the in-memory plans of the links, loaded at start (list this module before `sync` so they
 * are loaded before the engine runs).
 */
export function mappingModule(
  options: { refreshMs?: number; registry?: ConnectorRegistry } = {},
): MappingModule {
  const profiles = (options.registry ?? defaultConnectorRegistry()).profiles();
  let plans: ActivePlans | undefined;
  const plansOf = (ctx: ServiceContext) =>
    (plans ??= new ActivePlans(ctx.store, profiles, {
      ...(options.refreshMs !== undefined && { refreshMs: options.refreshMs }),
      onError: (linkId, e) =>
        ctx.logger.warn('mapping profile not loaded', {
          linkId,
          code: (e as { code?: string }).code ?? 'ERR_INTERNAL',
        }),
    }));
  return {
    name: 'mapping',
    ownership: (link) => plans?.ownership(link),
    plansOf,
    routes: (ctx) => mappingRoutes({ store: ctx.store, profiles, plans: plansOf(ctx) }),
    components: (ctx) => [
      { name: 'mapping', start: () => plansOf(ctx).start(), stop: () => plansOf(ctx).stop() },
    ],
  };
}
