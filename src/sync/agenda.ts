/**
 * Agenda invariant (design rule 8): passerelle never creates a double booking. A secretariat
 * booking whose time falls on a slot the practice has blocked (Slot busy-unavailable: plage
 * bloquée, absence) or already filled (a busy slot, or another appointment of the same
 * practitioner) is refused back to the secretariat with a reason an agent can read.
 * Statuses follow FHIR R4 (https://hl7.org/fhir/R4/valueset-appointmentstatus.html).
 */
import { PasserelleError } from '../errors.js';
import type { Appointment, Slot } from '../model/resources.js';

/** Appointment statuses that hold the practitioner's time. */
export const OCCUPYING: ReadonlySet<string> = new Set([
  'proposed',
  'pending',
  'booked',
  'arrived',
  'fulfilled',
  'checked-in',
]);

export function occupies(a: Pick<Appointment, 'status' | 'start' | 'end'>): boolean {
  return OCCUPYING.has(a.status) && a.start !== undefined && a.end !== undefined;
}

export function practitionersOf(a: Appointment): string[] {
  return (a.participant ?? []).flatMap((p) => {
    const m = /^Practitioner\/(.+)$/.exec(p.actor?.reference ?? '');
    return m && p.status !== 'declined' ? [m[1] as string] : [];
  });
}

/** Only a booking that newly takes time needs checking: new, moved, re-assigned or re-activated. */
export function needsAgendaCheck(next: Appointment, previous: Appointment | null): boolean {
  if (!occupies(next)) return false;
  if (!previous || !occupies(previous)) return true;
  return (
    previous.start !== next.start ||
    previous.end !== next.end ||
    practitionersOf(previous).sort().join() !== practitionersOf(next).sort().join()
  );
}

export interface AgendaClash {
  readonly reason: 'blocked' | 'filled';
  /** The canonical id of the slot or appointment in the way (ours, never patient data). */
  readonly recordId: string;
  readonly kind: 'Slot' | 'Appointment';
}

const overlaps = (aStart: string, aEnd: string, bStart: string, bEnd: string) =>
  Date.parse(aStart) < Date.parse(bEnd) && Date.parse(bStart) < Date.parse(aEnd);

/**
 * The first clash of `appt` with the practitioner's slots and appointments overlapping it
 * (already filtered to the practitioner and time window by the store query).
 */
export function findClash(
  appt: Appointment,
  slots: readonly Slot[],
  appointments: readonly Appointment[],
): AgendaClash | undefined {
  if (!appt.start || !appt.end) return undefined;
  const ownSlots = new Set((appt.slot ?? []).map((s) => s.reference));
  for (const s of slots) {
    if (!overlaps(appt.start, appt.end, s.start, s.end)) continue;
    if (s.status === 'busy-unavailable') return { reason: 'blocked', recordId: s.id, kind: 'Slot' };
    // A busy slot is filled by someone else's appointment, unless this booking is the one in it.
    if (s.status === 'busy' && !ownSlots.has(`Slot/${s.id}`))
      return { reason: 'filled', recordId: s.id, kind: 'Slot' };
  }
  for (const other of appointments) {
    if (other.id === appt.id || !occupies(other)) continue;
    if (overlaps(appt.start, appt.end, other.start as string, other.end as string))
      return { reason: 'filled', recordId: other.id, kind: 'Appointment' };
  }
  return undefined;
}

/** "lundi 23 novembre 2026 à 10:30" in the practice's zone. */
function frenchTime(iso: string, timeZone: string): string {
  const d = new Date(iso);
  const day = new Intl.DateTimeFormat('fr-FR', {
    timeZone,
    weekday: 'long',
    day: 'numeric',
    month: 'long',
    year: 'numeric',
  }).format(d);
  const time = new Intl.DateTimeFormat('fr-FR', {
    timeZone,
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).format(d);
  return `${day} à ${time}`;
}

/**
 * The refusal sent back to the secretariat: French, for the agent, naming the time (in the
 * practice's zone) and why, never the patient.
 */
export function slotUnavailable(clash: AgendaClash, appt: Appointment, timeZone: string): PasserelleError {
  const when = frenchTime(appt.start as string, timeZone);
  const message =
    clash.reason === 'blocked'
      ? `Rendez-vous refusé : le créneau du ${when} est bloqué par le cabinet (absence ou plage fermée). Merci de proposer un autre horaire au patient.`
      : `Rendez-vous refusé : le créneau du ${when} est déjà occupé dans l’agenda du praticien. Merci de proposer un autre horaire au patient.`;
  return new PasserelleError('ERR_SYNC_SLOT_UNAVAILABLE', message, {
    details: { reason: clash.reason, kind: clash.kind, recordId: clash.recordId },
  });
}
