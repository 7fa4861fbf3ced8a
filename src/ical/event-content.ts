/**
 * What a feed says about each record, in French, at each privacy level. Pure functions of the
 * canonical records: the renderer caches their output per record version.
 *
 * Privacy levels (docs/ical.md):
 * - `busy`: "Occupé" / "Plage bloquée" / "Urgences uniquement" — nothing about the patient,
 *   not even the appointment type (a type such as "IVG" or "Psychiatrie" says too much);
 * - `initials`: "RDV J. I." — enough for the practitioner to recognise the day's patients;
 * - `full`: name, appointment type, reason, phone — only on feeds an admin enabled it for.
 */
import { URGENT_SLOT_CODE } from '../model/identifiers.js';
import type {
  Appointment,
  CodeableConcept,
  HumanName,
  Patient,
  Practitioner,
  Slot,
} from '../model/resources.js';
import type { IcalPrivacy, IcalToken } from '../store/types.js';

export type FeedEventKind = 'appointment' | 'blocked' | 'urgent';
/** RFC 5545 §3.8.1.11 values a VEVENT may carry. */
export type FeedEventStatus = 'CONFIRMED' | 'TENTATIVE' | 'CANCELLED';

export interface FeedEventContent {
  readonly summary: string;
  /** Lines joined with "\n" (escaped by the renderer), or null. */
  readonly description: string | null;
  readonly status: FeedEventStatus;
  /** TRANSP:TRANSPARENT: does not make the practitioner busy (cancelled, urgent-only time). */
  readonly transparent: boolean;
  /** CLASS:PRIVATE, a hint to apps that share the calendar onwards. */
  readonly confidential: boolean;
}

/** `full` is honoured only when an admin enabled it for this feed; anything else falls back to `busy`. */
export function effectivePrivacy(token: Pick<IcalToken, 'privacy' | 'fullAllowed'>): IcalPrivacy {
  if (token.privacy === 'full') return token.fullAllowed ? 'full' : 'busy';
  return token.privacy;
}

/** Slot → what it means for the agenda, or null for slots feeds leave out (free, busy, tentative). */
export function slotKind(
  slot: Pick<Slot, 'status' | 'appointmentType'>,
): Exclude<FeedEventKind, 'appointment'> | null {
  if (slot.status === 'entered-in-error') return null;
  // An urgent-only slot is reserved for the day's emergencies whatever its status says.
  if (slot.appointmentType?.coding?.some((c) => c.code === URGENT_SLOT_CODE)) return 'urgent';
  if (slot.status === 'busy-unavailable') return 'blocked';
  return null;
}

const TENTATIVE = new Set(['proposed', 'pending', 'waitlist']);

/** FHIR Appointment.status → VEVENT STATUS; null for statuses feeds leave out. */
export function appointmentStatus(status: Appointment['status']): FeedEventStatus | null {
  if (status === 'entered-in-error') return null;
  if (status === 'cancelled') return 'CANCELLED';
  return TENTATIVE.has(status) ? 'TENTATIVE' : 'CONFIRMED';
}

/** The name a patient goes by: the usual name (nom d'usage) when there is one, else the official one. */
function displayName(names: readonly HumanName[] | undefined): HumanName | undefined {
  if (!names || names.length === 0) return undefined;
  return names.find((n) => n.use === 'usual') ?? names.find((n) => n.use === 'official') ?? names[0];
}

export function patientName(patient: Patient | undefined): string | null {
  const n = displayName(patient?.name);
  if (!n) return null;
  const parts = [n.given?.[0], n.family?.toUpperCase()].filter((p): p is string => !!p && p.trim() !== '');
  return parts.length > 0 ? parts.join(' ') : n.text?.trim() || null;
}

/** "Jeanne" "IMAGINAIRE" → "J. I."; "Jean-Pierre" → "J.-P." */
export function patientInitials(patient: Patient | undefined): string | null {
  const n = displayName(patient?.name);
  if (!n) return null;
  const initial = (word: string) =>
    word
      .split('-')
      .filter((w) => w.length > 0)
      .map((w) => `${w.charAt(0).toUpperCase()}.`)
      .join('-');
  const parts = [n.given?.[0], n.family]
    .filter((p): p is string => !!p && p.trim() !== '')
    .map((p) => initial(p.trim()));
  return parts.length > 0 ? parts.join(' ') : null;
}

export function practitionerName(p: Practitioner | undefined): string | null {
  const n = displayName(p?.name);
  if (!n) return null;
  const prefix = n.prefix?.[0] ?? 'Dr';
  const parts = [prefix, n.given?.[0], n.family?.toUpperCase()].filter(
    (x): x is string => !!x && x.trim() !== '',
  );
  return parts.length > 1 ? parts.join(' ') : n.text?.trim() || null;
}

function conceptLabel(c: CodeableConcept | undefined): string | null {
  if (!c) return null;
  return c.text?.trim() || c.coding?.find((x) => x.display)?.display?.trim() || null;
}

export function appointmentType(a: Appointment): string | null {
  for (const c of a.serviceType ?? []) {
    const label = conceptLabel(c);
    if (label) return label;
  }
  return conceptLabel(a.appointmentType);
}

export function appointmentReason(a: Appointment): string | null {
  const parts = (a.reasonCode ?? []).map(conceptLabel).filter((x): x is string => x !== null);
  if (a.description?.trim()) parts.push(a.description.trim());
  return parts.length > 0 ? [...new Set(parts)].join(' ; ') : null;
}

/** Mobile first, then the best-ranked phone. */
export function patientPhone(p: Patient | undefined): string | null {
  const phones = (p?.telecom ?? []).filter((t) => t.system === 'phone' || t.system === 'sms');
  if (phones.length === 0) return null;
  const sorted = [...phones].sort(
    (a, b) => Number(b.use === 'mobile') - Number(a.use === 'mobile') || (a.rank ?? 99) - (b.rank ?? 99),
  );
  return sorted[0]?.value ?? null;
}

export interface ContentContext {
  readonly privacy: IcalPrivacy;
  /** Set on practice-wide feeds, where each event says whose it is. */
  readonly practitionerLabel: string | null;
}

const withPractitioner = (summary: string, ctx: ContentContext) =>
  ctx.practitionerLabel ? `${summary} — ${ctx.practitionerLabel}` : summary;

export function appointmentContent(
  a: Appointment,
  patient: Patient | undefined,
  ctx: ContentContext,
): FeedEventContent | null {
  const status = appointmentStatus(a.status);
  if (status === null) return null;
  let summary: string;
  let description: string | null = null;
  switch (ctx.privacy) {
    case 'busy':
      summary =
        status === 'CANCELLED' ? 'Annulé' : status === 'TENTATIVE' ? 'Occupé (à confirmer)' : 'Occupé';
      break;
    case 'initials': {
      const initials = patientInitials(patient);
      summary = initials ? `RDV ${initials}` : 'RDV';
      break;
    }
    case 'full': {
      const name = patientName(patient);
      const type = appointmentType(a);
      const reason = appointmentReason(a);
      const phone = patientPhone(patient);
      summary = ['RDV', name, type].filter((x): x is string => x !== null).join(' — ');
      const lines = [
        name && `Patient : ${name}`,
        type && `Type : ${type}`,
        reason && `Motif : ${reason}`,
        phone && `Téléphone : ${phone}`,
      ].filter((x): x is string => typeof x === 'string');
      description = lines.length > 0 ? lines.join('\n') : null;
      break;
    }
    default:
      ctx.privacy satisfies never;
      throw new Error('unreachable');
  }
  if (ctx.privacy !== 'busy') {
    if (status === 'CANCELLED') summary = `Annulé — ${summary}`;
    else if (status === 'TENTATIVE') summary = `${summary} (à confirmer)`;
    else if (a.status === 'noshow') summary = `${summary} (absent)`;
  }
  return {
    summary: withPractitioner(summary, ctx),
    description,
    status,
    transparent: status === 'CANCELLED',
    confidential: ctx.privacy !== 'busy',
  };
}

export function slotContent(
  slot: Slot,
  kind: Exclude<FeedEventKind, 'appointment'>,
  ctx: ContentContext,
): FeedEventContent {
  const summary = kind === 'urgent' ? 'Urgences uniquement' : 'Plage bloquée';
  // A slot comment is free text typed at the practice ("congrès", or a patient's name): full only.
  const description =
    ctx.privacy === 'full' && slot.comment?.trim() ? `Commentaire : ${slot.comment.trim()}` : null;
  return {
    summary: withPractitioner(summary, ctx),
    description,
    status: 'CONFIRMED',
    // Urgent-only time is open to emergencies, so it does not make the practitioner busy.
    transparent: kind === 'urgent',
    confidential: description !== null,
  };
}
