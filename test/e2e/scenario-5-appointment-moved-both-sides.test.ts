/**
 * Scenario 5 (issue 9): the practice and the secretariat move the same appointment, each to
 * another time, before either hears of the other's move. Appointments are "review" on every
 * field (design.md, rule 7): the conflict waits in the queue the admin API shows, with both
 * values; each side keeps its own time meanwhile (no lost update); an integrator resolves it
 * through the API and both sides converge on the chosen time. passerelle runs as a child
 * process; the test acts as the practice's users, an agent and an operator.
 */
import { describe, expect, it } from '@jest/globals';
import type { Appointment as FhirAppointment, Bundle } from '@medplum/fhirtypes';

import { activityDelta, NO_APPOINTMENTS } from './activity.js';
import { demoSlotStart, simPatient, simPractitioner, simSlot } from './lookups.js';
import { outboxWaiting, worldPerFile } from './scenario-hooks.js';

interface ConflictSummary {
  readonly id: string;
  readonly kind: string;
  readonly recordId: string;
  readonly paths: readonly string[];
  readonly status: string;
  readonly resolution: Record<string, unknown> | null;
}
interface ConflictDetail extends ConflictSummary {
  readonly fields: readonly {
    path: string;
    base: unknown;
    practice: unknown;
    secretariat: unknown;
    current: unknown;
  }[];
}

describe('scenario 5: the same appointment moved on both sides', () => {
  const world = worldPerFile();

  it('queues one conflict with both times, keeps each side’s own until an operator resolves it, then brings both sides to the chosen time', async () => {
    const w = world();
    const { fhir } = w;
    const sim = fhir.secretariat;
    const agent = sim.agent('agent-amelie');
    const before = await w.activity(fhir.id);
    // Dr Alice GENERALISTE's agenda on day0 (slot-1-0-k).
    const at = (k: number) => demoSlotStart(w.day0, 0, k);
    const alice = simPractitioner(sim, 'GENERALISTE').id;
    const slotOnPlatform = (k: number) => simSlot(sim, alice, at(k)).id;

    // An agent books slot 3 for a known patient; it reaches the practice software.
    const booked = await agent.book({
      slotId: slotOnPlatform(3),
      patientId: simPatient(sim, 'FICTIF-000004').id,
      note: 'Renouvellement',
    });
    const onFhir = async () => {
      const bundle = (
        await fhir.fhir<Bundle<FhirAppointment>>('GET', 'Appointment?patient=Patient/pat-000004')
      ).body;
      return bundle.entry?.map((e) => e.resource as FhirAppointment) ?? [];
    };
    const fhirId = await w.until('the booking in the practice software', async () => (await onFhir())[0]?.id);
    await w.settled(fhir);

    // Both move it before passerelle sees the other's move: the practice software is
    // unreachable for passerelle meanwhile. The practice moves it to slot 5, the agent to slot 6.
    fhir.cut();
    const current = await fhir.fhir<FhirAppointment>('GET', `Appointment/${fhirId}`);
    const practiceTime = { start: at(5).toISOString(), end: at(6).toISOString() };
    const moved = await fhir.fhir(
      'PUT',
      `Appointment/${fhirId}`,
      { ...current.body, ...practiceTime, slot: [{ reference: 'Slot/slot-1-0-5' }] },
      { 'if-match': current.etag ?? '' },
    );
    expect(moved.status).toBe(200);
    await agent.move(booked.id, { slotId: slotOnPlatform(6) });
    await w.until(
      'the agent’s move waiting for the practice software',
      async () => (await outboxWaiting(w, fhir.practiceLinkId)) > 0,
    );
    fhir.restore();
    await fhir.notify();

    // One open conflict in the queue, with both sides' times.
    const [conflict] = await w.until(
      'the conflict in the queue',
      async () => {
        const { items } = await w.json<{ items: ConflictSummary[] }>(
          `/api/v1/conflicts?practiceId=${fhir.id}&status=open`,
          { key: w.integratorKey },
        );
        return items.length > 0 ? items : undefined;
      },
      45_000,
    );
    await w.settled(fhir);
    const open = await w.json<{ items: ConflictSummary[] }>(
      `/api/v1/conflicts?practiceId=${fhir.id}&status=open`,
    );
    expect(open.items).toHaveLength(1);
    expect(conflict).toMatchObject({ kind: 'Appointment', status: 'open', resolution: null });
    expect(conflict?.paths).toContain('start/end');
    const detail = await w.json<ConflictDetail>(`/api/v1/conflicts/${conflict?.id}`, {
      key: w.integratorKey,
    });
    const agentStart = sim.state.get('appointment', booked.id)?.start as string;
    expect(Date.parse(agentStart)).toBe(at(6).getTime());
    const time = detail.fields.find((f) => f.path === 'start/end');
    expect(time?.practice).toMatchObject({ start: practiceTime.start });
    expect(Date.parse((time?.secretariat as { start: string }).start)).toBe(at(6).getTime());

    // Nothing is overwritten while it waits: each side still holds its own move.
    expect((await fhir.fhir<FhirAppointment>('GET', `Appointment/${fhirId}`)).body.start).toBe(
      practiceTime.start,
    );
    expect(sim.state.get('appointment', booked.id)).toMatchObject({
      start: agentStart,
      slotId: slotOnPlatform(6),
    });

    // An integrator decides for the practice's time; both sides end there.
    const resolved = await w.json<ConflictSummary>(`/api/v1/conflicts/${conflict?.id}/resolve`, {
      method: 'POST',
      key: w.integratorKey,
      json: { side: 'practice' },
    });
    expect(resolved).toMatchObject({
      id: conflict?.id,
      status: 'resolved',
      resolution: { side: 'practice' },
    });
    await w.until(
      'the practice’s time on the secretariat',
      () => Date.parse(sim.state.get('appointment', booked.id)?.start ?? '') === at(5).getTime(),
    );
    await w.settled(fhir);
    expect(sim.state.get('appointment', booked.id)).toMatchObject({
      status: 'booked',
      slotId: slotOnPlatform(5),
      note: 'Renouvellement',
    });
    expect(Date.parse(sim.state.get('appointment', booked.id)?.end ?? '')).toBe(at(6).getTime());
    const final = await onFhir();
    expect(final.map((a) => [a.id, a.status, a.start, a.end, a.slot?.[0]?.reference])).toEqual([
      [fhirId, 'booked', practiceTime.start, practiceTime.end, 'Slot/slot-1-0-5'],
    ]);
    // A second resolution is refused; the queue is empty.
    expect(
      (
        await w.api(`/api/v1/conflicts/${conflict?.id}/resolve`, {
          method: 'POST',
          key: w.integratorKey,
          json: { side: 'secretariat' },
        })
      ).status,
    ).toBe(409);
    expect(
      (await w.json<{ items: unknown[] }>(`/api/v1/conflicts?practiceId=${fhir.id}&status=open`)).items,
    ).toEqual([]);

    // The report tells it: one booking and one move by the secretariat (the practice's move
    // waited in the conflict; the operator's resolution is counted as such, not as a move).
    const delta = activityDelta(before, await w.activity(fhir.id));
    expect(delta.byOrigin.secretariat).toEqual({
      booked: 1,
      moved: 1,
      cancelled: 0,
      noshow: 0,
      arrived: 0,
      refused: 0,
    });
    expect(delta.byOrigin.practice).toEqual(NO_APPOINTMENTS);
    expect(delta.conflicts).toEqual({
      openedForReview: 1,
      resolved: 1,
      autoDecided: 0,
      refusedByOwnership: 0,
      openNow: 0,
    });
    expect(delta.deadLetters).toEqual({ total: 0, openNow: 0 });
  }, 90_000);
});
