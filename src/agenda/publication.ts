/**
 * What passerelle publishes to the secretariat platform from a practitioner's rules (issue 20:
 * the platform's bookable slots are passerelle's free slots) and from the practice's coverage
 * windows. Pure: the caller reads the agenda and sends the result.
 */
import { type AgendaState, freeSlots } from './availability.js';
import { dayInterval, dayPlan, localDate, nextDate, releaseTime, zoneOf } from './calendar.js';
import { type CoverageWindows, coverageZone, coveredIntervals } from './coverage.js';
import { type AgendaRules, type PeriodKind } from './rules.js';

/** A bookable slot as the platform shows it: `urgent-only` until its release, then `free`. */
export interface PlannedSlot {
  /** UTC instants (…Z). */
  readonly start: string;
  readonly end: string;
  /** The visit type's code: the platform's appointment-type id. */
  readonly visitType: string;
  readonly status: 'free' | 'urgent-only';
  readonly kind: PeriodKind;
}

export interface SlotPlan {
  readonly from: string;
  readonly to: string;
  /** Sorted by start, then visit type: equal agendas give equal plans (and equal hashes). */
  readonly slots: readonly PlannedSlot[];
  /**
   * When the plan changes with no change to the agenda: the first release of an urgent-only
   * slot, or the next local midnight (the horizon moves on a day). An instant (…Z).
   */
  readonly nextChangeAt: string;
}

export interface PlanWindow {
  /** The instant the plan is made at: slots starting before are not published, releases are judged at it. */
  readonly now: string;
  /** How many days ahead, from `now`. */
  readonly horizonDays: number;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/**
 * The free slots of every visit type over the horizon. A slot of an urgent visit type in an
 * urgent period is `urgent-only` until its release time, then `free` — the same slot, so the
 * platform changes its status in place; routine visit types get slots there once released.
 */
export function planSlotPublication(rules: AgendaRules, state: AgendaState, window: PlanWindow): SlotPlan {
  const zone = zoneOf(rules);
  const now = Date.parse(window.now);
  const to = now + window.horizonDays * 86_400_000;
  const slots: PlannedSlot[] = [];
  let nextChange = dayInterval(nextDate(localDate(now, zone)), zone).start;
  for (const v of rules.visitTypes) {
    for (const s of freeSlots(rules, state, {
      visitType: v.code,
      from: iso(now),
      to: iso(to),
      now: iso(now),
    })) {
      let status: PlannedSlot['status'] = 'free';
      if (s.urgentOnly) {
        const start = Date.parse(s.start);
        const period = dayPlan(rules, localDate(start, zone)).periods.find(
          (p) => p.kind === 'urgent' && p.start <= start && start < p.end,
        );
        const release = period ? releaseTime(period, start, zone) : Number.POSITIVE_INFINITY;
        if (release <= now) status = 'free';
        else {
          status = 'urgent-only';
          if (release < nextChange) nextChange = release;
        }
      }
      slots.push({ start: s.start, end: s.end, visitType: s.visitType, status, kind: s.kind });
    }
  }
  slots.sort((a, b) => a.start.localeCompare(b.start) || a.visitType.localeCompare(b.visitType));
  return { from: iso(now), to: iso(to), slots, nextChangeAt: iso(nextChange) };
}

/** One covered stretch as the platform shows it to agents. */
export interface PlannedCoverage {
  readonly start: string;
  readonly end: string;
  /** `reinforcement`: a temporary one (renfort), from the windows' `extra`. */
  readonly kind: 'regular' | 'reinforcement';
  readonly label: string | null;
}

export interface CoveragePlan {
  readonly timeZone: string;
  readonly from: string;
  readonly to: string;
  readonly windows: readonly PlannedCoverage[];
}

/**
 * The covered intervals of the horizon: the regular ones (weekly hours, holidays) and, apart,
 * each reinforcement clipped to the horizon (a reinforcement inside regular hours still shows:
 * agents see that more of them answer then).
 */
export function planCoveragePublication(c: CoverageWindows, window: PlanWindow): CoveragePlan {
  const from = Date.parse(window.now);
  const to = from + window.horizonDays * 86_400_000;
  const regular = coveredIntervals({ ...c, extra: [] }, iso(from), iso(to)).map((i): PlannedCoverage => ({
    start: iso(i.start),
    end: iso(i.end),
    kind: 'regular',
    label: null,
  }));
  const reinforcements = c.extra
    .map((e) => ({
      start: Math.max(from, Date.parse(e.start)),
      end: Math.min(to, Date.parse(e.end)),
      label: e.label ?? null,
    }))
    .filter((e) => e.start < e.end)
    .map((e): PlannedCoverage => ({
      start: iso(e.start),
      end: iso(e.end),
      kind: 'reinforcement',
      label: e.label,
    }));
  const windows = [...regular, ...reinforcements].sort(
    (a, b) => a.start.localeCompare(b.start) || a.kind.localeCompare(b.kind),
  );
  return { timeZone: coverageZone(c), from: iso(from), to: iso(to), windows };
}
