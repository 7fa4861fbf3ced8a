/**
 * Scenario 2 (issue 9): the practice blocks an afternoon in its FHIR software (a Slot
 * busy-unavailable, FR Core "plage bloquée"); the secretariat sees that time blocked and cannot
 * take it; a booking an agent still makes into it (typed as times, outside any slot) is refused
 * back to the secretariat by passerelle with a reason the agent reads on the platform, and never
 * reaches the practice software. The activity report counts one refusal by the secretariat.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Slot as FhirSlot } from '@medplum/fhirtypes';

import { AgentRequestError } from '../../connectors/secretariat/simulator/index.js';
import { fhirAppointments, simPatient, simPractitioner } from './lookups.js';
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
    const blocked: FhirSlot = { resourceType: 'Slot', schedule: { reference: 'Schedule/agenda-1' }, status: 'busy-unavailable', start: afternoon.start.toISOString(), end: afternoon.end.toISOString(), comment: 'Plage bloquée : visites à domicile' };
    expect((await w.fhir.fhir('POST', 'Slot', blocked)).status).toBe(201);
    await w.fhir.notify();

    const sec = w.fhir.secretariat;
    const alice = simPractitioner(sec, 'GENERALISTE');
    const slot = await w.until('the blocked afternoon on the secretariat', () =>
      sec.state.list('slot').find((s) => s.practitionerId === alice.id && Date.parse(s.start) === afternoon.start.getTime()),
    );
    expect(slot).toMatchObject({ status: 'blocked', end: afternoon.end.toISOString() });
    // The platform itself does not let an agent take a blocked slot.
    const attempt = sec.agent('agent-amelie').book({ slotId: slot.id, patientId: simPatient(sec, 'FICTIF-000004').id });
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

  it('counts one refusal by the secretariat, and no booking, in the practice’s activity report', async () => {
    expect(refusedId).toBeDefined();
    const report = await w.activity(w.fhir.id);
    const none = { booked: 0, moved: 0, cancelled: 0, noshow: 0, arrived: 0, refused: 0 };
    expect(report.appointments.total).toEqual({ ...none, refused: 1 });
    expect(report.appointments.byOrigin).toEqual({ secretariat: { ...none, refused: 1 }, practice: none });
    expect(report.appointments.byPractitioner.map((p) => p.total)).toEqual([{ ...none, refused: 1 }]);
    expect(report.deadLetters).toMatchObject({ total: 0, openNow: 0 });
  });
});
