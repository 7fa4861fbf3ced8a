/**
 * What a scenario did, as GET /api/v1/reports/activity tells it: the difference between the
 * report read before the scenario and the one read after, so each scenario checks its own
 * counts whatever the world's start-up recorded.
 */
import type { ActivityCounts, ActivityReport } from './world.js';

export interface ActivityDelta {
  readonly appointments: ActivityCounts;
  readonly byOrigin: Readonly<Record<'secretariat' | 'practice', ActivityCounts>>;
  readonly messages: { readonly received: number; readonly delivered: number };
  readonly conflicts: Readonly<Record<string, number>>;
  readonly deadLetters: { readonly total: number; readonly openNow: number };
}

function countsDelta(a: ActivityCounts, b: ActivityCounts): ActivityCounts {
  return {
    booked: b.booked - a.booked,
    moved: b.moved - a.moved,
    cancelled: b.cancelled - a.cancelled,
    noshow: b.noshow - a.noshow,
    arrived: b.arrived - a.arrived,
    refused: b.refused - a.refused,
  };
}

export function activityDelta(before: ActivityReport, after: ActivityReport): ActivityDelta {
  const conflicts: Record<string, number> = {};
  for (const key of new Set([...Object.keys(before.conflicts), ...Object.keys(after.conflicts)]))
    conflicts[key] = (after.conflicts[key] ?? 0) - (before.conflicts[key] ?? 0);
  return {
    appointments: countsDelta(before.appointments.total, after.appointments.total),
    byOrigin: {
      secretariat: countsDelta(
        before.appointments.byOrigin.secretariat,
        after.appointments.byOrigin.secretariat,
      ),
      practice: countsDelta(before.appointments.byOrigin.practice, after.appointments.byOrigin.practice),
    },
    messages: {
      received: after.messages.all.received - before.messages.all.received,
      delivered: after.messages.all.delivered - before.messages.all.delivered,
    },
    conflicts,
    deadLetters: {
      total: after.deadLetters.total - before.deadLetters.total,
      openNow: after.deadLetters.openNow - before.deadLetters.openNow,
    },
  };
}

/** No appointment activity. */
export const NO_APPOINTMENTS: ActivityCounts = {
  booked: 0,
  moved: 0,
  cancelled: 0,
  noshow: 0,
  arrived: 0,
  refused: 0,
};
/** No conflict of any sort. */
export const NO_CONFLICTS: Readonly<Record<string, number>> = {
  openedForReview: 0,
  resolved: 0,
  autoDecided: 0,
  refusedByOwnership: 0,
  openNow: 0,
};
