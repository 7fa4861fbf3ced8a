import { describe, expect, it } from '@jest/globals';

import { aggregateActivity, practitionerName } from '../../src/reports/report.js';
import type { ActivityCount } from '../../src/store/types.js';

const row = (r: Partial<ActivityCount> & Pick<ActivityCount, 'type' | 'count'>): ActivityCount => ({
  origin: null,
  practitionerId: null,
  priority: null,
  detail: null,
  ...r,
});

describe('activity aggregation', () => {
  const counts: ActivityCount[] = [
    row({ type: 'appointment.booked', origin: 'secretariat', practitionerId: 'pr-b', count: 3 }),
    row({ type: 'appointment.booked', origin: 'practice', practitionerId: 'pr-b', count: 1 }),
    row({ type: 'appointment.booked', origin: 'secretariat', practitionerId: 'pr-a', count: 2 }),
    row({ type: 'appointment.moved', origin: 'practice', practitionerId: 'pr-a', count: 1 }),
    row({ type: 'appointment.cancelled', origin: 'secretariat', practitionerId: 'pr-b', count: 1 }),
    row({
      type: 'appointment.refused',
      origin: 'secretariat',
      practitionerId: null,
      detail: 'ERR_SYNC_SLOT_UNAVAILABLE',
      count: 1,
    }),
    row({ type: 'message.received', origin: 'secretariat', priority: 'routine', count: 4 }),
    row({ type: 'message.received', origin: 'secretariat', priority: 'stat', count: 1 }),
    row({ type: 'message.received', origin: 'secretariat', priority: 'urgent', count: 2 }),
    row({ type: 'message.delivered', origin: 'practice', priority: 'routine', count: 3 }),
    row({ type: 'message.delivered', origin: 'practice', priority: 'stat', count: 1 }),
    row({ type: 'message.delivered', origin: 'practice', priority: 'urgent', count: 2 }),
    row({ type: 'conflict.opened', detail: 'review', count: 2 }),
    row({ type: 'conflict.opened', detail: 'collision', count: 5 }),
    row({ type: 'conflict.opened', detail: 'refused', count: 1 }),
    row({ type: 'conflict.resolved', detail: 'side:practice', count: 1 }),
  ];
  const latencies = [
    { priority: 'routine', latencyMs: 30_000 },
    { priority: 'routine', latencyMs: 10_000 },
    { priority: 'routine', latencyMs: 20_000 },
    { priority: 'stat', latencyMs: 800 },
    { priority: 'urgent', latencyMs: 1_500 },
    { priority: 'urgent', latencyMs: 1_200 },
  ];
  const out = aggregateActivity(counts, latencies);

  it('adds appointment events up by origin, in total, and per practitioner, the unknown practitioner last', () => {
    expect(out.appointments.byOrigin.secretariat).toEqual({
      booked: 5,
      moved: 0,
      cancelled: 1,
      noshow: 0,
      arrived: 0,
      refused: 1,
    });
    expect(out.appointments.byOrigin.practice).toEqual({
      booked: 1,
      moved: 1,
      cancelled: 0,
      noshow: 0,
      arrived: 0,
      refused: 0,
    });
    expect(out.appointments.total).toEqual({
      booked: 6,
      moved: 1,
      cancelled: 1,
      noshow: 0,
      arrived: 0,
      refused: 1,
    });
    expect(
      out.appointments.byPractitioner.map((p) => [
        p.practitionerId,
        p.total.booked,
        p.byOrigin.secretariat.booked,
        p.byOrigin.practice.booked,
      ]),
    ).toEqual([
      ['pr-a', 2, 2, 0],
      ['pr-b', 4, 3, 1],
      [null, 0, 0, 0],
    ]);
    expect(out.appointments.byPractitioner[2]?.total.refused).toBe(1);
  });

  it('counts messages per priority, urgencies together, and their exact delivery delays', () => {
    expect(out.messages.byPriority.routine).toEqual({
      received: 4,
      delivered: 3,
      latencyMs: { count: 3, p50: 20_000, p95: 30_000, max: 30_000 },
    });
    expect(out.messages.byPriority.asap).toEqual({
      received: 0,
      delivered: 0,
      latencyMs: { count: 0, p50: null, p95: null, max: null },
    });
    expect(out.messages.urgencies).toEqual({
      received: 3,
      delivered: 3,
      latencyMs: { count: 3, p50: 1_200, p95: 1_500, max: 1_500 },
    });
    expect(out.messages.all).toMatchObject({
      received: 7,
      delivered: 6,
      latencyMs: { count: 6, p50: 1_500, p95: 30_000, max: 30_000 },
    });
  });

  it('keeps conflicts left for review apart from those decided at once by ownership', () => {
    expect(out.conflicts).toEqual({ openedForReview: 2, resolved: 1, autoDecided: 5, refusedByOwnership: 1 });
  });

  it('gives an empty period zero counts and null delays', () => {
    const empty = aggregateActivity([], []);
    expect(empty.appointments.byPractitioner).toEqual([]);
    expect(empty.messages.all).toEqual({
      received: 0,
      delivered: 0,
      latencyMs: { count: 0, p50: null, p95: null, max: null },
    });
  });

  it('names a practitioner from the official name, prefix and given names first', () => {
    expect(
      practitionerName({
        resourceType: 'Practitioner',
        id: 'p',
        name: [
          { use: 'usual', family: 'X' },
          { use: 'official', family: 'DOCTEUR-ESSAI', given: ['Camille'], prefix: ['Dr'] },
        ],
      } as never),
    ).toBe('Dr Camille DOCTEUR-ESSAI');
    expect(practitionerName({ resourceType: 'Practitioner', id: 'p' } as never)).toBeNull();
  });
});
