/**
 * The console's home page (issue 19): per practice, where each link stands and what waits for a
 * person. Link figures come from the sync runtime's `status` (the same as
 * GET /api/v1/links/:id/status, without the connector's health probe); practice totals from
 * the store. Ids, codes, counts and ages only: no patient data.
 *
 * Urgent call messages: a Communication whose priority is urgent, asap or stat (the secretariat
 * flags the urgency; src/model/resources.ts). "Not delivered": an outbox row carrying it to a
 * practice-side link that is not done yet (pending, leased, or parked as a dead letter).
 * "Not acknowledged": the canonical record has no `received` (the practice acknowledges a
 * message by setting `Communication.received`, a field it owns; mappings/*.yaml), counted over
 * the messages taken in the last ACK_WINDOW_HOURS hours — practice software that never sends
 * acknowledgments would otherwise keep every urgency of the past pending forever.
 */
import type { Store } from '../store/index.js';
import { type Link, type OutboxStatus, PRIORITY } from '../store/types.js';
import type { LinkStatus } from '../sync/runtime.js';
import { acknowledgedUrgentIds } from '../sync/urgent.js';

/** Communication priorities that are urgencies. */
const URGENT: ReadonlySet<string> = new Set(['urgent', 'asap', 'stat']);
/** How far back unacknowledged urgencies are counted. */
export const ACK_WINDOW_HOURS = 24;
/** A practice whose oldest waiting outbox row or last successful poll is older than this needs a look. */
export const LAG_ATTENTION_SECONDS = 600;
/** Counts stop here (a queue that long needs a person whatever its exact length). */
const COUNT_CAP = 1000;

export const ATTENTION_CODES = [
  'link-failed',
  'dead-letters',
  'conflicts',
  'reviews',
  'urgent-pending',
  'lag',
] as const;
export type AttentionCode = (typeof ATTENTION_CODES)[number];

export interface DashboardLink {
  readonly id: string;
  readonly name: string;
  readonly connector: string;
  readonly role: string;
  readonly state: LinkStatus['state'];
  /** Why it failed to start, or the last poll's error when it came after the last success. */
  readonly error: { readonly code: string; readonly message: string } | null;
  /** The later of the last successful poll and the last push (null: neither yet). */
  readonly lastSuccessAt: string | null;
  readonly outbox: { readonly pending: number; readonly leased: number; readonly dead: number };
  /** Age in seconds of the oldest change waiting to be sent to this link (0: none waits). */
  readonly oldestPendingSeconds: number;
  readonly deadLetters: number;
  /** Seconds since the last successful poll (null: the link is not polled, or never was). */
  readonly pollLagSeconds: number | null;
}

export interface DashboardPractice {
  readonly id: string;
  readonly name: string;
  readonly links: readonly DashboardLink[];
  readonly totals: {
    readonly openConflicts: number;
    readonly openReviews: { readonly patientMatch: number; readonly practitionerMapping: number };
    readonly deadLetters: number;
    readonly urgentMessages: {
      readonly undelivered: number;
      readonly unacknowledged: number;
      readonly oldestUnacknowledgedAt: string | null;
    };
    /** The largest of the links' outbox ages and poll lags, in seconds. */
    readonly syncLagSeconds: number;
  };
  /** What needs a person, most pressing first (ATTENTION_CODES order). */
  readonly attention: readonly AttentionCode[];
}

export interface Dashboard {
  readonly generatedAt: string;
  readonly practices: readonly DashboardPractice[];
}

export interface DashboardDeps {
  readonly store: Store;
  /** The sync runtime's status of a link (SyncRuntime.status). */
  readonly status: (linkId: string, options: { readonly health: false }) => Promise<LinkStatus>;
}

function linkError(s: LinkStatus): DashboardLink['error'] {
  if (s.state === 'failed') {
    const first = s.errors[0];
    return {
      code: s.errorCode ?? 'ERR_CONNECTOR_UNAVAILABLE',
      message: first ? `${first.path}: ${first.message}` : 'the link did not start',
    };
  }
  // A successful poll clears its cursor's error (CursorsRepo.set): one still there is current.
  const failing = s.cursors.find((c) => c.lastError !== null)?.lastError;
  if (!failing) return null;
  const m = /^(ERR_[A-Z0-9_]+): (.*)$/s.exec(failing);
  return m
    ? { code: m[1] as string, message: m[2] as string }
    : { code: 'ERR_CONNECTOR_UNAVAILABLE', message: failing };
}

const later = (a: string | null, b: string | null) => (a === null ? b : b === null ? a : a > b ? a : b);

function dashboardLink(link: Link, s: LinkStatus): DashboardLink {
  return {
    id: link.id,
    name: link.name,
    connector: link.connector,
    role: link.role,
    state: s.state,
    error: linkError(s),
    lastSuccessAt: later(s.lastSuccessAt, s.lastPushAt),
    outbox: { pending: s.outbox.pending ?? 0, leased: s.outbox.leased ?? 0, dead: s.outbox.dead ?? 0 },
    oldestPendingSeconds: s.outboxLagSeconds,
    deadLetters: s.deadLetters,
    pollLagSeconds: s.pollLagSeconds,
  };
}

async function urgentMessages(
  store: Store,
  practiceId: string,
  links: readonly Link[],
  now: number,
): Promise<DashboardPractice['totals']['urgentMessages']> {
  const practiceSide = new Set(links.filter((l) => l.role === 'practice').map((l) => l.id));
  let undelivered = 0;
  for (const status of ['pending', 'leased', 'dead'] as const satisfies readonly OutboxStatus[]) {
    const rows = await store.outbox.list({ practiceId, status, limit: COUNT_CAP });
    undelivered += rows.filter(
      (o) => o.kind === 'Communication' && o.priority <= PRIORITY.urgent && practiceSide.has(o.linkId),
    ).length;
  }
  const since = new Date(now - ACK_WINDOW_HOURS * 3_600_000).toISOString();
  const messages = await store.resources.list({
    practiceId,
    kind: 'Communication',
    updatedSince: since,
    limit: COUNT_CAP,
  });
  // Acknowledged through passerelle (console/API, signed link, HL7 accept when chosen): issue 21.
  const acknowledged = await acknowledgedUrgentIds(store, practiceId, Date.parse(since));
  let unacknowledged = 0;
  let oldest: string | null = null;
  for (const m of messages) {
    const data = m.data as { priority?: string; received?: string; status?: string };
    if (!URGENT.has(data.priority ?? '') || data.received !== undefined) continue;
    if (acknowledged.has(m.id)) continue;
    if (data.status === 'entered-in-error' || m.createdAt < since) continue;
    unacknowledged++;
    if (oldest === null || m.createdAt < oldest) oldest = m.createdAt;
  }
  return { undelivered, unacknowledged, oldestUnacknowledgedAt: oldest };
}

export async function practiceDashboard(
  deps: DashboardDeps,
  practice: { readonly id: string; readonly name: string },
): Promise<DashboardPractice> {
  const { store } = deps;
  const now = store.now();
  const links = await store.links.list({ practiceId: practice.id });
  const statuses = await Promise.all(links.map((l) => deps.status(l.id, { health: false })));
  const shown = links.map((l, i) => dashboardLink(l, statuses[i] as LinkStatus));
  const open = await store.activity.openCounts(practice.id);
  const [reviews, mappings, urgent] = await Promise.all([
    store.reviews.list({ practiceId: practice.id, status: 'open', limit: COUNT_CAP }),
    store.practitionerMappings.list({ practiceId: practice.id, status: 'open', limit: COUNT_CAP }),
    urgentMessages(store, practice.id, links, now),
  ]);
  const syncLagSeconds = Math.max(
    0,
    ...shown.map((l) => Math.max(l.oldestPendingSeconds, l.pollLagSeconds ?? 0)),
  );
  const totals: DashboardPractice['totals'] = {
    openConflicts: open.conflicts,
    openReviews: { patientMatch: reviews.length, practitionerMapping: mappings.length },
    deadLetters: open.deadLetters,
    urgentMessages: urgent,
    syncLagSeconds,
  };
  const attention: AttentionCode[] = [];
  if (shown.some((l) => l.state === 'failed' || l.error !== null)) attention.push('link-failed');
  if (totals.deadLetters > 0) attention.push('dead-letters');
  if (totals.openConflicts > 0) attention.push('conflicts');
  if (reviews.length + mappings.length > 0) attention.push('reviews');
  if (urgent.undelivered + urgent.unacknowledged > 0) attention.push('urgent-pending');
  if (syncLagSeconds > LAG_ATTENTION_SECONDS) attention.push('lag');
  return { id: practice.id, name: practice.name, links: shown, totals, attention };
}

/** The dashboard of the practices given (null: every practice), in id order. */
export async function buildDashboard(
  deps: DashboardDeps,
  practiceIds: readonly string[] | null,
): Promise<Dashboard> {
  const all = await deps.store.practices.list();
  const wanted = practiceIds === null ? all : all.filter((p) => practiceIds.includes(p.id));
  wanted.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const practices = [];
  for (const p of wanted) practices.push(await practiceDashboard(deps, p));
  return { generatedAt: new Date(deps.store.now()).toISOString(), practices };
}
