import { setImmediate as tick } from 'node:timers/promises';

import { describe, expect, it } from '@jest/globals';

import { type FeedData, FeedRenderer, feedWindow } from '../../src/ical/feed.js';
import type { Practice, StoredResource } from '../../src/store/types.js';

const SETTINGS = {
  windowPastDays: 30,
  windowFutureDays: 180,
  cancelledRetentionDays: 7,
  refreshMinutes: 15,
  maxEvents: 10_000,
  eventCacheEntries: 50_000,
};
const NOW = Date.parse('2026-11-23T09:00:00Z');
const practice: Practice = {
  id: 'cab',
  name: 'Cabinet',
  timezone: 'Europe/Paris',
  settings: {},
  version: 1,
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
};

function appointmentRow(id: string, startMs: number, version = 1): StoredResource {
  const start = new Date(startMs).toISOString();
  const end = new Date(startMs + 20 * 60_000).toISOString();
  return {
    id,
    practiceId: 'cab',
    kind: 'Appointment',
    data: {
      resourceType: 'Appointment',
      id,
      status: 'booked',
      start,
      end,
      participant: [{ actor: { reference: 'Practitioner/pr' }, status: 'accepted' }],
    },
    hash: 'h',
    version,
    origin: 'secretariat',
    startAt: start,
    endAt: end,
    practitionerId: 'pr',
    patientId: null,
    status: 'booked',
    createdAt: '2026-11-01T00:00:00.000Z',
    updatedAt: '2026-11-01T00:00:00.000Z',
  };
}

const data = (appointments: StoredResource[]): FeedData => ({
  practice,
  practitionerId: 'pr',
  practitioners: new Map(),
  appointments,
  slots: [],
  patients: new Map(),
});
const uids = (text: string) => [...text.matchAll(/^UID:(.*)@passerelle\r$/gm)].map((m) => m[1]);

describe('feed rendering', () => {
  it('computes the window in the practice’s local days, across clock changes', () => {
    const w = feedWindow(NOW, 'Europe/Paris', SETTINGS);
    expect(w.day).toBe('2026-11-23');
    expect(new Date(w.dayStartMs).toISOString()).toBe('2026-11-22T23:00:00.000Z');
    expect(new Date(w.fromMs).toISOString()).toBe('2026-10-23T22:00:00.000Z'); // midnight CEST, Oct 24
    expect(new Date(w.toMs).toISOString()).toBe('2027-05-22T22:00:00.000Z'); // end of May 22, today + 180 days
    expect(new Date(w.cancelledSinceMs).toISOString()).toBe('2026-11-15T23:00:00.000Z');
    expect(feedWindow(NOW, 'Indian/Reunion', SETTINGS).day).toBe('2026-11-23');
    expect(feedWindow(Date.parse('2026-11-23T21:00:00Z'), 'Indian/Reunion', SETTINGS).day).toBe('2026-11-24');
  });

  it('keeps the nearest events ahead, then the most recent past ones, when a feed exceeds maxEvents', async () => {
    const renderer = new FeedRenderer({ ...SETTINGS, maxEvents: 4 });
    const hour = 3_600_000;
    const rows = [-3, -2, -1, 1, 2, 3, 50].map((h) =>
      appointmentRow(`a${h < 0 ? `m${-h}` : h}`, NOW + h * 24 * hour),
    );
    const out = await renderer.render(data(rows), feedWindow(NOW, 'Europe/Paris', SETTINGS), 'busy');
    expect(out).toMatchObject({ events: 4, truncated: 3 });
    expect(uids(out.text)).toEqual(['a1', 'a2', 'a3', 'a50']);
    const wider = await new FeedRenderer({ ...SETTINGS, maxEvents: 6 }).render(
      data(rows),
      feedWindow(NOW, 'Europe/Paris', SETTINGS),
      'busy',
    );
    expect(uids(wider.text)).toEqual(['am2', 'am1', 'a1', 'a2', 'a3', 'a50']);
  });

  it('lets other work run while it renders 10,000 new events', async () => {
    const rows = Array.from({ length: 10_000 }, (_, i) =>
      appointmentRow(`apt-${i}`, NOW + i * 30 * 60_000 - 10 * 86_400_000),
    );
    const renderer = new FeedRenderer(SETTINGS);
    let ticks = 0;
    let rendering = true;
    void (async () => {
      while (rendering) {
        await tick();
        ticks++;
      }
    })();
    const out = await renderer.render(data(rows), feedWindow(NOW, 'Europe/Paris', SETTINGS), 'busy');
    rendering = false;
    expect(out.events).toBeGreaterThan(9000);
    // One turn of the event loop at least every 200 renders.
    expect(ticks).toBeGreaterThanOrEqual(Math.floor(out.events / 200) - 1);
  });

  it('renders each record version once, reuses its text, and renders again only what changed', async () => {
    const renderer = new FeedRenderer(SETTINGS);
    const w = feedWindow(NOW, 'Europe/Paris', SETTINGS);
    const rows = Array.from({ length: 50 }, (_, i) => appointmentRow(`apt-${i}`, NOW + i * 3_600_000));
    const first = await renderer.render(data(rows), w, 'busy');
    expect(renderer.cachedEvents).toBe(50);
    expect((await renderer.render(data(rows), w, 'busy')).text).toBe(first.text);
    expect(renderer.cachedEvents).toBe(50);
    const moved = rows.map((r, i) => (i === 7 ? appointmentRow('apt-7', NOW + 999 * 3_600_000, 2) : r));
    const second = await renderer.render(data(moved), w, 'busy');
    expect(renderer.cachedEvents).toBe(51);
    expect(second.text).toContain('UID:apt-7@passerelle\r\nSEQUENCE:1\r\n');
    await renderer.render(data(rows), w, 'initials');
    expect(renderer.cachedEvents).toBe(101);
  });
});
