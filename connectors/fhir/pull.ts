/**
 * Pulling from a FHIR R4 server (design rule 5: polling is the truth). One call returns one
 * page of one kind; the engine commits it with the returned cursor before asking for the next,
 * so memory holds one page at a time and a crash re-fetches at most the page in flight.
 *
 * Kinds go in dependency order (config.ts PULL_ORDER). For each kind:
 * 1. **Initial load**: `Type?_sort=-_lastUpdated&_count=N`, following `link[next]` (stored in
 *    the cursor). Newest first so that resources changed while the load runs move *ahead* of
 *    the page being read: the pages after shift back, a resource may be read twice (skipped by
 *    version) but none is skipped; the changed ones are newer than the load's first page and
 *    come with the next round. No `_lastUpdated` filter: on large stores servers are slow to
 *    apply one (search.html#date), sorting alone is cheap.
 * 2. **Rounds**: `Type?_lastUpdated=ge<high-water mark − overlap>&_sort=_lastUpdated&_count=N`,
 *    then keyset pages from the newest `_lastUpdated` of each page (the server's `next` link only
 *    while a page is all one timestamp). Versions already taken in the overlap window are
 *    skipped (`meta.versionId`, FHIR R4 resource.html#versions); the engine also treats an
 *    unchanged version as unchanged.
 * 3. **Deletions**: where the CapabilityStatement offers `history-type`, `Type/_history?_since=`
 *    after each round: a DELETE entry becomes a tombstone (cancellation, inactive). Without it
 *    (or when the server answers 4xx to it), an **existence check** at most every
 *    `reconcileMinutes`: the link's known ids of the kind (identity map, a page at a time) are
 *    searched by `_id=a,b,…`; an id the search does not return is read, and a 410/404 is a
 *    tombstone (a read that finds it means a lagging search index, not a deletion). A deleted
 *    resource is also met when passerelle next writes it (410 → tombstone, push.ts), and
 *    `entered-in-error` always is one.
 */
import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';

import type {
  ConnectorContext,
  ExternalRecord,
  InboundMessage,
  LinkMapping,
  PullPage,
} from '../../src/connector/contract.js';
import { isPasserelleError, type PasserelleError } from '../../src/errors.js';
import type { Logger } from '../../src/log/logger.js';
import type { FhirResource } from '../../src/mapping/run/types.js';
import type { ResourceKind } from '../../src/model/resources.js';
import type { ServerCapabilities } from './capabilities.js';
import type { FhirClient, FhirReadResult } from './client/index.js';
import type { FhirConfig } from './config.js';
import { decodeCursor, encodeCursor, type KindCursor, pruneSeen, type PullCursor } from './cursor.js';
import type { OwnWrites } from './own-writes.js';
import { creationSystem, identifierValue } from './push.js';
import { deletionRecord, mapInbound, refusedMessage } from './validate-edge.js';

export interface PullDeps {
  readonly client: FhirClient;
  readonly config: FhirConfig;
  /** Kinds configured for the link, in pull order. */
  readonly kinds: readonly ResourceKind[];
  readonly mapping: () => Promise<LinkMapping>;
  readonly capabilities: () => Promise<ServerCapabilities>;
  readonly ownWrites: OwnWrites;
  /** The link's known ids (identity map), for the existence check; without it, none is made. */
  readonly knownIds?: ConnectorContext['knownIds'];
  readonly log: Logger;
  readonly now: () => number;
  readonly signal: AbortSignal;
}

type Invalid = InboundMessage & { readonly error: PasserelleError };

/** Ids checked by one search (`_id=a,b,…`): at most 50 × 64 characters, under any server's URL limit. */
export const RECONCILE_BATCH = 50;
/** A server that refused type-level `_history` is asked again after this long (an upgrade may add it). */
const HISTORY_RETRY_MS = 24 * 60 * 60_000;
/** FHIR R4 ids (datatypes.html#id): only those can go in an `_id` search. */
const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;
const httpStatusOf = (e: unknown): number | undefined => {
  const s = isPasserelleError(e) ? e.details['httpStatus'] : undefined;
  return typeof s === 'number' ? s : undefined;
};

/** passerelle's canonical ids (crypto.randomUUID). */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface KindPage {
  readonly records: ExternalRecord[];
  readonly invalid: Invalid[];
  /** The kind has nothing more this round. */
  readonly done: boolean;
}

const iso = (ms: number): string => new Date(ms).toISOString();
const lastUpdatedMs = (r: Resource | undefined): number => {
  const t = r?.meta?.lastUpdated ? Date.parse(r.meta.lastUpdated) : Number.NaN;
  return Number.isNaN(t) ? 0 : t;
};
const nextLink = (b: Bundle): string | undefined => b.link?.find((l) => l.relation === 'next')?.url;
const bundleAt = (url: string): Bundle => ({
  resourceType: 'Bundle',
  type: 'searchset',
  link: [{ relation: 'next', url }],
});

export function createPull(deps: PullDeps): (cursor: string | null) => Promise<PullPage> {
  const { client, config, log } = deps;
  const overlapMs = config.overlapSeconds * 1000;
  const count = config.pageSize;

  /** One page (a search, or a stored `next` link), and the server's clock when it answered. */
  async function fetchPage(
    read: () => Promise<FhirReadResult<Bundle> | undefined>,
  ): Promise<{ bundle: Bundle; serverNow: number | undefined }> {
    const r = await read();
    // The Date header has second precision: the answer left within the second after it.
    const date = r?.date ? Date.parse(r.date) + 999 : Number.NaN;
    return {
      bundle: r?.resource ?? { resourceType: 'Bundle', type: 'searchset' },
      serverNow: Number.isNaN(date) ? undefined : date,
    };
  }
  const follow = (url: string) => () => client.nextPage(bundleAt(url), { signal: deps.signal });
  const search = (type: ResourceKind, params: Record<string, string | number>) => () =>
    client.search<Resource>(type, params, { signal: deps.signal }) as Promise<FhirReadResult<Bundle>>;

  /**
   * Maps the page's resources of `type`, leaving out versions already taken, passerelle's own
   * writes, and resources changed after the round's cap. `newest`: the newest `_lastUpdated`
   * at or before the cap; `beyondCap`: some entry was after it.
   */
  function takeEntries(
    type: ResourceKind,
    entries: readonly BundleEntry[],
    m: LinkMapping,
    ks: KindCursor,
    cap: number,
    remember: (lu: number) => boolean,
  ) {
    const records: ExternalRecord[] = [];
    const invalid: Invalid[] = [];
    let newest = 0;
    let beyondCap = false;
    for (const e of entries) {
      if (e.search?.mode !== undefined && e.search.mode !== 'match') continue;
      const r = e.resource;
      if (!r || r.resourceType !== type) continue;
      const lu = lastUpdatedMs(r);
      if (lu > cap) {
        beyondCap = true;
        continue;
      }
      newest = Math.max(newest, lu);
      const id = r.id ?? '';
      const version = r.meta?.versionId;
      if (version !== undefined && ks.seen[id]?.[0] === version) continue;
      const own = deps.ownWrites.check(
        type,
        id,
        version,
        ((r as { identifier?: unknown }).identifier as { system?: unknown; value?: unknown }[] | undefined) ??
          [],
      );
      // A creation of ours not answered yet: not marked as taken, so the next round reads it
      // again, by when its id is committed (or it is recognised as written).
      if (own === 'pending') continue;
      if (version !== undefined && remember(lu)) ks.seen[id] = [version, lu];
      if (own === 'written') continue;
      const mapped = mapInbound(m.plan, m.context, r as unknown as FhirResource);
      if (!mapped.ok) {
        invalid.push(refusedMessage(r as unknown as FhirResource, mapped.error));
        log.warn('fhir resource refused', {
          resourceType: type,
          code: mapped.error.code,
          issues: mapped.error.issues.map((i) => i.path),
        });
      } else if (mapped.record) {
        // A record passerelle created here carries its canonical id (a UUID) as key: read back
        // before its id was committed (a crash in between), it is that record, not a new one.
        const key = identifierValue(
          r as { identifier?: unknown },
          creationSystem(type, deps.config.identifierSystem, m.plan),
        );
        records.push(
          key !== undefined && UUID.test(key) ? { ...mapped.record, writtenAs: key } : mapped.record,
        );
      }
    }
    return { records, invalid, newest, beyondCap };
  }

  async function loadPage(
    type: ResourceKind,
    ks: KindCursor,
    m: LinkMapping,
    cursor: PullCursor,
  ): Promise<KindPage> {
    const load = ks.load ?? { next: null, top: null };
    const startedAt = deps.now();
    const { bundle, serverNow } = await fetchPage(
      load.next !== null ? follow(load.next) : search(type, { _sort: '-_lastUpdated', _count: count }),
    );
    if (cursor.cap === undefined && serverNow !== undefined) cursor.cap = iso(serverNow);
    const cap = cursor.cap === undefined ? Number.POSITIVE_INFINITY : Date.parse(cursor.cap);
    const entries = bundle.entry ?? [];
    // Newest first: the first resource taken is the load's high-water mark.
    const firstTaken = entries
      .map((e) => e.resource)
      .find((r) => r?.resourceType === type && lastUpdatedMs(r) <= cap);
    const top = load.top ?? (firstTaken ? iso(lastUpdatedMs(firstTaken)) : null);
    const floor = top === null ? Number.POSITIVE_INFINITY : Date.parse(top) - overlapMs;
    const taken = takeEntries(type, entries, m, ks, cap, (lu) => lu >= floor);
    const next = nextLink(bundle);
    ks.seen = pruneSeen(ks.seen, floor);
    if (next !== undefined) {
      ks.load = { next, top };
      log.debug('fhir initial load page', {
        resourceType: type,
        entries: entries.length,
        records: taken.records.length,
        invalid: taken.invalid.length,
      });
      return { records: taken.records, invalid: taken.invalid, done: false };
    }
    // Finished: rounds start from the newest resource taken, deletions from when the load began.
    delete ks.load;
    ks.hwm = top;
    if (top !== null) ks.historySince = iso(startedAt - overlapMs);
    // Everything that existed when the load began was just read: the first existence check can wait.
    ks.reconciledAt = iso(startedAt);
    log.info('fhir initial load done', { resourceType: type });
    return { records: taken.records, invalid: taken.invalid, done: true };
  }

  async function roundPage(
    type: ResourceKind,
    ks: KindCursor,
    m: LinkMapping,
    hwm: string,
    cursor: PullCursor,
  ): Promise<KindPage> {
    const since = ks.from ?? iso(Date.parse(hwm) - overlapMs);
    const { bundle, serverNow } = await fetchPage(
      ks.next !== undefined
        ? follow(ks.next)
        : search(type, { _lastUpdated: `ge${since}`, _sort: '_lastUpdated', _count: count }),
    );
    if (cursor.cap === undefined && serverNow !== undefined) cursor.cap = iso(serverNow);
    const cap = cursor.cap === undefined ? Number.POSITIVE_INFINITY : Date.parse(cursor.cap);
    const entries = bundle.entry ?? [];
    const taken = takeEntries(type, entries, m, ks, cap, () => true);
    const next = nextLink(bundle);
    const newest = Math.max(taken.newest, Date.parse(since));
    // Sorted oldest first: past the cap, the rest of the kind waits for the next round.
    if (next === undefined || taken.beyondCap) {
      ks.hwm = iso(Math.max(Date.parse(hwm), taken.newest));
      delete ks.from;
      delete ks.next;
      ks.seen = pruneSeen(ks.seen, Date.parse(ks.hwm) - overlapMs);
      return { records: taken.records, invalid: taken.invalid, done: true };
    }
    if (newest > Date.parse(since)) {
      // Keyset: the next page starts at the newest timestamp of this one (entries at exactly
      // that instant are read again and skipped by version).
      ks.from = iso(newest);
      delete ks.next;
    } else {
      // A whole page at one instant: only the server's paging moves past it.
      ks.next = next;
    }
    ks.seen = pruneSeen(ks.seen, newest - overlapMs);
    return { records: taken.records, invalid: taken.invalid, done: false };
  }

  async function historyPage(type: ResourceKind, ks: KindCursor): Promise<KindPage> {
    const startedAt = deps.now();
    const since = ks.historySince ?? iso(startedAt - overlapMs);
    let bundle: Bundle;
    try {
      ({ bundle } = await fetchPage(
        ks.historyNext !== undefined
          ? follow(ks.historyNext)
          : () =>
              client.historyType(type, { _since: since, _count: count }, { signal: deps.signal }) as Promise<
                FhirReadResult<Bundle>
              >,
      ));
    } catch (e) {
      const status = httpStatusOf(e);
      // Listed but refused (404, 405, 400 not-supported…, or 501): existence checks instead.
      if (
        status === undefined ||
        !(
          (status >= 400 && status < 500 && status !== 401 && status !== 403 && status !== 429) ||
          status === 501
        )
      )
        throw e;
      log.warn('fhir type-level history refused; deletions are found by existence checks', {
        resourceType: type,
        status,
      });
      ks.historyRefused = iso(startedAt);
      delete ks.historyNext;
      if (deps.knownIds === undefined) return { records: [], invalid: [], done: true };
      ks.phase = 'reconcile';
      delete ks.reconcileAfter;
      return { records: [], invalid: [], done: false };
    }
    const records: ExternalRecord[] = [];
    // Newest entry first (http.html#history): a resource deleted then created again is not deleted.
    const latest = new Set<string>();
    for (const e of bundle.entry ?? []) {
      const url = e.request?.url ?? e.fullUrl ?? '';
      const id = e.resource?.id ?? new RegExp(`(?:^|/)${type}/([^/?#]+)`).exec(url)?.[1];
      if (id === undefined || latest.has(id)) continue;
      latest.add(id);
      const deleted =
        e.request?.method === 'DELETE' ||
        (e.resource === undefined && (e.response?.status ?? '').startsWith('410'));
      if (deleted) records.push(deletionRecord(type, id));
    }
    const next = nextLink(bundle);
    if (next !== undefined) {
      ks.historyNext = next;
      return { records, invalid: [], done: false };
    }
    delete ks.historyNext;
    ks.historySince = iso(startedAt - overlapMs);
    if (records.length > 0)
      log.info('fhir deletions pulled', { resourceType: type, deleted: records.length });
    return { records, invalid: [], done: true };
  }

  /**
   * One batch of the existence check: the next known ids of the kind, searched by `_id`; those
   * the search leaves out are read, and a 410/404 is a tombstone. Done when no id is left.
   */
  async function reconcilePage(
    type: ResourceKind,
    ks: KindCursor,
    knownIds: NonNullable<PullDeps['knownIds']>,
  ): Promise<KindPage> {
    const known = await knownIds(type, ks.reconcileAfter ?? null, Math.min(count, RECONCILE_BATCH));
    const last = known.at(-1);
    if (last === undefined) {
      delete ks.reconcileAfter;
      ks.reconciledAt = iso(deps.now());
      return { records: [], invalid: [], done: true };
    }
    const ids = [...new Set(known.map((k) => k.externalId))].filter((id) => FHIR_ID.test(id));
    const found = new Set<string>();
    if (ids.length > 0) {
      let { bundle } = await fetchPage(search(type, { _id: ids.join(','), _count: ids.length }));
      // A server may answer fewer than `_count`: its pages, at most one per id.
      for (let pages = 1; ; pages++) {
        for (const e of bundle.entry ?? [])
          if (e.resource?.resourceType === type && e.resource.id !== undefined) found.add(e.resource.id);
        const next = nextLink(bundle);
        if (next === undefined || pages >= ids.length) break;
        ({ bundle } = await fetchPage(follow(next)));
      }
    }
    const records: ExternalRecord[] = [];
    for (const id of ids) {
      if (found.has(id)) continue;
      try {
        // A search index behind the store is not a deletion: only the read decides.
        await client.read(type, id, { signal: deps.signal });
      } catch (e) {
        const status = httpStatusOf(e);
        if (status === 410 || status === 404) records.push(deletionRecord(type, id));
        else if (status !== undefined && status >= 400 && status < 500)
          log.warn('fhir existence check: read refused; not taken as deleted', {
            resourceType: type,
            status,
          });
        else throw e;
      }
    }
    ks.reconcileAfter = last.canonicalId;
    if (records.length > 0)
      log.info('fhir deletions found by existence check', { resourceType: type, deleted: records.length });
    return { records, invalid: [], done: false };
  }

  /** Which deletion phase follows a kind's round, if any. */
  function deletionPhase(
    kind: ResourceKind,
    ks: KindCursor,
    caps: ServerCapabilities | undefined,
  ): KindCursor['phase'] {
    if (caps === undefined) return undefined;
    const now = deps.now();
    if (ks.historyRefused !== undefined && now - Date.parse(ks.historyRefused) > HISTORY_RETRY_MS)
      delete ks.historyRefused;
    if (
      ks.historySince !== undefined &&
      ks.historyRefused === undefined &&
      caps.interaction(kind, 'history-type')
    )
      return 'history';
    if (deps.knownIds === undefined) return undefined;
    const due =
      ks.reconciledAt === undefined || now - Date.parse(ks.reconciledAt) >= config.reconcileMinutes * 60_000;
    return due ? 'reconcile' : undefined;
  }

  return async function pull(cursorText: string | null): Promise<PullPage> {
    const cursor = decodeCursor(cursorText);
    const m = await deps.mapping();
    const kinds = deps.kinds.filter((k) => m.plan.kinds[k]?.inbound === true);
    let caps: ServerCapabilities | undefined;
    if (config.history === 'auto') {
      caps = await deps.capabilities().catch((e: unknown) => {
        if (!isPasserelleError(e)) throw e;
        log.warn('fhir capability statement unavailable; deletions are not polled this time', {
          code: e.code,
        });
        return undefined;
      });
    }
    while (cursor.at < kinds.length) {
      const kind = kinds[cursor.at] as ResourceKind;
      const ks = (cursor.kinds[kind] ??= { hwm: null, seen: {} });
      let page: KindPage;
      // An initial load's next page depends on this cursor alone (no store read, no cap): it
      // may be fetched while this one commits.
      let ahead = false;
      if (ks.hwm === null) {
        page = await loadPage(kind, ks, m, cursor);
        ahead = !page.done;
      } else if (ks.phase === 'history') {
        page = await historyPage(kind, ks);
        if (page.done) delete ks.phase;
      } else if (ks.phase === 'reconcile') {
        page =
          deps.knownIds === undefined
            ? { records: [], invalid: [], done: true }
            : await reconcilePage(kind, ks, deps.knownIds);
        if (page.done) delete ks.phase;
      } else {
        page = await roundPage(kind, ks, m, ks.hwm, cursor);
        const deletions = page.done ? deletionPhase(kind, ks, caps) : undefined;
        if (deletions !== undefined) {
          ks.phase = deletions;
          delete ks.reconcileAfter;
          page = { ...page, done: false };
        }
      }
      if (page.done) cursor.at++;
      const last = cursor.at >= kinds.length;
      if (last) {
        // The round is over: the next one takes a new cap.
        cursor.at = 0;
        delete cursor.cap;
      }
      if (page.records.length > 0 || page.invalid.length > 0 || !page.done || last) {
        return {
          records: page.records,
          ...(page.invalid.length > 0 && { invalid: page.invalid }),
          next: encodeCursor(cursor),
          hasMore: !last,
          ...(ahead && { ahead: true }),
        };
      }
    }
    cursor.at = 0;
    delete cursor.cap;
    return { records: [], next: encodeCursor(cursor), hasMore: false };
  };
}
