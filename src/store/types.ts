/**
 * Domain objects the store hands out. Timestamps are ISO-8601 UTC strings except the outbox's
 * scheduling fields, which the dispatcher compares as epoch milliseconds.
 */
import type { ResourceKind } from '../model/resources.js';

export type JsonObject = Record<string, unknown>;

import type { LinkRole } from '../model/link-role.js';

export { LINK_ROLES, type LinkRole } from '../model/link-role.js';

export interface Practice {
  readonly id: string;
  readonly name: string;
  /** IANA zone: Europe/Paris by default; overseas practices use America/Martinique, Indian/Reunion… */
  readonly timezone: string;
  readonly settings: JsonObject;
  readonly version: number;
  readonly createdAt: string;
  readonly updatedAt: string;
}
export interface PracticeInput {
  readonly id?: string;
  readonly name: string;
  readonly timezone?: string;
  readonly settings?: JsonObject;
}

export interface Link {
  readonly id: string;
  readonly practiceId: string;
  readonly role: LinkRole;
  readonly connector: string;
  readonly name: string;
  /** Mapping profile name (mappings/<profile>.yaml) or null for the connector's default. */
  readonly profile: string | null;
  readonly config: JsonObject;
  /** Encrypted credentials (never returned by the API), or null. */
  readonly secrets: string | null;
  /** node-cron expression for the poll, or null for the connector's default. */
  readonly schedule: string | null;
  /** A test link accepts INS test/demo OIDs. */
  readonly isTest: boolean;
  readonly enabled: boolean;
  readonly version: number;
  readonly createdAt: string;
  readonly updatedAt: string;
}
export interface LinkInput {
  readonly id?: string;
  readonly practiceId: string;
  readonly role: LinkRole;
  readonly connector: string;
  readonly name: string;
  readonly profile?: string | null;
  readonly config?: JsonObject;
  readonly secrets?: string | null;
  readonly schedule?: string | null;
  readonly isTest?: boolean;
  readonly enabled?: boolean;
}
export type LinkPatch = Partial<Omit<LinkInput, 'practiceId' | 'id'>>;

export type RecordOrigin = 'secretariat' | 'practice' | 'passerelle';

export interface StoredResource<T = JsonObject> {
  readonly id: string;
  readonly practiceId: string;
  readonly kind: ResourceKind;
  readonly data: T;
  readonly hash: string;
  readonly version: number;
  readonly origin: RecordOrigin;
  readonly startAt: string | null;
  readonly endAt: string | null;
  readonly practitionerId: string | null;
  readonly patientId: string | null;
  readonly status: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
}
export interface ResourceWrite {
  readonly id: string;
  readonly practiceId: string;
  readonly kind: ResourceKind;
  readonly data: JsonObject;
  readonly origin: RecordOrigin;
  /** Optimistic concurrency: the version the writer read, or 0 for a new record. */
  readonly expectedVersion?: number;
  readonly startAt?: string | null;
  readonly endAt?: string | null;
  readonly practitionerId?: string | null;
  readonly patientId?: string | null;
  readonly status?: string | null;
}
export interface ResourceQuery {
  readonly practiceId: string;
  readonly kind: ResourceKind;
  readonly practitionerId?: string;
  readonly patientId?: string;
  /** Overlap window on [startAt, endAt). */
  readonly from?: string;
  readonly to?: string;
  readonly updatedSince?: string;
  readonly limit?: number;
  /** Records of any of these patients (`patient_id`); with `patientId`, both apply. */
  readonly patientIds?: readonly string[];
  /**
   * A keyset page in id order instead of the time order: `size` records with an id after
   * `after` (null: from the first). A scan of a practice's records a page at a time.
   */
  readonly page?: { readonly after: string | null; readonly size: number };
}

export interface IdentityLink {
  readonly linkId: string;
  readonly kind: ResourceKind;
  readonly externalId: string;
  readonly canonicalId: string;
  readonly practiceId: string;
  readonly createdAt: string;
}

export interface Snapshot<T = JsonObject> {
  readonly linkId: string;
  readonly kind: ResourceKind;
  readonly canonicalId: string;
  /** The record as this side last saw it after a successful sync: the merge base. */
  readonly data: T;
  /** Content hash of what passerelle last wrote to / read from this side, for echo suppression. */
  readonly hash: string;
  readonly externalVersion: string | null;
  readonly syncedAt: string;
}

export const INBOX_STATUSES = ['received', 'processed', 'rejected', 'failed'] as const;
export type InboxStatus = (typeof INBOX_STATUSES)[number];
export interface InboxEntry {
  readonly id: number;
  readonly linkId: string;
  readonly dedupeKey: string;
  readonly bodyHash: string;
  readonly messageType: string;
  readonly body: Buffer | null;
  readonly status: InboxStatus;
  /** The exact bytes answered to the peer (an HL7 ACK, an HTTP body), replayed for a resend. */
  readonly response: Buffer | null;
  readonly errorCode: string | null;
  readonly error: string | null;
  readonly flags: readonly string[];
  readonly receivedAt: string;
  readonly processedAt: string | null;
}
export interface InboxAccept {
  readonly linkId: string;
  readonly dedupeKey: string;
  readonly bodyHash: string;
  readonly messageType: string;
  readonly body: Buffer | null;
  readonly status?: InboxStatus;
  readonly response?: Buffer | null;
  readonly errorCode?: string | null;
  readonly error?: string | null;
}
/**
 * `new`: first time seen, stored. `duplicate`: same key and same body, already stored — answer
 * with `existing.response`. `reused-key`: same key, different body: stored as new and flagged.
 */
export type InboxAcceptResult =
  | { readonly outcome: 'new'; readonly entry: InboxEntry }
  | { readonly outcome: 'duplicate'; readonly entry: InboxEntry }
  | { readonly outcome: 'reused-key'; readonly entry: InboxEntry; readonly previous: InboxEntry };

export const OUTBOX_STATUSES = ['pending', 'leased', 'done', 'dead'] as const;
export type OutboxStatus = (typeof OUTBOX_STATUSES)[number];
/** Lower runs first: urgent call messages (0) before routine work. */
export const PRIORITY = { urgent: 0, high: 3, normal: 5, low: 8 } as const;
export interface OutboxItem {
  readonly seq: number;
  readonly practiceId: string;
  readonly linkId: string;
  readonly kind: ResourceKind;
  readonly recordId: string;
  readonly op: string;
  readonly payload: JsonObject;
  readonly priority: number;
  readonly status: OutboxStatus;
  readonly attempts: number;
  readonly nextAttemptAt: number;
  readonly leaseOwner: string | null;
  readonly leaseUntil: number | null;
  readonly idempotencyKey: string;
  readonly contentHash: string | null;
  readonly lastErrorCode: string | null;
  readonly lastError: string | null;
  readonly result: JsonObject | null;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly doneAt: string | null;
}
export interface OutboxEnqueue {
  readonly practiceId: string;
  readonly linkId: string;
  readonly kind: ResourceKind;
  readonly recordId: string;
  readonly op: string;
  readonly payload: JsonObject;
  readonly priority?: number;
  readonly idempotencyKey: string;
  readonly contentHash?: string | null;
  readonly notBefore?: number;
}

export interface ConflictField {
  readonly path: string;
  readonly base: unknown;
  readonly practice: unknown;
  readonly secretariat: unknown;
}
export const CONFLICT_STATUSES = ['open', 'resolved', 'dismissed'] as const;
export type ConflictStatus = (typeof CONFLICT_STATUSES)[number];
export interface Conflict {
  readonly id: string;
  readonly practiceId: string;
  readonly kind: ResourceKind;
  readonly recordId: string;
  readonly fields: readonly ConflictField[];
  readonly status: ConflictStatus;
  readonly reason: string | null;
  readonly resolution: JsonObject | null;
  readonly resolvedBy: string | null;
  readonly createdAt: string;
  readonly resolvedAt: string | null;
}

export interface ReviewItem {
  readonly id: string;
  readonly practiceId: string;
  readonly type: string;
  readonly recordId: string | null;
  readonly payload: JsonObject;
  readonly status: ConflictStatus;
  readonly resolution: JsonObject | null;
  readonly resolvedBy: string | null;
  readonly createdAt: string;
  readonly resolvedAt: string | null;
}

export const DEAD_LETTER_STATUSES = ['open', 'replayed', 'discarded'] as const;
export type DeadLetterStatus = (typeof DEAD_LETTER_STATUSES)[number];
export interface DeadLetter {
  readonly id: string;
  readonly practiceId: string | null;
  readonly linkId: string | null;
  /** `inbox` (a message we could not apply) or `outbox` (a change we could not deliver). */
  readonly source: 'inbox' | 'outbox';
  readonly ref: string | null;
  readonly kind: string | null;
  readonly recordId: string | null;
  readonly reasonCode: string;
  readonly reason: string;
  readonly payload: JsonObject | null;
  readonly attempts: number;
  readonly status: DeadLetterStatus;
  readonly resolvedBy: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
}
export type DeadLetterInput = Omit<
  DeadLetter,
  'id' | 'status' | 'resolvedBy' | 'createdAt' | 'updatedAt' | 'attempts'
> & {
  readonly attempts?: number;
};

export interface Cursor {
  readonly linkId: string;
  readonly stream: string;
  readonly cursor: string | null;
  readonly lastSuccessAt: string | null;
  readonly lastError: string | null;
  readonly updatedAt: string;
}

export const AUDIT_OUTCOMES = ['success', 'denied', 'failure'] as const;
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];
export interface AuditInput {
  /** API key id, `system`, `cli`, or a connector name. */
  readonly actor: string;
  readonly role?: string | null;
  readonly action: string;
  readonly resourceType?: string | null;
  readonly resourceId?: string | null;
  readonly patientId?: string | null;
  /**
   * The practice the event concerns (the audit read API filters practice-limited keys on it).
   * When absent, a string `details.practiceId` is taken, or the resource id of a `Practice`.
   */
  readonly practiceId?: string | null;
  readonly outcome: AuditOutcome;
  readonly requestId?: string | null;
  /** Through which path: `api`, `ical`, `mllp`, `webhook`, `cli`, `scheduler`… */
  readonly via?: string | null;
  readonly details?: JsonObject;
}
export interface AuditEvent extends Required<{ [K in keyof AuditInput]: Exclude<AuditInput[K], undefined> }> {
  readonly seq: number;
  readonly at: string;
  readonly prevHash: string;
  readonly hash: string;
}
/** A signed checkpoint already authenticated by its reader (security/audit-checkpoints.ts). */
export interface AuditCheckpointRef {
  readonly seq: number;
  readonly hash: string;
  readonly at: string;
}
export interface AuditVerifyOptions {
  /** Every event named here must still be in the chain with this hash (truncation, rollback). */
  readonly checkpoints?: readonly AuditCheckpointRef[];
}
/** `checkpoints`: how many signed checkpoints matched their event (purged ones are not counted). */
export type AuditVerifyResult =
  | { readonly ok: true; readonly checked: number; readonly checkpoints?: number }
  | {
      readonly ok: false;
      readonly checked: number;
      readonly firstBrokenSeq: number;
      readonly reason: string;
    };
export interface AuditListFilter {
  readonly patientId?: string;
  readonly resourceId?: string;
  readonly action?: string;
  readonly actor?: string;
  /** Events of these practices only; an empty list matches nothing. */
  readonly practiceIds?: readonly string[];
  /** Inclusive lower and exclusive upper bound on the event time, ms since the epoch. */
  readonly fromMs?: number;
  readonly toMs?: number;
  readonly afterSeq?: number;
  readonly limit?: number;
}

export const ICAL_PRIVACY = ['busy', 'initials', 'full'] as const;
export type IcalPrivacy = (typeof ICAL_PRIVACY)[number];
export interface IcalToken {
  readonly id: string;
  readonly tokenHash: string;
  readonly practiceId: string;
  readonly practitionerId: string | null;
  readonly label: string | null;
  readonly privacy: IcalPrivacy;
  readonly fullAllowed: boolean;
  readonly createdBy: string | null;
  readonly createdAt: string;
  readonly expiresAt: string | null;
  readonly unusedExpiryDays: number | null;
  readonly lastUsedAt: string | null;
  readonly revokedAt: string | null;
  /** Grows with every settings change (privacy, label, expiry, secret): feeds put it in their ETag. */
  readonly version: number;
  readonly updatedAt: string;
}
export type IcalTokenInput = Pick<IcalToken, 'tokenHash' | 'practiceId'> &
  Partial<
    Pick<
      IcalToken,
      | 'id'
      | 'practitionerId'
      | 'label'
      | 'privacy'
      | 'fullAllowed'
      | 'createdBy'
      | 'expiresAt'
      | 'unusedExpiryDays'
    >
  >;

/** A practice's change counter (0003_ical): bumped once by each transaction that wrote its records. */
export interface ChangeCounter {
  readonly practiceId: string;
  readonly seq: number;
  readonly updatedAt: string;
}

export const API_ROLES = ['admin', 'integrator', 'viewer'] as const;
export type ApiRole = (typeof API_ROLES)[number];
export interface ApiKey {
  readonly id: string;
  readonly keyHash: string;
  /** First characters of the key, shown in lists so an operator can tell keys apart. */
  readonly prefix: string;
  readonly role: ApiRole;
  readonly label: string | null;
  /** A viewer key may be limited to one practice. */
  readonly practiceId: string | null;
  readonly createdBy: string | null;
  readonly createdAt: string;
  readonly lastUsedAt: string | null;
  readonly revokedAt: string | null;
}
export type ApiKeyInput = Pick<ApiKey, 'keyHash' | 'prefix' | 'role'> &
  Partial<Pick<ApiKey, 'id' | 'label' | 'practiceId' | 'createdBy'>>;

// ---------------------------------------------------------------------------------------------
// Supervision reports (0005_reports, src/reports): ids, codes and counts only, never patient data.

export const ACTIVITY_TYPES = [
  'appointment.booked',
  'appointment.moved',
  'appointment.cancelled',
  'appointment.noshow',
  'appointment.arrived',
  'appointment.refused',
  'message.received',
  'message.delivered',
  'conflict.opened',
  'conflict.resolved',
] as const;
export type ActivityType = (typeof ACTIVITY_TYPES)[number];

export interface ActivityInput {
  readonly practiceId: string;
  readonly type: ActivityType;
  /** Which side the change came from (for conflicts and deliveries: null or the side concerned). */
  readonly origin?: LinkRole | null;
  readonly linkId?: string | null;
  readonly kind?: ResourceKind | null;
  readonly recordId?: string | null;
  /** Canonical practitioner id. */
  readonly practitionerId?: string | null;
  /** Communication priority: routine, urgent, asap, stat. */
  readonly priority?: string | null;
  /** Start of a latency that ends now (epoch ms): the event stores `at − since`, never below 0. */
  readonly latencySince?: number | null;
  /** A code: the refusal reason, how a conflict was opened (review, collision, refused)… */
  readonly detail?: string | null;
  /** An event that may be seen twice (a refusal pulled again, a retried push) is kept once per key. */
  readonly dedupeKey?: string | null;
}

export interface ActivityEvent {
  readonly seq: number;
  readonly practiceId: string;
  readonly at: string;
  readonly type: ActivityType;
  readonly origin: LinkRole | null;
  readonly linkId: string | null;
  readonly kind: string | null;
  readonly recordId: string | null;
  readonly practitionerId: string | null;
  readonly priority: string | null;
  readonly latencyMs: number | null;
  readonly detail: string | null;
}

/** Events of one practice in a period, grouped by everything a report breaks them down by. */
export interface ActivityCount {
  readonly type: ActivityType;
  readonly origin: LinkRole | null;
  readonly practitionerId: string | null;
  readonly priority: string | null;
  readonly detail: string | null;
  readonly count: number;
}

export interface DeadLetterCount {
  readonly reasonCode: string;
  readonly source: DeadLetter['source'];
  readonly count: number;
}

/** A link's outbox at this moment (times as ISO strings, null when there is none). */
export interface OutboxLinkStats {
  readonly linkId: string;
  readonly pending: number;
  readonly leased: number;
  readonly dead: number;
  readonly oldestPendingAt: string | null;
  readonly lastDoneAt: string | null;
}

export const DIGEST_WEBHOOK_STATUSES = ['pending', 'delivered'] as const;
export type DigestWebhookStatus = (typeof DIGEST_WEBHOOK_STATUSES)[number];

export interface DigestSummary {
  readonly practiceId: string;
  /** The practice's local day the digest covers, YYYY-MM-DD. */
  readonly day: string;
  readonly createdAt: string;
  readonly webhook: {
    /** null: the practice had no webhook when the digest was made. */
    readonly status: DigestWebhookStatus | null;
    /** POSTs made so far, over every run. */
    readonly attempts: number;
    /** Error code and short reason of the last failed attempt (never the URL). */
    readonly lastError: string | null;
    readonly deliveredAt: string | null;
  };
}
export interface Digest extends DigestSummary {
  readonly report: JsonObject;
}

/**
 * One local day of a practice's calls as the secretariat platform counts them (issue 21 point
 * 4, 0016_call_kpis): counts, waiting time, outcomes, satisfaction. No patient data.
 */
export interface CallKpis {
  readonly day: string;
  readonly received: number;
  readonly answered: number;
  readonly abandoned: number;
  /** Answered calls by the longest wait they had, keyed by seconds ("15" … "300"), cumulative. */
  readonly answeredWithin: Readonly<Record<string, number>>;
  readonly waitSeconds: { readonly p50: number | null; readonly p95: number | null };
  readonly outcomes: {
    readonly booked: number;
    readonly message: number;
    readonly urgent: number;
    readonly redirected: number;
  };
  /** null: the platform does not survey this practice's callers. */
  readonly satisfaction: { readonly responses: number; readonly averageScore: number | null } | null;
}

/** A stored day of call KPIs, with the link it came from and when it was last fetched. */
export interface StoredCallKpis extends CallKpis {
  readonly practiceId: string;
  readonly linkId: string;
  readonly fetchedAt: string;
}
