/**
 * Scenario 7 (issue 9): the practitioner follows her agenda in a calendar app subscribed to her
 * iCal feed (a URL made with `passerelle ical token create`). An agent books, then cancels, an
 * appointment at the secretariat: the feed shows it, then shows the same event (same UID, higher
 * SEQUENCE) as STATUS:CANCELLED. The activity report counts one booking and one cancellation,
 * both by the secretariat.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { type ParsedEvent, parseFeed } from '../helpers/ical-agenda.js';
import { demoSlotStart, fhirAppointments, simPatient, simPractitioner, simSlot } from './lookups.js';
import { startWorld, type World } from './world.js';

describe('scenario 7: a cancellation at the secretariat reaches the practitioner’s iCal feed', () => {
  let w: World;
  let feedUrl: string;
  let bookingId: string;
  let booked: ParsedEvent;
  const start = (world: World) => demoSlotStart(world.day0, 1, 2);

  beforeAll(async () => {
    w = await startWorld();
  }, 120_000);
  afterAll(async () => {
    await w?.dispose();
  });

  /** What a calendar app does: a plain GET of the feed URL, no headers. */
  const fetchFeed = async () => {
    const res = await fetch(feedUrl);
    expect([res.status, res.headers.get('content-type')]).toEqual([
      200,
      expect.stringMatching(/^text\/calendar/),
    ]);
    return parseFeed(await res.text());
  };
  const eventAt = (events: readonly ParsedEvent[], at: Date) =>
    events.filter((e) => e.startUtc === at.toISOString());

  it('lists an agent’s booking in the feed the practitioner subscribed to', async () => {
    const sec = w.fhir.secretariat;
    const alice = simPractitioner(sec, 'GENERALISTE');
    const booking = await sec.agent('agent-amelie').book({
      slotId: simSlot(sec, alice.id, start(w)).id,
      patientId: simPatient(sec, 'FICTIF-000005').id,
      appointmentTypeId: 'CONS',
    });
    bookingId = booking.id;
    await w.until('the booking on the FHIR server', async () =>
      (await fhirAppointments(w.fhir)).some((a) => a.status === 'booked'),
    );
    await w.settled(w.fhir);

    // The practitioner's passerelle id, as an operator finds it: in the practice's activity report.
    const report = await w.activity(w.fhir.id);
    const practitioner = report.appointments.byPractitioner.find((p) =>
      /GENERALISTE/.test((p as { name?: string | null }).name ?? ''),
    );
    expect(practitioner?.practitionerId).toEqual(expect.any(String));
    const created = await w.cli([
      'ical',
      'token',
      'create',
      '--practice',
      w.fhir.id,
      '--practitioner',
      practitioner?.practitionerId as string,
      '--label',
      'Agenda Dr GENERALISTE (e2e)',
    ]);
    expect(created.code).toBe(0);
    feedUrl = created.stdout.trim();
    expect(feedUrl).toMatch(new RegExp(`^${w.url}/ical/ics_[A-Za-z0-9_-]{43}\\.ics$`));

    const events = eventAt((await fetchFeed()).events, start(w));
    expect(events).toHaveLength(1);
    booked = events[0] as ParsedEvent;
    expect(booked).toMatchObject({
      status: 'CONFIRMED',
      summary: 'Occupé',
      endUtc: new Date(start(w).getTime() + 20 * 60_000).toISOString(),
    });
  });

  it('shows the cancelled appointment as STATUS:CANCELLED, same event, after the agent cancels it', async () => {
    expect(booked).toBeDefined();
    await w.fhir.secretariat.agent('agent-amelie').cancel(bookingId, 'Le patient a un empêchement.');
    await w.until('the cancellation on the FHIR server', async () =>
      (await fhirAppointments(w.fhir)).some((a) => a.status === 'cancelled'),
    );
    await w.settled(w.fhir);

    const events = eventAt((await fetchFeed()).events, start(w));
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      uid: booked.uid,
      status: 'CANCELLED',
      transp: 'TRANSPARENT',
      summary: 'Annulé',
    });
    expect(events[0]?.sequence).toBeGreaterThan(booked.sequence);
  });

  it('counts one booking and one cancellation by the secretariat in the practice’s activity report', async () => {
    const report = await w.activity(w.fhir.id);
    const none = { booked: 0, moved: 0, cancelled: 0, noshow: 0, arrived: 0, refused: 0 };
    const did = { ...none, booked: 1, cancelled: 1 };
    expect(report.appointments.total).toEqual(did);
    expect(report.appointments.byOrigin).toEqual({ secretariat: did, practice: none });
    expect(report.appointments.byPractitioner.map((p) => p.total)).toEqual([did]);
    expect(report.deadLetters).toMatchObject({ total: 0, openNow: 0 });
  });
});
