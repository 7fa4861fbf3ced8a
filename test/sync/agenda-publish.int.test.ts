/**
 * Issue 20, the secretariat platform's side: the practitioner's free slots computed from the
 * practice's agenda rules become the platform's bookable slots, an urgent-only slot turns free
 * at its release time, and the coverage windows show on the platform. The whole service on a
 * real SQLite store, the FHIR peer and the secretariat simulator over real HTTP, and a clock
 * shared by the service and the simulator (time moves when the test says so: no sleeps).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DateTime } from 'luxon';

import type { CoverageBody, Slot, SlotPublicationBody } from '../../connectors/secretariat/contract.js';
import { type FhirWorld, startFhirWorld, until } from '../helpers/fhir-world.js';
import { testClock } from '../helpers/stores.js';

/** The first Monday (UTC) after today: the demo agenda's first day. */
function nextMonday(now: number): Date {
  const d = new Date(now);
  const m = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1));
  while (m.getUTCDay() !== 1) m.setUTCDate(m.getUTCDate() + 1);
  return m;
}

describe('agenda published to the secretariat platform', () => {
  const clock = testClock(Date.now());
  const day0 = nextMonday(clock());
  /** An instant at a Paris wall-clock time on day0, as the platform writes it. */
  const paris = (hhmm: string, days = 0) =>
    DateTime.fromISO(`${new Date(day0.getTime() + days * 86_400_000).toISOString().slice(0, 10)}T${hhmm}`, {
      zone: 'Europe/Paris',
    })
      .toUTC()
      .toISO() as string;
  let w: FhirWorld;
  let practitionerId: string;
  let simPractitionerId: string;

  const platform = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${w.sim.url}/v1/practices/${w.sim.practiceId}${path}`, {
      headers: { authorization: `Bearer ${w.sim.apiToken}` },
    });
    const body = await res.text();
    if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${body}`);
    return JSON.parse(body) as T;
  };
  const published = (): Slot[] =>
    w.sim.state
      .list('slot')
      .filter((s) => s.practitionerId === simPractitionerId && typeof s.appointmentTypeId === 'string');
  const at = (start: string, type: string) =>
    published().find((s) => s.start === start && s.appointmentTypeId === type);
  const put = async (path: string, json: unknown) => {
    const res = await w.t.api(`/api/v1/practices/${w.practiceId}${path}`, {
      method: 'PUT',
      key: w.integrator,
      json,
    });
    if (res.status !== 200) throw new Error(`PUT ${path}: ${res.status} ${await res.text()}`);
  };

  beforeAll(async () => {
    w = await startFhirWorld({ day0, now: clock });
    await w.runtime.pollLink(w.fhirLinkId);
    await w.settled();
    const store = w.t.service.store;
    practitionerId = (await store.identityMap.findCanonical(
      w.fhirLinkId,
      'Practitioner',
      'prat-medecin-1',
    )) as string;
    simPractitionerId = (await until('the practitioner on the platform', () =>
      w.onSim('Practitioner', 'prat-medecin-1'),
    )) as string;
  }, 60_000);
  afterAll(async () => {
    await w?.dispose();
  });

  it('publishes the free slots of each visit type as the platform’s bookable slots, and republishes when a booking fills one', async () => {
    await put('/agenda-rules', {
      practitionerId,
      rules: {
        timeZone: 'Europe/Paris',
        closedOnHolidays: false,
        weekly: [
          { days: ['mon'], start: '09:00', end: '12:00' },
          { days: ['mon'], start: '12:00', end: '13:00', kind: 'urgent', release: { minutesBefore: 60 } },
        ],
        visitTypes: [
          { code: 'CONS', label: 'Consultation', durationMinutes: 20 },
          { code: 'URG', label: 'Urgence du jour', durationMinutes: 20, urgent: true },
        ],
      },
    });
    await w.settled();
    // The demo agenda books 10:20 and 10:40 (Paris) on day0: no slot there; 11:00 is free.
    expect(at(paris('11:00'), 'CONS')?.status).toBe('free');
    expect(at(paris('10:20'), 'CONS')).toBeUndefined();
    expect(at(paris('12:00'), 'URG')?.status).toBe('urgent-only');
    expect(at(paris('12:00'), 'CONS')).toBeUndefined();
    const first = await platform<SlotPublicationBody>(`/practitioners/${simPractitionerId}/published-slots`);
    expect(first).toMatchObject({ practitionerId: simPractitionerId, version: 1 });
    expect(first.slots).toBe(published().length);

    // An agent books the published 11:00 consultation: passerelle takes the booking, then
    // publishes again; the booked slot stays, the urgent type's slot at the same time goes.
    const patient = w.sim.state.list('patient')[0];
    const slot = at(paris('11:00'), 'CONS') as Slot;
    const booking = await w.sim
      .agent('agent-amelie')
      .book({ slotId: slot.id, patientId: patient?.id ?? null, appointmentTypeId: 'CONS' });
    await w.runtime.pollLink(w.secLinkId);
    await w.settled();
    expect(w.sim.state.get('appointment', booking.id)).toMatchObject({ status: 'booked', refusal: null });
    expect(w.sim.state.get('slot', slot.id)?.status).toBe('busy');
    expect(at(paris('11:00'), 'URG')).toBeUndefined();
    const second = await platform<SlotPublicationBody>(`/practitioners/${simPractitionerId}/published-slots`);
    expect(second.version).toBeGreaterThan(first.version);
    expect(second.kept).toBe(1);

    const audit = await w.t.service.store.audit.list({ action: 'agenda.slots.publish' });
    expect(audit.length).toBeGreaterThanOrEqual(2);
    expect(audit[0]).toMatchObject({ resourceId: practitionerId, outcome: 'success' });
  });

  it('turns an urgent-only slot free on the platform at its release time', async () => {
    const noon = at(paris('12:00'), 'URG') as Slot;
    expect(noon.status).toBe('urgent-only');
    // 60 minutes before it starts, the slot opens to routine bookings.
    clock.set(Date.parse(paris('11:00')));
    expect(await w.runtime.agenda.due()).toBe(1);
    w.runtime.engine.notify();
    await w.settled();
    // The same slot, its status changed in place; the next one waits for its own release.
    expect(w.sim.state.get('slot', noon.id)?.status).toBe('free');
    expect(at(paris('12:20'), 'URG')?.status).toBe('urgent-only');
    expect(at(paris('12:00'), 'CONS')?.status).toBe('free');
    // Nothing more is due until the next release.
    expect(await w.runtime.agenda.due()).toBe(0);
  });

  it('shows the coverage windows, with a temporary reinforcement, on the platform', async () => {
    const renfort = { start: paris('19:00'), end: paris('21:00'), label: 'Renfort épidémie' };
    await put('/coverage', {
      windows: {
        timeZone: 'Europe/Paris',
        weekly: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '08:00', end: '19:00' }],
        extra: [renfort],
      },
    });
    await w.settled();
    const coverage = await platform<CoverageBody>('/coverage');
    expect(coverage).toMatchObject({ version: 1, timeZone: 'Europe/Paris' });
    // From now (day0, 11:00 since the release above) over the horizon; Tuesday whole.
    expect(coverage.windows).toContainEqual({
      start: paris('08:00', 1),
      end: paris('19:00', 1),
      kind: 'regular',
      label: null,
    });
    expect(coverage.windows).toContainEqual({ ...renfort, kind: 'reinforcement' });

    // Every change is published: the reinforcement withdrawn, version 2 — through a platform
    // that fails first (503 to both of the client's attempts): the outbox retries it (2 attempts).
    w.sim.setFaults({ script: [{ status: 503 }, { status: 503 }] });
    await put('/coverage', {
      windows: {
        timeZone: 'Europe/Paris',
        weekly: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '08:00', end: '19:00' }],
      },
    });
    const store = w.t.service.store;
    const row = async () => (await store.outbox.list({ recordId: `agenda-coverage:${w.practiceId}` })).at(-1);
    await until('the publication failed once', async () => {
      const r = await row();
      // Done already when the jittered backoff drew a zero delay.
      return r?.lastErrorCode === 'ERR_SECRETARIAT_HTTP' && (r.status === 'pending' || r.status === 'done');
    });
    clock.advance(60_000); // past its backoff, on the service's clock
    w.runtime.engine.notify();
    await w.settled();
    const after = await platform<CoverageBody>('/coverage');
    expect(after.version).toBe(2);
    expect(after.windows.some((x) => x.kind === 'reinforcement')).toBe(false);
    expect(await row()).toMatchObject({ status: 'done', attempts: 2, lastErrorCode: 'ERR_SECRETARIAT_HTTP' });
  });
});
