/**
 * Leases kept alive by heartbeat (issue 23): an instance sharing a PostgreSQL store with others
 * holds a named lease (`link:<id>`: who runs the link's scheduled polls) by renewing it every
 * third of its time to live. An instance that dies, or is cut from the database, stops renewing;
 * another instance's next heartbeat takes the lease once the database says it expired: within
 * about ttl + ttl/3 of the last renewal.
 *
 * Clocks: the expiry is stored and judged on the database's clock (store/cluster.ts). This side
 * only measures durations on its own monotonic clock: a renewal sent at local time t is valid
 * here until t + ttl - ttl/10, which ends no later than the database's expiry (the database set
 * it after t). Instance wall clocks that disagree by minutes therefore change nothing, and a
 * holder cut from the database stops acting as holder before anyone else may take over.
 *
 * Without `store.cluster` (SQLite, one process per file) every lease is held.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';

import { isPasserelleError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { Store } from '../store/index.js';

export const DEFAULT_LEASE_TTL_MS = 15_000;

/** An instance's name in lease and job tables: host, process, and a nonce (pids are reused). */
export function instanceId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
}

export interface LeaseKeeperOptions {
  readonly store: Store;
  readonly logger: Logger;
  /** This instance's name in the lease table. */
  readonly owner?: string;
  readonly ttlMs?: number;
  /** Called when this instance starts or stops holding a lease (takeover, loss). */
  readonly onChange?: (name: string, held: boolean) => void;
}

interface Wanted {
  /** Monotonic time until which the lease is ours (0: not held). */
  until: number;
}

export class LeaseKeeper {
  readonly owner: string;
  readonly ttlMs: number;
  private readonly wanted = new Map<string, Wanted>();
  private timer: NodeJS.Timeout | undefined;
  private beating: Promise<void> | undefined;
  private failing = false;
  private stopped = false;

  constructor(private readonly options: LeaseKeeperOptions) {
    this.owner = options.owner ?? instanceId();
    this.ttlMs = options.ttlMs ?? DEFAULT_LEASE_TTL_MS;
  }

  /** Whether leases are shared at all (PostgreSQL); without, every lease is held. */
  get shared(): boolean {
    return this.options.store.cluster !== undefined;
  }

  start(): void {
    if (!this.shared || this.timer || this.stopped) return;
    this.timer = setInterval(() => void this.beat(), Math.max(100, Math.floor(this.ttlMs / 3)));
    this.timer.unref();
  }

  /** Asks for `name`: held from the next heartbeat on if nobody else holds it (one is run now). */
  want(name: string): void {
    if (!this.shared || this.wanted.has(name)) return;
    this.wanted.set(name, { until: 0 });
    void this.beat();
  }

  /** Gives `name` up (released in the store when held, so another instance takes it at once). */
  async drop(name: string): Promise<void> {
    const w = this.wanted.get(name);
    if (!w) return;
    this.wanted.delete(name);
    if (w.until > 0) await this.release(name);
  }

  holds(name: string): boolean {
    if (!this.shared) return true;
    const w = this.wanted.get(name);
    return w !== undefined && w.until > performance.now();
  }

  /** The names this instance holds now. */
  held(): string[] {
    return [...this.wanted.keys()].filter((n) => this.holds(n));
  }

  /** One heartbeat: claims or renews every wanted lease (never two heartbeats at once). */
  beat(): Promise<void> {
    this.beating ??= this.beatNow().finally(() => {
      this.beating = undefined;
    });
    return this.beating;
  }

  private async beatNow(): Promise<void> {
    const cluster = this.options.store.cluster;
    if (!cluster || this.stopped) return;
    for (const [name, w] of [...this.wanted]) {
      const sent = performance.now();
      const before = this.holds(name);
      try {
        const claim = await cluster.claimLease(name, this.owner, this.ttlMs);
        if (this.wanted.get(name) !== w) {
          // Dropped meanwhile: give back what this claim may have taken.
          if (claim.held) await this.release(name);
          continue;
        }
        w.until = claim.held ? sent + this.ttlMs - this.ttlMs / 10 : 0;
        if (this.failing) {
          this.failing = false;
          this.options.logger.info('lease heartbeat back', { owner: this.owner });
        }
      } catch (e) {
        // Not renewed: `until` runs out on its own, before the database lets another take over.
        if (!this.failing) {
          this.failing = true;
          this.options.logger.warn('lease heartbeat failed', {
            code: isPasserelleError(e) ? e.code : 'ERR_STORE_UNAVAILABLE',
          });
        }
      }
      const after = this.holds(name);
      if (before !== after) {
        this.options.logger.info(after ? 'lease taken' : 'lease lost', { lease: name, owner: this.owner });
        this.options.onChange?.(name, after);
      }
    }
  }

  private async release(name: string): Promise<void> {
    await this.options.store.cluster?.releaseLease(name, this.owner).catch(() => undefined);
  }

  /** Stops the heartbeat and releases what is held (a graceful stop hands links over at once). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.beating?.catch(() => undefined);
    const names = [...this.wanted.keys()];
    this.wanted.clear();
    for (const name of names) await this.release(name);
  }
}
