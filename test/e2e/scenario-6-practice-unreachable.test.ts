/**
 * Scenario 6 (issue 9): the practice software is unreachable for a while — the network between
 * passerelle and it is cut (HL7: the TCP relay refuses connections; FHIR: the fault proxy resets
 * every request). What the secretariat does meanwhile waits in the outbox, which the admin API
 * shows; once the network is back, everything is delivered, once each: counted on the practice
 * software's side. passerelle runs as a child process with the product's retry defaults.
 */
import { describe, expect, it } from '@jest/globals';

import { activityDelta, NO_APPOINTMENTS, NO_CONFLICTS } from './activity.js';
import { demoSlotStart, fhirAppointments, simPatient, simPractitioner, simSlot } from './lookups.js';
import { outboxWaiting, worldPerFile } from './scenario-hooks.js';

const MINUTE = 60_000;
/** After a cut, delivery resumes at the next retry: backoff from 1 s, doubling, full jitter. */
const RECOVERY_MS = 60_000;

describe('scenario 6: the practice software unreachable for a while', () => {
  const world = worldPerFile();

  it('keeps an HL7 practice’s bookings and urgent message in the outbox while the link is cut, then delivers each exactly once', async () => {
    const w = world();
    const { hl7 } = w;
    const sim = hl7.secretariat;
    const agent = sim.agent('agent-bruno');
    const before = await w.activity(hl7.id);
    const from = hl7.software.received.length;
    const practitionerId = simPractitioner(sim, 'DOCTEUR-FICTIF').id;
    const patientId = simPatient(sim, 'ESSAI').id;

    hl7.cut();
    const notes = ['e2e-6-hl7-1', 'e2e-6-hl7-2', 'e2e-6-hl7-3', 'e2e-6-hl7-4', 'e2e-6-hl7-5'];
    const bookings = [];
    for (const [k, note] of notes.entries()) {
      const start = new Date(w.day0.getTime() + 8 * 60 * MINUTE + 30 * k * MINUTE);
      bookings.push(
        await agent.book({
          practitionerId,
          patientId,
          start: start.toISOString(),
          end: new Date(start.getTime() + 20 * MINUTE).toISOString(),
          appointmentTypeId: 'CONS-SUIVI',
          note,
        }),
      );
    }
    await agent.leaveMessage({
      callerName: 'Lucie ESSAI',
      text: 'Fièvre depuis hier soir, rappeler dans la matinée.',
      priority: 'urgent',
      patientId,
      practitionerId,
    });

    // Everything waits for the practice software, visibly; nothing got through.
    await w.until(
      'six changes waiting in the outbox',
      async () => (await outboxWaiting(w, hl7.practiceLinkId)) >= notes.length + 1,
    );
    expect(hl7.software.received.length).toBe(from);
    const during = await w.json<{ links: { linkId: string; outbox: { pending: number; leased: number } }[] }>(
      `/api/v1/reports/activity?practice=${hl7.id}&from=${new Date(Date.now() - 3_600_000).toISOString()}&to=${new Date(Date.now() + 3_600_000).toISOString()}`,
    );
    const link = during.links.find((l) => l.linkId === hl7.practiceLinkId);
    expect((link?.outbox.pending ?? 0) + (link?.outbox.leased ?? 0)).toBeGreaterThanOrEqual(notes.length + 1);

    hl7.restore();
    await w.until(
      'every change at the practice software',
      () => hl7.software.received.length - from >= notes.length + 1,
      RECOVERY_MS,
    );
    await w.settled(hl7);
    expect(await outboxWaiting(w, hl7.practiceLinkId)).toBe(0);

    const received = hl7.received(from);
    const bookingsReceived = received.filter((m) => m.header.messageType === 'SIU^S12');
    // None lost, none twice: one SIU^S12 per booking (its note in NTE-3), one MDM^T02, nothing else.
    expect(bookingsReceived.map((m) => m.get('NTE-3')).sort()).toEqual(notes);
    expect(new Set(bookingsReceived.map((m) => m.get('SCH-1'))).size).toBe(notes.length);
    expect(bookingsReceived.map((m) => m.get('PID-3.1'))).toEqual(notes.map(() => 'IPP000303'));
    expect(received.filter((m) => m.header.messageType === 'MDM^T02').map((m) => m.get('OBX[1]-5'))).toEqual([
      'URGENT',
    ]);
    expect(received).toHaveLength(notes.length + 1);
    expect(new Set(received.map((m) => m.header.controlId)).size).toBe(received.length);
    expect(bookings.map((b) => sim.state.get('appointment', b.id)?.status)).toEqual(
      notes.map(() => 'booked'),
    );

    const delta = activityDelta(before, await w.activity(hl7.id));
    expect(delta.byOrigin.secretariat).toEqual({
      booked: notes.length,
      moved: 0,
      cancelled: 0,
      noshow: 0,
      arrived: 0,
      refused: 0,
    });
    expect(delta.byOrigin.practice).toEqual(NO_APPOINTMENTS);
    expect(delta.messages).toEqual({ received: 1, delivered: 1 });
    expect(delta.conflicts).toEqual(NO_CONFLICTS);
    expect(delta.deadLetters).toEqual({ total: 0, openNow: 0 });
  }, 90_000);

  it('keeps a FHIR practice’s bookings in the outbox while its server cannot be reached, then writes each exactly once', async () => {
    const w = world();
    const { fhir } = w;
    const sim = fhir.secretariat;
    const agent = sim.agent('agent-amelie');
    const before = await w.activity(fhir.id);
    const appointments = () => fhirAppointments(fhir);
    const already = (await appointments()).length;
    const practitionerId = simPractitioner(sim, 'PEDIATRE').id;
    const patients = ['FICTIF-000005', 'FICTIF-000006', 'FICTIF-000007', 'FICTIF-000008'].map(
      (f) => simPatient(sim, f).id,
    );
    // Dr Bruno PEDIATRE's free slots on day 2 (09:20, 09:40, 10:00, 10:20 UTC).
    const slots = [1, 2, 3, 4].map((k) => simSlot(sim, practitionerId, demoSlotStart(w.day0, 2, k)).id);

    fhir.cut();
    const notes = ['e2e-6-fhir-1', 'e2e-6-fhir-2', 'e2e-6-fhir-3', 'e2e-6-fhir-4'];
    for (const [k, note] of notes.entries())
      await agent.book({ slotId: slots[k] as string, patientId: patients[k] as string, note });
    await w.until('a booking’s write cut off', () =>
      fhir.proxy.stats.requests.some(
        (r) => r.outcome === 'reset' && r.method === 'PUT' && r.path.endsWith('/Appointment'),
      ),
    );
    await w.until(
      'four bookings waiting in the outbox',
      async () => (await outboxWaiting(w, fhir.practiceLinkId)) === notes.length,
    );
    expect((await appointments()).length).toBe(already);

    fhir.restore();
    await w.until(
      'every booking in the practice software',
      async () => (await appointments()).length - already >= notes.length,
      RECOVERY_MS,
    );
    await w.settled(fhir);
    const written = (await appointments()).filter((a) => a.comment?.startsWith('e2e-6-fhir-'));
    expect(written.map((a) => a.comment).sort()).toEqual(notes);
    expect((await appointments()).length - already).toBe(notes.length);
    expect(written.map((a) => a.slot?.[0]?.reference).sort()).toEqual([
      'Slot/slot-2-2-1',
      'Slot/slot-2-2-2',
      'Slot/slot-2-2-3',
      'Slot/slot-2-2-4',
    ]);

    const delta = activityDelta(before, await w.activity(fhir.id));
    expect(delta.byOrigin.secretariat).toEqual({
      booked: notes.length,
      moved: 0,
      cancelled: 0,
      noshow: 0,
      arrived: 0,
      refused: 0,
    });
    expect(delta.conflicts).toEqual(NO_CONFLICTS);
    expect(delta.deadLetters).toEqual({ total: 0, openNow: 0 });
  }, 90_000);
});
