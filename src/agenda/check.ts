/**
 * Does a booking fit the rules? The same test as the free-slot computation, for one given time:
 * its visit type and duration, a period of the day that type may use (an urgent-only one only
 * for an urgent visit until it is released), no holiday or absence, the daily caps, and its
 * own and its neighbours' buffers and travel time. A booking need not start on the grid of
 * `freeSlots`: any time that fits is accepted.
 */
import { DateTime } from 'luxon';

import {
  type AgendaState,
  type BookedVisit,
  dailyCounts,
  footprint,
  obstacles,
  periodAdmits,
  visitTypeOf,
} from './availability.js';
import { absenceIntervals, dayPlan, localDate, zoneOf } from './calendar.js';
import { contains, firstOverlap, union } from './intervals.js';
import type { AgendaRules } from './rules.js';

export const OUTSIDE_REASONS = [
  'visit-type-unknown',
  'duration',
  'holiday',
  'day-closed',
  'absence',
  'closed',
  'urgent-only',
  'period-not-allowed',
  'daily-cap',
  'occupied',
  'buffer',
] as const;
export type OutsideReason = (typeof OUTSIDE_REASONS)[number];

export interface BookingToCheck extends BookedVisit {
  /** An urgent booking (its visit type is urgent, or the agent marked it urgent). */
  readonly urgent?: boolean;
}

export type CheckResult =
  | { readonly ok: true; readonly urgentOnly: boolean }
  | {
      readonly ok: false;
      readonly reason: OutsideReason;
      /** What the reason names: the holiday's or exception's label, the visit type's code… (never patient data). */
      readonly detail?: string;
    };

/**
 * Checks `booking` against `rules` and the agenda `state` (which may contain the booking itself,
 * recognised by its id). `now` judges urgent releases.
 */
export function checkBooking(
  rules: AgendaRules,
  state: AgendaState,
  booking: BookingToCheck,
  now: string,
): CheckResult {
  const zone = zoneOf(rules);
  const start = Date.parse(booking.start);
  const end = Date.parse(booking.end);
  const v = visitTypeOf(rules, booking.visitType);
  if (booking.visitType !== undefined && rules.visitTypes.length > 0 && !v)
    return {
      ok: false,
      reason: 'visit-type-unknown',
      ...(booking.visitType !== undefined && { detail: booking.visitType }),
    };
  if (v && end - start !== v.durationMinutes * 60_000)
    return { ok: false, reason: 'duration', detail: String(v.durationMinutes) };
  const urgent = booking.urgent === true || v?.urgent === true;

  const date = localDate(start, zone);
  const plan = dayPlan(rules, date);
  if (plan.periods.length === 0 && plan.closedBy)
    return {
      ok: false,
      reason: plan.closedBy.reason === 'holiday' ? 'holiday' : 'day-closed',
      detail: plan.closedBy.label,
    };
  const visit = { start, end };
  if (firstOverlap(absenceIntervals(rules.absences, zone), visit)) return { ok: false, reason: 'absence' };

  const containing = plan.periods.find((p) => contains(p, visit));
  if (!containing) return { ok: false, reason: 'closed' };
  const admits = periodAdmits(containing, v, urgent, start, Date.parse(now), zone);
  if (!admits.ok)
    return {
      ok: false,
      reason: containing.kind === 'urgent' && !urgent ? 'urgent-only' : 'period-not-allowed',
    };

  const others = state.appointments.filter((a) => booking.id === undefined || a.id !== booking.id);
  const counts = dailyCounts(rules, others);
  if (rules.dailyCap !== undefined && (counts.all.get(date) ?? 0) >= rules.dailyCap)
    return { ok: false, reason: 'daily-cap', detail: String(rules.dailyCap) };
  if (v?.dailyCap !== undefined && (counts.byType.get(`${date}|${v.code}`) ?? 0) >= v.dailyCap)
    return { ok: false, reason: 'daily-cap', detail: String(v.dailyCap) };

  const taken = union([
    ...others.map((a) => ({ start: Date.parse(a.start), end: Date.parse(a.end) })),
    ...state.blocks.map((b) => ({ start: Date.parse(b.start), end: Date.parse(b.end) })),
  ]);
  if (firstOverlap(taken, visit)) return { ok: false, reason: 'occupied' };
  const inTheWay = obstacles(rules, { appointments: others, blocks: state.blocks });
  if (firstOverlap(inTheWay, footprint(visit, v))) return { ok: false, reason: 'buffer' };
  return { ok: true, urgentOnly: admits.urgentOnly };
}

export interface OutsideAppointment {
  readonly id: string;
  readonly start: string;
  readonly end: string;
  readonly reason: OutsideReason;
  readonly detail?: string;
}

/**
 * The appointments the rules no longer allow (after a change of rules): listed, never moved.
 * Each is checked against the ones that start before it, so of two that crowd each other (or
 * of the visits past a daily cap) the later one is listed. Urgent releases are judged at `now`.
 */
export function outsideRules(rules: AgendaRules, state: AgendaState, now: string): OutsideAppointment[] {
  const sorted = [...state.appointments].sort(
    (a, b) => Date.parse(a.start) - Date.parse(b.start) || (a.id ?? '').localeCompare(b.id ?? ''),
  );
  const out: OutsideAppointment[] = [];
  sorted.forEach((a, i) => {
    if (a.id === undefined) return;
    const result = checkBooking(rules, { appointments: sorted.slice(0, i), blocks: state.blocks }, a, now);
    if (!result.ok)
      out.push({
        id: a.id,
        start: a.start,
        end: a.end,
        reason: result.reason,
        ...(result.detail !== undefined && { detail: result.detail }),
      });
  });
  return out;
}

function frenchWhen(iso: string, zone: string): string {
  const d = DateTime.fromISO(iso, { zone }).setLocale('fr');
  return `${d.toFormat('cccc d LLLL yyyy')} à ${d.toFormat('HH:mm')}`;
}

/** The reason an agent reads, in French, naming the time in the practitioner's zone (never the patient). */
export function frenchReason(
  result: Exclude<CheckResult, { ok: true }>,
  start: string,
  zone: string,
): string {
  const when = frenchWhen(start, zone);
  const tail = ' Merci de proposer au patient un créneau libre.';
  switch (result.reason) {
    case 'visit-type-unknown':
      return `Rendez-vous refusé : le motif de consultation n’est pas prévu dans l’agenda du praticien.${tail}`;
    case 'duration':
      return `Rendez-vous refusé : ce motif dure ${result.detail} minutes dans l’agenda du praticien, la durée réservée ne correspond pas.${tail}`;
    case 'holiday':
      return `Rendez-vous refusé : le cabinet est fermé le ${when.split(' à ')[0]} (jour férié : ${result.detail}).${tail}`;
    case 'day-closed':
      return `Rendez-vous refusé : le cabinet est fermé le ${when.split(' à ')[0]} (${result.detail}).${tail}`;
    case 'absence':
      return `Rendez-vous refusé : le praticien est absent le ${when}.${tail}`;
    case 'closed':
      return `Rendez-vous refusé : le ${when} est en dehors des heures d’ouverture du cabinet.${tail}`;
    case 'urgent-only':
      return `Rendez-vous refusé : le créneau du ${when} est réservé aux urgences du jour.${tail}`;
    case 'period-not-allowed':
      return `Rendez-vous refusé : ce motif ne peut pas être pris sur la plage du ${when} (plage réservée à un autre type de rendez-vous).${tail}`;
    case 'daily-cap':
      return `Rendez-vous refusé : le nombre maximal de rendez-vous de la journée (${result.detail}) est atteint.${tail}`;
    case 'occupied':
      return `Rendez-vous refusé : le créneau du ${when} est déjà occupé dans l’agenda du praticien.${tail}`;
    case 'buffer':
      return `Rendez-vous refusé : le créneau du ${when} empiète sur le temps réservé entre deux rendez-vous (battement ou trajet).${tail}`;
    default:
      return result.reason satisfies never;
  }
}
