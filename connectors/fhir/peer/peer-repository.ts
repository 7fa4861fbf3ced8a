import type { SearchRequest, SortRule, WithId } from '@medplum/core';
import { deepClone, evalFhirPath, getSearchParameter, matchesSearchRequest } from '@medplum/core';
import { MemoryRepository } from '@medplum/fhir-router';
import type { Bundle, Resource } from '@medplum/fhirtypes';

type ResourceMaps = Map<string, Map<string, Resource>>;

/**
 * Medplum's MemoryRepository with one change: `search` copies only the page it returns.
 *
 * The stock `search` deep-clones every match before slicing `_offset`/`_count`, so a page of
 * 1,000 out of 100,000 patients clones 100,000 resources (~0.6 s a page, measured). Filtering
 * is unchanged (the same `matchesSearchRequest` of @medplum/core); sorting computes each sort
 * key once per resource instead of once per comparison, and applies the `_sort` rules in the
 * order given, the first one deciding (FHIR R4 search.html#sort; the stock comparator let the
 * last rule win). Everything else — create, update with If-Match, vread, history, conditional
 * create/update/delete — is Medplum's own code.
 */
export class PeerRepository extends MemoryRepository {
  private readonly stored: ResourceMaps;

  constructor() {
    super();
    // MemoryRepository keeps resources in a TypeScript-private map; read it rather than copy the
    // repository. The check fails loudly if a Medplum upgrade renames it.
    const maps = (this as unknown as { resources?: unknown }).resources;
    if (!(maps instanceof Map))
      throw new Error('@medplum/fhir-router MemoryRepository layout changed: no resources map');
    this.stored = maps as ResourceMaps;
  }

  /** How many resources of a type are stored (current versions, deleted ones excluded). */
  countOf(resourceType: string): number {
    return this.stored.get(resourceType)?.size ?? 0;
  }

  /** Every stored resource, current versions (deleted ones excluded): to save the peer's state. */
  allResources(): Resource[] {
    return [...this.stored.values()].flatMap((byId) => [...byId.values()]);
  }

  override async search<T extends Resource>(searchRequest: SearchRequest<T>): Promise<Bundle<WithId<T>>> {
    const all = this.stored.get(searchRequest.resourceType);
    const matches: Resource[] = [];
    if (all) {
      for (const resource of all.values()) {
        if (matchesSearchRequest(resource, searchRequest)) matches.push(resource);
      }
    }
    const ordered = searchRequest.sortRules?.length
      ? sortResources(matches, searchRequest.sortRules)
      : matches;
    const offset = Math.max(0, searchRequest.offset ?? 0);
    const page =
      searchRequest.count === undefined
        ? ordered.slice(offset)
        : ordered.slice(offset, offset + Math.max(0, searchRequest.count));
    const bundle: Bundle<WithId<T>> = { resourceType: 'Bundle', type: 'searchset', total: matches.length };
    if (page.length > 0)
      bundle.entry = page.map((resource) => ({ resource: deepClone(resource) as WithId<T> }));
    return bundle;
  }
}

type SortKey = number | string | undefined;

function sortKey(resource: Resource, rule: SortRule): SortKey {
  // The two keys a poller sorts on, read directly (their expressions are Resource.meta.lastUpdated
  // and Resource.id) instead of through FHIRPath: 100,000 evaluations cost ~0.45 s a page.
  if (rule.code === '_lastUpdated') {
    const ms = resource.meta?.lastUpdated ? Date.parse(resource.meta.lastUpdated) : Number.NaN;
    return Number.isNaN(ms) ? undefined : ms;
  }
  if (rule.code === '_id') return resource.id;
  const param = getSearchParameter(resource.resourceType, rule.code);
  if (!param?.expression) return undefined;
  const values = evalFhirPath(param.expression, resource);
  const first = values[0];
  if (first === undefined || first === null) return undefined;
  if (param.type === 'date') {
    // Period-valued dates sort on their start; instants with offsets compare as instants.
    const text = typeof first === 'string' ? first : (first as { start?: string }).start;
    const ms = text === undefined ? Number.NaN : Date.parse(text);
    return Number.isNaN(ms) ? undefined : ms;
  }
  if (typeof first === 'string' || typeof first === 'number') return first;
  const coded = first as { value?: unknown; code?: unknown; family?: unknown; reference?: unknown };
  const picked = coded.value ?? coded.code ?? coded.family ?? coded.reference;
  return typeof picked === 'string' || typeof picked === 'number' ? picked : JSON.stringify(first);
}

function compareKeys(a: SortKey, b: SortKey): number {
  // Resources without a value sort last whatever the direction.
  if (a === undefined) return b === undefined ? 0 : 1;
  if (b === undefined) return -1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a).localeCompare(String(b));
}

function sortResources(resources: Resource[], rules: readonly SortRule[]): Resource[] {
  const keyed = resources.map((resource) => ({
    resource,
    keys: rules.map((rule) => sortKey(resource, rule)),
  }));
  keyed.sort((x, y) => {
    for (let i = 0; i < rules.length; i++) {
      const a = x.keys[i];
      const b = y.keys[i];
      if (a === undefined || b === undefined) {
        const c = compareKeys(a, b);
        if (c !== 0) return c;
        continue;
      }
      const c = compareKeys(a, b) * (rules[i]?.descending ? -1 : 1);
      if (c !== 0) return c;
    }
    return 0;
  });
  return keyed.map((k) => k.resource);
}
