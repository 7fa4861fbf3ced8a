/**
 * Rendered VEVENTs kept between renders (docs/ical.md, "Cheap and never blocking").
 *
 * Entries are grouped by scope — what every event of one feed shares: practice, privacy, zone,
 * practice-wide or not — and, inside a scope, keyed by the record's id. An entry holds the
 * versions it was rendered from (the record's, its practitioner's, its patient's) and answers
 * only when they are all the same again. Keyed this way, a render builds no key string per event
 * (a first render of 10,000 events made and hashed 10,000 of them, docs/benchmarks.md), and a
 * record's new version replaces the old one's entry instead of leaving it to age out.
 *
 * Isolation: a scope names its practice, so the events of one practice are never looked up by
 * another's feed even if two records shared an id; within a practice, feeds whose text would
 * differ (privacy, zone, practice-wide labels) have different scopes or, for the practitioner
 * and patient shown, different versions in the entry.
 */

/** A related record whose text is in the event (practitioner label, patient name). */
export interface Versioned {
  readonly id: string;
  readonly version: number;
}

interface Entry {
  readonly version: number;
  readonly practitionerId: string | null;
  readonly practitionerVersion: number;
  readonly patientId: string | null;
  readonly patientVersion: number;
  readonly text: string;
}

/** What a feed's events share; computed once per render. */
export interface EventScopeKey {
  readonly practiceId: string;
  readonly privacy: string;
  readonly zone: string | null;
  readonly practiceWide: boolean;
}

export class EventCache {
  /** Insertion order is recency: a scope moves to the end each time a render opens it. */
  private readonly scopes = new Map<string, EventScope>();

  /** `budget`: entries kept in all, across scopes; 0 keeps nothing. */
  constructor(readonly budget: number) {}

  /**
   * Entries kept, summed over the scopes (a few per practice) rather than counted as they come:
   * a render still filling a scope that `clear` dropped cannot make the count drift.
   */
  get size(): number {
    let n = 0;
    for (const scope of this.scopes.values()) n += scope.entries.size;
    return n;
  }

  /** The scope of one render, marked as the most recently used. */
  scope(key: EventScopeKey): EventScope {
    const name = JSON.stringify([key.practiceId, key.privacy, key.zone, key.practiceWide]);
    let scope = this.scopes.get(name);
    if (scope !== undefined) this.scopes.delete(name);
    else scope = new EventScope(this.budget);
    this.scopes.set(name, scope);
    return scope;
  }

  /** Evicts down to the budget: least recently used scopes first, oldest entries first in each. */
  trim(): void {
    let excess = this.size - this.budget;
    for (const [name, scope] of this.scopes) {
      if (excess <= 0) return;
      excess -= scope.dropOldest(excess);
      if (scope.entries.size === 0) this.scopes.delete(name);
    }
  }

  clear(): void {
    this.scopes.clear();
  }
}

export class EventScope {
  /** @internal Record id → entry, oldest first. */
  readonly entries = new Map<string, Entry>();

  constructor(private readonly budget: number) {}

  /**
   * The text rendered from exactly these versions of the record and of the practitioner and
   * patient shown in it (undefined: none shown), if kept.
   */
  get(
    id: string,
    version: number,
    practitioner: Versioned | undefined,
    patient: Versioned | undefined,
  ): string | undefined {
    const e = this.entries.get(id);
    if (
      e === undefined ||
      e.version !== version ||
      e.practitionerId !== (practitioner?.id ?? null) ||
      e.practitionerVersion !== (practitioner?.version ?? 0) ||
      e.patientId !== (patient?.id ?? null) ||
      e.patientVersion !== (patient?.version ?? 0)
    )
      return undefined;
    return e.text;
  }

  /** Keeps `text` for the record, replacing what was kept for an earlier version. */
  set(
    id: string,
    version: number,
    practitioner: Versioned | undefined,
    patient: Versioned | undefined,
    text: string,
  ): void {
    if (this.budget === 0) return;
    // A replaced entry is deleted first, so that it moves to the end: eviction takes the oldest.
    this.entries.delete(id);
    this.entries.set(id, {
      version,
      practitionerId: practitioner?.id ?? null,
      practitionerVersion: practitioner?.version ?? 0,
      patientId: patient?.id ?? null,
      patientVersion: patient?.version ?? 0,
      text,
    });
  }

  /** @internal Removes up to `n` oldest entries; returns how many went. */
  dropOldest(n: number): number {
    let dropped = 0;
    for (const id of this.entries.keys()) {
      if (dropped >= n) break;
      this.entries.delete(id);
      dropped++;
    }
    return dropped;
  }
}
