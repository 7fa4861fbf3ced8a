/**
 * passerelle's own writes seen again by the poller are not news (docs/sync.md, "for connector
 * authors"): a creation read back before the dispatcher committed its id would be taken for the
 * practice's own booking and created again on the secretariat. The connector remembers, for a
 * while, the versions it wrote and the business identifiers of creations in flight; the poller
 * leaves those out. Memory only: across a restart, or between two instances, the identity map
 * committed after each write is what prevents the echo.
 */

/** How long a written version is remembered: far longer than a write's commit takes. */
const KEEP_MS = 10 * 60_000;

export class OwnWrites {
  readonly #versions = new Map<string, { version: string; at: number }>();
  readonly #pending = new Map<string, number>();

  constructor(private readonly now: () => number) {}

  /** A creation keyed on `token` (`system|value`) is on its way. */
  begin(token: string): void {
    this.#pending.set(token, (this.#pending.get(token) ?? 0) + 1);
  }

  end(token: string): void {
    const n = (this.#pending.get(token) ?? 1) - 1;
    if (n <= 0) this.#pending.delete(token);
    else this.#pending.set(token, n);
  }

  /** passerelle wrote version `version` of `type/id`. */
  wrote(type: string, id: string, version: string | undefined): void {
    if (version === undefined) return;
    const at = this.now();
    this.#versions.set(`${type}/${id}`, { version, at });
    if (this.#versions.size > 10_000) {
      for (const [k, v] of this.#versions) if (at - v.at > KEEP_MS) this.#versions.delete(k);
    }
  }

  /** `written`: this exact version is passerelle's; `pending`: a creation of ours not answered yet. */
  check(
    type: string,
    id: string,
    version: string | undefined,
    identifiers: readonly { system?: unknown; value?: unknown }[],
  ): 'written' | 'pending' | undefined {
    const w = this.#versions.get(`${type}/${id}`);
    if (w && version !== undefined && w.version === version && this.now() - w.at <= KEEP_MS) return 'written';
    if (this.#pending.size > 0) {
      for (const i of identifiers)
        if (this.#pending.has(`${String(i.system)}|${String(i.value)}`)) return 'pending';
    }
    return undefined;
  }
}
