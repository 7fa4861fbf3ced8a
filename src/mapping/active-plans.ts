/**
 * The one cache of "which plan a link runs" (issue 17): each link's active plan with its
 * mapping context, kept in memory for everything that runs links — the sync engine asks for a
 * practice link's ownership rules synchronously, inside its transaction (`OwnershipResolver`);
 * an HL7 message is translated synchronously (connectors/hl7v2/profile-translator.ts); a FHIR
 * page is mapped with it. Connectors reach it through their context (`ConnectorContext.mapping`,
 * `currentMapping`, `reloadMapping`), never through a cache of their own.
 *
 * Loaded when the service starts; a link's entry is read again when the link (re)starts, when
 * its profile changes in this process (`onMappingChange`: a PUT or rollback, which also waits
 * for the reload before answering), at once when another instance sharing a PostgreSQL store
 * changes it (migration 0017's NOTIFY `passerelle_mapping`, version-checked: a link already at
 * the active version is not compiled again), and every `refreshMs` as the safety net. A reload that fails because the store is unreachable keeps the
 * running plan; any other failure drops it (a link not loaded runs its shipped profile, for
 * ownership). The app hands over the connectors' profile table: this layer is below connectors.
 */
import { isPasserelleError } from '../errors.js';
import type { OwnershipRules } from '../model/ownership.js';
import type { Store } from '../store/index.js';
import type { Link } from '../store/types.js';
import type { MappingPlan } from './compile/plan.js';
import {
  type ActivePlan,
  type ConnectorProfiles,
  getActivePlan,
  onMappingChange,
  shippedPlan,
  shippedProfileOf,
} from './runtime.js';

/** The store channel a committed change of mapping_profiles signals, with the link id (migration 0017). */
export const MAPPING_CHANNEL = 'passerelle_mapping';

export class ActivePlans {
  readonly #byLink = new Map<string, ActivePlan>();
  /** Reload generation per link: a slow read finishing after a newer one does not win. */
  readonly #generation = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;
  #unsubscribe: (() => void) | undefined;
  #unwatch: (() => Promise<void>) | undefined;

  constructor(
    private readonly store: Store,
    /** The connectors that take a profile; links of others have no plan. */
    private readonly profiles: ConnectorProfiles,
    private readonly options: {
      readonly refreshMs?: number;
      /** Follow other instances' changes through Store.watch (default on where the store has it). */
      readonly watch?: boolean;
      readonly onError?: (linkId: string, e: unknown) => void;
    } = {},
  ) {}

  /** Whether links of `connector` run a mapping plan. */
  takesProfile(connector: string): boolean {
    return this.profiles.has(connector);
  }

  /**
   * Reads one link's plan from the store into the cache and returns it. On failure the error is
   * thrown; the running plan stays when the failure is retryable (store unreachable).
   */
  async reload(linkId: string): Promise<ActivePlan> {
    const generation = (this.#generation.get(linkId) ?? 0) + 1;
    this.#generation.set(linkId, generation);
    const latest = () => this.#generation.get(linkId) === generation;
    try {
      const plan = await getActivePlan(this.store, linkId, this.profiles);
      if (latest()) this.#byLink.set(linkId, plan);
      return plan;
    } catch (e) {
      if (latest() && !(isPasserelleError(e) && e.retryable)) this.#byLink.delete(linkId);
      throw e;
    }
  }

  /** The link's plan: the cached one, else read now (and cached). */
  async get(linkId: string): Promise<ActivePlan> {
    return this.#byLink.get(linkId) ?? this.reload(linkId);
  }

  /** The cached plan, synchronously; undefined before it was loaded. */
  current(linkId: string): ActivePlan | undefined {
    return this.#byLink.get(linkId);
  }

  /** Loads the active plan of one link, or of every link that takes a profile; errors go to onError. */
  async refresh(linkId?: string): Promise<void> {
    const links = linkId ? [await this.store.links.require(linkId)] : await this.store.links.list();
    if (!linkId) {
      const present = new Set(links.map((l) => l.id));
      for (const id of [...this.#byLink.keys()]) if (!present.has(id)) this.#byLink.delete(id);
    }
    for (const link of links) {
      if (!this.profiles.has(link.connector)) continue;
      try {
        await this.reload(link.id);
      } catch (e) {
        // A link naming a profile that does not exist keeps running without overrides; the
        // mapping API and the connector report the problem.
        this.options.onError?.(link.id, e);
      }
    }
  }

  /** The plan a link runs, synchronously: its loaded plan, else its shipped profile. */
  planOf(link: Link): MappingPlan | undefined {
    const loaded = this.#byLink.get(link.id);
    if (loaded) return loaded.plan;
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
      void this.reload(c.linkId).catch((e: unknown) => this.options.onError?.(c.linkId, e));
    });
    if (this.options.watch !== false && this.store.watch) {
      this.#unwatch = await this.store
        .watch(MAPPING_CHANNEL, (linkId) => {
          const done = linkId === null ? this.refresh() : this.refreshIfChanged(linkId);
          void done.catch((e: unknown) => this.options.onError?.(linkId ?? '*', e));
        })
        .catch(() => undefined); // the periodic refresh still runs
    }
    const every = this.options.refreshMs ?? 60_000;
    if (every > 0) {
      this.#timer = setInterval(
        () => void this.refresh().catch((e: unknown) => this.options.onError?.('*', e)),
        every,
      );
      this.#timer.unref();
    }
  }

  /**
   * Another instance changed the link's profiles: reads the active version (one small query)
   * and compiles only when it is not the one cached. Returns whether it reloaded.
   */
  async refreshIfChanged(linkId: string): Promise<boolean> {
    const cached = this.#byLink.get(linkId);
    if (cached) {
      const active = await this.store.mappingProfiles.active(linkId);
      if (
        active &&
        cached.source === 'custom' &&
        cached.version === active.version &&
        cached.hash === active.hash
      )
        return false;
      if (!active && cached.source === 'shipped') return false;
    } else {
      const link = await this.store.links.get(linkId);
      if (!link || !this.profiles.has(link.connector)) return false;
    }
    await this.reload(linkId);
    return true;
  }

  async stop(): Promise<void> {
    await this.#unwatch?.();
    this.#unwatch = undefined;
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
