/**
 * Scenario 2 (issue 9): the practice blocks an afternoon in its FHIR software (a Slot
 * busy-unavailable, FR Core "plage bloquée"); the secretariat sees that time blocked and cannot
 * take it; a booking an agent still makes into it (typed as times, outside any slot) is refused
 * back to the secretariat by passerelle with a reason the agent reads on the platform, and never
 * reaches the practice software. The same with the HL7 practice software, which blocks its
 * afternoon with SIU^S23. Each practice's activity report counts one refusal by the secretariat.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Slot as FhirSlot } from '@medplum/fhirtypes';

import { withField } from '../../connectors/hl7v2/simulator/index.js';
import { AgentRequestError } from '../../connectors/secretariat/simulator/index.js';
import { hl7Fixture } from '../helpers/hl7.js';
import { fhirAppointments, hl7LocalTime, simPatient, simPractitioner } from './lookups.js';
import { startWorld, type World } from './world.js';

describe('scenario 2: the practice blocks an afternoon', () => {
  let w: World;
  let afternoon: { start: Date; end: Date };
  let refusedId: string;

  beforeAll(async () => {
    w = await startWorld();
    // Day 3 of the demo agenda, 13:00–17:00 UTC (14:00–18:00 in Paris in winter).
    const day = w.day0.getTime() + 3 * 86_400_000;
    afternoon = { start: new Date(day + 13 * 3_600_000), end: new Date(day + 17 * 3_600_000) };
  }, 120_000);
  afterAll(async () => {
    await w?.dispose();
  });

  it('shows the blocked afternoon to the secretariat, which cannot book it', async () => {
    const blocked: FhirSlot = {
      resourceType: 'Slot',
      schedule: { reference: 'Schedule/agenda-1' },
      status: 'busy-unavailable',
      start: afternoon.start.toISOString(),
      end: afternoon.end.toISOString(),
      comment: 'Plage bloquée : visites à domicile',
    };
    expect((await w.fhir.fhir('POST', 'Slot', blocked)).status).toBe(201);
    await w.fhir.notify();

    const sec = w.fhir.secretariat;
    const alice = simPractitioner(sec, 'GENERALISTE');
    const slot = await w.until('the blocked afternoon on the secretariat', () =>
      sec.state
        .list('slot')
        .find((s) => s.practitionerId === alice.id && Date.parse(s.start) === afternoon.start.getTime()),
    );
    expect(slot).toMatchObject({ status: 'blocked', end: afternoon.end.toISOString() });
    // The platform itself does not let an agent take a blocked slot.
    const attempt = sec
      .agent('agent-amelie')
      .book({ slotId: slot.id, patientId: simPatient(sec, 'FICTIF-000004').id });
    await expect(attempt).rejects.toBeInstanceOf(AgentRequestError);
    await expect(attempt).rejects.toMatchObject({ status: 409, code: 'slot-unavailable' });
    await w.settled(w.fhir);
  });

  it('refuses back to the secretariat, with a reason, a booking an agent makes into the blocked afternoon', async () => {
    const sec = w.fhir.secretariat;
    const start = new Date(afternoon.start.getTime() + 60 * 60_000);
    const booking = await sec.agent('agent-bruno').book({
      practitionerId: simPractitioner(sec, 'GENERALISTE').id,
      patientId: simPatient(sec, 'FICTIF-000004').id,
      start: start.toISOString(),
      end: new Date(start.getTime() + 20 * 60_000).toISOString(),
      appointmentTypeId: 'CONS',
    });
    refusedId = booking.id;
    const refused = await w.until('the refusal on the secretariat', () => {
      const a = sec.state.get('appointment', booking.id);
      return a?.status === 'refused' ? a : undefined;
    });
    // What the agent reads on the platform: a code and a French sentence to act on.
    expect(refused.refusal?.code).toMatch(/\S/);
    expect(refused.refusal?.message).toMatch(/indisponible|bloqu/i);
    await w.settled(w.fhir);
    // Nothing of it reached the practice software.
    expect(await fhirAppointments(w.fhir)).toEqual([]);
  });

  it('refuses back, with a reason, a booking into an afternoon the HL7 practice software blocked with SIU^S23', async () => {
    const [start, end] = [hl7LocalTime(afternoon.start), hl7LocalTime(afternoon.end)];
    let s23 = withField(hl7Fixture('siu-s23-blocked-slot'), 'SCH', 2, 'PLG-0100^LOGICIEL-CABINET');
    s23 = withField(withField(s23, 'SCH', 9, '240'), 'SCH', 11, `^^M240^${start}^${end}`);
    for (const seg of ['AIL', 'AIP']) s23 = withField(withField(s23, seg, 6, start), seg, 9, '240');
    expect(await w.hl7.send(s23)).toBe('AA');

    const sec = w.hl7.secretariat;
    const alice = simPractitioner(sec, 'DOCTEUR-FICTIF');
    await w.until('the blocked afternoon on the secretariat', () =>
      sec.state
        .list('slot')
        .find(
          (s) =>
            s.practitionerId === alice.id &&
            s.status === 'blocked' &&
            Date.parse(s.start) === afternoon.start.getTime() &&
            Date.parse(s.end) === afternoon.end.getTime(),
        ),
    );
    const from = w.hl7.software.received.length;
    const at = new Date(afternoon.start.getTime() + 90 * 60_000);
    const booking = await sec.agent('agent-amelie').book({
      practitionerId: alice.id,
      patientId: simPatient(sec, 'ESSAI').id,
      start: at.toISOString(),
      end: new Date(at.getTime() + 15 * 60_000).toISOString(),
      appointmentTypeId: 'CONS',
    });
    const refused = await w.until('the refusal on the secretariat', () => {
      const a = sec.state.get('appointment', booking.id);
      return a?.status === 'refused' ? a : undefined;
    });
    expect(refused.refusal?.message).toMatch(/indisponible|bloqu/i);
    await w.settled(w.hl7);
    expect(w.hl7.received(from)).toEqual([]);
  });

  it.each([
    ['FHIR', () => w.fhir],
    ['HL7', () => w.hl7],
  ])(
    'counts one refusal by the secretariat, and no booking, in the %s practice’s activity report',
    async (_name, practice) => {
      expect(refusedId).toBeDefined();
      const report = await w.activity(practice().id);
      const none = { booked: 0, moved: 0, cancelled: 0, noshow: 0, arrived: 0, refused: 0 };
      expect(report.appointments.total).toEqual({ ...none, refused: 1 });
      expect(report.appointments.byOrigin).toEqual({ secretariat: { ...none, refused: 1 }, practice: none });
      expect(report.appointments.byPractitioner.map((p) => p.total)).toEqual([{ ...none, refused: 1 }]);
      expect(report.deadLetters).toMatchObject({ total: 0, openNow: 0 });
    },
  );
});
