/**
 * A small least-recently-used map bounded by a cost budget (entries or bytes). A Map keeps
 * insertion order, so re-inserting on each hit keeps the oldest entry first.
 */
export class LruCache<K, V> {
  private readonly map = new Map<K, { value: V; cost: number }>();
  private used = 0;

  constructor(
    private readonly budget: number,
    private readonly costOf: (value: V) => number = () => 1,
  ) {}

  get(key: K): V | undefined {
    const hit = this.map.get(key);
    if (!hit) return undefined;
    this.map.delete(key);
    this.map.set(key, hit);
    return hit.value;
  }

  set(key: K, value: V): void {
    const cost = this.costOf(value);
    this.delete(key);
    if (cost > this.budget) return;
    this.map.set(key, { value, cost });
    this.used += cost;
    while (this.used > this.budget) {
      const oldest = this.map.keys().next();
      if (oldest.done) break;
      this.delete(oldest.value);
    }
  }

  delete(key: K): void {
    const hit = this.map.get(key);
    if (!hit) return;
    this.map.delete(key);
    this.used -= hit.cost;
  }

  get size(): number {
    return this.map.size;
  }

  clear(): void {
    this.map.clear();
    this.used = 0;
  }
}
