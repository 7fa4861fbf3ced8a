/**
 * A small least-recently-used map bounded by a cost budget (entries or bytes). A Map keeps
 * insertion order, so re-inserting on each hit keeps the oldest entry first.
 *
 * Values are stored as they are, with no wrapper object per entry; costs are kept beside, and
 * only when values have one of their own. `undefined` is not a storable value. Used for feed
 * bodies; rendered events have their own cache, by scope and record id (event-cache.ts).
 */
export class LruCache<K, V> {
  private readonly map = new Map<K, V>();
  /** Per-key cost, only with a `costOf`; otherwise each entry costs 1. */
  private readonly costs: Map<K, number> | null;
  private used = 0;

  constructor(
    private readonly budget: number,
    private readonly costOf?: (value: V) => number,
  ) {
    this.costs = costOf ? new Map() : null;
  }

  get(key: K): V | undefined {
    const hit = this.map.get(key);
    if (hit === undefined) return undefined;
    this.map.delete(key);
    this.map.set(key, hit);
    return hit;
  }

  set(key: K, value: V): void {
    const cost = this.costOf ? this.costOf(value) : 1;
    this.delete(key);
    if (cost > this.budget) return;
    this.map.set(key, value);
    this.costs?.set(key, cost);
    this.used += cost;
    while (this.used > this.budget) {
      const oldest = this.map.keys().next();
      if (oldest.done) break;
      this.delete(oldest.value);
    }
  }

  delete(key: K): void {
    if (!this.map.delete(key)) return;
    if (this.costs) {
      this.used -= this.costs.get(key) ?? 0;
      this.costs.delete(key);
    } else {
      this.used -= 1;
    }
  }

  get size(): number {
    return this.map.size;
  }

  clear(): void {
    this.map.clear();
    this.costs?.clear();
    this.used = 0;
  }
}
