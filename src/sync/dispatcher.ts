/**
 * The outbox dispatcher (design rule 3). It leases ready rows (most urgent first, one change of
 * a record at a time, in order), rewrites canonical references into the target's ids, pushes
 * through the link's connector, and then, in one transaction, completes the row and records the
 * target's identity and snapshot (the merge base and echo hash of design rule 6). A failure is
 * retried with exponential backoff and full jitter, honouring Retry-After; a poison change is
 * parked in dead letters after `maxAttempts`, with one alert per record and cause. A 412 from the
 * peer re-merges its current record and sends the result again, or opens a conflict.
 *
 * A lease outlives a crash: another instance, or this one after a restart, takes the row once
 * the lease expires and pushes it again with the same idempotency key (design rule 4).
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';

import type {
  Connector,
  OutboundChange,
  OutboundOp,
  PushResult,
  RelatedChangeRecord,
} from '../connector/contract.js';
import { isPasserelleError, PasserelleError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { fieldsHash } from '../model/fields.js';
import type { CanonicalResource } from '../model/resources.js';
import type { Store } from '../store/index.js';
import type { JsonObject, Link, OutboxItem } from '../store/types.js';
import { backoffDelayMs } from '../util/retry.js';
import { recordPushed } from './activity.js';
import { type AgendaPublisher, isAgendaPublication } from './agenda-publish.js';
import type { OutboxPayload, SyncEngine } from './engine.js';
import { supersededKey } from './patient-match.js';
import { collectRefs, type RecordRef, rewriteRefs } from './references.js';

/**
 * Retry delays of the outbox and of link restarts (design rule 3): exponential backoff with
 * full jitter (src/util/retry.ts), a random delay in [0, min(capMs, baseMs·2^(attempts-1))), so
 * many failed changes do not retry in lock-step.
 */
export interface BackoffOptions {
  readonly baseMs: number;
  readonly capMs: number;
  /** Injected for tests; Math.random by default. */
  readonly random?: () => number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 1000, capMs: 10 * 60_000 };

/**
 * Delay before attempt `attempts + 1`, after `attempts` failed attempts (1-based). A peer's
 * Retry-After (RFC 9110 §10.2.3) is a floor: the outbox never retries sooner than it asks.
 */
export function backoffDelay(
  attempts: number,
  options: BackoffOptions = DEFAULT_BACKOFF,
  retryAfterSeconds?: number,
): number {
  const jittered = backoffDelayMs(
    attempts,
    { baseDelayMs: options.baseMs, maxDelayMs: options.capMs, jitter: 'full' },
    options.random,
  );
  const floor =
    retryAfterSeconds !== undefined && retryAfterSeconds > 0 ? Math.ceil(retryAfterSeconds * 1000) : 0;
  return Math.max(jittered, floor);
}

export interface DispatcherTuning {
  /** Attempts before a change goes to dead letters. */
  readonly maxAttempts: number;
  /** How long a leased row is ours; a crashed holder's rows are taken over after it. */
  readonly leaseMs: number;
  readonly batchSize: number;
  readonly backoff: BackoffOptions;
  /** Longest sleep when idle; new rows wake the dispatcher at once in-process. */
  readonly idleWakeMs: number;
  /** A push not answered within this is treated as a timeout (retried, same idempotency key). */
  readonly pushTimeoutMs: number;
  /** Links pushed to in parallel; each link's rows go one after another. */
  readonly concurrency: number;
  /** How soon a row waiting on another record (a dependency, a review) looks again. */
  readonly dependencyWaitMs: number;
  readonly reviewWaitMs: number;
}

export const DEFAULT_DISPATCHER: DispatcherTuning = {
  maxAttempts: 10,
  leaseMs: 60_000,
  batchSize: 50,
  backoff: DEFAULT_BACKOFF,
  idleWakeMs: 5_000,
  pushTimeoutMs: 30_000,
  concurrency: 4,
  dependencyWaitMs: 250,
  reviewWaitMs: 5 * 60_000,
};

export interface DispatchTarget {
  readonly link: Link;
  readonly connector: Connector;
}

export interface DispatcherOptions {
  readonly engine: SyncEngine;
  readonly log: Logger;
  /** The running connector of a link, or undefined when the link is not running here. */
  readonly target: (linkId: string) => DispatchTarget | undefined;
  readonly activeLinkIds: () => readonly string[];
  /** Told after each successful push (link status: last push time). */
  readonly onPushed?: (linkId: string) => void;
  readonly tuning?: Partial<DispatcherTuning>;
  readonly owner?: string;
  /** Sends the agenda publication rows (issue 20: free slots, coverage windows); skipped without it. */
  readonly agenda?: AgendaPublisher;
}

export interface DispatchStats {
  pushed: number;
  skipped: number;
  retried: number;
  dead: number;
  deferred: number;
  remerged: number;
}

type Outcome = keyof DispatchStats;

/** Whether a process of this host runs under `pid` (signal 0 checks without sending anything). */
function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it runs, under another user.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function asError(e: unknown): PasserelleError {
  if (isPasserelleError(e)) return e;
  return new PasserelleError(
    'ERR_CONNECTOR_UNAVAILABLE',
    `push failed: ${(e as Error)?.message ?? String(e)}`,
    { cause: e },
  );
}

export class Dispatcher {
  readonly owner: string;
  readonly tuning: DispatcherTuning;
  readonly stats: DispatchStats = { pushed: 0, skipped: 0, retried: 0, dead: 0, deferred: 0, remerged: 0 };
  private readonly store: Store;
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private dirty = false;
  private inFlight = 0;

  constructor(private readonly options: DispatcherOptions) {
    this.store = options.engine.store;
    this.tuning = { ...DEFAULT_DISPATCHER, ...options.tuning };
    this.owner = options.owner ?? `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  }

  /** New outbox rows were committed: look now rather than at the next timer. */
  notify(): void {
    this.dirty = true;
    this.wake?.();
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Stops leasing; resolves once the rows in flight are pushed and committed. */
  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
    this.loop = undefined;
  }

  busy(): boolean {
    return this.inFlight > 0;
  }

  private async run(): Promise<void> {
    await this.reclaimAbandoned().catch((e: unknown) =>
      this.options.log.warn('could not look for abandoned outbox leases', { err: e }),
    );
    while (this.running) {
      this.dirty = false;
      let handled = 0;
      try {
        handled = await this.runOnce();
      } catch (e) {
        this.options.log.error('dispatcher pass failed', { err: e });
      }
      if (!this.running) break;
      if (handled === 0 && !this.dirty) await this.sleep();
    }
  }

  private async sleep(): Promise<void> {
    let ms = this.tuning.idleWakeMs;
    try {
      const next = await this.store.outbox.nextReadyAt();
      if (next !== undefined) ms = Math.max(5, Math.min(ms, next - this.store.now()));
    } catch {
      // The store is down: the idle timer retries.
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
    this.wake = undefined;
  }

  /**
   * Takes back at once the rows leased by an instance of this host whose process is gone
   * (killed, crashed), rather than after `leaseMs`: that process cannot be pushing them any more,
   * so the restarted service resumes delivery right away, with the same idempotency keys
   * (design rule 4). Leases of other hosts, of a process that still runs (or whose pid was
   * reused), or of an owner named otherwise, run out as before.
   */
  async reclaimAbandoned(): Promise<number> {
    const prefix = `${hostname()}:`;
    let reclaimed = 0;
    for (const item of await this.store.outbox.list({ status: 'leased', limit: 1000 })) {
      const owner = item.leaseOwner;
      if (owner === null || owner === this.owner || !owner.startsWith(prefix)) continue;
      const pid = Number(owner.slice(prefix.length).split(':')[0]);
      if (!Number.isInteger(pid) || pid <= 0 || processRuns(pid)) continue;
      await this.store.outbox.defer(item.seq, owner, {
        at: this.store.now(),
        errorCode: 'ERR_SYNC_NOT_RUNNING',
        error: 'the instance that leased it stopped',
      });
      reclaimed++;
    }
    if (reclaimed > 0)
      this.options.log.info('outbox rows of a stopped instance taken back', { rows: reclaimed });
    return reclaimed;
  }

  /** Leases one batch and handles it; returns how many rows were handled. */
  async runOnce(): Promise<number> {
    const linkIds = this.options.activeLinkIds();
    if (linkIds.length === 0) return 0;
    // Taken before the claim, on this process's monotonic clock: the lease (on the database's
    // clock) cannot end before leasedAt + leaseMs.
    const leasedAt = performance.now();
    const items = await this.store.outbox.lease({
      owner: this.owner,
      limit: this.tuning.batchSize,
      leaseMs: this.tuning.leaseMs,
      linkIds,
    });
    if (items.length === 0) return 0;
    this.inFlight += items.length;
    try {
      const byLink = new Map<string, OutboxItem[]>();
      for (const item of items)
        (byLink.get(item.linkId) ?? byLink.set(item.linkId, []).get(item.linkId))?.push(item);
      const queues = [...byLink.values()];
      const workers = Array.from({ length: Math.min(this.tuning.concurrency, queues.length) }, async () => {
        for (let q = queues.shift(); q; q = queues.shift()) {
          // Once a push to this link fails, the rest of the link's batch goes back to the queue
          // untried: the peer is likely down, and were they tried now, the peer coming back
          // during the batch would get them before an urgent change that came in meanwhile
          // (the next pass leases urgent changes first; the lease query holds the others while
          // an urgent one backs off).
          let failed = false;
          for (const [n, item] of q.entries()) {
            const outcome = failed
              ? await this.defer(
                  item,
                  0,
                  'ERR_SYNC_HELD_AFTER_FAILURE',
                  'a change before it to the same link just failed',
                ).catch((e: unknown) => this.failSafe(item, e))
              : n > 0 && !this.leaseOutlastsPush(leasedAt)
                ? await this.defer(
                    item,
                    0,
                    'ERR_SYNC_LEASE_SHORT',
                    'its lease could run out before a push started now ends',
                  ).catch((e: unknown) => this.failSafe(item, e))
                : await this.handle(item).catch((e: unknown) => this.failSafe(item, e));
            if (outcome === 'retried') failed = true;
            this.stats[outcome]++;
          }
        }
      });
      await Promise.all(workers);
    } finally {
      this.inFlight -= items.length;
    }
    return items.length;
  }

  /**
   * Whether a push started now ends (or times out) before the batch's lease runs out. A batch's
   * rows are pushed one after another under one lease; were a late row pushed after its lease
   * ran out, another instance could have taken it and push it at the same time (issue 23). Such
   * rows go back to the queue untried instead. When the lease is no longer than the push timeout
   * (tuned so in tests), rows start within the first half of the lease.
   */
  private leaseOutlastsPush(leasedAt: number): boolean {
    const { leaseMs, pushTimeoutMs } = this.tuning;
    const margin = leaseMs > pushTimeoutMs ? pushTimeoutMs : leaseMs / 2;
    return performance.now() - leasedAt < leaseMs - margin;
  }

  /** Handles everything ready now, including rows made ready by re-merges (tests, CLI replay). */
  async drain(maxPasses = 1000): Promise<number> {
    let total = 0;
    for (let i = 0; i < maxPasses; i++) {
      const n = await this.runOnce();
      if (n === 0) break;
      total += n;
    }
    return total;
  }

  /** An unexpected error (the store failed mid-way): release the row for a later attempt. */
  private async failSafe(item: OutboxItem, e: unknown): Promise<Outcome> {
    this.options.log.error('dispatch failed unexpectedly', { seq: item.seq, linkId: item.linkId, err: e });
    await this.store.outbox
      .retry(item.seq, this.owner, {
        at: this.store.now() + backoffDelay(item.attempts, this.tuning.backoff),
        errorCode: 'ERR_INTERNAL',
        error: 'dispatch failed unexpectedly',
      })
      .catch(() => undefined);
    return 'retried';
  }

  private async handle(item: OutboxItem): Promise<Outcome> {
    const { store } = this;
    const target = this.options.target(item.linkId);
    if (!target) return this.defer(item, 1000, 'ERR_SYNC_NOT_RUNNING', `link ${item.linkId} is not running`);
    if (isAgendaPublication(item.op)) return this.publishAgenda(item, target);
    const payload = item.payload as unknown as OutboxPayload;
    const op = item.op as OutboundOp;

    // Every row carries the full state wanted on the target: a later one supersedes this one.
    if (op !== 'reject') {
      const later = (
        await store.outbox.list({
          linkId: item.linkId,
          recordId: item.recordId,
          status: 'pending',
          limit: 10,
        })
      ).some((o) => o.seq > item.seq && o.op !== 'reject');
      if (later) {
        await store.outbox.complete(item.seq, { skipped: 'superseded' });
        return 'skipped';
      }
    }
    const snapshot =
      op === 'reject' ? undefined : await store.snapshots.get(item.linkId, item.kind, item.recordId);
    // Zero echo writes: the target already holds exactly this (design rule 6).
    if (snapshot && snapshot.hash === fieldsHash(payload.data)) {
      await store.outbox.complete(item.seq, { skipped: 'already-there' });
      return 'skipped';
    }

    const externalId =
      op === 'reject'
        ? (payload.externalId ?? null)
        : ((await this.externalIdOf(item, item.kind, item.recordId)) ?? null);
    const resolve = async (ref: { kind: CanonicalResource['resourceType']; id: string }) => {
      const direct = await this.externalIdOf(item, ref.kind, ref.id);
      if (direct !== undefined) return direct;
      const survivor = await this.options.engine.survivor(store, ref.kind, ref.id);
      return survivor === ref.id ? undefined : this.externalIdOf(item, ref.kind, survivor);
    };
    // A refusal carries the booking in the peer's own ids already.
    const { value: data, missing } =
      op === 'reject' ? { value: payload.data, missing: [] } : await rewriteRefs(payload.data, resolve);
    if (missing.length > 0) return this.waitForReferences(item, target.link, missing);
    const base = snapshot
      ? (await rewriteRefs(snapshot.data as unknown as CanonicalResource, resolve)).value
      : null;
    const related = op === 'reject' ? [] : await this.relatedOf(target.link, payload.data, resolve);

    const change: OutboundChange = {
      seq: item.seq,
      op,
      kind: item.kind,
      canonicalId: item.recordId,
      externalId,
      expectedVersion: snapshot?.externalVersion ?? null,
      data: { ...data, id: externalId ?? item.recordId } as CanonicalResource,
      base,
      idempotencyKey: item.idempotencyKey,
      priority: item.priority,
      ...(payload.reason && { reason: payload.reason }),
      ...(related.length > 0 && { related }),
    };
    let result: PushResult;
    try {
      result = await this.withTimeout(target.connector.push(change));
    } catch (e) {
      result = { ok: false, error: asError(e) };
    }

    if (result.ok) {
      const ok = result;
      await store.transaction(async (tx) => {
        await tx.outbox.complete(item.seq, {
          externalId: ok.externalId,
          ...(ok.version !== undefined && { version: ok.version }),
        });
        if (op !== 'reject') {
          await tx.identityMap.set({
            linkId: item.linkId,
            kind: item.kind,
            externalId: ok.externalId,
            canonicalId: item.recordId,
            practiceId: item.practiceId,
          });
          await tx.snapshots.put({
            linkId: item.linkId,
            kind: item.kind,
            canonicalId: item.recordId,
            data: payload.data as unknown as JsonObject,
            hash: fieldsHash(payload.data),
            externalVersion: ok.version ?? null,
          });
        }
        // Supervision reports: a call message reaching the practice, with its delay.
        await recordPushed(tx, item, target.link);
      });
      this.options.onPushed?.(item.linkId);
      return 'pushed';
    }

    // A peer that calls its own current version stale would make us re-merge forever.
    if (
      result.current &&
      op !== 'reject' &&
      result.current.version !== undefined &&
      result.current.version === change.expectedVersion
    ) {
      return this.fail(
        item,
        new PasserelleError(
          'ERR_SYNC_CONFLICT',
          `the peer refused version ${change.expectedVersion} as stale yet reports it as current`,
          { details: { seq: item.seq } },
        ),
      );
    }
    if (result.current && op !== 'reject') {
      // HTTP 412: the peer changed since our base. Merge its record in like any change from
      // that side; the merge sends the result back, or opens a conflict where fields collide.
      const merged = await this.options.engine.ingest(
        target.link,
        { dedupe: null, records: [result.current] },
        'remerge',
      );
      if (merged.outcome === 'applied') {
        await store.outbox.complete(item.seq, { remerged: true, flags: [...merged.flags] });
        return 'remerged';
      }
      return this.fail(
        item,
        new PasserelleError(
          'ERR_SYNC_CONFLICT',
          `the peer's current ${item.kind} could not be merged (${merged.outcome})`,
          { details: { seq: item.seq } },
        ),
      );
    }
    return this.fail(item, result.error);
  }

  /**
   * A publication row carries no record: what to publish is computed when it is sent (so one
   * row covers every change made while it waited). Failures go through the same retry, dead
   * letter and replay as any change.
   */
  private async publishAgenda(item: OutboxItem, target: DispatchTarget): Promise<Outcome> {
    const outcome = this.options.agenda
      ? await this.withTimeout(this.options.agenda.publish(item, target.link, target.connector)).catch(
          (e: unknown) => ({ kind: 'fail' as const, error: asError(e) }),
        )
      : ({ kind: 'skipped', reason: 'no agenda publisher' } as const);
    switch (outcome.kind) {
      case 'pushed':
        this.options.onPushed?.(item.linkId);
        return 'pushed';
      case 'skipped':
        await this.store.outbox.complete(item.seq, { skipped: outcome.reason });
        return 'skipped';
      case 'defer':
        return this.defer(item, outcome.ms, outcome.code, outcome.error);
      case 'fail':
        return this.fail(item, outcome.error);
    }
  }

  /**
   * The target's id of a record. A patient merged on that side (ADT A40) has the ids of the
   * records merged into it too: the ones the side merged away are not written to it again.
   */
  private async externalIdOf(
    item: OutboxItem,
    kind: CanonicalResource['resourceType'],
    canonicalId: string,
  ): Promise<string | undefined> {
    const ids = await this.store.identityMap.findExternal(item.linkId, kind, canonicalId);
    if (ids.length < 2) return ids[0];
    for (const id of ids)
      if ((await this.store.matchKeys.find(item.practiceId, supersededKey(item.linkId, id))).length === 0)
        return id;
    return ids[0];
  }

  /**
   * The referenced records the target's connector writes with a change (capabilities.related):
   * their current canonical state in the target's ids. Each reference is known on the target
   * here (unresolved ones made the change wait above).
   */
  private async relatedOf(
    link: Link,
    data: CanonicalResource,
    resolve: (ref: RecordRef) => Promise<string | undefined>,
  ): Promise<RelatedChangeRecord[]> {
    const kinds = this.options.engine.registry.get(link.connector)?.capabilities.related;
    if (!kinds || kinds.length === 0) return [];
    const out: RelatedChangeRecord[] = [];
    for (const ref of collectRefs(data)) {
      if (!kinds.includes(ref.kind) || out.some((r) => r.canonicalId === ref.id)) continue;
      const survivor = await this.options.engine.survivor(this.store, ref.kind, ref.id);
      const stored = await this.store.resources.get(survivor);
      const externalId = await resolve(ref);
      if (!stored || externalId === undefined) continue;
      const { value } = await rewriteRefs(stored.data as unknown as CanonicalResource, resolve);
      out.push({
        kind: ref.kind,
        canonicalId: survivor,
        externalId,
        data: { ...value, id: externalId } as CanonicalResource,
      });
    }
    return out;
  }

  private async withTimeout<T>(p: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new PasserelleError(
              'ERR_CONNECTOR_TIMEOUT',
              `no answer from the peer within ${this.tuning.pushTimeoutMs} ms`,
            ),
          ),
        this.tuning.pushTimeoutMs,
      );
    });
    try {
      return await Promise.race([p, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async defer(item: OutboxItem, ms: number, errorCode: string, error: string): Promise<Outcome> {
    await this.store.outbox.defer(item.seq, this.owner, { at: this.store.now() + ms, errorCode, error });
    return 'deferred';
  }

  /**
   * A record it refers to has no id on the target yet: wait while that record is on its way
   * (or held for a patient review), send it first if it never was, give up if it cannot be.
   */
  private async waitForReferences(
    item: OutboxItem,
    link: Link,
    missing: readonly { kind: CanonicalResource['resourceType']; id: string }[],
  ): Promise<Outcome> {
    const { store } = this;
    const { engine } = this.options;
    for (const ref of missing) {
      if (await engine.isHeldForReview(store, ref.kind, ref.id)) {
        return this.defer(
          item,
          this.tuning.reviewWaitMs,
          'ERR_SYNC_REVIEW_PENDING',
          `waits for the match review of ${ref.kind} ${ref.id}`,
        );
      }
      const queued = [
        ...(await store.outbox.list({ linkId: link.id, recordId: ref.id, status: 'pending', limit: 1 })),
        ...(await store.outbox.list({ linkId: link.id, recordId: ref.id, status: 'leased', limit: 1 })),
      ];
      if (queued.length > 0)
        return this.defer(
          item,
          this.tuning.dependencyWaitMs,
          'ERR_SYNC_UNKNOWN_REFERENCE',
          `waits for ${ref.kind} ${ref.id} to reach the link`,
        );
      const record = await store.resources.get(ref.id);
      if (record && engine.registry.canPush(link.connector, ref.kind)) {
        const row = await store.transaction(async (tx) => {
          const ctx = await engine.practiceContext(tx, link);
          return engine.enqueue(
            tx,
            ctx,
            link,
            record.data as unknown as CanonicalResource,
            `${link.id}:${ref.id}:v${record.version}:dependency`,
            'dependency',
          );
        });
        if (row.status === 'pending' || row.status === 'leased') {
          return this.defer(
            item,
            this.tuning.dependencyWaitMs,
            'ERR_SYNC_UNKNOWN_REFERENCE',
            `sends ${ref.kind} ${ref.id} first`,
          );
        }
      }
      return this.fail(
        item,
        new PasserelleError(
          'ERR_SYNC_UNKNOWN_REFERENCE',
          `the ${item.kind} refers to a ${ref.kind} that cannot be sent to link ${link.id}`,
          { details: { kind: ref.kind, recordId: ref.id } },
        ),
      );
    }
    return 'deferred';
  }

  private async fail(item: OutboxItem, error: PasserelleError): Promise<Outcome> {
    const { store } = this;
    if (error.retryable && item.attempts < this.tuning.maxAttempts) {
      const at = store.now() + backoffDelay(item.attempts, this.tuning.backoff, error.retryAfterSeconds);
      await store.outbox.retry(item.seq, this.owner, { at, errorCode: error.code, error: error.message });
      this.options.log.debug('push will be retried', {
        seq: item.seq,
        linkId: item.linkId,
        code: error.code,
        attempts: item.attempts,
        at,
      });
      return 'retried';
    }
    const alreadyAlerted = await store.transaction(async (tx) => {
      const open = await tx.deadLetters.list({
        status: 'open',
        linkId: item.linkId,
        recordId: item.recordId,
        reasonCode: error.code,
        limit: 1,
      });
      await tx.outbox.kill(item.seq, { errorCode: error.code, error: error.message });
      await tx.deadLetters.add({
        practiceId: item.practiceId,
        linkId: item.linkId,
        source: 'outbox',
        ref: String(item.seq),
        kind: item.kind,
        recordId: item.recordId,
        reasonCode: error.code,
        reason: error.message,
        payload: { op: item.op, idempotencyKey: item.idempotencyKey, ...(item.payload as JsonObject) },
        attempts: item.attempts,
      });
      return open.length > 0;
    });
    // One alert per record and cause, not one per retry or per change (design rule 9).
    if (!alreadyAlerted) {
      this.options.log.error('change parked in dead letters', {
        alert: 'sync.dead-letter',
        seq: item.seq,
        linkId: item.linkId,
        kind: item.kind,
        recordId: item.recordId,
        code: error.code,
        attempts: item.attempts,
      });
    }
    return 'dead';
  }
}
