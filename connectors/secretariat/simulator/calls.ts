/**
 * The simulated platform's call statistics (GET /call-statistics, issue 21 point 4). What the
 * simulator really knows it counts: calls its agents turned into a booking (appointments with
 * `bookedBy`, created that local day) and into a message (routine or urgent, by `takenAt`). What
 * it has no model of — calls redirected elsewhere, calls abandoned in the queue, how long each
 * caller waited, the post-call survey — comes from the seeded PRNG, keyed by practice and day,
 * so the same day always gives the same figures (tests compare them with passerelle's report).
 */
import { DateTime } from 'luxon';

import { CALL_WAIT_BOUNDS, type CallStatistics } from '../contract.js';
import { seededRandom } from './prng.js';
import type { SimulatorState } from './state.js';

/** FNV-1a of the text: a stable 32-bit seed per practice and day. */
function seedOf(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

function nearestRank(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.max(1, Math.ceil((p / 100) * sorted.length)) - 1] as number;
}

export function callStatistics(
  state: SimulatorState,
  practiceId: string,
  day: string,
  now: number,
): CallStatistics {
  const zone = state.practice(practiceId)?.timezone ?? 'Europe/Paris';
  const start = DateTime.fromISO(day, { zone }).startOf('day');
  const from = start.toMillis();
  // Calls taken up to now, this very millisecond included.
  const to = Math.min(start.plus({ days: 1 }).toMillis(), now + 1);
  const within = (iso: string) => {
    const t = Date.parse(iso);
    return t >= from && t < to;
  };
  const booked = state
    .list(practiceId, 'appointment')
    .filter((a) => a.bookedBy !== null && within(a.createdAt)).length;
  const messages = state.list(practiceId, 'message').filter((m) => within(m.takenAt));
  const urgent = messages.filter((m) => m.priority === 'urgent').length;
  const message = messages.length - urgent;

  const zero = { '15': 0, '30': 0, '60': 0, '120': 0, '300': 0 };
  if (to <= from)
    return {
      day,
      received: 0,
      answered: 0,
      abandoned: 0,
      answeredWithin: zero,
      waitSeconds: { p50: null, p95: null },
      outcomes: { booked: 0, message: 0, urgent: 0, redirected: 0 },
      satisfaction: null,
    };

  const random = seededRandom(seedOf(`${practiceId}/${day}`));
  // A weekday brings a handful of calls the platform forwards elsewhere (pharmacy, 15, another practice).
  const weekend = start.weekday >= 6;
  const redirected = Math.floor(random() * (weekend ? 2 : 6));
  const answered = booked + message + urgent + redirected;
  // Waits: exponential around a 25 s mean, rounded to the second.
  const waits = Array.from({ length: answered }, () => Math.round(-Math.log(1 - random()) * 25)).sort(
    (a, b) => a - b,
  );
  const answeredWithin = Object.fromEntries(
    CALL_WAIT_BOUNDS.map((b) => [b, waits.filter((w) => w <= Number(b)).length]),
  ) as CallStatistics['answeredWithin'];
  const abandoned = Math.round(answered * (0.03 + random() * 0.07));
  const responses = Math.floor(answered * 0.3);
  return {
    day,
    received: answered + abandoned,
    answered,
    abandoned,
    answeredWithin,
    waitSeconds: { p50: nearestRank(waits, 50), p95: nearestRank(waits, 95) },
    outcomes: { booked, message, urgent, redirected },
    satisfaction: {
      responses,
      averageScore: responses === 0 ? null : Math.round((3.8 + random()) * 10) / 10,
    },
  };
}
