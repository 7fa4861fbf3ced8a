/**
 * Agenda rules (issue 20) applied to what the store holds: the rules of a practitioner, the
 * agenda's contents as src/agenda needs them, free slots, the check of a secretariat booking
 * and the list of appointments a change of rules leaves outside. src/agenda does the
 * computing; this file only reads the store and translates canonical records.
 */
import {
  type AgendaRules,
  AgendaRules as AgendaRulesSchema,
  type AgendaState,
  type BookedVisit,
  checkBooking,
  type CheckResult,
  type FreeSlot,
  freeSlots,
  frenchReason,
  type ImportedRules,
  importRules,
  type OutsideAppointment,
  outsideRules,
  parseRules,
  type RuleInput,
  zoneOf,
} from '../agenda/index.js';
import { PasserelleError } from '../errors.js';
import { URGENT_SLOT_CODE, V2_0276_SYSTEM } from '../model/identifiers.js';
import type { Appointment, CodeableConcept, PractitionerRole, Schedule, Slot } from '../model/resources.js';
import type { Repos } from '../store/index.js';
import { occupies, practitionersOf } from './agenda.js';

type Reader = Pick<Repos, 'agenda' | 'resources'>;

/**
 * The practitioner's rules in effect, or undefined when there are none (nothing enforced): the
 * rules set through the API (console, configuration) when there are; otherwise those the
 * practice software describes (importedRulesOf), when they give opening hours.
 */
export async function rulesOf(
  repos: Pick<Repos, 'agenda' | 'resources'>,
  practiceId: string,
  practitionerId: string,
): Promise<AgendaRules | undefined> {
  return (await rulesInEffect(repos, practiceId, practitionerId))?.rules;
}

const codesOf = (cc: readonly CodeableConcept[] | undefined): string[] =>
  (cc ?? []).flatMap((c) => (c.coding ?? []).map((k) => k.code));

/**
 * The visit type of an appointment: the first code of its serviceType (the secretariat's
 * appointment type, a FHIR serviceType) or appointmentType that the rules know; else its first
 * serviceType code (unknown to the rules).
 */
export function visitTypeCodeOf(a: Appointment, rules: AgendaRules): string | undefined {
  const codes = [...codesOf(a.serviceType), ...codesOf(a.appointmentType ? [a.appointmentType] : [])];
  return codes.find((c) => rules.visitTypes.some((v) => v.code === c)) ?? codesOf(a.serviceType)[0];
}

/** An urgent booking: its appointmentType is v2-0276 EMERGENCY (or its visit type is urgent, see src/agenda). */
export function markedUrgent(a: Appointment): boolean {
  return (
    a.appointmentType?.coding?.some((c) => c.system === V2_0276_SYSTEM && c.code === URGENT_SLOT_CODE) ??
    false
  );
}

/** A slot the practice marked urgent-only (urgence du jour): free, v2-0276 EMERGENCY. */
export function isUrgentOnlySlot(s: Slot): boolean {
  return (
    s.status === 'free' &&
    (s.appointmentType?.coding?.some((c) => c.system === V2_0276_SYSTEM && c.code === URGENT_SLOT_CODE) ??
      false)
  );
}

const DAY = 86_400_000;

/**
 * The practitioner's agenda around [from, to): occupying appointments (a day either side, for
 * buffers and daily caps) and the slots that hold time (busy, busy-unavailable, busy-tentative).
 */
export async function agendaStateOf(
  repos: Reader,
  practiceId: string,
  practitionerId: string,
  rules: AgendaRules,
  from: string,
  to: string,
  /** Slots the booking itself holds (its own busy slot is not in its way). */
  ownSlots: ReadonlySet<string> = new Set(),
): Promise<AgendaState> {
  const window = {
    practiceId,
    practitionerId,
    from: new Date(Date.parse(from) - DAY).toISOString(),
    to: new Date(Date.parse(to) + DAY).toISOString(),
  };
  const appointments: BookedVisit[] = [];
  for (const r of await repos.resources.list({ ...window, kind: 'Appointment' })) {
    const a = r.data as unknown as Appointment;
    if (!occupies(a)) continue;
    const visitType = visitTypeCodeOf(a, rules);
    appointments.push({
      id: r.id,
      start: a.start as string,
      end: a.end as string,
      ...(visitType !== undefined && { visitType }),
    });
  }
  const blocks = (await repos.resources.list({ ...window, kind: 'Slot' }))
    .filter((r) => !ownSlots.has(`Slot/${r.id}`))
    .map((r) => r.data as unknown as Slot)
    .filter((s) => s.status === 'busy' || s.status === 'busy-unavailable' || s.status === 'busy-tentative')
    .map((s) => ({ start: s.start, end: s.end }));
  return { appointments, blocks };
}

export async function availabilityOf(
  repos: Reader,
  practiceId: string,
  practitionerId: string,
  query: { visitType: string; from: string; to: string; now: string },
): Promise<{ rules: AgendaRules; slots: FreeSlot[] } | undefined> {
  const rules = await rulesOf(repos, practiceId, practitionerId);
  if (!rules) return undefined;
  const state = await agendaStateOf(repos, practiceId, practitionerId, rules, query.from, query.to);
  return { rules, slots: freeSlots(rules, state, query) };
}

/** The appointments of [from, to) that `rules` do not allow (listed, never moved). */
export async function appointmentsOutside(
  repos: Reader,
  practiceId: string,
  practitionerId: string,
  rules: AgendaRules,
  window: { from: string; to: string; now: string },
): Promise<OutsideAppointment[]> {
  const state = await agendaStateOf(repos, practiceId, practitionerId, rules, window.from, window.to);
  const from = Date.parse(window.from);
  const to = Date.parse(window.to);
  return outsideRules(rules, state, window.now).filter(
    (o) => Date.parse(o.end) > from && Date.parse(o.start) < to,
  );
}

export interface RulesVerdict {
  readonly practitionerId: string;
  readonly rules: AgendaRules;
  readonly result: Exclude<CheckResult, { ok: true }>;
}

/**
 * The first practitioner of the booking whose rules it breaks (design rule 8, issue 20 point 3).
 * Also: a booking into a slot the practice software marked urgent-only must be urgent (one of
 * the rules' urgent visit types, or v2-0276 EMERGENCY). A practitioner without rules: nothing.
 */
export async function checkAgainstRules(
  repos: Reader,
  practiceId: string,
  appt: Appointment,
  now: number,
  /** The practitioner's rules in effect (an ingest reads them through its memo); default `rulesOf`. */
  rulesFor: (practitionerId: string) => Promise<AgendaRules | undefined> = (id) =>
    rulesOf(repos, practiceId, id),
): Promise<RulesVerdict | undefined> {
  if (appt.start === undefined || appt.end === undefined) return undefined;
  for (const practitionerId of practitionersOf(appt)) {
    // Without rules nothing more is enforced: which bookings are urgent is what the rules say.
    const rules = await rulesFor(practitionerId);
    if (!rules) continue;
    const visitType = visitTypeCodeOf(appt, rules);
    const urgent = markedUrgent(appt) || rules.visitTypes.some((v) => v.code === visitType && v.urgent);
    // A slot the practice software marked urgent-only (FHIR Slot, HL7 S23 with EMERGENCY) takes only an urgent booking.
    const window = { practiceId, practitionerId, from: appt.start, to: appt.end };
    const urgentSlot = (await repos.resources.list({ ...window, kind: 'Slot' }))
      .map((r) => r.data as unknown as Slot)
      .some(
        (s) =>
          isUrgentOnlySlot(s) &&
          Date.parse(s.start) < Date.parse(appt.end as string) &&
          Date.parse(appt.start as string) < Date.parse(s.end),
      );
    if (urgentSlot && !urgent) return { practitionerId, rules, result: { ok: false, reason: 'urgent-only' } };
    const own = new Set((appt.slot ?? []).map((s) => s.reference ?? ''));
    const state = await agendaStateOf(repos, practiceId, practitionerId, rules, appt.start, appt.end, own);
    const result = checkBooking(
      rules,
      state,
      {
        id: appt.id,
        start: appt.start,
        end: appt.end,
        ...(visitType !== undefined && { visitType }),
        urgent,
      },
      new Date(now).toISOString(),
    );
    if (!result.ok) return { practitionerId, rules, result };
  }
  return undefined;
}

/**
 * The refusal sent back to the agent: the reason in French, the time in the practitioner's
 * zone, never the patient (details carry codes and our ids only).
 */
export function outsideRulesRefusal(verdict: RulesVerdict, appt: Appointment): PasserelleError {
  const zone = zoneOf(verdict.rules);
  return new PasserelleError(
    'ERR_SYNC_OUTSIDE_AGENDA_RULES',
    frenchReason(verdict.result, appt.start as string, zone),
    {
      details: {
        reason: verdict.result.reason,
        practitionerId: verdict.practitionerId,
        ...(verdict.result.detail !== undefined && { detail: verdict.result.detail }),
      },
    },
  );
}

/**
 * A booking the rules refuse passes when the practice forced that time for that practitioner
 * beforehand (API, audited when created); the permission is used once, and its use is audited.
 */
export async function useForcedBooking(
  tx: Pick<Repos, 'agenda' | 'audit'>,
  practiceId: string,
  practitionerId: string,
  appt: Appointment,
  link: { id: string },
): Promise<boolean> {
  const [forced] = await tx.agenda.findForced(
    practiceId,
    practitionerId,
    appt.start as string,
    appt.end as string,
  );
  if (!forced) return false;
  await tx.agenda.useForced(forced.id, appt.id);
  await tx.audit.append({
    actor: `link:${link.id}`,
    action: 'agenda.forced-booking.use',
    practiceId,
    resourceType: 'Appointment',
    resourceId: appt.id,
    outcome: 'success',
    via: 'sync',
    details: { forcedBookingId: forced.id, practitionerId },
  });
  return true;
}

/** Which rules are in effect for a practitioner, and where they come from (docs/agenda.md). */
export interface RulesInEffect {
  readonly rules: AgendaRules;
  /** `api`: set through the API (console, configuration), which wins; `practice-software`: imported. */
  readonly source: 'api' | 'practice-software';
}

/**
 * Precedence (issue 20): the rules set through the API win whole over what the practice
 * software describes — an integrator who wrote rules meant them, and mixing two sources field by
 * field would enforce hours nobody wrote. Imported rules are in effect only where no API rules
 * exist and the practitioner's agenda (Schedule) gives opening hours (absences alone would
 * close every day).
 */
export async function rulesInEffect(
  repos: Pick<Repos, 'agenda' | 'resources'>,
  practiceId: string,
  practitionerId: string,
): Promise<RulesInEffect | undefined> {
  const stored = await repos.agenda.getRules(practiceId, practitionerId);
  if (stored) return { rules: parseRules(stored.rules), source: 'api' };
  // Only the agenda itself (its Schedules) says what may be booked: a PractitionerRole's hours
  // say when the practitioner works in that role and place (FHIR R4 PractitionerRole.availableTime),
  // shown beside the rules but not enforced.
  const imported = importRules(await ruleInputsOf(repos, practiceId, practitionerId, { roles: false }));
  if (!imported.hasHours) return undefined;
  const parsed = AgendaRulesSchema.safeParse(imported.rules);
  return parsed.success ? { rules: parsed.data, source: 'practice-software' } : undefined;
}

/**
 * The rules the practice software describes for a practitioner, from what its link synced:
 * the Schedules and PractitionerRoles it created (their availableTime, FrSchedule
 * availabilityTime and serviceTypeDuration) and, when `blocksIn` is given, the blocked slots of
 * that period (FHIR Slot busy-unavailable, HL7 SIU^S23; an S24 reopened them) as absences.
 * Records the secretariat created are not the practice's word on its hours and are left out.
 */
export async function importedRulesOf(
  repos: Pick<Repos, 'resources'>,
  practiceId: string,
  practitionerId: string,
  blocksIn?: { from: string; to: string },
): Promise<ImportedRules> {
  return importRules(
    await ruleInputsOf(repos, practiceId, practitionerId, { roles: true, ...(blocksIn && { blocksIn }) }),
  );
}

async function ruleInputsOf(
  repos: Pick<Repos, 'resources'>,
  practiceId: string,
  practitionerId: string,
  options: { roles: boolean; blocksIn?: { from: string; to: string } },
): Promise<RuleInput[]> {
  const { blocksIn } = options;
  const inputs: RuleInput[] = [];
  const q = { practiceId, practitionerId };
  for (const r of await repos.resources.list({ ...q, kind: 'Schedule' })) {
    if (r.origin !== 'practice') continue;
    const s = r.data as unknown as Schedule;
    if (s.active === false) continue;
    inputs.push({
      source: 'schedule',
      reference: `Schedule/${r.id}`,
      ...(s.availableTime && { availableTime: s.availableTime }),
      ...(s.availabilityTime && { availabilityTime: s.availabilityTime }),
      ...(s.serviceTypeDuration && { serviceTypeDuration: s.serviceTypeDuration }),
    });
  }
  for (const r of options.roles ? await repos.resources.list({ ...q, kind: 'PractitionerRole' }) : []) {
    if (r.origin !== 'practice') continue;
    const role = r.data as unknown as PractitionerRole;
    if (role.active === false || !role.availableTime) continue;
    inputs.push({
      source: 'practitioner-role',
      reference: `PractitionerRole/${r.id}`,
      availableTime: role.availableTime,
    });
  }
  if (blocksIn) {
    for (const r of await repos.resources.list({ ...q, kind: 'Slot', ...blocksIn })) {
      const slot = r.data as unknown as Slot;
      if (r.origin !== 'practice' || slot.status !== 'busy-unavailable') continue;
      inputs.push({
        source: 'blocked-slot',
        reference: `Slot/${r.id}`,
        blocked: {
          start: slot.start,
          end: slot.end,
          ...(slot.comment !== undefined && { label: slot.comment }),
        },
      });
    }
  }
  return inputs;
}
