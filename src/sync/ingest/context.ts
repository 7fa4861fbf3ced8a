/**
 * What every step of an ingest shares: the practice context of the transaction (its links,
 * ownership rules, the outbox rows planned so far, the ingest's memo of reads) and the
 * business refusal a step may throw.
 */
import type { ExternalRecord } from '../../connector/contract.js';
import type { ConnectorRegistry } from '../../connector/registry.js';
import type { PasserelleError } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import { type OwnershipRules, withOverrides } from '../../model/ownership.js';
import type { CanonicalResource, ResourceKind } from '../../model/resources.js';
import type { Tx } from '../../store/index.js';
import type { StoredAgendaRules } from '../../store/repos/agenda.js';
import type { Link, StoredResource } from '../../store/types.js';
import type { RulesInEffect } from '../agenda-rules.js';

/** Ownership overrides for a practice, from its practice link's mapping profile. */
export type OwnershipResolver = (practiceLink: Link) => OwnershipRules | undefined;

export type IngestVia = 'receiver' | 'webhook' | 'poll' | 'remerge' | 'replay' | 'review';

/** What the ingest steps need of the engine: which connector takes what, and where to log. */
export interface IngestDeps {
  readonly registry: ConnectorRegistry;
  readonly log: Logger;
  /** The clock agenda rules are judged by (urgent releases); the store's. */
  readonly now?: () => number;
  /** Wait before the agenda publication a change of an appointment or slot asks for (default 2 s). */
  readonly agendaDebounceMs?: number;
}

/** An outbox row decided during an ingest, written when the message's records are all applied. */
export interface PlannedRow {
  readonly target: Link;
  readonly data: CanonicalResource;
  readonly key: string;
  readonly cause: string;
}

/** Per transaction: the practice, its links and ownership rules, what was enqueued. */
export interface PracticeContext {
  readonly practiceId: string;
  readonly timezone: string;
  readonly links: readonly Link[];
  readonly rules: OwnershipRules;
  enqueued: number;
  planned: PlannedRow[];
  /**
   * Reads already made while applying one message or page (the same patient is the record,
   * then the appointment's reference): identity lookups and records by id. Kept in step with
   * what this ingest writes; cleared when a savepoint rolls back or patients are merged.
   */
  readonly memo: IngestMemo;
}

/**
 * One practice's reads: a memo is never shared between practices (a group commit keeps one per
 * practice, group.ts), since match-key hashes and practitioner ids are not practice-scoped.
 */
export interface IngestMemo {
  readonly canonical: Map<string, string | undefined>;
  readonly rows: Map<string, StoredResource | undefined>;
  /**
   * Patient match keys → the patients filed under them. A page of an initial load looks the
   * same demographic keys up again and again; new patients are added as they are filed.
   */
  readonly matchKeys: Map<string, string[]>;
  /** What an ingest of appointments and slots asks of the agenda rules (agenda-memo.ts). */
  readonly agenda: AgendaMemo;
}

/**
 * The agenda rules an ingest reads for every appointment or slot it applies (the check of a
 * secretariat booking, the publication a change asks for), read once per practitioner while
 * nothing that decides them changes: forgotten with the rest of the memo, and when the ingest
 * writes what makes imported rules (a Schedule) — `agendaRulesChanged`.
 */
export interface AgendaMemo {
  /** practitioner id → the rules set through the API (agenda_rules), or none. */
  readonly stored: Map<string, StoredAgendaRules | undefined>;
  /** practitioner id → the rules in effect (API, or imported from the Schedules), or none. */
  readonly inEffect: Map<string, RulesInEffect | undefined>;
}

export function newMemo(): IngestMemo {
  return {
    canonical: new Map(),
    rows: new Map(),
    matchKeys: new Map(),
    agenda: { stored: new Map(), inEffect: new Map() },
  };
}

export function clearMemo(ctx: Pick<PracticeContext, 'memo'>): void {
  ctx.memo.canonical.clear();
  ctx.memo.rows.clear();
  ctx.memo.matchKeys.clear();
  agendaRulesChanged(ctx);
}

/** Forgets the agenda rules read: the ingest wrote something that may change them. */
export function agendaRulesChanged(ctx: Pick<PracticeContext, 'memo'>): void {
  ctx.memo.agenda.stored.clear();
  ctx.memo.agenda.inEffect.clear();
}

export const identityKey = (linkId: string, kind: ResourceKind, externalId: string) =>
  `${linkId}|${kind}|${externalId}`;

/** A stored record by id, read once per ingest. */
export async function resourceOf(
  tx: Tx,
  ctx: PracticeContext,
  id: string,
): Promise<StoredResource | undefined> {
  if (ctx.memo.rows.has(id)) return ctx.memo.rows.get(id);
  const row = await tx.resources.get(id);
  ctx.memo.rows.set(id, row);
  return row;
}

/** What practiceContext reads once per transaction (a group commit runs many ingests in one). */
interface PracticeBase {
  readonly practiceId: string;
  readonly timezone: string;
  readonly links: readonly Link[];
  readonly rules: OwnershipRules;
}

/** Serializes writers of one practice on PostgreSQL (SQLite has one writer already). */
export async function lockPractice(tx: Tx, practiceId: string): Promise<void> {
  if (tx.dialect === 'postgres')
    await tx.db.selectFrom('practices').select('id').where('id', '=', practiceId).forUpdate().execute();
}

/** Loads practice contexts, reading each practice once per transaction. */
export class PracticeContexts {
  private readonly bases = new WeakMap<Tx, Map<string, PracticeBase>>();
  /** PostgreSQL: the practices locked in a transaction, with its `foreignWrites` then. */
  private readonly locked = new WeakMap<Tx, Map<string, number>>();

  constructor(private readonly ownership: OwnershipResolver | undefined) {}

  /**
   * Locks the practice (PostgreSQL) and loads its zone, links and ownership rules — once per
   * transaction: the ingests a group commit runs together share them (links and practices
   * change in transactions of their own, never in the middle of this one).
   */
  async of(tx: Tx, linkOrPracticeId: Link | string): Promise<PracticeContext> {
    const practiceId = typeof linkOrPracticeId === 'string' ? linkOrPracticeId : linkOrPracticeId.practiceId;
    // A job of the group rolled back to its savepoint takes its row lock with it, so the lock is
    // taken again unless nothing was rolled back since (`foreignWrites` unmoved: a released
    // savepoint's locks stay with the transaction until it ends).
    const mark = tx.foreignWrites?.();
    let locked = this.locked.get(tx);
    if (mark === undefined || locked?.get(practiceId) !== mark) {
      await lockPractice(tx, practiceId);
      if (mark !== undefined) {
        if (!locked) this.locked.set(tx, (locked = new Map()));
        locked.set(practiceId, mark);
      }
    }
    let bases = this.bases.get(tx);
    if (!bases) this.bases.set(tx, (bases = new Map()));
    let base = bases.get(practiceId);
    if (!base) {
      const practice = await tx.practices.require(practiceId);
      const links = await tx.links.list({ practiceId });
      const practiceLink =
        links.find((l) => l.role === 'practice' && l.enabled) ?? links.find((l) => l.role === 'practice');
      const rules = withOverrides(practiceLink && this.ownership ? this.ownership(practiceLink) : undefined);
      base = { practiceId: practice.id, timezone: practice.timezone, links, rules };
      bases.set(practiceId, base);
    }
    return {
      ...base,
      enqueued: 0,
      planned: [],
      memo: newMemo(),
    };
  }
}

/** A business refusal of one record (agenda invariant): nothing of it is kept. */
export class Refusal extends Error {
  constructor(
    readonly error: PasserelleError,
    readonly record: ExternalRecord,
  ) {
    super(error.message);
  }
}
