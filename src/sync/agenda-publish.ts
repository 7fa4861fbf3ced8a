/**
 * Publication of the agenda to the secretariat platform (issue 20): a practitioner's free slots
 * (computed from the practice's agenda rules, over `agendaHorizonDays`) become the platform's
 * bookable slots, and the practice's coverage windows are shown to agents.
 *
 * Each change (rules, an appointment or a slot of the practitioner, the coverage windows) asks
 * for a publication in the transaction that made it: an outbox row (op `publish-slots` or
 * `publish-coverage`) to every enabled secretariat link of the practice, not before
 * `agendaDebounceMs`. A row still waiting covers any later change (coalesced): the dispatcher
 * computes what to publish when it sends the row, from the store as it is then. A failed
 * publication is retried like any outbox row (backoff, dead letter after maxAttempts, replay);
 * a success is audited. What the platform holds is remembered as the snapshot of the row's
 * record (its hash: nothing is sent when nothing changed; its version: If-Match).
 *
 * Time alone changes the plan too (an urgent-only slot released, the horizon moving on a day):
 * `due()` — run every minute, or by a test on its clock — asks again for the publications whose
 * `nextChangeAt` has come.
 */
import { createHash, randomUUID } from 'node:crypto';

import { DateTime } from 'luxon';

import {
  CoverageWindows,
  planCoveragePublication,
  planSlotPublication,
  type PlanWindow,
} from '../agenda/index.js';
import type { AgendaPublishResult, Connector } from '../connector/contract.js';
import { PasserelleError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { Repos, Store } from '../store/index.js';
import { type JsonObject, type Link, type OutboxItem, PRIORITY } from '../store/types.js';
import { agendaStateOf, rulesOf } from './agenda-rules.js';

export const PUBLISH_SLOTS_OP = 'publish-slots';
export const PUBLISH_COVERAGE_OP = 'publish-coverage';
/** The outbox kind of both (the platform's schedule of the practitioner or practice). */
const KIND = 'Schedule' as const;

export const slotsRecordId = (practitionerId: string): string => `agenda-slots:${practitionerId}`;
export const coverageRecordId = (practiceId: string): string => `agenda-coverage:${practiceId}`;

export const isAgendaPublication = (op: string): boolean =>
  op === PUBLISH_SLOTS_OP || op === PUBLISH_COVERAGE_OP;

export interface AgendaPublishSettings {
  readonly horizonDays: number;
  readonly debounceMs: number;
}
export const DEFAULT_AGENDA_PUBLISH: AgendaPublishSettings = { horizonDays: 28, debounceMs: 2_000 };

type Tx = Pick<Repos, 'agenda' | 'links' | 'outbox'>;

async function request(
  tx: Tx,
  practiceId: string,
  recordId: string,
  op: string,
  payload: JsonObject,
  notBefore: number,
): Promise<number> {
  let enqueued = 0;
  const links = (await tx.links.list({ practiceId, enabled: true })).filter((l) => l.role === 'secretariat');
  for (const link of links) {
    // A row still waiting is computed when it is sent: it already covers this change.
    const waiting = await tx.outbox.list({ linkId: link.id, recordId, status: 'pending', limit: 1 });
    if (waiting.length > 0) continue;
    await tx.outbox.enqueue({
      practiceId,
      linkId: link.id,
      kind: KIND,
      recordId,
      op,
      payload,
      // Below the records' own changes: a booking reaches the platform before the slots it fills.
      priority: PRIORITY.low,
      idempotencyKey: `${link.id}:${recordId}:${randomUUID()}`,
      notBefore,
    });
    enqueued++;
  }
  return enqueued;
}

/**
 * Asks for a publication of the practitioner's free slots, in the caller's transaction; nothing
 * when the practitioner has no rules. Returns the rows enqueued (0 when coalesced).
 */
export async function requestSlotPublication(
  tx: Tx,
  practiceId: string,
  practitionerId: string,
  notBefore: number,
  /** Whether the practitioner has rules, when the caller read it already (an ingest's memo). */
  hasRules?: boolean,
): Promise<number> {
  if (!(hasRules ?? (await tx.agenda.getRules(practiceId, practitionerId)) !== undefined)) return 0;
  return request(
    tx,
    practiceId,
    slotsRecordId(practitionerId),
    PUBLISH_SLOTS_OP,
    { practitionerId },
    notBefore,
  );
}

/** Asks for a publication of the practice's coverage windows (nothing when it has none). */
export async function requestCoveragePublication(
  tx: Tx,
  practiceId: string,
  notBefore: number,
): Promise<number> {
  if (!(await tx.agenda.getCoverage(practiceId))) return 0;
  return request(tx, practiceId, coverageRecordId(practiceId), PUBLISH_COVERAGE_OP, {}, notBefore);
}

/** What the dispatcher does with a publication row. */
export type PublishOutcome =
  | { readonly kind: 'pushed' }
  | { readonly kind: 'skipped'; readonly reason: string }
  | { readonly kind: 'defer'; readonly ms: number; readonly code: string; readonly error: string }
  | { readonly kind: 'fail'; readonly error: PasserelleError };

/** What the snapshot of a publication keeps (no patient data: counts and instants). */
interface PublishedState extends JsonObject {
  from: string;
  to: string;
  items: number;
  nextChangeAt: string;
}

const hashOf = (value: unknown): string => createHash('sha256').update(JSON.stringify(value)).digest('hex');

/** The next local midnight in the zone: when the horizon takes in a new day. */
const nextMidnight = (now: number, zone: string): string =>
  DateTime.fromMillis(now, { zone }).startOf('day').plus({ days: 1 }).toUTC().toISO() as string;

export class AgendaPublisher {
  readonly settings: AgendaPublishSettings;

  constructor(
    private readonly store: Store,
    private readonly log: Logger,
    settings: Partial<AgendaPublishSettings> = {},
  ) {
    this.settings = { ...DEFAULT_AGENDA_PUBLISH, ...settings };
  }

  private window(): PlanWindow {
    return { now: new Date(this.store.now()).toISOString(), horizonDays: this.settings.horizonDays };
  }

  /** Sends one publication row through the link's connector; completes the row itself on success. */
  async publish(item: OutboxItem, link: Link, connector: Connector): Promise<PublishOutcome> {
    return item.op === PUBLISH_SLOTS_OP
      ? this.publishSlots(item, link, connector)
      : this.publishCoverage(item, link, connector);
  }

  private async publishSlots(item: OutboxItem, link: Link, connector: Connector): Promise<PublishOutcome> {
    const { store } = this;
    if (!connector.publishSlots) return { kind: 'skipped', reason: 'unsupported' };
    const practitionerId = String(item.payload['practitionerId']);
    const rules = await rulesOf(store, item.practiceId, practitionerId);
    if (!rules) return { kind: 'skipped', reason: 'no-rules' };
    const [externalId] = await store.identityMap.findExternal(link.id, 'Practitioner', practitionerId);
    if (externalId === undefined) {
      const queued = [
        ...(await store.outbox.list({
          linkId: link.id,
          recordId: practitionerId,
          status: 'pending',
          limit: 1,
        })),
        ...(await store.outbox.list({
          linkId: link.id,
          recordId: practitionerId,
          status: 'leased',
          limit: 1,
        })),
      ];
      if (queued.length > 0)
        return {
          kind: 'defer',
          ms: 1000,
          code: 'ERR_SYNC_UNKNOWN_REFERENCE',
          error: `waits for Practitioner ${practitionerId} to reach the link`,
        };
      return {
        kind: 'fail',
        error: new PasserelleError(
          'ERR_SYNC_UNKNOWN_REFERENCE',
          `the practitioner's slots cannot be published: Practitioner ${practitionerId} is not on link ${link.id}`,
          { details: { kind: 'Practitioner', recordId: practitionerId } },
        ),
      };
    }
    const window = this.window();
    const to = new Date(Date.parse(window.now) + window.horizonDays * 86_400_000).toISOString();
    const state = await agendaStateOf(store, item.practiceId, practitionerId, rules, window.now, to);
    const plan = planSlotPublication(rules, state, window);
    const slots = plan.slots.map(({ start, end, status, visitType }) => ({ start, end, status, visitType }));
    const hash = hashOf(slots);
    const published: PublishedState = {
      from: plan.from,
      to: plan.to,
      items: slots.length,
      nextChangeAt: plan.nextChangeAt,
    };
    return this.send(
      item,
      link,
      hash,
      published,
      { practitionerId, slots: slots.length },
      (expectedVersion) =>
        (connector.publishSlots as NonNullable<Connector['publishSlots']>)({
          practitionerExternalId: externalId,
          from: plan.from,
          to: plan.to,
          slots,
          expectedVersion,
          idempotencyKey: `${item.idempotencyKey}:${hash.slice(0, 16)}`,
        }),
    );
  }

  private async publishCoverage(item: OutboxItem, link: Link, connector: Connector): Promise<PublishOutcome> {
    if (!connector.publishCoverage) return { kind: 'skipped', reason: 'unsupported' };
    const stored = await this.store.agenda.getCoverage(item.practiceId);
    if (!stored) return { kind: 'skipped', reason: 'no-coverage' };
    const plan = planCoveragePublication(CoverageWindows.parse(stored.windows), this.window());
    const hash = hashOf({ timeZone: plan.timeZone, windows: plan.windows });
    const published: PublishedState = {
      from: plan.from,
      to: plan.to,
      items: plan.windows.length,
      nextChangeAt: nextMidnight(Date.parse(plan.from), plan.timeZone),
    };
    return this.send(item, link, hash, published, { windows: plan.windows.length }, (expectedVersion) =>
      (connector.publishCoverage as NonNullable<Connector['publishCoverage']>)({
        ...plan,
        expectedVersion,
        idempotencyKey: `${item.idempotencyKey}:${hash.slice(0, 16)}`,
      }),
    );
  }

  private async send(
    item: OutboxItem,
    link: Link,
    hash: string,
    published: PublishedState,
    details: JsonObject,
    call: (expectedVersion: string | null) => Promise<AgendaPublishResult>,
  ): Promise<PublishOutcome> {
    const { store } = this;
    const snapshot = await store.snapshots.get(link.id, KIND, item.recordId);
    const snap = { linkId: link.id, kind: KIND, canonicalId: item.recordId };
    if (snapshot && snapshot.hash === hash) {
      // Same slots as the platform holds: nothing to send; the refresh time may have moved.
      await store.snapshots.put({
        ...snap,
        data: published,
        hash,
        externalVersion: snapshot.externalVersion,
      });
      return { kind: 'skipped', reason: 'already-there' };
    }
    const result = await call(snapshot?.externalVersion ?? null);
    if (!result.ok) {
      if (result.currentVersion !== undefined) {
        // Someone published meanwhile (another instance, a restored platform): publish over its
        // version on the next attempt, computed again from the store then.
        await store.snapshots.put({
          ...snap,
          data: published,
          hash: '',
          externalVersion: result.currentVersion,
        });
        return {
          kind: 'fail',
          error: new PasserelleError('ERR_SECRETARIAT_VERSION_CONFLICT', result.error.message, {
            retryable: true,
            details: { recordId: item.recordId },
          }),
        };
      }
      return { kind: 'fail', error: result.error };
    }
    await store.transaction(async (tx) => {
      await tx.snapshots.put({ ...snap, data: published, hash, externalVersion: result.version });
      await tx.outbox.complete(item.seq, { version: result.version, items: published.items });
      await tx.audit.append({
        actor: `link:${link.id}`,
        action: item.op === PUBLISH_SLOTS_OP ? 'agenda.slots.publish' : 'agenda.coverage.publish',
        practiceId: item.practiceId,
        resourceType: item.op === PUBLISH_SLOTS_OP ? 'Practitioner' : 'Practice',
        resourceId: item.op === PUBLISH_SLOTS_OP ? String(item.payload['practitionerId']) : item.practiceId,
        outcome: 'success',
        via: 'sync',
        details: {
          linkId: link.id,
          version: result.version,
          from: published.from,
          to: published.to,
          ...details,
        },
      });
    });
    this.log.debug('agenda published', { linkId: link.id, recordId: item.recordId, version: result.version });
    return { kind: 'pushed' };
  }

  /**
   * Asks again for the publications that time alone changed (an urgent-only slot's release,
   * the horizon's next day) and for those never made. Returns the rows enqueued.
   */
  async due(): Promise<number> {
    const { store } = this;
    const now = store.now();
    let enqueued = 0;
    for (const practice of await store.practices.list()) {
      const links = (await store.links.list({ practiceId: practice.id, enabled: true })).filter(
        (l) => l.role === 'secretariat',
      );
      if (links.length === 0) continue;
      const isDue = async (recordId: string) => {
        for (const link of links) {
          // One waiting in dead letters is the operator's: time alone does not add another
          // every minute (a change still asks for a publication).
          const parked = await store.deadLetters.list({
            status: 'open',
            linkId: link.id,
            recordId,
            limit: 1,
          });
          if (parked.length > 0) continue;
          const snap = await store.snapshots.get(link.id, KIND, recordId);
          const next = snap?.data['nextChangeAt'];
          if (typeof next !== 'string' || Date.parse(next) <= now) return true;
        }
        return false;
      };
      for (const r of await store.agenda.listRules(practice.id))
        if (await isDue(slotsRecordId(r.practitionerId)))
          enqueued += await store.transaction((tx) =>
            requestSlotPublication(tx, practice.id, r.practitionerId, now),
          );
      if ((await store.agenda.getCoverage(practice.id)) && (await isDue(coverageRecordId(practice.id))))
        enqueued += await store.transaction((tx) => requestCoveragePublication(tx, practice.id, now));
    }
    return enqueued;
  }
}
