/**
 * Agenda rules read from the practice software (issue 20): the opening hours, visit-type
 * durations and absences its FHIR resources or HL7 messages carry, turned into the rules of
 * rules.ts, each part remembering where it came from. Pure: the resources come in, rules go out.
 *
 * What is read, and from where:
 * - FHIR R4 `availableTime` (PractitionerRole, HealthcareService — and the canonical Schedule's
 *   plain field): weekly opening hours (https://hl7.org/fhir/R4/practitionerrole.html).
 * - FHIR R4 `notAvailable` (PractitionerRole, HealthcareService): absences; a `during` given as
 *   dates is whole local days (R4 Period: an end date includes its whole day).
 * - FrSchedule (ANS "Gestion d'agendas partagés", FR Core fr-core-schedule):
 *   `availabilityTime` — dated periods of type `free` (the agenda is open: the hours of that
 *   date, replacing the weekly hours) or `busy-unavailable` (an absence); `serviceTypeDuration` —
 *   a visit type and its duration (https://interop.esante.gouv.fr/ig/fhir/gap, flux2: « les
 *   disponibilités … les exceptions de disponibilités telles que des vacances »).
 * - Slots `busy-unavailable` (FHIR Slot, HL7 SIU^S23 — an S24 reopens the same slot as `free`,
 *   so it is no longer an absence): absences.
 */
import { DateTime } from 'luxon';

import type { AgendaRulesInput, Day } from './rules.js';
import { DAYS } from './rules.js';

/** The FR Core and ANS GAP URLs of FrSchedule's two extensions (the GAP IG spells "Availabilty"). */
export const FR_SCHEDULE_AVAILABILITY_URLS = [
  'https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-schedule-availability-time',
  'http://interopsante.org/fhir/StructureDefinition/FrScheduleAvailabiltyTime',
  'http://interopsante.org/fhir/StructureDefinition/FrScheduleAvailabilityTime',
] as const;
export const FR_SERVICE_TYPE_DURATION_URLS = [
  'https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-service-type-duration',
  'http://interopsante.org/fhir/StructureDefinition/FrServiceTypeDuration',
] as const;

/** Where a part of imported rules came from (shown beside the rules, docs/agenda.md). */
export const RULE_SOURCES = [
  /** A Schedule (FHIR Schedule / FrSchedule; an HL7 SCH-5 agenda carries no hours). */
  'schedule',
  'practitioner-role',
  'healthcare-service',
  /** A blocked slot: FHIR Slot busy-unavailable or HL7 SIU^S23 (an S24 reopens it). */
  'blocked-slot',
] as const;
export type RuleSource = (typeof RULE_SOURCES)[number];

export interface FhirAvailableTime {
  readonly daysOfWeek?: readonly string[];
  readonly allDay?: boolean;
  readonly availableStartTime?: string;
  readonly availableEndTime?: string;
}
export interface FhirNotAvailable {
  readonly description?: string;
  readonly during?: { readonly start?: string; readonly end?: string };
}
export interface FhirCoding {
  readonly system?: string | undefined;
  readonly code?: string | undefined;
  readonly display?: string | undefined;
}
export interface FhirExtension {
  readonly url: string;
  readonly extension?: readonly FhirExtension[];
  readonly valueIdentifier?: { readonly value?: string };
  readonly valueCoding?: FhirCoding;
  readonly valueCodeableConcept?: { readonly coding?: readonly FhirCoding[]; readonly text?: string };
  readonly valueDateTime?: string;
  readonly valueDuration?: { readonly value?: number; readonly unit?: string; readonly code?: string };
}
/** A dated availability of FrSchedule, as the canonical Schedule keeps it. */
export interface DatedAvailability {
  readonly type: 'free' | 'busy-unavailable';
  readonly start: string;
  readonly end: string;
  readonly identifier?: string | undefined;
}
export interface ServiceTypeDuration {
  readonly serviceType: {
    readonly coding?: readonly FhirCoding[] | undefined;
    readonly text?: string | undefined;
  };
  readonly minutes: number;
}

/** A source of rules: one resource of the practice software, already reduced to what matters. */
export interface RuleInput {
  readonly source: RuleSource;
  /** `Schedule/…`, `PractitionerRole/…`, `Slot/…` (our ids or the software's). */
  readonly reference: string;
  readonly availableTime?: readonly FhirAvailableTime[];
  readonly notAvailable?: readonly FhirNotAvailable[];
  readonly availabilityTime?: readonly DatedAvailability[];
  readonly serviceTypeDuration?: readonly ServiceTypeDuration[];
  /** A blocked slot (busy-unavailable) of the agenda: an absence. */
  readonly blocked?: { readonly start: string; readonly end: string; readonly label?: string };
}

export interface ImportedRules {
  /** Rules in the shape of rules.ts (validated by the caller with `AgendaRules`). */
  readonly rules: AgendaRulesInput;
  /** Opening hours were found (weekly or dated): without them the rules would close every day. */
  readonly hasHours: boolean;
  readonly sources: readonly { readonly source: RuleSource; readonly reference: string }[];
  /** What could not be read, for the integrator (no patient data: references and field names). */
  readonly issues: readonly string[];
}

const hhmm = (t: string | undefined): string | undefined => {
  const m = /^([01]\d|2[0-3]):([0-5]\d)/.exec(t ?? '');
  return m ? `${m[1]}:${m[2]}` : undefined;
};
const isDay = (d: string): d is Day => (DAYS as readonly string[]).includes(d);
const DATE = /^\d{4}-\d{2}-\d{2}$/;

/**
 * FrSchedule's extensions (FR Core / ANS GAP) as plain fields: the dated availabilities and the
 * visit-type durations. Unknown or incomplete entries are left out.
 */
export function readFrScheduleExtensions(extensions: readonly FhirExtension[] | undefined): {
  availabilityTime: DatedAvailability[];
  serviceTypeDuration: ServiceTypeDuration[];
} {
  const availabilityTime: DatedAvailability[] = [];
  const serviceTypeDuration: ServiceTypeDuration[] = [];
  for (const ext of extensions ?? []) {
    const part = (name: string) => ext.extension?.find((e) => e.url === name);
    if ((FR_SCHEDULE_AVAILABILITY_URLS as readonly string[]).includes(ext.url)) {
      const type = part('type')?.valueCoding?.code;
      const start = part('start')?.valueDateTime;
      const end = part('end')?.valueDateTime;
      const identifier = part('identifier')?.valueIdentifier?.value;
      if (
        (type === 'free' || type === 'busy-unavailable') &&
        start &&
        end &&
        Date.parse(start) < Date.parse(end)
      )
        availabilityTime.push({
          type,
          start: new Date(start).toISOString(),
          end: new Date(end).toISOString(),
          ...(identifier !== undefined && { identifier }),
        });
    } else if ((FR_SERVICE_TYPE_DURATION_URLS as readonly string[]).includes(ext.url)) {
      const serviceType = part('serviceType')?.valueCodeableConcept;
      const d = part('duration')?.valueDuration;
      // UCUM units of time (https://hl7.org/fhir/R4/datatypes.html#Duration): min and h.
      const unit = d?.code ?? d?.unit;
      const minutes =
        d?.value === undefined
          ? undefined
          : unit === 'h'
            ? d.value * 60
            : unit === 'min'
              ? d.value
              : undefined;
      // Only what the canonical CodeableConcept holds (codings with a code, text).
      const coding = (serviceType?.coding ?? [])
        .filter((c) => c.code)
        .map((c) => ({
          code: c.code as string,
          ...(c.system !== undefined && { system: c.system }),
          ...(c.display !== undefined && { display: c.display }),
        }));
      if (coding.length > 0 && minutes !== undefined && Number.isInteger(minutes) && minutes > 0)
        serviceTypeDuration.push({
          serviceType: { coding, ...(serviceType?.text !== undefined && { text: serviceType.text }) },
          minutes,
        });
    }
  }
  return { availabilityTime, serviceTypeDuration };
}

/** The local dates [from, to] of an instant interval, each with its local hours. */
function localDays(start: string, end: string, zone: string): { date: string; start: string; end: string }[] {
  const out: { date: string; start: string; end: string }[] = [];
  let s = DateTime.fromISO(start, { zone });
  const e = DateTime.fromISO(end, { zone });
  while (s < e) {
    const midnight = s.plus({ days: 1 }).startOf('day');
    const stop = e < midnight ? e : midnight;
    // Periods do not cross midnight (rules.ts): a day ending at midnight ends at 23:59.
    const endHm = stop.equals(midnight) ? '23:59' : stop.toFormat('HH:mm');
    const startHm = s.toFormat('HH:mm');
    if (startHm < endHm) out.push({ date: s.toISODate() as string, start: startHm, end: endHm });
    s = midnight;
  }
  return out;
}

/**
 * The rules the practice software's resources describe for one practitioner. Several sources
 * add up: their weekly hours join, their absences add, their visit types merge (the first
 * duration of a code wins). `timeZone` reads dated availabilities as local hours.
 */
export function importRules(inputs: readonly RuleInput[], timeZone = 'Europe/Paris'): ImportedRules {
  const weekly: NonNullable<AgendaRulesInput['weekly']> = [];
  const exceptions = new Map<string, { start: string; end: string }[]>();
  const absences: NonNullable<AgendaRulesInput['absences']> = [];
  const visitTypes = new Map<string, { code: string; label: string; durationMinutes: number }>();
  const issues: string[] = [];
  const sources: { source: RuleSource; reference: string }[] = [];

  for (const input of inputs) {
    let used = false;
    for (const [i, t] of (input.availableTime ?? []).entries()) {
      const days = (t.daysOfWeek ?? []).filter(isDay);
      const start = t.allDay ? '00:00' : hhmm(t.availableStartTime);
      const end = t.allDay ? '23:59' : hhmm(t.availableEndTime);
      if (days.length === 0 || !start || !end || start >= end) {
        issues.push(`${input.reference}: availableTime[${i}] left out (no days, or end not after start)`);
        continue;
      }
      weekly.push({ days, start, end });
      used = true;
    }
    for (const [i, n] of (input.notAvailable ?? []).entries()) {
      const { start, end } = n.during ?? {};
      const label = n.description?.slice(0, 200);
      if (start && end && DATE.test(start) && DATE.test(end) && start <= end) {
        absences.push({ fromDate: start, toDate: end, ...(label && { label }) });
        used = true;
      } else if (
        start &&
        end &&
        !DATE.test(start) &&
        !DATE.test(end) &&
        Date.parse(start) < Date.parse(end)
      ) {
        absences.push({
          start: new Date(start).toISOString(),
          end: new Date(end).toISOString(),
          ...(label && { label }),
        });
        used = true;
      } else issues.push(`${input.reference}: notAvailable[${i}] left out (open or mixed period)`);
    }
    for (const a of input.availabilityTime ?? []) {
      if (a.type === 'busy-unavailable') {
        absences.push({ start: a.start, end: a.end, ...(a.identifier && { label: a.identifier }) });
      } else {
        for (const d of localDays(a.start, a.end, timeZone)) {
          const list = exceptions.get(d.date) ?? [];
          list.push({ start: d.start, end: d.end });
          exceptions.set(d.date, list);
        }
      }
      used = true;
    }
    for (const s of input.serviceTypeDuration ?? []) {
      const coding = s.serviceType.coding?.find((c) => c.code && /^[A-Za-z0-9_.-]{1,64}$/.test(c.code));
      if (!coding?.code) {
        issues.push(`${input.reference}: serviceTypeDuration without a usable code left out`);
        continue;
      }
      if (!visitTypes.has(coding.code) && s.minutes >= 5 && s.minutes <= 480)
        visitTypes.set(coding.code, {
          code: coding.code,
          label: (coding.display ?? s.serviceType.text ?? coding.code).slice(0, 200),
          durationMinutes: s.minutes,
        });
      used = true;
    }
    if (input.blocked && Date.parse(input.blocked.start) < Date.parse(input.blocked.end)) {
      const label = input.blocked.label?.slice(0, 200);
      absences.push({
        start: new Date(input.blocked.start).toISOString(),
        end: new Date(input.blocked.end).toISOString(),
        ...(label && { label }),
      });
      used = true;
    }
    if (used) sources.push({ source: input.source, reference: input.reference });
  }

  const rules: AgendaRulesInput = {
    timeZone,
    weekly,
    exceptions: [...exceptions.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([date, hours]) => ({ date, hours })),
    visitTypes: [...visitTypes.values()],
    absences,
  };
  return { rules, hasHours: weekly.length > 0 || exceptions.size > 0, sources, issues };
}
