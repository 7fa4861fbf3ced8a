/**
 * Small facts about canonical records the engine needs in several places: the agenda columns
 * of the `resources` table (read by the iCal feeds), what a tombstone becomes, which outbound
 * operation and priority a change gets.
 */
import type { OutboundOp } from '../connector/contract.js';
import type {
  Appointment,
  CanonicalResource,
  Communication,
  Patient,
  ResourceKind,
} from '../model/resources.js';
import type { Tx } from '../store/index.js';
import { type JsonObject, PRIORITY } from '../store/types.js';
import { firstRefOf } from './references.js';

export interface AgendaColumns {
  readonly startAt: string | null;
  readonly endAt: string | null;
  readonly practitionerId: string | null;
  readonly patientId: string | null;
  readonly status: string | null;
}

/**
 * The columns other parts query without parsing `data`: practitioner (a slot's through
 * Slot.schedule → Schedule.actor), patient, time window, status.
 */
export async function agendaColumns(tx: Tx, r: CanonicalResource): Promise<AgendaColumns> {
  switch (r.resourceType) {
    case 'Appointment':
      return {
        startAt: r.start ?? null,
        endAt: r.end ?? null,
        practitionerId: firstRefOf(
          r.participant.map((p) => p.actor),
          'Practitioner',
        ),
        patientId: firstRefOf(
          r.participant.map((p) => p.actor),
          'Patient',
        ),
        status: r.status,
      };
    case 'Slot': {
      const scheduleId = firstRefOf(r.schedule, 'Schedule');
      const schedule = scheduleId ? await tx.resources.get(scheduleId) : undefined;
      return {
        startAt: r.start,
        endAt: r.end,
        practitionerId: schedule
          ? firstRefOf((schedule.data as { actor?: unknown }).actor, 'Practitioner')
          : null,
        patientId: null,
        status: r.status,
      };
    }
    case 'Schedule':
      return {
        startAt: r.planningHorizon?.start ?? null,
        endAt: r.planningHorizon?.end ?? null,
        practitionerId: firstRefOf(r.actor, 'Practitioner'),
        patientId: null,
        status: r.active === false ? 'inactive' : 'active',
      };
    case 'Communication':
      return {
        startAt: r.sent ?? null,
        endAt: null,
        practitionerId: firstRefOf(r.recipient, 'Practitioner'),
        patientId: firstRefOf(r.subject, 'Patient'),
        status: r.status,
      };
    case 'Patient':
    case 'Practitioner':
      return {
        startAt: null,
        endAt: null,
        practitionerId: null,
        patientId: null,
        status: r.active === false ? 'inactive' : 'active',
      };
    // Filed under its practitioner, so `?practitionerId=` lists a practitioner's roles.
    case 'PractitionerRole':
      return {
        startAt: null,
        endAt: null,
        practitionerId: firstRefOf(r.practitioner, 'Practitioner'),
        patientId: null,
        status: r.active === false ? 'inactive' : 'active',
      };
    default:
      return r satisfies never;
  }
}

/** The patient a record is about, for the audit trail (design rule 11). */
export function patientOf(r: CanonicalResource): string | null {
  switch (r.resourceType) {
    case 'Patient':
      return r.id;
    case 'Appointment':
      return firstRefOf(
        r.participant.map((p) => p.actor),
        'Patient',
      );
    case 'Communication':
      return firstRefOf(r.subject, 'Patient');
    default:
      return null;
  }
}

/**
 * What a peer's deletion becomes: cancelling is a status, never a delete (design.md); other
 * records are marked entered-in-error or inactive, so history and iCal UIDs survive.
 */
export function tombstone(r: CanonicalResource): CanonicalResource {
  switch (r.resourceType) {
    case 'Appointment':
      return { ...r, status: 'cancelled' };
    case 'Slot':
      return { ...r, status: 'entered-in-error' };
    case 'Communication':
      return { ...r, status: 'entered-in-error' };
    case 'Patient':
    case 'Practitioner':
    case 'PractitionerRole':
    case 'Schedule':
      return { ...r, active: false };
    default:
      return r satisfies never;
  }
}

export function outboundOp(r: CanonicalResource): OutboundOp {
  if (r.resourceType === 'Appointment' && r.status === 'cancelled') return 'cancel';
  if ((r.resourceType === 'Slot' || r.resourceType === 'Communication') && r.status === 'entered-in-error')
    return 'delete';
  return 'upsert';
}

/**
 * Urgent call messages first (design table: "urgent ones first"); practitioners, agendas and
 * blocked slots next, so they reach the secretariat before an agent books over them.
 */
export function outboundPriority(r: CanonicalResource): number {
  if (r.resourceType === 'Communication' && (r as Communication).priority !== 'routine')
    return PRIORITY.urgent;
  if (r.resourceType === 'Slot' || r.resourceType === 'Schedule' || r.resourceType === 'Practitioner')
    return PRIORITY.high;
  return PRIORITY.normal;
}

/** `Patient.link` replaced-by target after a merge (ADT A40, or a resolved match review). */
export function replacedBy(data: JsonObject | CanonicalResource | undefined): string | null {
  const links = (data as Patient | undefined)?.link;
  const survivor = links?.find((l) => l.type === 'replaced-by')?.other.reference;
  return survivor ? (/^Patient\/(.+)$/.exec(survivor)?.[1] ?? null) : null;
}

export function isAppointment(r: CanonicalResource): r is Appointment {
  return r.resourceType === 'Appointment';
}

export const SYNCED_KINDS: readonly ResourceKind[] = [
  'Practitioner',
  'Schedule',
  'Slot',
  'Patient',
  'Appointment',
  'Communication',
];
