/**
 * The sync runtime: for each enabled link, its connector from the registry (config validated
 * by the connector's schema, credentials decrypted), its receiver, its scheduled poll; one
 * dispatcher for the outbox. Link changes made through the API (or by another instance) are
 * picked up from the links table. A link that cannot start is reported unhealthy with its
 * errors and tried again with capped exponential backoff and jitter (a listen port another
 * process holds, a peer down at start); the others keep running. While one is down,
 * `notReady()` names it for `/readyz`.
 *
 * Stop order (SIGTERM): schedules and in-flight polls, receivers (new messages are refused with
 * a retryable error, in-flight ones commit), in-flight pushes, connectors; the service then
 * closes the store last.
 */
import type {
  Connector,
  DeferredIngest,
  HealthReport,
  HttpAnswer,
  HttpDelivery,
  InboundHandler,
  PullPage,
} from '../connector/contract.js';
import type { AnyConnectorDefinition, ConnectorRegistry } from '../connector/registry.js';
import { type ErrorIssue, isPasserelleError, PasserelleError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { ActivePlans } from '../mapping/active-plans.js';
import type { AppointmentTypeEntry } from '../mapping/compile/schema.js';
import { appointmentCatalogue } from '../mapping/run/engine.js';
import type { ConnectorProfiles } from '../mapping/runtime.js';
import { outboundUrlIssues } from '../security/outbound-urls.js';
import type { RefusalWatch } from '../security/refusals.js';
import type { SecretBox } from '../security/secrets.js';
import type { Store } from '../store/index.js';
import type { JsonObject, Link } from '../store/types.js';
import { AgendaPublisher, type AgendaPublishSettings } from './agenda-publish.js';
import { ChangeBus } from './change-bus.js';
import { LeaseKeeper } from './cluster-leases.js';
import { backoffDelay, type BackoffOptions, Dispatcher, type DispatcherTuning } from './dispatcher.js';
import { type IngestVia, type OwnershipResolver, SyncEngine } from './engine.js';
import { SyncOperator } from './operator.js';
import { DEFAULT_POLL_SCHEDULE, PollScheduler } from './scheduler.js';
import { isWebhookRefusal, refuseUnknownWebhook, webhookRefusal } from './webhook-refusal.js';

/** The store channel a committed change of the links table signals (migration 0011). */
export const LINKS_CHANNEL = 'passerelle_links';

/** The cursor stream of a connector's `pull` (one per link for now). */
export const DEFAULT_STREAM = 'default';

export interface SyncRuntimeOptions {
  readonly store: Store;
  readonly logger: Logger;
  readonly secrets: SecretBox;
  readonly registry: ConnectorRegistry;
  /** Base URL where passerelle answers (webhook callbacks). */
  readonly publicUrl?: () => string;
  readonly ownership?: OwnershipResolver;
  /**
   * The one plan cache (the mapping module's, shared with the engine's ownership); without it
   * the runtime keeps its own, started and stopped with it.
   */
  readonly plans?: ActivePlans;
  readonly dispatcher?: Partial<DispatcherTuning>;
  /** Run the dispatcher loop (default). Tests may drive `dispatcher.drain()` instead. */
  readonly autoDispatch?: boolean;
  /** Schedule polls with node-cron (default). Tests may call `pollLink` instead. */
  readonly schedulePolls?: boolean;
  readonly defaultSchedule?: string;
  readonly pollPageSize?: number;
  readonly maxPagesPerPoll?: number;
  /** How often the links table is re-read for changes; 0 turns it off (call `refresh`). */
  readonly refreshMs?: number;
  readonly healthTimeoutMs?: number;
  /** Delays between attempts to start a link that failed to (default: 1 s doubling up to 30 s, full jitter). */
  readonly restartBackoff?: BackoffOptions;
  /** Handed to connectors (ConnectorContext.refusals). */
  readonly refusals?: RefusalWatch;
  /** Listen for link changes made by other instances (Store.watch; default on where the store has it). */
  readonly watchLinks?: boolean;
  /** Handed to connectors (ConnectorContext.listenPortOffset): this instance's listen ports. */
  readonly listenPortOffset?: number;
  /**
   * PostgreSQL: time to live of the lease naming the instance that runs a link's scheduled
   * polls (config `sync.leaseTtlMs`; cluster-leases.ts). Default 15 s.
   */
  readonly leaseTtlMs?: number;
  /** This instance's name in the lease table (default: host, pid and a nonce). */
  readonly instanceId?: string;
  /** Agenda publication to the secretariat platform (config `sync.agendaHorizonDays`, `agendaDebounceMs`). */
  readonly agendaPublish?: Partial<AgendaPublishSettings>;
}

/** The lease naming the instance that runs a link's scheduled polls. */
export const linkLeaseName = (linkId: string): string => `link:${linkId}`;

/**
 * 1 s doubling up to 30 s: in a cluster, a link whose port another instance held is started
 * again within about 30 s of that instance dying (the link's readiness stays 503 until then).
 */
export const DEFAULT_RESTART_BACKOFF: BackoffOptions = { baseMs: 1000, capMs: 30_000 };

/** A link that should run and does not: ids, code and reason only (no patient data). */
export interface LinkDown {
  readonly linkId: string;
  readonly connector: string;
  readonly code: string;
  readonly reason: string;
  /** When it first failed to start, for this version of the link. */
  readonly since: string;
  readonly attempts: number;
  readonly nextAttemptAt: string | null;
}

interface LinkFailure {
  readonly version: number;
  readonly connector: string;
  readonly error: PasserelleError;
  readonly since: string;
  readonly attempts: number;
  readonly nextAttemptAt: number | null;
  readonly timer: NodeJS.Timeout | undefined;
  /** The backoff delay has passed: the next refresh starts the link again. */
  due: boolean;
}

interface RunningLink {
  readonly link: Link;
  readonly definition: AnyConnectorDefinition;
  readonly connector: Connector;
  readonly controller: AbortController;
  readonly startedAt: string;
}

export type LinkState = 'running' | 'failed' | 'stopped' | 'disabled';

export interface PollResult {
  readonly acquired: boolean;
  readonly pages: number;
  readonly applied: number;
  readonly rejected: number;
  readonly invalid: number;
  readonly error?: PasserelleError;
}

export interface LinkStatus {
  readonly linkId: string;
  readonly practiceId: string;
  readonly connector: string;
  readonly role: string;
  readonly state: LinkState;
  readonly errors: readonly ErrorIssue[];
  readonly errorCode: string | null;
  readonly startedAt: string | null;
  readonly cursors: readonly {
    stream: string;
    cursor: string | null;
    lastSuccessAt: string | null;
    lastError: string | null;
  }[];
  readonly lastSuccessAt: string | null;
  readonly lastPushAt: string | null;
  /** Seconds since the last successful poll (null when never polled). */
  readonly pollLagSeconds: number | null;
  /** Age in seconds of the oldest change waiting to be sent to this link. */
  readonly outboxLagSeconds: number;
  readonly outbox: Readonly<Record<string, number>>;
  readonly deadLetters: number;
  readonly nextPollAt: string | null;
  readonly health: HealthReport | null;
}

export class SyncRuntime {
  readonly engine: SyncEngine;
  readonly dispatcher: Dispatcher;
  readonly operator: SyncOperator;
  /** Agenda publication to the secretariat platform (issue 20); `due()` runs every minute. */
  readonly agenda: AgendaPublisher;
  /** Hints for the console's live view (change-bus.ts): outbox work committed, pushes, link states. */
  readonly changes = new ChangeBus();
  private readonly store: Store;
  private readonly log: Logger;
  private readonly scheduler: PollScheduler;
  /** Which links' scheduled polls this instance runs (PostgreSQL; every link on SQLite). */
  readonly leases: LeaseKeeper;
  private readonly links = new Map<string, RunningLink>();
  private readonly failures = new Map<string, LinkFailure>();
  private readonly lastPush = new Map<string, string>();
  private readonly inflight = new Set<Promise<unknown>>();
  /** Links with a poll requested by a push hint: true when another one is wanted after the current. */
  private readonly hinted = new Map<string, boolean>();
  private refreshTimer: NodeJS.Timeout | undefined;
  private unwatch: (() => Promise<void>) | undefined;
  private refreshing: Promise<void> = Promise.resolve();
  private started = false;
  private stopping = false;

  /** The connectors that take a mapping profile, from the registry. */
  get profiles(): ConnectorProfiles {
    return this.options.registry.profiles();
  }

  /** Which plan each link runs (handed to connectors through their context). */
  readonly plans: ActivePlans;
  private readonly ownsPlans: boolean;

  constructor(private readonly options: SyncRuntimeOptions) {
    this.store = options.store;
    this.log = options.logger.child({ component: 'sync' });
    this.ownsPlans = options.plans === undefined;
    this.plans =
      options.plans ??
      new ActivePlans(options.store, options.registry.profiles(), {
        onError: (linkId, e) =>
          this.log.warn('mapping profile not loaded', {
            linkId,
            code: isPasserelleError(e) ? e.code : 'ERR_INTERNAL',
          }),
      });
    this.scheduler = new PollScheduler(this.log);
    this.leases = new LeaseKeeper({
      store: options.store,
      logger: this.log,
      ...(options.leaseTtlMs !== undefined && { ttlMs: options.leaseTtlMs }),
      ...(options.instanceId !== undefined && { owner: options.instanceId }),
      onChange: (name) => {
        const linkId = name.startsWith('link:') ? name.slice('link:'.length) : undefined;
        const link = linkId === undefined ? undefined : this.links.get(linkId);
        if (link) this.changes.hint(link.link.practiceId, 'links');
      },
    });
    this.agenda = new AgendaPublisher(options.store, this.log, options.agendaPublish);
    this.engine = new SyncEngine({
      store: options.store,
      registry: options.registry,
      log: this.log,
      agendaDebounceMs: this.agenda.settings.debounceMs,
      ...(options.ownership && { ownership: options.ownership }),
      onEnqueued: () => {
        this.dispatcher.notify();
        // Committed by an ingest or an operator action: outbox rows, and maybe conflicts, reviews…
        this.changes.hint(null, 'outbox', 'conflicts', 'reviews', 'deadLetters', 'messages');
      },
    });
    this.dispatcher = new Dispatcher({
      engine: this.engine,
      log: this.log,
      target: (linkId) => {
        const r = this.links.get(linkId);
        return r && { link: r.link, connector: r.connector };
      },
      onPushed: (linkId) => {
        this.lastPush.set(linkId, new Date(this.store.now()).toISOString());
        this.changes.hint(this.links.get(linkId)?.link.practiceId ?? null, 'outbox', 'messages', 'links');
      },
      activeLinkIds: () => [...this.links.keys()],
      agenda: this.agenda,
      ...(options.dispatcher && { tuning: options.dispatcher }),
    });
    this.operator = new SyncOperator(this.engine, (linkId) => this.links.get(linkId)?.connector);
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    if (this.ownsPlans) await this.plans.start();
    this.leases.start();
    await this.refresh();
    // PostgreSQL: a link changed by any instance (migration 0011's NOTIFY) is picked up at once;
    // refresh restarts only links whose version changed. The periodic re-read stays the truth.
    if (this.store.watch && this.options.watchLinks !== false) {
      this.unwatch = await this.store
        .watch(LINKS_CHANNEL, () => {
          void this.refresh().catch((e: unknown) => this.log.error('links refresh failed', { err: e }));
        })
        .catch((e: unknown) => {
          this.log.warn('link changes not watched; re-reading the links table periodically only', {
            code: isPasserelleError(e) ? e.code : 'ERR_STORE_UNAVAILABLE',
          });
          return undefined;
        });
    }
    if (this.options.autoDispatch !== false) this.dispatcher.start();
    const every = this.options.refreshMs ?? 5000;
    if (every > 0) {
      this.refreshTimer = setInterval(
        () => void this.refresh().catch((e: unknown) => this.log.error('links refresh failed', { err: e })),
        every,
      );
      this.refreshTimer.unref();
    }
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    await this.unwatch?.();
    for (const id of [...this.failures.keys()]) this.forgetFailure(id);
    await this.refreshing.catch(() => undefined);
    await this.scheduler.stopAll();
    // Released once no scheduled poll runs here: another instance takes the links at once.
    await this.leases.stop();
    await Promise.allSettled([...this.inflight]);
    await this.dispatcher.stop();
    for (const id of [...this.links.keys()]) await this.stopConnector(id);
    if (this.ownsPlans) await this.plans.stop();
    this.log.info('sync runtime stopped');
  }

  /** Starts, restarts or stops links to match the links table (API changes, other instances). */
  refresh(): Promise<void> {
    const next = this.refreshing.then(() => this.refreshNow());
    this.refreshing = next.catch(() => undefined);
    return next;
  }

  private async refreshNow(): Promise<void> {
    if (this.stopping) return;
    const links = await this.store.links.list();
    const seen = new Set<string>();
    for (const link of links) {
      seen.add(link.id);
      const running = this.links.get(link.id);
      if (!link.enabled) {
        if (running) await this.stopLink(link.id);
        this.forgetFailure(link.id);
        continue;
      }
      const failure = this.failures.get(link.id);
      const known = running?.link.version ?? failure?.version;
      if (known === link.version && failure?.due !== true) continue;
      if (running) await this.stopLink(link.id);
      await this.startLink(link);
    }
    for (const id of [...this.links.keys()]) if (!seen.has(id)) await this.stopLink(id);
    for (const id of [...this.failures.keys()]) if (!seen.has(id)) this.forgetFailure(id);
  }

  private forgetFailure(linkId: string): void {
    clearTimeout(this.failures.get(linkId)?.timer);
    this.failures.delete(linkId);
  }

  /**
   * Records a failed start and schedules the next attempt: attempts of one version of the link
   * back off (a changed link starts at once, through refresh).
   */
  private recordFailure(link: Link, error: PasserelleError): LinkFailure {
    const previous = this.failures.get(link.id);
    clearTimeout(previous?.timer);
    const again = previous?.version === link.version ? previous : undefined;
    const attempts = (again?.attempts ?? 0) + 1;
    const now = this.store.now();
    const delay = this.stopping
      ? undefined
      : backoffDelay(attempts, this.options.restartBackoff ?? DEFAULT_RESTART_BACKOFF);
    const timer =
      delay === undefined
        ? undefined
        : setTimeout(() => {
            const f = this.failures.get(link.id);
            if (!f || f.timer !== timer) return;
            f.due = true;
            void this.refresh().catch((e: unknown) => this.log.error('links refresh failed', { err: e }));
          }, delay);
    timer?.unref();
    const failure: LinkFailure = {
      version: link.version,
      connector: link.connector,
      error,
      since: again?.since ?? new Date(now).toISOString(),
      attempts,
      nextAttemptAt: delay === undefined ? null : now + delay,
      timer,
      due: false,
    };
    this.failures.set(link.id, failure);
    return failure;
  }

  /** The enabled links that are down (failed to start, waiting for their next attempt), for readiness. */
  notReady(): LinkDown[] {
    return [...this.failures].map(([linkId, f]) => ({
      linkId,
      connector: f.connector,
      code: f.error.code,
      reason: f.error.message,
      since: f.since,
      attempts: f.attempts,
      nextAttemptAt: f.nextAttemptAt === null ? null : new Date(f.nextAttemptAt).toISOString(),
    }));
  }

  private async startLink(link: Link): Promise<void> {
    try {
      const definition = this.options.registry.get(link.connector);
      if (!definition)
        throw new PasserelleError(
          'ERR_CONNECTOR_UNKNOWN',
          `link ${link.id} uses connector ${link.connector}, which this build does not have`,
          { details: { linkId: link.id, known: this.options.registry.names() } },
        );
      const parsed = definition.configSchema.safeParse(link.config);
      if (!parsed.success) {
        const issues = parsed.error.issues.map((i) => ({
          path: ['config', ...i.path.map(String)].join('.'),
          message: i.message,
        }));
        throw new PasserelleError(
          'ERR_CONNECTOR_CONFIG_INVALID',
          `link ${link.id}: ${issues[0]?.path}: ${issues[0]?.message}${issues.length > 1 ? ` (and ${issues.length - 1} more)` : ''}`,
          { issues, details: { linkId: link.id } },
        );
      }
      const urlIssues = outboundUrlIssues(definition.outboundUrls?.(parsed.data) ?? [], link);
      if (urlIssues.length > 0) {
        throw new PasserelleError(
          'ERR_CONNECTOR_CONFIG_INVALID',
          `link ${link.id}: ${urlIssues[0]?.path}: ${urlIssues[0]?.message}`,
          { issues: urlIssues, details: { linkId: link.id } },
        );
      }
      const secrets = link.secrets ? this.options.secrets.openJson<JsonObject>(link.secrets, link.id) : null;
      const practice = await this.store.practices.require(link.practiceId);
      // A (re)started link reads its plan again: its profile, test flag or zone may have changed.
      // A failure is the connector's to report when it needs the plan (the link then fails).
      if (this.plans.takesProfile(link.connector)) await this.plans.reload(link.id).catch(() => undefined);
      const controller = new AbortController();
      const connector = definition.create(parsed.data, {
        link,
        secrets,
        log: this.options.logger.child({
          connector: link.connector,
          linkId: link.id,
          practiceId: link.practiceId,
        }),
        now: this.store.now,
        signal: controller.signal,
        timezone: practice.timezone,
        publicUrl: this.options.publicUrl?.() ?? '',
        mapping: () => this.plans.get(link.id),
        currentMapping: () => this.plans.current(link.id),
        reloadMapping: () => this.plans.reload(link.id),
        requestPoll: () => this.pollSoon(link.id),
        deferred: this.deferredFor(link),
        practiceCatalogue: () => this.practiceCatalogue(link.practiceId),
        knownIds: (kind, after, limit) => this.store.identityMap.pageKnown(link.id, kind, after, limit),
        ...(this.options.refusals && { refusals: this.options.refusals }),
        ...(this.options.listenPortOffset !== undefined && {
          listenPortOffset: this.options.listenPortOffset,
        }),
      });
      // Registered before its receiver starts, so a message arriving at once is taken.
      this.links.set(link.id, {
        link,
        definition,
        connector,
        controller,
        startedAt: new Date(this.store.now()).toISOString(),
      });
      if (definition.capabilities.receive && connector.start)
        await connector.start(this.handlerFor(link.id, 'receiver'));
      const recovered = this.failures.get(link.id);
      this.forgetFailure(link.id);
      if (definition.capabilities.pull && connector.pull && this.options.schedulePolls !== false) {
        // The link's own schedule, else its connector's default, else the runtime's.
        const schedule =
          link.schedule ??
          definition.defaultPollSchedule ??
          this.options.defaultSchedule ??
          DEFAULT_POLL_SCHEDULE;
        // On PostgreSQL only the instance holding the link's lease polls on schedule; a dead or
        // cut-off holder's links are taken over once its lease expires (cluster-leases.ts).
        this.leases.want(linkLeaseName(link.id));
        this.scheduler.schedule(link.id, schedule, practice.timezone, () => this.scheduledPoll(link.id));
      }
      this.dispatcher.notify();
      this.changes.hint(link.practiceId, 'links');
      this.log.info('link started', {
        linkId: link.id,
        connector: link.connector,
        practiceId: link.practiceId,
        ...(recovered && { afterAttempts: recovered.attempts }),
      });
    } catch (e) {
      const error = isPasserelleError(e)
        ? e
        : new PasserelleError(
            'ERR_CONNECTOR_UNAVAILABLE',
            `link ${link.id} could not start: ${(e as Error).message}`,
            { cause: e },
          );
      if (this.links.has(link.id)) await this.stopLink(link.id);
      const failure = this.recordFailure(link, error);
      this.changes.hint(link.practiceId, 'links');
      this.log.error('link not started', {
        linkId: link.id,
        connector: link.connector,
        code: error.code,
        issues: error.issues.map((i) => i.path),
        attempt: failure.attempts,
        nextAttemptAt: failure.nextAttemptAt === null ? null : new Date(failure.nextAttemptAt).toISOString(),
      });
    }
  }

  private async stopLink(linkId: string): Promise<void> {
    await this.scheduler.unschedule(linkId);
    await this.leases.drop(linkLeaseName(linkId));
    await this.stopConnector(linkId);
  }

  private async stopConnector(linkId: string): Promise<void> {
    const r = this.links.get(linkId);
    if (!r) return;
    this.links.delete(linkId);
    this.changes.hint(r.link.practiceId, 'links');
    r.controller.abort();
    try {
      await r.connector.stop();
    } catch (e) {
      this.log.warn('connector did not stop cleanly', { linkId, err: e });
    }
  }

  /** The handler a link's receiver calls; it refuses new work once the runtime stops. */
  handlerFor(linkId: string, via: IngestVia): InboundHandler {
    return (message) => {
      const r = this.links.get(linkId);
      if (this.stopping || !r)
        return Promise.reject(
          new PasserelleError('ERR_SYNC_NOT_RUNNING', `link ${linkId} is not running; retry later`, {
            retryAfterSeconds: 5,
          }),
        );
      return this.track(this.engine.ingest(r.link, message, via));
    };
  }

  /**
   * The appointment types of the profiles the practice's software links run (first link's entry
   * wins for a code): ConnectorContext.practiceCatalogue. A link without a profile has none.
   */
  private async practiceCatalogue(practiceId: string): Promise<readonly AppointmentTypeEntry[]> {
    const byCode = new Map<string, AppointmentTypeEntry>();
    for (const link of await this.store.links.list({ practiceId })) {
      if (link.role !== 'practice' || !link.enabled) continue;
      const plan = await this.plans.get(link.id).catch((e: unknown) => {
        if (isPasserelleError(e) && e.code === 'ERR_NOT_FOUND') return undefined;
        throw e;
      });
      for (const entry of plan ? appointmentCatalogue(plan.plan) : [])
        if (!byCode.has(entry.code)) byCode.set(entry.code, entry);
    }
    return [...byCode.values()];
  }

  /** Commit now, apply right after (connector.ts DeferredIngest), refusing new work once stopping. */
  private deferredFor(link: Link): DeferredIngest {
    const running = () => {
      if (this.stopping || !this.links.has(link.id))
        throw new PasserelleError('ERR_SYNC_NOT_RUNNING', `link ${link.id} is not running; retry later`, {
          retryAfterSeconds: 5,
        });
    };
    return {
      store: async (message) => {
        running();
        return this.track(this.engine.storeForLater(link, message));
      },
      pending: (limit) => this.engine.pendingStored(link, limit),
      apply: async (items) => {
        running();
        return this.track(this.engine.applyStored(link, items));
      },
      exclusive: (fn) => this.store.withLease(`inbox:${link.id}`, fn),
    };
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p)).catch(() => undefined);
    return p;
  }

  isRunning(linkId: string): boolean {
    return this.links.has(linkId);
  }

  connectorOf(linkId: string): Connector | undefined {
    return this.links.get(linkId)?.connector;
  }

  /**
   * Pulls the link's changes since its cursor, page by page, each page applied with its cursor
   * in one transaction. Under the store lease `poll:<link>`: never two polls of one link.
   */
  pollLink(linkId: string): Promise<PollResult> {
    return this.track(this.pollOnce(linkId));
  }

  /**
   * A poll fired by the link's schedule: only on the instance holding the link's lease (every
   * instance's schedule fires). Push hints and operators' polls run wherever they arrive, under
   * the poll lease alone.
   */
  scheduledPoll(linkId: string): Promise<PollResult> {
    if (!this.leases.holds(linkLeaseName(linkId)))
      return Promise.resolve({ acquired: false, pages: 0, applied: 0, rejected: 0, invalid: 0 });
    return this.pollLink(linkId);
  }

  /**
   * A poll as soon as possible, for a push hint (FHIR Subscription notification). Hints that
   * arrive while it runs are coalesced into one more poll; when another instance or the
   * schedule holds the link's poll lease, it tries again a few times (the schedule catches
   * anything left: polling is the truth).
   */
  pollSoon(linkId: string): void {
    if (this.stopping || !this.links.has(linkId)) return;
    if (this.hinted.has(linkId)) {
      this.hinted.set(linkId, true);
      return;
    }
    this.hinted.set(linkId, false);
    const run = async () => {
      let busy = 0;
      while (!this.stopping && this.links.has(linkId)) {
        this.hinted.set(linkId, false);
        const r = await this.pollLink(linkId);
        if (!r.acquired && busy++ < 20) {
          this.hinted.set(linkId, true);
          await new Promise((resolve) => setTimeout(resolve, 250).unref());
        }
        if (!this.hinted.get(linkId)) break;
      }
    };
    void run()
      .catch((e: unknown) => this.log.warn('hinted poll failed', { linkId, err: e }))
      .finally(() => this.hinted.delete(linkId));
  }

  private async pollOnce(linkId: string): Promise<PollResult> {
    const r = this.links.get(linkId);
    if (!r?.connector.pull || this.stopping)
      return { acquired: false, pages: 0, applied: 0, rejected: 0, invalid: 0 };
    const pull = r.connector.pull.bind(r.connector);
    const leased = await this.store.withLease(`poll:${linkId}`, async (): Promise<PollResult> => {
      let cursor = (await this.store.cursors.get(linkId, DEFAULT_STREAM))?.cursor ?? null;
      const total = { pages: 0, applied: 0, rejected: 0, invalid: 0 };
      const maxPages = this.options.maxPagesPerPoll ?? 100;
      const limit = this.options.pollPageSize ?? 100;
      /** The next page's pull, started while the page before it committed (PullPage.ahead). */
      let ahead: Promise<PullPage> | undefined;
      for (let i = 0; i < maxPages; i++) {
        let page: PullPage;
        try {
          page = await (ahead ?? pull(cursor, limit));
        } catch (e) {
          const error = isPasserelleError(e)
            ? e
            : new PasserelleError('ERR_CONNECTOR_UNAVAILABLE', `pull failed: ${(e as Error).message}`, {
                cause: e,
              });
          await this.store.cursors
            .recordError(linkId, DEFAULT_STREAM, `${error.code}: ${error.message}`)
            .catch(() => undefined);
          this.log.warn('poll failed', { linkId, code: error.code });
          return { acquired: true, ...total, error };
        }
        ahead = undefined;
        const next = page.next;
        // Started only once the page's records are applied, so a crash still costs one page
        // (the one committing) plus, at most, this pull in flight during its commit.
        const startNext =
          page.ahead === true && page.hasMore && next !== null && i + 1 < maxPages
            ? () => {
                ahead = pull(next, limit);
                // Awaited by the next iteration; a failure there is handled as any pull's.
                ahead.catch(() => undefined);
              }
            : undefined;
        const applied = await this.engine.ingestPage(r.link, page, DEFAULT_STREAM, startNext);
        total.pages++;
        total.applied += applied.applied;
        total.rejected += applied.rejected;
        total.invalid += applied.invalid;
        cursor = page.next ?? cursor;
        if (!page.hasMore) break;
      }
      return { acquired: true, ...total };
    });
    return leased.acquired
      ? leased.result
      : { acquired: false, pages: 0, applied: 0, rejected: 0, invalid: 0 };
  }

  /**
   * `POST /hooks/:connector/:linkId`: hands the raw request to the link's connector. Whatever
   * is not a running link of that connector taking webhooks gets the same 401 as a bad
   * signature (webhook-refusal.ts), without reading the store, so link ids cannot be probed;
   * an enabled link that failed to start answers 503 so its platform delivers again.
   */
  async receiveHttp(connector: string, linkId: string, delivery: HttpDelivery): Promise<HttpAnswer> {
    if (this.stopping)
      throw new PasserelleError('ERR_SYNC_NOT_RUNNING', 'passerelle is stopping; retry later', {
        retryAfterSeconds: 5,
      });
    const r = this.links.get(linkId);
    if (!r || r.link.connector !== connector || !r.connector.receiveHttp) {
      if (!r && this.failures.get(linkId)?.connector === connector)
        throw new PasserelleError('ERR_SYNC_NOT_RUNNING', `link ${linkId} is not running; retry later`, {
          retryAfterSeconds: 30,
        });
      this.log.warn('webhook refused', {
        connector,
        linkId,
        reason: 'no running link of this connector takes webhooks',
        bytes: delivery.body.length,
      });
      return refuseUnknownWebhook(delivery.body);
    }
    const answer = await r.connector.receiveHttp(delivery, this.handlerFor(linkId, 'webhook'));
    return isWebhookRefusal(answer) ? webhookRefusal() : answer;
  }

  /**
   * Where a link stands: state, cursors, lag, queue depth, dead letters, connector health
   * (`health: false` leaves the connector's health out: the dashboard reads many links at once).
   */
  async status(linkId: string, options: { readonly health?: boolean } = {}): Promise<LinkStatus> {
    const link = await this.store.links.require(linkId);
    const r = this.links.get(linkId);
    const failure = this.failures.get(linkId);
    const now = this.store.now();
    const cursors = await this.store.cursors.list(linkId);
    const oldest = (await this.store.outbox.list({ linkId, status: 'pending', limit: 1 }))[0];
    const lastSuccess =
      cursors
        .map((c) => c.lastSuccessAt)
        .filter((s): s is string => s !== null)
        .sort()
        .pop() ?? null;
    let health: HealthReport | null = null;
    if (r && options.health !== false) {
      const timeout = this.options.healthTimeoutMs ?? 5000;
      health = await Promise.race([
        r.connector.health(),
        new Promise<HealthReport>((resolve) =>
          setTimeout(
            () =>
              resolve({
                ok: false,
                checks: [{ name: 'health', ok: false, detail: `no answer within ${timeout} ms` }],
              }),
            timeout,
          ).unref(),
        ),
      ]).catch((e: unknown) => ({
        ok: false,
        checks: [
          { name: 'health', ok: false, detail: isPasserelleError(e) ? e.code : 'health check failed' },
        ],
      }));
    }
    return {
      linkId,
      practiceId: link.practiceId,
      connector: link.connector,
      role: link.role,
      state: r ? 'running' : failure ? 'failed' : link.enabled ? 'stopped' : 'disabled',
      errors: failure
        ? failure.error.issues.length > 0
          ? failure.error.issues
          : [{ path: 'link', message: failure.error.message }]
        : [],
      errorCode: failure?.error.code ?? null,
      startedAt: r?.startedAt ?? null,
      cursors: cursors.map((c) => ({
        stream: c.stream,
        cursor: c.cursor,
        lastSuccessAt: c.lastSuccessAt,
        lastError: c.lastError,
      })),
      lastSuccessAt: lastSuccess,
      lastPushAt: this.lastPush.get(linkId) ?? null,
      pollLagSeconds: lastSuccess ? Math.max(0, Math.round((now - Date.parse(lastSuccess)) / 1000)) : null,
      outboxLagSeconds: oldest ? Math.max(0, Math.round((now - Date.parse(oldest.createdAt)) / 1000)) : 0,
      outbox: await this.store.outbox.depth(linkId),
      deadLetters: await this.store.deadLetters.count({ status: 'open', linkId }),
      nextPollAt: this.scheduler.nextRun(linkId)?.toISOString() ?? null,
      health,
    };
  }
}
