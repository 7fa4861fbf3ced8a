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

  it('renders each record version once, reuses its text, renders again only what changed, and keeps only the latest version', async () => {
    const renderer = new FeedRenderer(SETTINGS);
    const w = feedWindow(NOW, 'Europe/Paris', SETTINGS);
    const rows = Array.from({ length: 50 }, (_, i) => appointmentRow(`apt-${i}`, NOW + i * 3_600_000));
    const first = await renderer.render(data(rows), w, 'busy');
    expect(renderer.cachedEvents).toBe(50);
    expect((await renderer.render(data(rows), w, 'busy')).text).toBe(first.text);
    expect(renderer.cachedEvents).toBe(50);
    const moved = rows.map((r, i) => (i === 7 ? appointmentRow('apt-7', NOW + 999 * 3_600_000, 2) : r));
    const second = await renderer.render(data(moved), w, 'busy');
    // Version 2 replaced version 1's text: a version never comes back, so it was dead weight.
    expect(renderer.cachedEvents).toBe(50);
    expect(second.text).toContain('UID:apt-7@passerelle\r\nSEQUENCE:1\r\n');
    expect((await renderer.render(data(moved), w, 'busy')).text).toBe(second.text);
    await renderer.render(data(rows), w, 'initials');
    expect(renderer.cachedEvents).toBe(100);
  });

  it('never serves one practice’s cached event to another practice’s feed, even for the same record id and version', async () => {
    const renderer = new FeedRenderer(SETTINGS);
    const w = feedWindow(NOW, 'Europe/Paris', SETTINGS);
    const other: Practice = { ...practice, id: 'other', name: 'Autre cabinet' };
    const mine = await renderer.render(data([appointmentRow('apt-1', NOW + 3_600_000)]), w, 'busy');
    const theirs = await renderer.render(
      {
        ...data([{ ...appointmentRow('apt-1', NOW + 5 * 3_600_000), practiceId: 'other' }]),
        practice: other,
      },
      w,
      'busy',
    );
    expect(mine.text).toContain('DTSTART;TZID=Europe/Paris:20261123T110000\r\n');
    expect(theirs.text).toContain('DTSTART;TZID=Europe/Paris:20261123T150000\r\n');
    expect(theirs.text).not.toContain('20261123T110000');
  });

  it('renders an event again when the practitioner or patient shown in it changes, and not for another feed’s privacy level', async () => {
    const renderer = new FeedRenderer(SETTINGS);
    const w = feedWindow(NOW, 'Europe/Paris', SETTINGS);
    const resource = (id: string, kind: 'Practitioner' | 'Patient', version: number, family: string) =>
      ({
        ...appointmentRow(id, NOW),
        kind,
        version,
        data: { resourceType: kind, id, name: [{ family, given: ['Marie'] }] },
      }) as StoredResource;
    const apt = { ...appointmentRow('apt-1', NOW + 3_600_000), patientId: 'pat' };
    const wide = (practitioner: StoredResource, patient: StoredResource): FeedData => ({
      ...data([apt]),
      practitionerId: null,
      practitioners: new Map([['pr', practitioner]]),
      patients: new Map([['pat', patient]]),
    });
    const render = (d: FeedData, privacy: 'busy' | 'initials') => renderer.render(d, w, privacy);
    const v1 = wide(
      resource('pr', 'Practitioner', 1, 'Médecin'),
      resource('pat', 'Patient', 1, 'Imaginaire'),
    );
    expect((await render(v1, 'initials')).text).toContain('SUMMARY:RDV M. I. — Dr Marie MÉDECIN\r\n');
    expect((await render(v1, 'busy')).text).toContain('SUMMARY:Occupé — Dr Marie MÉDECIN\r\n');
    const renamed = wide(
      resource('pr', 'Practitioner', 2, 'Docteure'),
      resource('pat', 'Patient', 1, 'Imaginaire'),
    );
    expect((await render(renamed, 'initials')).text).toContain('SUMMARY:RDV M. I. — Dr Marie DOCTEURE\r\n');
    const married = wide(
      resource('pr', 'Practitioner', 2, 'Docteure'),
      resource('pat', 'Patient', 2, 'Fictive'),
    );
    expect((await render(married, 'initials')).text).toContain('SUMMARY:RDV M. F. — Dr Marie DOCTEURE\r\n');
    expect((await render(married, 'busy')).text).toContain('SUMMARY:Occupé — Dr Marie DOCTEURE\r\n');
  });
});
