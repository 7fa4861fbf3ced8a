/**
 * What GET /api/v1/events streams (issue 19): for each practice someone watches, the dashboard
 * sections that changed. The sync runtime's hints (src/sync/change-bus.ts) say where to look at
 * once; a sweep every `sweepMs` while someone watches catches what sends no hint (a write by
 * another instance sharing the database, an API action that commits no outbox row). Each look
 * rebuilds the practice's dashboard and compares, section by section, a fingerprint of what it
 * shows — counts, states and error codes, not ages, which change every second — so a
 * subscriber hears of a real change only, and never of another practice's.
 */
import type { Logger } from '../log/logger.js';
import type { ChangeBus, ChangeHint, ChangeTopic } from '../sync/change-bus.js';
import { type DashboardDeps, type DashboardPractice, practiceDashboard } from './dashboard.js';

export interface DashboardChange {
  readonly practiceId: string;
  readonly topics: readonly ChangeTopic[];
}

export interface DashboardWatchOptions {
  readonly deps: DashboardDeps;
  readonly bus: ChangeBus;
  readonly logger: Logger;
  /** How often watched practices are looked at without a hint (default 5 s). */
  readonly sweepMs?: number;
  /**
   * Hints arriving together are looked at once, this long after the first (default 500 ms: at
   * most two looks a second, however busy the sync).
   */
  readonly settleMs?: number;
}

interface Subscriber {
  /** null: every practice. */
  readonly practiceIds: readonly string[] | null;
  readonly onChange: (change: DashboardChange) => void;
  readonly onClose: () => void;
}

type Fingerprint = Readonly<Record<ChangeTopic, string>>;

function fingerprint(p: DashboardPractice): Fingerprint {
  const t = p.totals;
  return {
    links: JSON.stringify(
      p.links.map((l) => [l.id, l.name, l.connector, l.role, l.state, l.error?.code ?? null]),
    ),
    outbox: JSON.stringify(p.links.map((l) => [l.id, l.outbox.pending, l.outbox.leased, l.outbox.dead])),
    deadLetters: JSON.stringify([t.deadLetters, ...p.links.map((l) => l.deadLetters)]),
    conflicts: String(t.openConflicts),
    reviews: JSON.stringify(t.openReviews),
    messages: JSON.stringify([t.urgentMessages.undelivered, t.urgentMessages.unacknowledged]),
  };
}

export class DashboardWatch {
  private readonly subscribers = new Set<Subscriber>();
  private readonly seen = new Map<string, Fingerprint>();
  /** Practices hinted since the last look; null inside means "every watched practice". */
  private readonly hinted = new Set<string | null>();
  private unhook: (() => void) | undefined;
  private sweep: NodeJS.Timeout | undefined;
  private settle: NodeJS.Timeout | undefined;
  private looking: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(private readonly options: DashboardWatchOptions) {}

  /**
   * Starts telling `onChange` about the practices given (null: every practice) and resolves once
   * their current state is known, so a change made after it resolves is reported.
   * Returns the unsubscriber. After `stop()`, `onClose` is called at once.
   */
  async subscribe(
    practiceIds: readonly string[] | null,
    onChange: (change: DashboardChange) => void,
    onClose: () => void,
  ): Promise<() => void> {
    const sub: Subscriber = { practiceIds, onChange, onClose };
    if (this.stopped) {
      onClose();
      return () => undefined;
    }
    this.subscribers.add(sub);
    this.hook();
    // The baseline, in the queue of looks so it is never compared against a half-made one.
    await this.enqueue(() => this.baseline(practiceIds));
    return () => {
      this.subscribers.delete(sub);
      if (this.subscribers.size === 0) this.unhookAll();
    };
  }

  /** Ends every subscription (service stop): streams close cleanly. */
  stop(): void {
    this.stopped = true;
    const subs = [...this.subscribers];
    this.subscribers.clear();
    this.unhookAll();
    for (const s of subs) s.onClose();
  }

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  private hook(): void {
    if (this.unhook) return;
    this.unhook = this.options.bus.on((hint) => this.onHint(hint));
    this.sweep = setInterval(
      () => this.onHint({ practiceId: null, topics: [] }),
      this.options.sweepMs ?? 5000,
    );
    this.sweep.unref();
  }

  private unhookAll(): void {
    this.unhook?.();
    this.unhook = undefined;
    clearInterval(this.sweep);
    this.sweep = undefined;
    clearTimeout(this.settle);
    this.settle = undefined;
    this.hinted.clear();
    this.seen.clear();
  }

  private onHint(hint: ChangeHint): void {
    if (this.subscribers.size === 0) return;
    this.hinted.add(hint.practiceId);
    if (this.settle) return;
    this.settle = setTimeout(() => {
      this.settle = undefined;
      const hinted = [...this.hinted];
      this.hinted.clear();
      void this.enqueue(() => this.look(hinted.includes(null) ? null : (hinted as string[])));
    }, this.options.settleMs ?? 500);
    this.settle.unref();
  }

  private enqueue(fn: () => Promise<void>): Promise<void> {
    const next = this.looking.then(fn).catch((e: unknown) =>
      this.options.logger.warn('dashboard watch: look failed', {
        code: (e as { code?: string }).code ?? 'ERR_INTERNAL',
      }),
    );
    this.looking = next;
    return next;
  }

  /** The practices some subscriber watches, among `candidates` (null: all). */
  private async watched(candidates: readonly string[] | null): Promise<{ id: string; name: string }[]> {
    const wantsAll = [...this.subscribers].some((s) => s.practiceIds === null);
    const named = new Set([...this.subscribers].flatMap((s) => s.practiceIds ?? []));
    const practices = await this.options.deps.store.practices.list();
    return practices.filter(
      (p) => (wantsAll || named.has(p.id)) && (candidates === null || candidates.includes(p.id)),
    );
  }

  private async baseline(practiceIds: readonly string[] | null): Promise<void> {
    for (const p of await this.watched(practiceIds)) {
      if (this.seen.has(p.id)) continue;
      this.seen.set(p.id, fingerprint(await practiceDashboard(this.options.deps, p)));
    }
  }

  private async look(candidates: readonly string[] | null): Promise<void> {
    if (this.subscribers.size === 0) return;
    for (const p of await this.watched(candidates)) {
      const now = fingerprint(await practiceDashboard(this.options.deps, p));
      const before = this.seen.get(p.id);
      this.seen.set(p.id, now);
      // A practice seen for the first time (created since) is news as a whole.
      const topics = (Object.keys(now) as ChangeTopic[]).filter((t) => before?.[t] !== now[t]);
      if (topics.length === 0) continue;
      const change: DashboardChange = { practiceId: p.id, topics };
      for (const s of [...this.subscribers]) {
        if (s.practiceIds !== null && !s.practiceIds.includes(p.id)) continue;
        try {
          s.onChange(change);
        } catch (e) {
          this.options.logger.warn('dashboard watch: subscriber failed', { err: e });
        }
      }
    }
  }
}
