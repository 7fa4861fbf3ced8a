/**
 * In-process hints that something the console's dashboard shows may have changed (issue 19):
 * the sync runtime signals after a commit that enqueued outbox rows (ingest, operator actions),
 * after a push, and when a link starts, fails or stops. A hint carries no data, only where to
 * look (a practice, or null for "any practice") and what (topics); the reader (the dashboard
 * watch, src/reports/dashboard-watch.ts) reads the store again and tells its subscribers what
 * really changed. Push is a hint, the store is the truth (design rule 5): the watch also
 * sweeps now and then, for writes that send no hint (another instance on the same database).
 */

/** What a hint or a change is about: the sections of the dashboard. */
export const CHANGE_TOPICS = ['links', 'outbox', 'deadLetters', 'conflicts', 'reviews', 'messages'] as const;
export type ChangeTopic = (typeof CHANGE_TOPICS)[number];

export interface ChangeHint {
  /** null: the practice is not known where the hint is raised (look at every practice). */
  readonly practiceId: string | null;
  readonly topics: readonly ChangeTopic[];
}

export type ChangeListener = (hint: ChangeHint) => void;

export class ChangeBus {
  private readonly listeners = new Set<ChangeListener>();

  /** Returns the unsubscriber. */
  on(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Never throws into the signalling code: a listener's failure is its own. */
  hint(practiceId: string | null, ...topics: ChangeTopic[]): void {
    const hint: ChangeHint = { practiceId, topics };
    for (const listener of [...this.listeners]) {
      try {
        listener(hint);
      } catch {
        // A listener that throws is the listener's bug; the sync path must not fail for it.
      }
    }
  }

  get listenerCount(): number {
    return this.listeners.size;
  }
}
