/**
 * The practice's canonical practitioners (GET /api/v1/practitioners, src/api/routes/
 * practitioner-mappings.ts): pickers and tables show their names, not their ids.
 */
import { getJson, query } from '../api.js';
import { type Loaded, useLoad } from '../data.js';

export interface PractitionerItem {
  readonly id: string;
  readonly practiceId: string;
  readonly displayName: string;
  readonly family: string | null;
  readonly given: readonly string[];
  readonly prefix: readonly string[];
  readonly rpps: string | null;
}

/** Every practitioner of the practice (of every practice the session sees when null). */
export function usePractitioners(practiceId: string | null): Loaded<{ items: PractitionerItem[] }> {
  return useLoad(
    () =>
      getJson<{ items: PractitionerItem[] }>(`/api/v1/practitioners${query({ practiceId })}`).catch(() => ({
        items: [] as PractitionerItem[],
      })),
    [practiceId],
  );
}

/** « Dr MARTIN Claire (RPPS 10001234567) »: the name, and the RPPS that tells namesakes apart. */
export function practitionerLabel(p: PractitionerItem): string {
  return p.rpps ? `${p.displayName} (RPPS ${p.rpps})` : p.displayName;
}

/** The practitioner's name when the list knows it, else its id. */
export function practitionerName(items: readonly PractitionerItem[] | undefined, id: string): string {
  return items?.find((p) => p.id === id)?.displayName ?? id;
}
