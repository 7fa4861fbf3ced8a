/**
 * The canonical model: a FHIR R4 subset (https://hl7.org/fhir/R4/) with FR Core identifiers.
 * Every connector maps its peer's data into these shapes; the engine diffs, stores and
 * dispatches only these. Instants are stored in UTC (`…Z`); the practice's zone travels with
 * the practice, not with each time.
 *
 * Schemas are zod objects so that the same definitions give TypeScript types, runtime
 * validation with a path per problem, and JSON Schema for the OpenAPI document.
 */
import { z } from 'zod';

// FHIR R4 primitive formats (https://hl7.org/fhir/R4/datatypes.html#primitive).
const INSTANT =
  /^([0-9]{4})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]{1,9})?(Z|[+-]((0[0-9]|1[0-3]):[0-5][0-9]|14:00))$/;
// dateTime: a date, or a date-time with seconds and a zone (FHIR R4 datatypes §2.24.0.1).
const DATETIME =
  /^([0-9]{4})(-(0[1-9]|1[0-2])(-(0[1-9]|[12][0-9]|3[01])(T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]{1,9})?(Z|[+-]((0[0-9]|1[0-3]):[0-5][0-9]|14:00)))?)?)?$/;
const DATE = /^([0-9]{4})(-(0[1-9]|1[0-2])(-(0[1-9]|[12][0-9]|3[01]))?)?$/;
const ID = /^[A-Za-z0-9\-.]{1,64}$/;
const URI = /^\S+$/;

export const instant = z
  .string()
  .regex(INSTANT, { error: 'not an instant', abort: true })
  .refine((s) => !Number.isNaN(Date.parse(s)), { error: 'not an instant' });
export const fhirDateTime = z.string().regex(DATETIME, { error: 'not a dateTime' });
export const fhirDate = z.string().regex(DATE, { error: 'not a date (YYYY, YYYY-MM or YYYY-MM-DD)' });
export const fhirId = z.string().regex(ID, { error: 'not an id (1-64 of A-Z a-z 0-9 - .)' });
const uri = z.string().regex(URI, { error: 'not a uri' });
const nonEmpty = z.string().min(1, { error: 'must not be empty' });

export const Coding = z.strictObject({
  system: uri.optional(),
  code: nonEmpty,
  display: z.string().optional(),
});
export const CodeableConcept = z.strictObject({
  coding: z.array(Coding).optional(),
  text: z.string().optional(),
});
/** References between canonical resources are `Type/<canonical id>`; display-only ones are allowed. */
export const Reference = z.strictObject({
  reference: z
    .string()
    .regex(/^[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64}$/, { error: 'not a reference (Type/id)' })
    .optional(),
  display: z.string().optional(),
});
export const Period = z.strictObject({ start: instant.optional(), end: instant.optional() });
export const Identifier = z.strictObject({
  use: z.enum(['usual', 'official', 'temp', 'secondary', 'old']).optional(),
  type: CodeableConcept.optional(),
  system: uri,
  value: nonEmpty,
  period: Period.optional(),
  /** Who issued it (HL7 CX-4 assigning authority, FHIR Identifier.assigner): a display is enough. */
  assigner: Reference.optional(),
});
export const HumanName = z.strictObject({
  use: z.enum(['usual', 'official', 'temp', 'nickname', 'anonymous', 'old', 'maiden']).optional(),
  text: z.string().optional(),
  family: z.string().optional(),
  given: z.array(z.string()).optional(),
  prefix: z.array(z.string()).optional(),
});
export const ContactPoint = z.strictObject({
  system: z.enum(['phone', 'fax', 'email', 'pager', 'url', 'sms', 'other']),
  value: nonEmpty,
  use: z.enum(['home', 'work', 'temp', 'old', 'mobile']).optional(),
  rank: z.number().int().positive().optional(),
});
export const Address = z.strictObject({
  use: z.enum(['home', 'work', 'temp', 'old', 'billing']).optional(),
  line: z.array(z.string()).optional(),
  city: z.string().optional(),
  postalCode: z.string().optional(),
  country: z.string().optional(),
});

/** Extensions: one level of nesting is enough for FR Core's complex extensions. */
const ExtensionValue = {
  valueString: z.string().optional(),
  valueCode: z.string().optional(),
  valueBoolean: z.boolean().optional(),
  valueDate: fhirDate.optional(),
  valueDateTime: fhirDateTime.optional(),
  valueCoding: Coding.optional(),
  valueReference: Reference.optional(),
  valueIdentifier: Identifier.optional(),
};
export const Extension = z.strictObject({
  url: uri,
  ...ExtensionValue,
  extension: z.array(z.strictObject({ url: uri, ...ExtensionValue })).optional(),
});

export const Meta = z.strictObject({
  versionId: z.string().optional(),
  lastUpdated: instant.optional(),
  tag: z.array(Coding).optional(),
});

const base = {
  id: fhirId,
  meta: Meta.optional(),
  extension: z.array(Extension).optional(),
};

export const Patient = z.strictObject({
  resourceType: z.literal('Patient'),
  ...base,
  identifier: z.array(Identifier).optional(),
  active: z.boolean().optional(),
  name: z.array(HumanName).optional(),
  telecom: z.array(ContactPoint).optional(),
  gender: z.enum(['male', 'female', 'other', 'unknown']).optional(),
  birthDate: fhirDate.optional(),
  address: z.array(Address).optional(),
  /** After an ADT A40 merge, the non-surviving record points at the survivor (`replaced-by`). */
  link: z
    .array(
      z.strictObject({ other: Reference, type: z.enum(['replaced-by', 'replaces', 'refer', 'seealso']) }),
    )
    .optional(),
});

export const Practitioner = z.strictObject({
  resourceType: z.literal('Practitioner'),
  ...base,
  identifier: z.array(Identifier).optional(),
  active: z.boolean().optional(),
  name: z.array(HumanName).optional(),
  telecom: z.array(ContactPoint).optional(),
});

/**
 * FrSchedule: a practitioner's agenda. Opening hours and visit-type durations are described as
 * in the ANS shared-agenda guide (availabilityTime, serviceTypeDuration), here in plain fields.
 */
export const AvailableTime = z.strictObject({
  daysOfWeek: z.array(z.enum(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'])).min(1),
  /** Local wall-clock times in the practice's zone, `HH:MM[:SS]`. */
  availableStartTime: z
    .string()
    .regex(/^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$/, { error: 'not a time (HH:MM)' }),
  availableEndTime: z
    .string()
    .regex(/^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$/, { error: 'not a time (HH:MM)' }),
});
export const Schedule = z.strictObject({
  resourceType: z.literal('Schedule'),
  ...base,
  identifier: z.array(Identifier).optional(),
  active: z.boolean().optional(),
  serviceType: z.array(CodeableConcept).optional(),
  actor: z.array(Reference).min(1, { error: 'needs at least one actor (the practitioner)' }),
  planningHorizon: Period.optional(),
  comment: z.string().optional(),
  availableTime: z.array(AvailableTime).optional(),
  serviceTypeDuration: z
    .array(z.strictObject({ serviceType: CodeableConcept, minutes: z.number().int().positive() }))
    .optional(),
  /**
   * FrSchedule `availabilityTime` (FR Core fr-core-schedule-availability-time): dated periods of
   * availability (`free`: the agenda is open) or unavailability (`busy-unavailable`: absence),
   * read from the extension by the FHIR connector (src/agenda/import.ts).
   */
  availabilityTime: z
    .array(
      z.strictObject({
        type: z.enum(['free', 'busy-unavailable']),
        start: instant,
        end: instant,
        identifier: z.string().optional(),
      }),
    )
    .optional(),
});

/**
 * FrPractitionerRole: which practitioner works where (organization, locations), as what
 * (code: the role; specialty) and for which services (healthcareService: the visit types the
 * role offers, as HealthcareService references), with the role's opening hours. Its own
 * kind, not part of Practitioner: one practitioner has a role per place, each with its own id
 * and version on the server, and a role ends or is deleted apart from the practitioner.
 * Organization, Location and HealthcareService are not synced kinds: their references pass
 * through as the server gave them (`Location/…`, with the display).
 */
export const PractitionerRole = z.strictObject({
  resourceType: z.literal('PractitionerRole'),
  ...base,
  identifier: z.array(Identifier).optional(),
  active: z.boolean().optional(),
  /** R4 Period of dateTimes: roles are often dated by day (`2012-01-01`). */
  period: z.strictObject({ start: fhirDateTime.optional(), end: fhirDateTime.optional() }).optional(),
  practitioner: Reference,
  organization: Reference.optional(),
  location: z.array(Reference).optional(),
  healthcareService: z.array(Reference).optional(),
  code: z.array(CodeableConcept).optional(),
  specialty: z.array(CodeableConcept).optional(),
  telecom: z.array(ContactPoint).optional(),
  availableTime: z.array(AvailableTime).optional(),
});

export const SLOT_STATUSES = [
  'busy',
  'free',
  'busy-unavailable',
  'busy-tentative',
  'entered-in-error',
] as const;
export const Slot = z.strictObject({
  resourceType: z.literal('Slot'),
  ...base,
  identifier: z.array(Identifier).optional(),
  schedule: Reference,
  serviceType: z.array(CodeableConcept).optional(),
  /** v2-0276 EMERGENCY marks an urgent-only slot ("urgence du jour"). */
  appointmentType: CodeableConcept.optional(),
  status: z.enum(SLOT_STATUSES),
  start: instant,
  end: instant,
  overbooked: z.boolean().optional(),
  comment: z.string().optional(),
});

export const APPOINTMENT_STATUSES = [
  'proposed',
  'pending',
  'booked',
  'arrived',
  'fulfilled',
  'cancelled',
  'noshow',
  'entered-in-error',
  'checked-in',
  'waitlist',
] as const;
export const Appointment = z.strictObject({
  resourceType: z.literal('Appointment'),
  ...base,
  identifier: z.array(Identifier).optional(),
  status: z.enum(APPOINTMENT_STATUSES),
  cancelationReason: CodeableConcept.optional(),
  serviceType: z.array(CodeableConcept).optional(),
  appointmentType: CodeableConcept.optional(),
  reasonCode: z.array(CodeableConcept).optional(),
  description: z.string().optional(),
  start: instant.optional(),
  end: instant.optional(),
  minutesDuration: z.number().int().positive().optional(),
  slot: z.array(Reference).optional(),
  /** R4 types this as dateTime: practice software often sends only the date. */
  created: fhirDateTime.optional(),
  comment: z.string().optional(),
  patientInstruction: z.string().optional(),
  participant: z
    .array(
      z.strictObject({
        actor: Reference.optional(),
        type: z.array(CodeableConcept).optional(),
        required: z.enum(['required', 'optional', 'information-only']).optional(),
        status: z.enum(['accepted', 'declined', 'tentative', 'needs-action']),
      }),
    )
    .min(1, { error: 'needs at least one participant' }),
});

export const Communication = z.strictObject({
  resourceType: z.literal('Communication'),
  ...base,
  identifier: z.array(Identifier).optional(),
  status: z.enum([
    'preparation',
    'in-progress',
    'not-done',
    'on-hold',
    'stopped',
    'completed',
    'entered-in-error',
    'unknown',
  ]),
  category: z.array(CodeableConcept).optional(),
  /** routine: a message; urgent / asap / stat: an urgency, delivered ahead of routine work. */
  priority: z.enum(['routine', 'urgent', 'asap', 'stat']),
  subject: Reference.optional(),
  recipient: z.array(Reference).optional(),
  sender: Reference.optional(),
  /** When the agent took the call. */
  sent: instant.optional(),
  /** When the practice acknowledged it. */
  received: instant.optional(),
  reasonCode: z.array(CodeableConcept).optional(),
  payload: z.array(z.strictObject({ contentString: z.string() })).min(1, { error: 'needs the message text' }),
});

export const RESOURCE_KINDS = [
  'Patient',
  'Practitioner',
  'PractitionerRole',
  'Schedule',
  'Slot',
  'Appointment',
  'Communication',
] as const;
export type ResourceKind = (typeof RESOURCE_KINDS)[number];

export const SCHEMAS = {
  Patient,
  Practitioner,
  PractitionerRole,
  Schedule,
  Slot,
  Appointment,
  Communication,
} as const;

export type Coding = z.infer<typeof Coding>;
export type CodeableConcept = z.infer<typeof CodeableConcept>;
export type Reference = z.infer<typeof Reference>;
export type Identifier = z.infer<typeof Identifier>;
export type HumanName = z.infer<typeof HumanName>;
export type ContactPoint = z.infer<typeof ContactPoint>;
export type Address = z.infer<typeof Address>;
export type Extension = z.infer<typeof Extension>;
export type Patient = z.infer<typeof Patient>;
export type Practitioner = z.infer<typeof Practitioner>;
export type PractitionerRole = z.infer<typeof PractitionerRole>;
export type Schedule = z.infer<typeof Schedule>;
export type Slot = z.infer<typeof Slot>;
export type Appointment = z.infer<typeof Appointment>;
export type Communication = z.infer<typeof Communication>;
export type CanonicalResource =
  Patient | Practitioner | PractitionerRole | Schedule | Slot | Appointment | Communication;
export type ResourceOf<K extends ResourceKind> = Extract<CanonicalResource, { resourceType: K }>;
