/**
 * Early warning at the doors (issue 16 point 7, the seeds' "dispositif d'alerte précoce"): every
 * refusal at a door — a failed admin-API authentication, an MLLP connection over its caps — is
 * counted in a metric and logged with the client address only (never a key, never a payload).
 *
 * A flood must not become a log flood: per door and address, refusals are logged one by one up
 * to `burstThreshold` within a window; the one that reaches it logs a single warn line (the
 * alert) and counts a burst; the rest of that window is counted, not logged.
 */
import client from 'prom-client';

import type { Logger } from '../log/logger.js';

export const DOORS = ['http-auth', 'mllp'] as const;
export type Door = (typeof DOORS)[number];

/** Why a door refused; a closed set so the metric's labels stay bounded. */
export const REFUSAL_KINDS = [
  'no-key',
  'unknown-key',
  'revoked-key',
  'throttled',
  'per-address-cap',
  'total-cap',
] as const;
export type RefusalKind = (typeof REFUSAL_KINDS)[number];

export interface RefusalWatchOptions {
  readonly logger: Logger;
  /** Where the counters are registered (the service's registry); none: counted in memory only. */
  readonly registry?: client.Registry;
  readonly now?: () => number;
  /** Refusals from one address at one door within the window that make a burst. Default 10. */
  readonly burstThreshold?: number;
  /** Default one minute. */
  readonly windowMs?: number;
  /** Addresses remembered at once (bounded memory under a spread-out flood). Default 10,000. */
  readonly maxTracked?: number;
}

interface Window {
  start: number;
  count: number;
}

export class RefusalWatch {
  private readonly refusedTotal: client.Counter<'door' | 'kind'>;
  private readonly burstsTotal: client.Counter<'door'>;
  private readonly windows = new Map<string, Window>();
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly threshold: number;
  private readonly windowMs: number;
  private readonly maxTracked: number;

  constructor(options: RefusalWatchOptions) {
    const registers = options.registry ? [options.registry] : [];
    this.refusedTotal = new client.Counter({
      name: 'passerelle_door_refusals_total',
      help: 'Refusals at the doors: failed admin-API authentications, MLLP connections over their caps',
      labelNames: ['door', 'kind'] as const,
      registers,
    });
    this.burstsTotal = new client.Counter({
      name: 'passerelle_door_refusal_bursts_total',
      help: 'Bursts of refusals from one client address (one per address and window)',
      labelNames: ['door'] as const,
      registers,
    });
    this.log = options.logger.child({ log: 'doors' });
    this.now = options.now ?? Date.now;
    this.threshold = options.burstThreshold ?? 10;
    this.windowMs = options.windowMs ?? 60_000;
    this.maxTracked = options.maxTracked ?? 10_000;
  }

  refused(door: Door, address: string | undefined, kind: RefusalKind): void {
    const clientAddress = address ?? 'unknown';
    this.refusedTotal.inc({ door, kind });
    const now = this.now();
    const key = `${door} ${clientAddress}`;
    let w = this.windows.get(key);
    if (!w || now - w.start >= this.windowMs) {
      this.makeRoom(now);
      w = { start: now, count: 0 };
      this.windows.delete(key);
      this.windows.set(key, w);
    }
    w.count += 1;
    if (w.count < this.threshold) {
      this.log.info('refused at the door', { door, client: clientAddress, kind });
    } else if (w.count === this.threshold) {
      this.burstsTotal.inc({ door });
      this.log.warn('burst of refusals from one client address', {
        door,
        client: clientAddress,
        kind,
        refusals: w.count,
        windowSeconds: Math.round(this.windowMs / 1000),
      });
    }
  }

  /** The counters as they stand (tests, the CLI). */
  async counts(): Promise<{ refused: number; bursts: number }> {
    const sum = async (c: client.Counter<string>) => (await c.get()).values.reduce((n, v) => n + v.value, 0);
    return { refused: await sum(this.refusedTotal), bursts: await sum(this.burstsTotal) };
  }

  private makeRoom(now: number): void {
    if (this.windows.size < this.maxTracked) return;
    for (const [k, w] of this.windows) if (now - w.start >= this.windowMs) this.windows.delete(k);
    // Still full: forget the oldest window (Map keeps insertion order).
    while (this.windows.size >= this.maxTracked) {
      const oldest = this.windows.keys().next().value;
      if (oldest === undefined) break;
      this.windows.delete(oldest);
    }
  }
}
