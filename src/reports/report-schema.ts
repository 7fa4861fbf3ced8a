/**
 * The activity report's shape, as zod schemas: the TypeScript types derive from them and the
 * OpenAPI document shows them (src/api/routes/reports.ts). Keys are English; ids, codes, counts
 * and milliseconds only, never patient data.
 */
import { z } from 'zod';

export const APPOINTMENT_COUNTERS = ['booked', 'moved', 'cancelled', 'noshow', 'arrived', 'refused'] as const;
export type AppointmentCounter = (typeof APPOINTMENT_COUNTERS)[number];
export const MESSAGE_PRIORITIES = ['routine', 'urgent', 'asap', 'stat'] as const;
export type MessagePriority = (typeof MESSAGE_PRIORITIES)[number];
export const ORIGINS = ['secretariat', 'practice'] as const;

export const AppointmentCounts = z
  .object({
    booked: z.number().int().describe('New appointments, or cancelled ones made active again'),
    moved: z.number().int().describe('Active appointments whose start or end changed'),
    cancelled: z.number().int(),
    noshow: z.number().int().describe('Patient did not come (lapin)'),
    arrived: z.number().int().describe('Patient arrived or checked in'),
    refused: z.number().int().describe('Secretariat bookings refused back (slot blocked or taken)'),
  })
  .describe('Appointment events');
export type AppointmentCounts = z.infer<typeof AppointmentCounts>;

const ByOrigin = z.object({ secretariat: AppointmentCounts, practice: AppointmentCounts });

export const Latency = z
  .object({
    count: z.number().int(),
    p50: z.number().nullable().describe('Milliseconds, nearest-rank median; null without deliveries'),
    p95: z.number().nullable().describe('Milliseconds, nearest-rank 95th percentile'),
    max: z.number().nullable().describe('Milliseconds'),
  })
  .describe(
    'Delivery delay from the moment the agent took the call (Communication.sent, else its receipt) to its delivery to the practice software',
  );
export type Latency = z.infer<typeof Latency>;

export const MessageStats = z.object({
  received: z.number().int().describe('Call messages received in the period'),
  delivered: z.number().int().describe('Call messages delivered to the practice software in the period'),
  latencyMs: Latency,
});
export type MessageStats = z.infer<typeof MessageStats>;

export const LinkReport = z.object({
  linkId: z.string(),
  name: z.string(),
  role: z.enum(ORIGINS),
  connector: z.string(),
  enabled: z.boolean(),
  lastSuccessAt: z.string().nullable().describe('Last successful poll of the link'),
  lagSeconds: z
    .number()
    .nullable()
    .describe('Seconds since the last successful poll, when the report was made; null when never polled'),
  lastPushAt: z.string().nullable().describe('Last change delivered to the link'),
  outbox: z.object({ pending: z.number().int(), leased: z.number().int(), dead: z.number().int() }),
  oldestPendingAgeSeconds: z
    .number()
    .nullable()
    .describe('Age of the oldest change waiting to be sent; null when none waits'),
});
export type LinkReport = z.infer<typeof LinkReport>;

const InsideOutside = z.object({ inside: z.number().int(), outside: z.number().int() });

export const ActivityReport = z.object({
  practice: z.object({ id: z.string(), name: z.string(), timezone: z.string() }),
  period: z.object({
    from: z.string().describe('Inclusive, UTC'),
    to: z.string().describe('Exclusive, UTC'),
  }),
  generatedAt: z.string(),
  appointments: z.object({
    total: AppointmentCounts,
    byOrigin: ByOrigin.describe(
      'Who made the change: the secretariat (its agents) or the practice (its software)',
    ),
    byPractitioner: z.array(
      z.object({
        practitionerId: z.string().nullable(),
        name: z.string().nullable().optional().describe('The practitioner’s name (not in stored digests)'),
        total: AppointmentCounts,
        byOrigin: ByOrigin,
      }),
    ),
  }),
  messages: z.object({
    all: MessageStats,
    urgencies: MessageStats.describe('urgent, asap and stat messages together'),
    byPriority: z.object({
      routine: MessageStats,
      urgent: MessageStats,
      asap: MessageStats,
      stat: MessageStats,
    }),
  }),
  urgentAcknowledgement: z
    .object({
      urgent: z.number().int().describe('Urgent messages taken in the period (tracked for acknowledgement)'),
      acknowledged: z.number().int().describe('Of those, acknowledged by the practice'),
      escalated: z.number().int().describe('Of those, escalated at least once (gateway webhook)'),
      callbacks: z.number().int().describe('Of those, for which the secretariat was asked to call back'),
      ackP50Seconds: z.number().nullable().describe('Time to acknowledgement, median (seconds)'),
      ackP95Seconds: z.number().nullable().describe('Time to acknowledgement, 95th percentile (seconds)'),
    })
    .optional()
    .describe('Urgent messages acknowledged or escalated (issue 21); absent from digests stored before'),
  reminders: z
    .object({
      reminders: z
        .number()
        .int()
        .describe('Appointment reminders selected in the period (by the daily passes)'),
      recalls: z.number().int().describe('Follow-up recalls selected in the period'),
      handed: z.number().int().describe('Of those, taken by the secretariat platform'),
      reached: z.number().int().describe('Outcome: the patient was reached'),
      notReached: z.number().int().describe('Outcome: the patient could not be reached'),
      rebooked: z.number().int().describe('Outcome: the appointment was moved, or the recall booked'),
      declined: z.number().int().describe('Outcome: the patient declined (cancelled, or wants no follow-up)'),
      awaitingOutcome: z.number().int().describe('Handed, no outcome reported yet'),
      optOuts: z.number().int().describe('Patients who asked, on these calls, not to be reminded again'),
      writtenBack: z.number().int().describe('Outcomes written back to the practice software'),
      skippedNoConsent: z
        .number()
        .int()
        .describe('Reminders or recalls not made: no consent recorded (passes of the period)'),
      skippedOptedOut: z.number().int().describe('Reminders or recalls not made: the patient opted out'),
      skippedInactive: z.number().int().describe('Reminders or recalls not made: inactive or merged patient'),
    })
    .optional()
    .describe('Reminders and recalls (issue 21 point 3); absent from digests stored before'),
  coverage: z
    .object({
      timeZone: z.string(),
      hoursCovered: z.number().describe('Hours the secretariat covered in the period (its coverage windows)'),
      bookings: InsideOutside.describe('Bookings made by the secretariat, inside and outside its coverage'),
      messages: InsideOutside.describe('Call messages the secretariat took, inside and outside its coverage'),
      byDay: z
        .array(
          z.object({
            date: z.string().describe('Local date (YYYY-MM-DD) in the coverage windows’ zone'),
            hoursCovered: z.number(),
            bookings: InsideOutside,
            messages: InsideOutside,
          }),
        )
        .describe('One entry per local day of the period'),
    })
    .nullable()
    .optional()
    .describe(
      'Coverage beside volume (issue 20): null when the practice set no coverage windows; absent from digests stored before',
    ),
  conflicts: z.object({
    openedForReview: z
      .number()
      .int()
      .describe('Conflicts left open for an operator (both sides changed a field under review)'),
    resolved: z.number().int().describe('Open conflicts an operator resolved'),
    autoDecided: z.number().int().describe('Collisions decided at once by field ownership'),
    refusedByOwnership: z.number().int().describe('Changes refused because the other side owns the field'),
    openNow: z.number().int().describe('Conflicts open when the report was made'),
  }),
  deadLetters: z.object({
    total: z.number().int().describe('Changes parked in dead letters during the period'),
    byReason: z.array(
      z.object({ reasonCode: z.string(), source: z.enum(['inbox', 'outbox']), count: z.number().int() }),
    ),
    openNow: z.number().int(),
  }),
  links: z.array(LinkReport),
});
export type ActivityReport = z.infer<typeof ActivityReport>;
