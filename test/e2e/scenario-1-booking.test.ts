/**
 * Scenario 1 (issue 9): an agent of the secretariat books an appointment on the platform; the
 * practice software gets it — the FHIR one as an Appointment on its server, the HL7 one as
 * SIU^S12 over MLLP — with the right patient, practitioner, type, start and duration; each
 * practice's activity report counts exactly that booking, by the secretariat.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import {
  demoSlotStart,
  fhirAppointments,
  hl7LocalTime,
  simPatient,
  simPractitioner,
  simSlot,
} from './lookups.js';
import { type ActivityReport, startWorld, type World } from './world.js';

const NO_APPOINTMENTS = { booked: 0, moved: 0, cancelled: 0, noshow: 0, arrived: 0, refused: 0 };
const ONE_BOOKING = { ...NO_APPOINTMENTS, booked: 1 };

describe('scenario 1: an agent books an appointment at the secretariat', () => {
  let w: World;

  beforeAll(async () => {
    w = await startWorld();
  }, 120_000);
  afterAll(async () => {
    await w?.dispose();
  });

  it('reaches the FHIR practice software as a booked Appointment with the patient, practitioner, type, start and duration', async () => {
    const sec = w.fhir.secretariat;
    const alice = simPractitioner(sec, 'GENERALISTE');
    const start = demoSlotStart(w.day0, 2, 3);
    const slot = simSlot(sec, alice.id, start);
    const booking = await sec.agent('agent-amelie').book({
      slotId: slot.id,
      patientId: simPatient(sec, 'FICTIF-000003').id,
      appointmentTypeId: 'CONS-SUIVI',
      note: 'Renouvellement ordonnance.',
    });

    const apt = await w.until('the booking on the FHIR server', async () =>
      (await fhirAppointments(w.fhir)).find(
        (a) => a.status === 'booked' && a.start !== undefined && Date.parse(a.start) === start.getTime(),
      ),
    );
    expect(Date.parse(apt.end as string) - Date.parse(apt.start as string)).toBe(20 * 60_000);
    expect(Date.parse(booking.end) - Date.parse(booking.start)).toBe(20 * 60_000);
    expect(apt.participant?.map((p) => p.actor?.reference).sort()).toEqual([
      'Patient/pat-000003',
      'Practitioner/prat-medecin-1',
    ]);
    // The platform's type CONS-SUIVI is the practice software's SUIVI (the profile's value map).
    expect(apt.serviceType?.[0]?.coding?.[0]).toMatchObject({
      system: 'urn:oid:1.2.250.1.999.1.4',
      code: 'SUIVI',
    });
    expect(apt.slot).toEqual([{ reference: 'Slot/slot-1-2-3' }]);
    expect(apt.comment).toBe('Renouvellement ordonnance.');
    await w.settled(w.fhir);
    expect((await fhirAppointments(w.fhir)).filter((a) => a.status === 'booked')).toHaveLength(1);
  });

  it('reaches the HL7 practice software as SIU^S12 with the patient, practitioner, type, start and duration', async () => {
    const sec = w.hl7.secretariat;
    const from = w.hl7.software.received.length;
    const start = new Date(w.day0.getTime() + 86_400_000 + 8 * 3_600_000);
    const end = new Date(start.getTime() + 40 * 60_000);
    await sec.agent('agent-bruno').book({
      practitionerId: simPractitioner(sec, 'DOCTEUR-FICTIF').id,
      patientId: simPatient(sec, 'ESSAI').id,
      start: start.toISOString(),
      end: end.toISOString(),
      appointmentTypeId: 'CONS-LONG',
    });

    const m = await w.until('SIU^S12 at the practice software', () =>
      w.hl7.received(from).find((x) => x.header.messageType === 'SIU^S12'),
    );
    expect([m.get('SCH-11.4'), m.get('SCH-11.5'), m.get('TQ1-7')]).toEqual([
      hl7LocalTime(start),
      hl7LocalTime(end),
      hl7LocalTime(start),
    ]);
    expect([m.get('SCH-9'), m.get('SCH-10'), m.get('SCH-25'), m.get('SCH-20')]).toEqual([
      '40',
      'min',
      'Booked',
      'agent-bruno',
    ]);
    expect(m.get('AIS-3.1')).toBe('CONS-LONG');
    // Dr Alice DOCTEUR-FICTIF by her national id (8 + RPPS); Lucie ESSAI by her IPP (no INS: provisional identity).
    expect([m.get('AIP-3.1'), m.get('AIP-3.2'), m.get('AIP-3.3')]).toEqual([
      '819999900012',
      'DOCTEUR-FICTIF',
      'Alice',
    ]);
    expect(m.getAll('PID-3[*].1')).toEqual(['IPP000303']);
    expect([m.get('PID-5[1].1'), m.get('PID-5[1].2'), m.get('PID-32')]).toEqual(['ESSAI', 'Lucie', 'PROV']);
    await w.settled(w.hl7);
    expect(w.hl7.received(from).map((x) => x.header.messageType)).toEqual(['SIU^S12']);
  });

  it.each([
    ['FHIR', () => w.fhir],
    ['HL7', () => w.hl7],
  ])(
    'counts one booking by the secretariat, and nothing else, in the %s practice’s activity report',
    async (_name, practice) => {
      const report: ActivityReport = await w.activity(practice().id);
      expect(report.appointments.total).toEqual(ONE_BOOKING);
      expect(report.appointments.byOrigin).toEqual({ secretariat: ONE_BOOKING, practice: NO_APPOINTMENTS });
      expect(report.appointments.byPractitioner.map((p) => p.total)).toEqual([ONE_BOOKING]);
      expect(report.messages.all).toMatchObject({ received: 0, delivered: 0 });
      expect(report.deadLetters).toMatchObject({ total: 0, openNow: 0 });
    },
  );
});
