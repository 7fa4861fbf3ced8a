import type { Kysely } from 'kysely';

import type { ClusterCoordination } from './cluster.js';
import type { MigrationStatus } from './migrations/index.js';
import type { Dialect } from './migrations/types.js';
import { type AgendaRepo, agendaRepo } from './repos/agenda.js';
import { type AuditRepo, auditRepo } from './repos/audit.js';
import { type CallKpisRepo, callKpisRepo } from './repos/call-kpis.js';
import { type ChangeCountersRepo, changeCountersRepo } from './repos/changes.js';
import { type ConsignesRepo, consignesRepo } from './repos/consignes.js';
import { type ConsoleSessionsRepo, consoleSessionsRepo } from './repos/console-sessions.js';
import type { Clock, DirectExecutor, RepoContext } from './repos/context.js';
import { type ApiKeysRepo, apiKeysRepo, type IcalTokensRepo, icalTokensRepo } from './repos/credentials.js';
import { type MappingProfilesRepo, mappingProfilesRepo } from './repos/mapping-profiles.js';
import { type LinksRepo, linksRepo, type PracticesRepo, practicesRepo } from './repos/practices.js';
import { type PractitionerMappingsRepo, practitionerMappingsRepo } from './repos/practitioner-mappings.js';
import {
  type ConflictsRepo,
  conflictsRepo,
  type DeadLettersRepo,
  deadLettersRepo,
  type InboxRepo,
  inboxRepo,
  type OutboxRepo,
  outboxRepo,
  type ReviewsRepo,
  reviewsRepo,
} from './repos/queues.js';
import {
  type CursorsRepo,
  cursorsRepo,
  type IdentityMapRepo,
  identityMapRepo,
  type MatchKeysRepo,
  matchKeysRepo,
  type ResourcesRepo,
  resourcesRepo,
  type SnapshotsRepo,
  snapshotsRepo,
} from './repos/records.js';
import { type RemindersRepo, remindersRepo } from './repos/reminders.js';
import { type ActivityRepo, activityRepo, type DigestsRepo, digestsRepo } from './repos/reports.js';
import { type UrgentMessagesRepo, urgentMessagesRepo } from './repos/urgent-messages.js';
import type { Database } from './schema.js';

/** Everything the store holds, one repository per table group. */
export interface Repos {
  readonly practices: PracticesRepo;
  readonly links: LinksRepo;
  readonly resources: ResourcesRepo;
  readonly identityMap: IdentityMapRepo;
  readonly snapshots: SnapshotsRepo;
  readonly cursors: CursorsRepo;
  readonly inbox: InboxRepo;
  readonly outbox: OutboxRepo;
  readonly conflicts: ConflictsRepo;
  readonly reviews: ReviewsRepo;
  readonly deadLetters: DeadLettersRepo;
  readonly audit: AuditRepo;
  readonly icalTokens: IcalTokensRepo;
  readonly apiKeys: ApiKeysRepo;
  readonly changeCounters: ChangeCountersRepo;
  readonly matchKeys: MatchKeysRepo;
  readonly mappingProfiles: MappingProfilesRepo;
  /** Supervision reports (0005_reports): activity events, report counts, daily digests. */
  readonly activity: ActivityRepo;
  readonly digests: DigestsRepo;
  /** Practitioner mappings per link and their review queue (0008_practitioner_mappings). */
  readonly practitionerMappings: PractitionerMappingsRepo;
  /** Signed-in console browsers (0009_console_sessions). */
  readonly consoleSessions: ConsoleSessionsRepo;
  /** Agenda rules, secretariat coverage, forced bookings (0010_agenda). */
  readonly agenda: AgendaRepo;
  readonly urgentMessages: UrgentMessagesRepo;
  readonly consignes: ConsignesRepo;
  /** Reminders and recalls handed to the secretariat, opt-outs, daily passes (0015_reminders). */
  readonly reminders: RemindersRepo;
  /** The secretariat's call KPIs per practice and day (0016_call_kpis). */
  readonly callKpis: CallKpisRepo;
}

/** The repositories bound to one open transaction. Use only these inside `transaction(fn)`. */
export interface Tx extends Repos {
  readonly db: Kysely<Database>;
  readonly dialect: Dialect;
  /** Opens a savepoint (a name may be reused once the previous one is released or rolled back). */
  savepoint(name: string): Promise<void>;
  release(name: string): Promise<void>;
  /**
   * Undoes everything since `savepoint(name)` and releases it. Always through here, never raw
   * SQL: it also forgets what the repositories cached for this transaction (the audit head).
   */
  rollbackTo(name: string): Promise<void>;
  /** SQLite: the transaction's connection, for statements run once per record (repos/context.ts). */
  readonly direct?: DirectExecutor;
  /**
   * PostgreSQL: a count that moves whenever something other than an ingest job may have
   * written in this transaction — a job not marked `BatchOptions.ingest` started or ended, or
   * a savepoint was rolled back; while such a job runs, every read of the count moves it. The group apply (sync/ingest/group.ts) compares it as it
   * compares SQLite's total_changes().
   */
  readonly foreignWrites?: () => number;
}

export interface BatchOptions {
  /**
   * The job is one ingest of the sync engine (sync/ingest/group.ts): besides reads, it writes
   * only through the group apply, which keeps its memo in step. PostgreSQL needs the promise
   * to let the ingests of a group share what they read; SQLite ignores it (total_changes()).
   */
  readonly ingest?: boolean;
}

export type TxFn<T> = (tx: Tx) => Promise<T>;

/**
 * The one interface both stores implement (SQLite: src/store/sqlite, PostgreSQL:
 * src/store/postgres); test/store/store.int.test.ts runs against both.
 *
 * Rules for callers:
 * - a transaction function does store work only: no network, no timers (it may share its
 *   commit with other callers' functions, see `batch`);
 * - inside it, use the `tx` it receives, never the store itself (on SQLite the single
 *   connection is held by the transaction, so the store would wait for it forever).
 */
export interface Store extends Repos {
  readonly dialect: Dialect;
  readonly db: Kysely<Database>;
  readonly now: Clock;
  /** Runs `fn` in a transaction; resolves only after the commit is durable (design rule 1). */
  transaction<T>(fn: TxFn<T>): Promise<T>;
  /**
   * Group commit: concurrent callers share one transaction and one durable commit, each in its
   * own savepoint, so one failing caller rolls back only its own work. The ingest hot paths
   * (MLLP, webhooks) use it. On SQLite every transaction is grouped this way.
   */
  batch<T>(fn: TxFn<T>, options?: BatchOptions): Promise<T>;
  /**
   * Runs `fn` only if no other holder (any process sharing this store) has `key`; resolves
   * `{ acquired: false }` at once otherwise. PostgreSQL: session advisory lock; SQLite: one
   * process owns the file, so an in-process lock is enough.
   */
  withLease<T>(
    key: string,
    fn: () => Promise<T>,
  ): Promise<{ acquired: true; result: T } | { acquired: false }>;
  /**
   * Calls `onEvent` whenever another holder of the store signals `channel` (PostgreSQL:
   * LISTEN on a connection of its own, re-opened after a loss, `onEvent` then called once for
   * what may have been missed). Absent on SQLite: one process owns the file. Resolves with the
   * function that stops listening. `payload` is the notification's (ids only), null after a
   * re-opened connection: anything may have changed.
   */
  watch?(channel: string, onEvent: (payload: string | null) => void): Promise<() => Promise<void>>;
  /**
   * Leases and scheduled-job claims shared by the instances, on the database's clock
   * (src/store/cluster.ts). Absent on SQLite: one process owns the file and runs alone.
   */
  readonly cluster?: ClusterCoordination;
  migrate(): Promise<string[]>;
  migrationStatus(): Promise<MigrationStatus>;
  /** Throws ERR_STORE_UNAVAILABLE when the store cannot answer. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export function makeRepos(ctx: RepoContext): Repos {
  return {
    practices: practicesRepo(ctx),
    links: linksRepo(ctx),
    resources: resourcesRepo(ctx),
    identityMap: identityMapRepo(ctx),
    snapshots: snapshotsRepo(ctx),
    cursors: cursorsRepo(ctx),
    inbox: inboxRepo(ctx),
    outbox: outboxRepo(ctx),
    conflicts: conflictsRepo(ctx),
    reviews: reviewsRepo(ctx),
    deadLetters: deadLettersRepo(ctx),
    audit: auditRepo(ctx),
    icalTokens: icalTokensRepo(ctx),
    apiKeys: apiKeysRepo(ctx),
    changeCounters: changeCountersRepo(ctx),
    matchKeys: matchKeysRepo(ctx),
    mappingProfiles: mappingProfilesRepo(ctx),
    activity: activityRepo(ctx),
    digests: digestsRepo(ctx),
    practitionerMappings: practitionerMappingsRepo(ctx),
    consoleSessions: consoleSessionsRepo(ctx),
    agenda: agendaRepo(ctx),
    urgentMessages: urgentMessagesRepo(ctx),
    consignes: consignesRepo(ctx),
    reminders: remindersRepo(ctx),
    callKpis: callKpisRepo(ctx),
  };
}

/**
 * Repositories for use outside a transaction. The few operations that must be atomic on their
 * own (several statements) open a transaction when called this way.
 */
export function makeRootRepos(ctx: RepoContext, transaction: <T>(fn: TxFn<T>) => Promise<T>): Repos {
  const repos = makeRepos(ctx);
  return {
    ...repos,
    inbox: { ...repos.inbox, accept: (input) => transaction((tx) => tx.inbox.accept(input)) },
    outbox: { ...repos.outbox, lease: (options) => transaction((tx) => tx.outbox.lease(options)) },
    matchKeys: {
      ...repos.matchKeys,
      replace: (...args) => transaction((tx) => tx.matchKeys.replace(...args)),
      add: (...args) => transaction((tx) => tx.matchKeys.add(...args)),
    },
    audit: { ...repos.audit, append: (input) => transaction((tx) => tx.audit.append(input)) },
    // A record write and its practice's change-counter bump commit together.
    resources: { ...repos.resources, put: (write) => transaction((tx) => tx.resources.put(write)) },
    mappingProfiles: {
      ...repos.mappingProfiles,
      add: (input) => transaction((tx) => tx.mappingProfiles.add(input)),
      activate: (linkId, version) => transaction((tx) => tx.mappingProfiles.activate(linkId, version)),
    },
  };
}
