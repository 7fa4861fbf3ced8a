/**
 * The plans of every link, kept in memory for callers that cannot wait on the store: the sync
 * engine asks for a practice link's ownership rules synchronously, inside its transaction
 * (src/sync/engine.ts `OwnershipResolver`). Loaded when the service starts, reloaded for a link
 * when its profile changes in this process, and every `refreshMs` for changes made by other
 * instances sharing a PostgreSQL store. A link not loaded yet runs its shipped profile.
 */
import type { Store } from '../store/index.js';
import type { Link } from '../store/types.js';
import type { OwnershipRules } from '../model/ownership.js';
import type { MappingPlan } from './plan.js';
import { type ConnectorProfiles, getActivePlan, onMappingChange, shippedPlan, shippedProfileOf } from './runtime.js';

export class ActivePlans {
  readonly #byLink = new Map<string, MappingPlan>();
  #timer: NodeJS.Timeout | undefined;
  #unsubscribe: (() => void) | undefined;

  constructor(
    private readonly store: Store,
    /** The connectors that take a profile; links of others have no plan. */
    private readonly profiles: ConnectorProfiles,
    private readonly options: { readonly refreshMs?: number; readonly onError?: (linkId: string, e: unknown) => void } = {},
  ) {}

  /** Loads the active plan of one link, or of every link that takes a profile. */
  async refresh(linkId?: string): Promise<void> {
    const links = linkId ? [await this.store.links.require(linkId)] : await this.store.links.list();
    for (const link of links) {
      if (!this.profiles.has(link.connector)) continue;
      try {
        this.#byLink.set(link.id, (await getActivePlan(this.store, link.id, this.profiles)).plan);
      } catch (e) {
        // A link naming a profile that does not exist keeps running without overrides; the
        // mapping API and the connector report the problem.
        this.#byLink.delete(link.id);
        this.options.onError?.(link.id, e);
      }
    }
  }

  /** The plan a link runs, synchronously: its loaded plan, else its shipped profile. */
  planOf(link: Link): MappingPlan | undefined {
    const loaded = this.#byLink.get(link.id);
    if (loaded) return loaded;
    if (!this.profiles.has(link.connector)) return undefined;
    try {
      return shippedPlan(shippedProfileOf(link, this.profiles));
    } catch {
      return undefined;
    }
  }

  /** The sync engine's OwnershipResolver: the practice link's profile ownership. */
  readonly ownership = (link: Link): OwnershipRules | undefined => this.planOf(link)?.ownership;

  async start(): Promise<void> {
    await this.refresh();
    this.#unsubscribe = onMappingChange((c) => {
      void this.refresh(c.linkId).catch((e: unknown) => this.options.onError?.(c.linkId, e));
    });
    const every = this.options.refreshMs ?? 60_000;
    if (every > 0) {
      this.#timer = setInterval(() => void this.refresh().catch((e: unknown) => this.options.onError?.('*', e)), every);
      this.#timer.unref();
    }
  }

  async stop(): Promise<void> {
    this.#unsubscribe?.();
    if (this.#timer) clearInterval(this.#timer);
  }
}
