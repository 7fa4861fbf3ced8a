/**
 * The secretariat platform's JSON, as `openapi.yaml` (beside this file) describes it. Both the
 * connector (to check what the platform answers) and the simulator (to check what it is sent)
 * validate with these schemas; a test keeps their fields and the OpenAPI document's in step.
 *
 * Every resource carries `id`, `version` (an integer, also sent as the ETag) and `updatedAt`.
 */
import { z } from 'zod';

/** Platform ids double as FHIR ids in canonical references (`Patient/<id>`), so they share the alphabet. */
export const PlatformId = z
  .string()
  .regex(/^[A-Za-z0-9\-.]{1,64}$/, { error: 'not a platform id (1-64 of A-Z a-z 0-9 - .)' });
const Instant = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/, { error: 'not a UTC instant (…Z)' })
  .refine((s) => !Number.isNaN(Date.parse(s)), { error: 'not a UTC instant (…Z)' });
const LocalDate = z.string().regex(/^\d{4}(-\d{2}(-\d{2})?)?$/, { error: 'not a date (YYYY[-MM[-DD]])' });
const LocalTime = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, { error: 'not a time (HH:MM)' });
const Text = (max: number) => z.string().min(1).max(max);

const meta = { id: PlatformId, version: z.number().int().positive(), updatedAt: Instant };

export const RESOURCE_TYPES = [
  'practitioner',
  'appointment-type',
  'schedule',
  'slot',
  'appointment',
  'patient',
  'message',
] as const;
export type ResourceType = (typeof RESOURCE_TYPES)[number];
/** URL collection of each resource type under `/v1/practices/{practiceId}/`. */
export const COLLECTION: Readonly<Record<ResourceType, string>> = {
  practitioner: 'practitioners',
  'appointment-type': 'appointment-types',
  schedule: 'schedules',
  slot: 'slots',
  appointment: 'appointments',
  patient: 'patients',
  message: 'messages',
};

// ——— practitioners ———
const practitionerFields = {
  /** RPPS number: 11 digits (the national id is "8" + RPPS). */
  rpps: z.string().regex(/^\d{11}$/, { error: 'not an RPPS number (11 digits)' }),
  family: Text(200),
  given: z.array(Text(100)).max(5),
  title: z.string().max(40).nullable(),
  phone: z.string().max(40).nullable(),
  active: z.boolean(),
};
export const PractitionerInput = z.strictObject(practitionerFields);
export const Practitioner = z.strictObject({ ...meta, ...practitionerFields });

// ——— appointment types (motifs), with the practice's instructions for agents (consignes) ———
const appointmentTypeFields = {
  label: Text(200),
  durationMinutes: z.number().int().min(5).max(480),
  /** What agents must ask or say when booking this type (consignes); written by passerelle only. */
  instructions: z.string().max(4000).nullable(),
  practitionerIds: z.array(PlatformId),
  active: z.boolean(),
};
export const AppointmentTypeInput = z.strictObject(appointmentTypeFields);
export const AppointmentType = z.strictObject({ ...meta, ...appointmentTypeFields });

// ——— schedules (a practitioner's agenda: opening hours, offered types and their durations) ———
export const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
const scheduleFields = {
  practitionerId: PlatformId,
  active: z.boolean(),
  /** Local wall-clock times in the practice's zone. */
  openingHours: z.array(
    z.strictObject({ days: z.array(z.enum(DAYS)).min(1), start: LocalTime, end: LocalTime }),
  ),
  appointmentTypes: z.array(
    z.strictObject({ appointmentTypeId: PlatformId, durationMinutes: z.number().int().min(5).max(480) }),
  ),
  comment: z.string().max(2000).nullable(),
};
export const ScheduleInput = z.strictObject(scheduleFields);
export const Schedule = z.strictObject({ ...meta, ...scheduleFields });

// ——— slots ———
export const SLOT_STATUSES = ['free', 'busy', 'blocked', 'urgent-only'] as const;
export type SlotStatus = (typeof SLOT_STATUSES)[number];
const slotFields = {
  scheduleId: PlatformId,
  start: Instant,
  end: Instant,
  status: z.enum(SLOT_STATUSES),
  comment: z.string().max(2000).nullable(),
  /**
   * The appointment type the slot is for, on slots passerelle published from the practitioner's
   * agenda rules (PUT …/published-slots): their length is that type's. Absent or null: any type.
   */
  appointmentTypeId: PlatformId.nullable().optional(),
};
export const SlotInput = z.strictObject(slotFields);
/** `practitionerId` is the schedule's, filled in by the platform. */
export const Slot = z.strictObject({ ...meta, ...slotFields, practitionerId: PlatformId });

// ——— appointments ———
export const APPOINTMENT_STATUSES = [
  'booked',
  'arrived',
  'fulfilled',
  'noshow',
  'cancelled',
  'refused',
] as const;
export type AppointmentStatus = (typeof APPOINTMENT_STATUSES)[number];
/** States an appointment may be put in with PUT; cancelling and refusing are actions with a reason. */
export const PUT_APPOINTMENT_STATUSES = ['booked', 'arrived', 'fulfilled', 'noshow'] as const;
const Refusal = z.strictObject({ code: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/), message: Text(1000) });
const appointmentWritable = {
  practitionerId: PlatformId,
  patientId: PlatformId.nullable(),
  slotId: PlatformId.nullable(),
  appointmentTypeId: PlatformId.nullable(),
  start: Instant,
  end: Instant,
  note: z.string().max(4000).nullable(),
};
export const AppointmentCreate = z.strictObject({
  ...appointmentWritable,
  /** Agent who booked (secretariat side); null when the practice's software booked it through passerelle. */
  bookedBy: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/)
    .nullable(),
});
export const AppointmentUpdate = z.strictObject({
  ...appointmentWritable,
  status: z.enum(PUT_APPOINTMENT_STATUSES),
});
export const Appointment = z.strictObject({
  ...meta,
  ...appointmentWritable,
  bookedBy: z.string().nullable(),
  status: z.enum(APPOINTMENT_STATUSES),
  cancelReason: z.string().max(1000).nullable(),
  /** Set when passerelle refused the booking (e.g. the slot was blocked meanwhile), for the agent to act on. */
  refusal: Refusal.nullable(),
  createdAt: Instant,
});
export const CancelRequest = z.strictObject({ reason: Text(1000) });
export const RefuseRequest = Refusal;

// ——— patients ———
export const RELIABILITY = ['VIDE', 'PROV', 'VALI', 'DOUTE', 'FICTI'] as const;
export const INS_TYPES = ['INS-NIR', 'INS-NIA', 'INS-NIR-TEST', 'INS-NIR-DEMO'] as const;
export const PHONE_USES = ['mobile', 'home', 'work'] as const;
/** What the platform takes as a phone number, and how many phones and given names it keeps. */
export const PHONE_NUMBER = /^\+?[0-9 .-]{6,20}$/;
export const MAX_PHONES = 5;
export const MAX_GIVEN_NAMES = 5;
export const EmailAddress = z.email();
const patientFields = {
  identity: z.strictObject({
    /** Birth name (nom de naissance). */
    family: Text(200),
    given: z.array(Text(100)).min(1).max(MAX_GIVEN_NAMES),
    /** Used name (nom utilisé) when it differs. */
    usedFamily: z.string().max(200).nullable(),
    birthDate: LocalDate.nullable(),
    sex: z.enum(['female', 'male', 'other', 'unknown']).nullable(),
    /** FR Core identity reliability (IHE PAM France PID-32). */
    reliability: z.enum(RELIABILITY),
    /** True when an agent typed the identity as the caller gave it: a proposal for the practice to check. */
    proposal: z.boolean(),
  }),
  /** Only with a qualified identity (reliability VALI). */
  ins: z
    .strictObject({ type: z.enum(INS_TYPES), value: z.string().regex(/^[0-9]{5}([0-9]{2}|2[AB])[0-9]{8}$/) })
    .nullable(),
  contact: z.strictObject({
    phones: z
      .array(z.strictObject({ number: z.string().regex(PHONE_NUMBER), use: z.enum(PHONE_USES) }))
      .max(MAX_PHONES),
    email: EmailAddress.nullable(),
    address: z
      .strictObject({
        lines: z.array(z.string().max(200)).max(4),
        postalCode: z.string().max(20).nullable(),
        city: z.string().max(200).nullable(),
        country: z.string().max(60).nullable(),
      })
      .nullable(),
  }),
};
export const PatientInput = z.strictObject(patientFields).superRefine((p, ctx) => {
  if (p.ins !== null && p.identity.reliability !== 'VALI') {
    ctx.addIssue({
      code: 'custom',
      path: ['ins'],
      message: 'an INS travels only with a qualified identity (reliability VALI)',
    });
  }
  if (p.identity.proposal && p.identity.reliability === 'VALI') {
    ctx.addIssue({
      code: 'custom',
      path: ['identity', 'proposal'],
      message: 'a qualified identity (VALI) is not a proposal',
    });
  }
});
export const Patient = z.strictObject({ ...meta, ...patientFields });

// ——— messages (call messages and urgencies) ———
export const MESSAGE_PRIORITIES = ['routine', 'urgent'] as const;
export const MESSAGE_STATUSES = ['new', 'delivered', 'acknowledged'] as const;
const messageWritable = {
  priority: z.enum(MESSAGE_PRIORITIES),
  callerName: Text(200),
  callbackNumber: z
    .string()
    .regex(/^\+?[0-9 .-]{6,20}$/)
    .nullable(),
  reason: z.string().max(500).nullable(),
  text: Text(8000),
  patientId: PlatformId.nullable(),
  practitionerId: PlatformId.nullable(),
};
export const MessageCreate = z.strictObject({ ...messageWritable, takenAt: Instant });
export const MessageUpdate = z.strictObject(messageWritable);
export const Message = z.strictObject({
  ...meta,
  ...messageWritable,
  takenAt: Instant,
  /** Agent who took the call. */
  agentId: z.string(),
  status: z.enum(MESSAGE_STATUSES),
  acknowledgedAt: Instant.nullable(),
});
export const AcknowledgeRequest = z.strictObject({ acknowledgedAt: Instant });

// ——— callback requests (issue 21: an urgent message the practice did not acknowledge) ———
export const CALLBACK_REASONS = ['urgent-message-unacknowledged'] as const;
export const CALLBACK_STATUSES = ['open', 'done'] as const;
const callbackWritable = {
  reason: z.enum(CALLBACK_REASONS),
  /** The platform message the practice did not acknowledge, when passerelle knows its id. */
  messageId: PlatformId.nullable(),
  priority: z.enum(MESSAGE_PRIORITIES),
  /** What the agent reads (French, no patient data). */
  note: Text(500),
  requestedAt: Instant,
};
export const CallbackRequestCreate = z.strictObject(callbackWritable);
export const CallbackRequest = z.strictObject({
  id: PlatformId,
  ...callbackWritable,
  status: z.enum(CALLBACK_STATUSES),
  createdAt: Instant,
});
export const CallbackRequestList = z.strictObject({ items: z.array(CallbackRequest) });
export type CallbackRequestBody = z.infer<typeof CallbackRequest>;

// ——— consignes (issue 21 point 1: the practice's instructions and scripts, versioned) ———
export const ConsignesPublish = z.strictObject({
  /** passerelle's version number; the platform keeps the highest it was sent. */
  version: z.number().int().positive(),
  /** The document as passerelle's API defines it (welcome script, profiles, practitioners, urgent). */
  document: z.record(z.string(), z.unknown()),
});
export const Consignes = z.strictObject({
  version: z.number().int().positive(),
  document: z.record(z.string(), z.unknown()),
  publishedAt: Instant,
});
export type ConsignesBody = z.infer<typeof Consignes>;

// ——— reminders and recalls (issue 21 point 3: relances handed to the agents, outcomes back) ———
export const REMINDER_KINDS = ['reminder', 'recall'] as const;
export const REMINDER_OUTCOMES = ['reached', 'not-reached', 'rebooked', 'declined'] as const;
export const REMINDER_STATUSES = ['open', 'done'] as const;
const reminderWritable = {
  /** passerelle's id of the reminder: the platform keeps one reminder per reference (a resend changes nothing). */
  reference: z.string().regex(/^[A-Za-z0-9._:-]{1,100}$/, { error: 'not a reference' }),
  kind: z.enum(REMINDER_KINDS),
  /** The platform patient the agent calls. */
  patientId: PlatformId,
  /** The appointment to remind (a reminder); null for a recall. */
  appointmentId: PlatformId.nullable(),
  /** The visit type's code in the practice's catalogue, when known. */
  visitType: z.string().min(1).max(64).nullable(),
  /** The appointment's day, or the day the recall fell due (practice zone). */
  dueOn: LocalDate,
  appointmentStart: Instant.nullable(),
  /** What the agent reads (French; no patient data beyond the platform's own record). */
  note: Text(500),
};
export const ReminderCreate = z.strictObject(reminderWritable);
export const ReminderBatch = z.strictObject({ items: z.array(ReminderCreate).min(1).max(500) });
export const Reminder = z.strictObject({
  id: PlatformId,
  ...reminderWritable,
  status: z.enum(REMINDER_STATUSES),
  /** Set by the agent who called: reached, not-reached, rebooked, declined. */
  outcome: z.enum(REMINDER_OUTCOMES).nullable(),
  /** The patient asked not to be reminded or recalled again. */
  optOut: z.boolean(),
  outcomeAt: Instant.nullable(),
  createdAt: Instant,
  updatedAt: Instant,
});
export const ReminderList = z.strictObject({ items: z.array(Reminder) });
export const ReminderOutcomeReport = z.strictObject({
  outcome: z.enum(REMINDER_OUTCOMES),
  optOut: z.boolean().optional(),
});
export type ReminderBody = z.infer<typeof Reminder>;
// ——— call statistics (issue 21 point 4: the secretariat's call KPIs, per practice and local day) ———
/**
 * Wait thresholds (seconds) the platform counts answered calls under: a contract's "90 % answered
 * within 60 s" reads `answeredWithin["60"]` against `received`.
 */
export const CALL_WAIT_BOUNDS = ['15', '30', '60', '120', '300'] as const;
const Count = z.number().int().min(0);
export const CallStatistics = z.strictObject({
  /** The practice's local day (its time zone), YYYY-MM-DD. */
  day: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, { error: 'not a day (YYYY-MM-DD)' }),
  /** Calls that reached the practice's queue. */
  received: Count,
  /** Calls an agent took. */
  answered: Count,
  /** Calls the caller hung up before an agent took them. */
  abandoned: Count,
  /** Answered calls, by the longest wait they had (cumulative: within 60 s includes within 30 s). */
  answeredWithin: z.strictObject({ '15': Count, '30': Count, '60': Count, '120': Count, '300': Count }),
  /** Waiting time of answered calls, nearest-rank percentiles in seconds; null without answered calls. */
  waitSeconds: z.strictObject({ p50: z.number().min(0).nullable(), p95: z.number().min(0).nullable() }),
  /** What answered calls led to. */
  outcomes: z.strictObject({ booked: Count, message: Count, urgent: Count, redirected: Count }),
  /** Post-call survey, when the platform runs one for this practice; null otherwise. */
  satisfaction: z
    .strictObject({ responses: Count, averageScore: z.number().min(1).max(5).nullable() })
    .nullable(),
});
export type CallStatistics = z.infer<typeof CallStatistics>;
// ——— published slots (issue 20: the practitioner's free slots, computed by passerelle from the
// practice's agenda rules, replace the platform's own for that practitioner) ———
export const PUBLISHED_SLOT_STATUSES = ['free', 'urgent-only'] as const;
export const SlotPublish = z.strictObject({
  /** The horizon: every unbooked slot of the practitioner starting in [from, to) is replaced. */
  from: Instant,
  to: Instant,
  slots: z
    .array(
      z.strictObject({
        start: Instant,
        end: Instant,
        status: z.enum(PUBLISHED_SLOT_STATUSES),
        appointmentTypeId: PlatformId.nullable(),
      }),
    )
    .max(50_000),
});
export type SlotPublishBody = z.infer<typeof SlotPublish>;
/** A practitioner's last publication (ETag: its version). */
export const SlotPublication = z.strictObject({
  practitionerId: PlatformId,
  version: z.number().int().positive(),
  from: Instant,
  to: Instant,
  publishedAt: Instant,
  /** Published slots now on the platform, free or urgent-only. */
  slots: z.number().int().min(0),
  /** What the last publication did: slots created, changed (status), removed, and booked ones kept. */
  created: z.number().int().min(0),
  updated: z.number().int().min(0),
  removed: z.number().int().min(0),
  kept: z.number().int().min(0),
});
export type SlotPublicationBody = z.infer<typeof SlotPublication>;

// ——— coverage windows (issue 20: the hours the secretariat answers for the practice) ———
export const COVERAGE_KINDS = ['regular', 'reinforcement'] as const;
export const CoveragePublish = z.strictObject({
  /** The practice's zone, for agents to read the windows in. */
  timeZone: z.string().min(1).max(64),
  from: Instant,
  to: Instant,
  windows: z
    .array(
      z.strictObject({
        start: Instant,
        end: Instant,
        /** `reinforcement`: temporary (renfort: an absence, an epidemic peak). */
        kind: z.enum(COVERAGE_KINDS),
        label: z.string().max(200).nullable(),
      }),
    )
    .max(10_000),
});
export type CoveragePublishBody = z.infer<typeof CoveragePublish>;
export const Coverage = CoveragePublish.extend({
  version: z.number().int().positive(),
  publishedAt: Instant,
});
export type CoverageBody = z.infer<typeof Coverage>;

export const RESOURCE_SCHEMAS = {
  practitioner: Practitioner,
  'appointment-type': AppointmentType,
  schedule: Schedule,
  slot: Slot,
  appointment: Appointment,
  patient: Patient,
  message: Message,
} as const;

export type Practitioner = z.infer<typeof Practitioner>;
export type PractitionerInput = z.infer<typeof PractitionerInput>;
export type AppointmentType = z.infer<typeof AppointmentType>;
export type AppointmentTypeInput = z.infer<typeof AppointmentTypeInput>;
export type Schedule = z.infer<typeof Schedule>;
export type ScheduleInput = z.infer<typeof ScheduleInput>;
export type Slot = z.infer<typeof Slot>;
export type SlotInput = z.infer<typeof SlotInput>;
export type Appointment = z.infer<typeof Appointment>;
export type AppointmentCreate = z.infer<typeof AppointmentCreate>;
export type AppointmentUpdate = z.infer<typeof AppointmentUpdate>;
export type Patient = z.infer<typeof Patient>;
export type PatientInput = z.infer<typeof PatientInput>;
export type Message = z.infer<typeof Message>;
export type MessageCreate = z.infer<typeof MessageCreate>;
export type MessageUpdate = z.infer<typeof MessageUpdate>;
export type PlatformResource =
  Practitioner | AppointmentType | Schedule | Slot | Appointment | Patient | Message;
export interface ResourceOfType {
  practitioner: Practitioner;
  'appointment-type': AppointmentType;
  schedule: Schedule;
  slot: Slot;
  appointment: Appointment;
  patient: Patient;
  message: Message;
}

// ——— change feed and webhooks ———
export const CHANGE_OPS = ['upsert', 'delete'] as const;
/**
 * Who made a change: `integration` — written through this API with the practice's token (by
 * passerelle, which already knows it); `agent` — a secretariat agent's action (X-Agent-Id), with
 * its side effects (a booking's hold on its slot); `platform` — the platform itself (a message
 * marked delivered, data imported before the integration was connected).
 */
export const CHANGE_ORIGINS = ['integration', 'agent', 'platform'] as const;
export type ChangeOrigin = (typeof CHANGE_ORIGINS)[number];
/**
 * One entry of the change feed. `data` is the resource after the change; for a `delete` it is
 * the last representation before deletion (a tombstone that still maps).
 */
export const Change = z.strictObject({
  seq: z.number().int().positive(),
  type: z.enum(RESOURCE_TYPES),
  id: PlatformId,
  version: z.number().int().positive(),
  op: z.enum(CHANGE_OPS),
  origin: z.enum(CHANGE_ORIGINS),
  data: z.record(z.string(), z.unknown()),
});
export type Change = z.infer<typeof Change>;
export const ChangesPage = z.strictObject({
  changes: z.array(Change),
  /** Opaque cursor to pass as `since` next time; never null (it equals `since` when nothing is new). */
  next: z.string().min(1),
  hasMore: z.boolean(),
});
export type ChangesPage = z.infer<typeof ChangesPage>;

/**
 * A webhook body (Standard Webhooks payload structure: `type`, `timestamp`, `data`). The data is
 * a change-feed entry: a webhook is a hint, the feed is the truth.
 */
export const WebhookPayload = z.strictObject({
  type: z.string().regex(/^[a-z-]+\.(upsert|delete)$/),
  timestamp: Instant,
  practiceId: PlatformId,
  data: Change,
});
export type WebhookPayload = z.infer<typeof WebhookPayload>;

/** RFC 9457 problem details, with `code` (stable) and `errors` (one per invalid field) as extensions. */
export const Problem = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  detail: z.string().optional(),
  instance: z.string().optional(),
  code: z.string().optional(),
  errors: z.array(z.object({ pointer: z.string(), detail: z.string() })).optional(),
});
export type Problem = z.infer<typeof Problem>;
export const PROBLEM_TYPE_BASE = 'https://passerelle.fr/secretariat/problems/';
