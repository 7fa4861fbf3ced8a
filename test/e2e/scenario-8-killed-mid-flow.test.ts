/**
 * Scenario 8 (issue 9): passerelle is killed (SIGKILL: no shutdown, no flush) while agents of
 * both practices' secretariats keep booking, and is started again on the same store. Every
 * booking the secretariat made reaches the practice software once: the FHIR server holds one
 * appointment per booking (conditional update on the business identifier), and the HL7 practice
 * software gets one SIU^S12 per booking (a message resent after the crash carries the same
 * MSH-10, which is how the receiver recognises a resend). Bookings are told apart by the note the
 * agent typed, which both practice softwares receive (FHIR comment, HL7 NTE-3).
 */
import { describe, expect, it } from '@jest/globals';

import type { Appointment as PlatformAppointment } from '../../connectors/secretariat/contract.js';
import type { BookingRequest } from '../../connectors/secretariat/simulator/agent.js';
import type { SimulatorAgent } from '../../connectors/secretariat/simulator/index.js';
import { activityDelta, NO_APPOINTMENTS, NO_CONFLICTS } from './activity.js';
import { fhirAppointments as onServer, simPatient, simPractitioner } from './lookups.js';
import { worldPerFile } from './scenario-hooks.js';

const MINUTE = 60_000;
/** The restarted service takes back the killed process's leased rows at once; a bound for a loaded machine. */
const DELIVERY_MS = 60_000;
/** Time between two bookings of one agent: the stream lasts while passerelle is killed and restarted. */
const PACE_MS = 150;

/** An agent books one after the other, at an agent's pace; resolves with each booking by its note. */
async function bookOneByOne(
  agent: SimulatorAgent,
  requests: readonly (BookingRequest & { note: string })[],
): Promise<Map<string, PlatformAppointment>> {
  const booked = new Map<string, PlatformAppointment>();
  for (const r of requests) {
    booked.set(r.note, await agent.book(r));
    await new Promise((resolve) => setTimeout(resolve, PACE_MS));
  }
  return booked;
}

describe('scenario 8: passerelle killed mid-flow and restarted on the same store', () => {
  const world = worldPerFile();

  it('delivers every booking the secretariats made to the practice softwares once, across a SIGKILL and a restart', async () => {
    const w = world();
    const { fhir, hl7 } = w;
    const before = { fhir: await w.activity(fhir.id), hl7: await w.activity(hl7.id) };
    const fromHl7 = hl7.software.received.length;
    const fhirAppointments = () => onServer(fhir);
    const alreadyOnFhir = (await fhirAppointments()).length;

    // FHIR practice: both practitioners' slots 1–6 on day 3 (12 bookings), ten different patients.
    const fsim = fhir.secretariat;
    const fhirRequests = fsim.state
      .list('slot')
      .filter((s) => {
        const minutes = (Date.parse(s.start) - w.day0.getTime()) / MINUTE - 3 * 24 * 60;
        return s.status === 'free' && minutes >= 9 * 60 + 20 && minutes <= 9 * 60 + 120;
      })
      .sort((a, b) => a.start.localeCompare(b.start) || a.id.localeCompare(b.id))
      .map((s, i) => ({
        slotId: s.id,
        patientId: simPatient(fsim, `FICTIF-${String((i % 10) + 1).padStart(6, '0')}`).id,
        note: `e2e-8-fhir-${i + 1}`,
      }));
    expect(fhirRequests).toHaveLength(12);
    // HL7 practice: ten bookings at free times on day 1 afternoon.
    const hsim = hl7.secretariat;
    const practitionerId = simPractitioner(hsim, 'DOCTEUR-FICTIF').id;
    const lucie = simPatient(hsim, 'ESSAI').id;
    const hl7Requests = Array.from({ length: 10 }, (_, i) => {
      const start = new Date(w.day0.getTime() + (24 * 60 + 13 * 60 + 30 * i) * MINUTE);
      return {
        practitionerId,
        patientId: lucie,
        start: start.toISOString(),
        end: new Date(start.getTime() + 20 * MINUTE).toISOString(),
        appointmentTypeId: 'CONS-SUIVI',
        note: `e2e-8-hl7-${i + 1}`,
      };
    });

    const streams = Promise.all([
      bookOneByOne(fsim.agent('agent-amelie'), fhirRequests),
      bookOneByOne(hsim.agent('agent-bruno'), hl7Requests),
    ]);
    await w.until('the flow under way', () => hl7.software.received.length - fromHl7 >= 2);
    await w.kill9();
    // Killed mid-flow: bookings were still coming, and some had not reached the practices.
    const deliveredAtKill = {
      hl7: new Set(hl7.received(fromHl7).map((m) => m.get('NTE-3'))).size,
      fhir: (await fhirAppointments()).length - alreadyOnFhir,
    };
    await w.start();
    const [fhirBooked, hl7Booked] = await streams;
    expect(deliveredAtKill.hl7 + deliveredAtKill.fhir).toBeLessThan(hl7Requests.length + fhirRequests.length);
    expect(w.logs().filter((l) => l.message === 'passerelle started')).toHaveLength(2);

    // FHIR: one appointment per booking, at the booked time, and nothing else.
    await w.until(
      'every FHIR booking in the practice software',
      async () =>
        (await fhirAppointments()).filter((a) => a.comment?.startsWith('e2e-8-fhir-')).length >=
        fhirRequests.length,
      DELIVERY_MS,
    );
    // HL7: every booking's SIU^S12 at the practice software.
    const s12 = () => hl7.received(fromHl7).filter((m) => m.header.messageType === 'SIU^S12');
    await w.until(
      'every HL7 booking at the practice software',
      () => new Set(s12().map((m) => m.get('NTE-3'))).size >= hl7Requests.length,
      DELIVERY_MS,
    );
    await w.settled(fhir);
    await w.settled(hl7);

    const onFhir = (await fhirAppointments()).slice();
    expect(onFhir).toHaveLength(alreadyOnFhir + fhirRequests.length);
    const byNote = new Map(onFhir.map((a) => [a.comment, a]));
    expect([...byNote.keys()].filter((n) => n?.startsWith('e2e-8-fhir-')).sort()).toEqual(
      fhirRequests.map((r) => r.note).sort(),
    );
    for (const [note, booking] of fhirBooked) {
      const a = byNote.get(note);
      expect([a?.status, Date.parse(a?.start ?? ''), Date.parse(a?.end ?? '')]).toEqual([
        'booked',
        Date.parse(booking.start),
        Date.parse(booking.end),
      ]);
      expect(fsim.state.get('appointment', booking.id)?.status).toBe('booked');
    }

    const messages = s12();
    const notesReceived = [...new Set(messages.map((m) => m.get('NTE-3')))].sort();
    expect(notesReceived).toEqual(hl7Requests.map((r) => r.note).sort());
    for (const [note, booking] of hl7Booked) {
      const copies = messages.filter((m) => m.get('NTE-3') === note);
      // Sent again after the crash at most as the same message (same MSH-10, same placer id).
      expect(new Set(copies.map((m) => m.header.controlId)).size).toBe(1);
      expect(new Set(copies.map((m) => m.get('SCH-1'))).size).toBe(1);
      expect(hsim.state.get('appointment', booking.id)?.status).toBe('booked');
    }
    expect(new Set(messages.map((m) => m.get('SCH-1'))).size).toBe(hl7Requests.length);
    expect(hl7.received(fromHl7).filter((m) => m.header.messageType !== 'SIU^S12')).toEqual([]);

    // Each booking counted once in the reports, whatever was redone after the restart.
    for (const [practice, count] of [
      [fhir, fhirRequests.length],
      [hl7, hl7Requests.length],
    ] as const) {
      const delta = activityDelta(before[practice === fhir ? 'fhir' : 'hl7'], await w.activity(practice.id));
      expect(delta.byOrigin.secretariat).toEqual({ ...NO_APPOINTMENTS, booked: count });
      expect(delta.byOrigin.practice).toEqual(NO_APPOINTMENTS);
      expect(delta.conflicts).toEqual(NO_CONFLICTS);
      expect(delta.deadLetters).toEqual({ total: 0, openNow: 0 });
    }
  }, 120_000);
});
