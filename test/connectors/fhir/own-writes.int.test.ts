/**
 * A booking passerelle wrote to the FHIR server whose id it could not commit (the answer was
 * lost and the write sent again was refused — as after a crash between the write and its
 * commit) is read back
 * by the next poll. Found by the e2e scenario 8 (issue 9): it was taken for a new booking of the
 * practice — counted as such, sent to the secretariat as a second booking and refused there.
 * It is passerelle's own booking, recognised by the canonical id it carries as business
 * identifier.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Appointment as FhirAppointment, Bundle } from '@medplum/fhirtypes';

import { type FhirWorld, startFhirWorld, until } from '../../helpers/fhir-world.js';

const DAY0 = new Date('2030-03-11T00:00:00Z');

describe('a FHIR booking of passerelle read back before its id was committed', () => {
  let w: FhirWorld;

  beforeAll(async () => {
    w = await startFhirWorld({ store: 'sqlite', day0: DAY0 });
    await w.runtime.pollLink(w.fhirLinkId);
    await until('the agenda on the secretariat', () => w.sim.state.list('slot').length === 90);
    await w.settled();
  }, 60_000);

  afterAll(async () => {
    await w.dispose();
  });

  it('is the secretariat’s booking, not a new one from the practice', async () => {
    const store = w.t.service.store;
    const deadBefore = await store.deadLetters.count({ status: 'open' });
    const slot = (await until('slot-1-2-3 on the platform', () => w.onSim('Slot', 'slot-1-2-3'))) as string;
    const patient = (await until('pat-000002 on the platform', () =>
      w.onSim('Patient', 'pat-000002'),
    )) as string;
    // The server applies the write and the answer is lost; the write sent again is refused for
    // good: the change is parked, and passerelle never learns the id the server gave it.
    w.proxy.plan([
      { kind: 'lose-answer', method: 'PUT', path: '/fhir/R4/Appointment' },
      { kind: 'status', status: 422, method: 'PUT', path: '/fhir/R4/Appointment' },
    ]);
    const booked = await w.sim.agent('agent-amelie').book({ slotId: slot, patientId: patient });
    const onServer = async () =>
      (await w.fhir<Bundle<FhirAppointment>>('GET', 'Appointment?slot=Slot/slot-1-2-3')).body.entry ?? [];
    await until(
      'the change parked',
      async () => (await store.deadLetters.count({ status: 'open' })) > deadBefore,
    );
    expect(await onServer()).toHaveLength(1);
    expect(await w.onFhir('Appointment', booked.id)).toBeUndefined();

    // The poll reads it back; then an operator replays the parked change.
    await w.runtime.pollLink(w.fhirLinkId);
    await w.settled();
    const [parked] = (
      await store.deadLetters.list({ status: 'open', linkId: w.fhirLinkId, limit: 10 })
    ).filter((d) => d.kind === 'Appointment');
    const replay = await w.t.api(`/api/v1/dead-letters/${parked?.id}/replay`, {
      method: 'POST',
      key: w.integrator,
    });
    expect(replay.status).toBe(200);
    await until('the booking delivered', () => w.onFhir('Appointment', booked.id));
    await w.settled();

    expect(await onServer()).toHaveLength(1);
    expect(
      (await store.resources.list({ practiceId: w.practiceId, kind: 'Appointment' })).filter(
        (a) => a.startAt === booked.start || Date.parse(a.startAt ?? '') === Date.parse(booked.start),
      ),
    ).toHaveLength(1);
    expect(w.sim.state.list('appointment').filter((a) => a.slotId === slot)).toHaveLength(1);
    expect(await store.deadLetters.count({ status: 'open' })).toBe(deadBefore);
    expect(await w.onFhir('Appointment', booked.id)).toBe((await onServer())[0]?.resource?.id);
  });
});
