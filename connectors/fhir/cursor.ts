/**
 * The FHIR link's poll cursor, stored by the engine with each committed page (one stream per
 * link). It holds, per kind:
 * - during the initial load, the `next` link of the page after the last committed one, so a
 *   restart after a crash fetches at most the one page that was in flight again;
 * - afterwards, the `_lastUpdated` high-water mark, the keyset boundary of a round in progress,
 *   and the versions taken inside the overlap window (re-read on purpose, skipped here);
 * - the watermark of type-level `_history` (deletions), when the server offers it; otherwise
 *   where the existence check of the known ids (deletions) stands and when it last finished.
 * It is opaque to the engine and versioned (`v`), so a later format can read this one.
 */
import { PasserelleError } from '../../src/errors.js';
import type { ResourceKind } from '../../src/model/resources.js';

/** Versions taken inside the overlap window, at most this many per kind (the newest kept). */
export const SEEN_CAP = 1000;

export interface KindCursor {
  /** Initial load in progress: the page to fetch next (null: the first one), the newest `_lastUpdated` met. */
  load?: { next: string | null; top: string | null };
  /** Newest `_lastUpdated` fully taken; null until the initial load finished. */
  hwm: string | null;
  /** Inside an incremental round: the keyset boundary of the next page (`_lastUpdated=ge…`). */
  from?: string;
  /** Inside a round stalled on equal timestamps: the server's `next` link. */
  next?: string;
  /** id → [versionId, lastUpdated epoch ms] taken inside the overlap window. */
  seen: Record<string, [string, number]>;
  /** Type-level `_history` watermark (deletions), and the next page of a history round. */
  historySince?: string;
  historyNext?: string;
  /** The round's search is done; its deletions are being read (`_history`, or existence checks). */
  phase?: 'history' | 'reconcile';
  /** When the server refused type-level `_history` (4xx): deletions come from existence checks for a day. */
  historyRefused?: string;
  /** Existence checks: when the last one finished, and the canonical id the one in progress is past. */
  reconciledAt?: string;
  reconcileAfter?: string;
}

export interface PullCursor {
  readonly v: 1;
  /** Index in the link's pull order of the kind being pulled; 0 starts a round. */
  at: number;
  /**
   * The server's clock when the round began (HTTP Date): no kind takes a resource changed after
   * it, so a record never arrives before one it refers to that changed at the same time (those
   * come with the next round, all of them).
   */
  cap?: string;
  kinds: Partial<Record<ResourceKind, KindCursor>>;
}

export function emptyCursor(): PullCursor {
  return { v: 1, at: 0, kinds: {} };
}

export function decodeCursor(text: string | null): PullCursor {
  if (text === null || text === '') return emptyCursor();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new PasserelleError(
      'ERR_CONNECTOR_CONFIG_INVALID',
      "the stored FHIR poll cursor is not JSON; reset the link's cursor",
      { cause: e },
    );
  }
  const c = parsed as Partial<PullCursor> | null;
  if (
    c === null ||
    typeof c !== 'object' ||
    c.v !== 1 ||
    typeof c.at !== 'number' ||
    typeof c.kinds !== 'object' ||
    c.kinds === null
  ) {
    throw new PasserelleError(
      'ERR_CONNECTOR_CONFIG_INVALID',
      "the stored FHIR poll cursor has an unknown format; reset the link's cursor",
    );
  }
  return c as PullCursor;
}

export function encodeCursor(c: PullCursor): string {
  return JSON.stringify(c);
}

/** Keeps the versions whose `_lastUpdated` is at or after `floorMs`, at most SEEN_CAP (the newest). */
export function pruneSeen(seen: KindCursor['seen'], floorMs: number): KindCursor['seen'] {
  const kept = Object.entries(seen).filter(([, [, at]]) => at >= floorMs);
  if (kept.length > SEEN_CAP) kept.sort((a, b) => b[1][1] - a[1][1]).splice(SEEN_CAP);
  return Object.fromEntries(kept);
}
