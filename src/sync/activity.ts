/**
 * What happened, recorded as it happens: the sync engine, the dispatcher and the operator call
 * these functions inside the transaction of the change itself, so an event exists exactly when
 * its change committed (a refused message, a rolled-back savepoint, a retried transaction leave
 * none). Events carry ids, codes and timings only, never patient data (design rule 10).
 *
 * Appointment events compare the canonical record before and after the change (FHIR R4
 * Appointment.status value set, hl7.org/fhir/R4/valueset-appointmentstatus.html):
 * - booked: the record becomes active (new, or re-activated after a cancellation / no-show);
 * - moved: an active record keeps active and its start or end changes;
 * - cancelled, noshow: the status becomes `cancelled`, `noshow`;
 * - arrived: the status becomes `arrived` or `checked-in`.
 * A call message counts once when it is first received and once when it first reaches a
 * practice link, with the delay since the agent took the call (`Communication.sent`, else the
 * time passerelle received it).
 */
import type { Appointment, CanonicalResource, Communication } from '../model/resources.js';
import type { Tx } from '../store/index.js';
import type { ActivityType, Conflict, JsonObject, Link, OutboxItem, StoredResource } from '../store/types.js';
import { firstRefOf } from './references.js';

type ActivityTx = Pick<Tx, 'activity'>;

/** Statuses of an appointment that holds its slot (FHIR R4 appointmentstatus). */
const ACTIVE: ReadonlySet<string> = new Set([
  'proposed',
  'pending',
  'booked',
  'arrived',
  'fulfilled',
  'checked-in',
  'waitlist',
]);
const ARRIVED: ReadonlySet<string> = new Set(['arrived', 'checked-in']);

/** The appointment events a change from `before` to `after` makes (before = null: a new record). */
export function appointmentActivity(
  before: Pick<Appointment, 'status' | 'start' | 'end'> | null,
  after: Pick<Appointment, 'status' | 'start' | 'end'>,
): ActivityType[] {
  const wasActive = before !== null && ACTIVE.has(before.status);
  const isActive = ACTIVE.has(after.status);
  const out: ActivityType[] = [];
  if (isActive && !wasActive) out.push('appointment.booked');
  if (before !== null && wasActive && isActive && (before.start !== after.start || before.end !== after.end))
    out.push('appointment.moved');
  if (before !== null && before.status !== after.status) {
    if (after.status === 'cancelled') out.push('appointment.cancelled');
    if (after.status === 'noshow') out.push('appointment.noshow');
    if (ARRIVED.has(after.status) && !ARRIVED.has(before.status)) out.push('appointment.arrived');
  } else if (before === null && ARRIVED.has(after.status)) out.push('appointment.arrived');
  return out;
}

export interface AppliedChange {
  readonly practiceId: string;
  /** The link the change came from: its role is the event's origin. */
  readonly link: Pick<Link, 'id' | 'role'>;
  /** The canonical record before the change, or null when it is new. */
  readonly before: CanonicalResource | null;
  readonly after: CanonicalResource;
  /** The record as stored (its practitioner column). */
  readonly stored: Pick<StoredResource, 'id' | 'practitionerId'>;
}

/** Engine hook: a change from one side was applied to the canonical record. */
export async function recordApplied(tx: ActivityTx, change: AppliedChange): Promise<void> {
  const { after, stored, link, practiceId } = change;
  const common = {
    practiceId,
    origin: link.role,
    linkId: link.id,
    kind: after.resourceType,
    recordId: stored.id,
    practitionerId: stored.practitionerId,
  };
  if (after.resourceType === 'Appointment') {
    const before = change.before?.resourceType === 'Appointment' ? change.before : null;
    for (const type of appointmentActivity(before, after)) await tx.activity.append({ ...common, type });
  } else if (after.resourceType === 'Communication' && change.before === null) {
    await tx.activity.append({
      ...common,
      type: 'message.received',
      priority: after.priority,
      dedupeKey: `message.received:${stored.id}`,
    });
  }
}

export interface RefusedBooking {
  readonly practiceId: string;
  readonly link: Pick<Link, 'id' | 'role'>;
  /** The booking as the peer sent it (the peer's ids). */
  readonly data: CanonicalResource | JsonObject;
  readonly code: string;
  /** The refusal's outbox idempotency key: the same booking pulled again counts once. */
  readonly key: string;
}

/** Engine hook: a booking was refused back to its side (agenda invariant, design rule 8). */
export async function recordRefused(
  tx: ActivityTx & Pick<Tx, 'identityMap'>,
  refusal: RefusedBooking,
): Promise<void> {
  const peerPractitioner = firstRefOf(refusal.data, 'Practitioner');
  const practitionerId = peerPractitioner
    ? ((await tx.identityMap.findCanonical(refusal.link.id, 'Practitioner', peerPractitioner)) ?? null)
    : null;
  await tx.activity.append({
    practiceId: refusal.practiceId,
    type: 'appointment.refused',
    origin: refusal.link.role,
    linkId: refusal.link.id,
    kind: 'Appointment',
    practitionerId,
    detail: refusal.code,
    dedupeKey: `appointment.refused:${refusal.key}`,
  });
}

export interface RecordedConflicts {
  readonly practiceId: string;
  readonly kind: CanonicalResource['resourceType'];
  readonly recordId: string;
  readonly source: Link['role'];
  /**
   * A conflict recorded closed at once: `collision` (both sides changed, field ownership
   * decided) or `refused` (the side changed a field the other side owns); null when none.
   */
  readonly decided: 'collision' | 'refused' | null;
  /** A conflict left open for an operator, new (not one that a further change joined). */
  readonly openedForReview: boolean;
}

/** Engine hook: collisions and refusals of one change were recorded as conflicts. */
export async function recordConflicts(tx: ActivityTx, c: RecordedConflicts): Promise<void> {
  const common = {
    practiceId: c.practiceId,
    type: 'conflict.opened' as const,
    origin: c.source,
    kind: c.kind,
    recordId: c.recordId,
  };
  if (c.decided) await tx.activity.append({ ...common, detail: c.decided });
  if (c.openedForReview) await tx.activity.append({ ...common, detail: 'review' });
}

/** Operator hook: an open conflict was resolved by an operator. */
export async function recordConflictResolved(
  tx: ActivityTx,
  conflict: Pick<Conflict, 'id' | 'practiceId' | 'kind' | 'recordId' | 'createdAt'>,
  how: string,
): Promise<void> {
  await tx.activity.append({
    practiceId: conflict.practiceId,
    type: 'conflict.resolved',
    kind: conflict.kind,
    recordId: conflict.recordId,
    detail: how,
    // How long the conflict waited for an operator.
    latencySince: Date.parse(conflict.createdAt),
    dedupeKey: `conflict.resolved:${conflict.id}`,
  });
}

/**
 * Dispatcher hook: a change was pushed to a link and completed. A call message reaching a
 * practice link for the first time is a delivery, timed from `Communication.sent` (when the
 * agent took the call), else from when passerelle first stored it.
 */
export async function recordPushed(
  tx: ActivityTx & Pick<Tx, 'resources'>,
  item: Pick<OutboxItem, 'practiceId' | 'linkId' | 'kind' | 'recordId' | 'op' | 'payload'>,
  link: Pick<Link, 'id' | 'role'>,
): Promise<void> {
  if (item.kind !== 'Communication' || item.op !== 'upsert' || link.role !== 'practice') return;
  const message = (item.payload as { data?: Communication }).data;
  let since = message?.sent === undefined ? Number.NaN : Date.parse(message.sent);
  let practitionerId = message ? firstRefOf(message.recipient, 'Practitioner') : null;
  if (Number.isNaN(since) || practitionerId === null) {
    const stored = await tx.resources.get(item.recordId);
    if (Number.isNaN(since) && stored) since = Date.parse(stored.createdAt);
    practitionerId ??= stored?.practitionerId ?? null;
  }
  await tx.activity.append({
    practiceId: item.practiceId,
    type: 'message.delivered',
    origin: link.role,
    linkId: link.id,
    kind: 'Communication',
    recordId: item.recordId,
    practitionerId,
    priority: message?.priority ?? null,
    latencySince: Number.isNaN(since) ? null : since,
    dedupeKey: `message.delivered:${link.id}:${item.recordId}`,
  });
}
