/**
 * A practitioner's agenda rules: what the practice allows the secretariat to book, as data.
 * Wall-clock times (`HH:MM`) and dates (`YYYY-MM-DD`) are local to `timeZone`; absences given
 * as instants are UTC. The shape follows what FrSchedule carries (ANS "Gestion d'agendas
 * partagés": availabilityTime, serviceTypeDuration) and adds what it has no place for
 * (buffers, caps, urgent release, travel time, holidays). docs/agenda.md describes each field.
 */
import { IANAZone } from 'luxon';
import { z } from 'zod';

import { type Region, REGION_NAMES } from './regions.js';

export const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Day = (typeof DAYS)[number];

/**
 * What a period of the agenda is for. Where periods of different kinds overlap, the more
 * specific one wins: urgent over home-visit over consultation (so that the result does not
 * depend on the order the periods are listed in).
 */
export const PERIOD_KINDS = ['consultation', 'home-visit', 'urgent'] as const;
export type PeriodKind = (typeof PERIOD_KINDS)[number];

const HHMM = /^([01][0-9]|2[0-3]):[0-5][0-9]$/;
const LocalTime = z.string().regex(HHMM, { error: 'not a time (HH:MM)' });
const LocalDate = z
  .string()
  .regex(/^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/, { error: 'not a date (YYYY-MM-DD)' });
const Instant = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/, {
    error: 'not an instant',
  })
  .refine((s) => !Number.isNaN(Date.parse(s)), { error: 'not an instant' });
const Minutes = (max: number) => z.number().int().min(0).max(max);
const Code = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, { error: 'not a code (1-64 of A-Z a-z 0-9 _ . -)' });

/** When an unused urgent-only slot opens to routine bookings. */
const Release = z.union([
  /** That many minutes before the slot starts. */
  z.strictObject({ minutesBefore: Minutes(7 * 24 * 60) }),
  /** At this local time on the slot's day (a slot starting earlier is released at its start). */
  z.strictObject({ at: LocalTime }),
]);
export type Release = z.infer<typeof Release>;

const hoursFields = {
  start: LocalTime,
  end: LocalTime,
  kind: z.enum(PERIOD_KINDS).default('consultation'),
  /** For `urgent` periods only: when unused slots become bookable for routine visits; never if absent. */
  release: Release.optional(),
};
const Hours = z.strictObject(hoursFields).refine((h) => h.start < h.end, {
  error: 'end must be after start (periods do not cross midnight)',
  path: ['end'],
});
export const WeeklyHours = z
  .strictObject({ days: z.array(z.enum(DAYS)).min(1), ...hoursFields })
  .refine((h) => h.start < h.end, {
    error: 'end must be after start (periods do not cross midnight)',
    path: ['end'],
  });
export type WeeklyHours = z.infer<typeof WeeklyHours>;
export type Hours = z.infer<typeof Hours>;

/** One date's hours instead of the weekly ones (an extra Saturday, a short day); none = closed. */
export const DayException = z.strictObject({
  date: LocalDate,
  hours: z.array(Hours).default([]),
  label: z.string().max(200).optional(),
});
export type DayException = z.infer<typeof DayException>;

export const VisitType = z.strictObject({
  /** The practice's code for the visit type (motif): the secretariat's appointment-type id. */
  code: Code,
  label: z.string().min(1).max(200),
  durationMinutes: z.number().int().min(5).max(480),
  /** Free time kept after each visit of this type (cleaning, notes). */
  bufferMinutes: Minutes(240).default(0),
  /** The period kinds this type may be booked in; default by type (docs/agenda.md). */
  periods: z.array(z.enum(PERIOD_KINDS)).min(1).optional(),
  /** At most this many visits of this type a day. */
  dailyCap: z.number().int().min(1).max(500).optional(),
  /** An urgent visit: the only kind an urgent-only slot takes before its release. */
  urgent: z.boolean().default(false),
  /** A home visit (déplacement): travel time before and after is kept free too. */
  homeVisit: z.boolean().default(false),
  travelMinutes: Minutes(240).default(0),
});
export type VisitType = z.infer<typeof VisitType>;

/** An absence: instants (UTC or with offset), or whole local days (inclusive). */
export const Absence = z.union([
  z
    .strictObject({ start: Instant, end: Instant, label: z.string().max(200).optional() })
    .refine((a) => Date.parse(a.start) < Date.parse(a.end), {
      error: 'end must be after start',
      path: ['end'],
    }),
  z
    .strictObject({ fromDate: LocalDate, toDate: LocalDate, label: z.string().max(200).optional() })
    .refine((a) => a.fromDate <= a.toDate, { error: 'toDate must not be before fromDate', path: ['toDate'] }),
]);
export type Absence = z.infer<typeof Absence>;

export const AgendaRules = z
  .strictObject({
    /** IANA zone of the practitioner's wall-clock times; default: the region's. */
    timeZone: z
      .string()
      .refine((s) => IANAZone.isValidZone(s), { error: 'not an IANA time zone (e.g. Europe/Paris)' })
      .optional(),
    /** Which public holidays apply (regions.ts). */
    region: z.enum(REGION_NAMES as [Region, ...Region[]]).default('metropole'),
    /** Closed on public holidays unless an exception gives that date hours. */
    closedOnHolidays: z.boolean().default(true),
    weekly: z.array(WeeklyHours).default([]),
    exceptions: z.array(DayException).default([]),
    visitTypes: z.array(VisitType).default([]),
    /** At most this many visits a day, all types together. */
    dailyCap: z.number().int().min(1).max(500).optional(),
    absences: z.array(Absence).default([]),
    /** Slot starts are aligned on this many minutes from the start of a free stretch. */
    granularityMinutes: z.number().int().min(1).max(60).default(5),
  })
  .superRefine((r, ctx) => {
    const seen = new Set<string>();
    r.visitTypes.forEach((v, i) => {
      if (seen.has(v.code))
        ctx.addIssue({
          code: 'custom',
          path: ['visitTypes', i, 'code'],
          message: 'duplicate visit type code',
        });
      seen.add(v.code);
    });
    const dates = new Set<string>();
    r.exceptions.forEach((e, i) => {
      if (dates.has(e.date))
        ctx.addIssue({
          code: 'custom',
          path: ['exceptions', i, 'date'],
          message: 'two exceptions for one date',
        });
      dates.add(e.date);
    });
  });
/** Rules as written (defaults optional). */
export type AgendaRulesInput = z.input<typeof AgendaRules>;
/** Rules after parsing (defaults filled in). */
export type AgendaRules = z.output<typeof AgendaRules>;

/** Parses rules (throws a ZodError listing every issue). */
export function parseRules(input: unknown): AgendaRules {
  return AgendaRules.parse(input);
}

/** The periods a visit type may use when the rules do not say. */
export function periodsOf(v: VisitType): readonly PeriodKind[] {
  if (v.periods) return v.periods;
  if (v.homeVisit) return ['home-visit'];
  if (v.urgent) return ['urgent', 'consultation'];
  return ['consultation'];
}
