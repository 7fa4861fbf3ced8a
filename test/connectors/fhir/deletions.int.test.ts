/**
 * Deletions on a FHIR server that keeps no history (issue 18): the peer runs with `_history`
 * off and lists neither `history-type` nor `history-instance`, so the connector finds deletions
 * by checking the link's known ids for existence (`_id=a,b,…`, then a read of the missing ones).
 * Over real HTTP on 127.0.0.1: created on the peer, synced, deleted on the peer, synced → the
 * canonical appointment is cancelled and so is the secretariat's; a deleted patient or practitioner
 * role is inactive.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type {
  Appointment as FhirAppointment,
  CapabilityStatement,
  Patient as FhirPatient,
} from '@medplum/fhirtypes';

import { APPOINTMENT_SYSTEM, type FhirWorld, startFhirWorld, until } from '../../helpers/fhir-world.js';

const DAY0 = new Date('2030-03-11T00:00:00Z');

describe.each(['sqlite', 'postgres'] as const)(
  'FHIR deletions without _history, over real HTTP (%s store)',
  (storeKind) => {
    let w: FhirWorld;

    beforeAll(async () => {
      // reconcileMinutes 0: the existence check runs at every round, so each poll of the test sees it.
      w = await startFhirWorld({
        store: storeKind,
        day0: DAY0,
        peer: { history: false },
        fhirConfig: { reconcileMinutes: 0 },
      });
      expect(await w.runtime.pollLink(w.fhirLinkId)).toMatchObject({ acquired: true, invalid: 0 });
      await until('the agenda on the secretariat', () => w.sim.state.list('slot').length === 90);
      await w.settled();
    }, 60_000);

    afterAll(async () => {
      await w.dispose();
    });

    it('runs against a peer whose CapabilityStatement offers no _history and which refuses it', async () => {
      const cs = (await w.fhir<CapabilityStatement>('GET', 'metadata')).body;
      const codes = cs.rest?.[0]?.resource
        ?.find((r) => r.type === 'Appointment')
        ?.interaction?.map((i) => i.code);
      expect(codes).not.toContain('history-type');
      expect(codes).not.toContain('history-instance');
      expect(codes).not.toContain('vread');
      expect((await w.fhir('GET', 'Appointment/rdv-1/_history')).status).toBe(400);
      // A poll with nothing deleted finds nothing, and checks existence by _id, not one read per id.
      const reads = w.proxy.stats.count('GET', /\/Appointment\/rdv-/);
      const searches = w.proxy.stats.count('GET', '/fhir/R4/Appointment');
      expect(await w.runtime.pollLink(w.fhirLinkId)).toMatchObject({
        acquired: true,
        applied: 0,
        invalid: 0,
      });
      expect(w.proxy.stats.count('GET', /\/Appointment\/rdv-/)).toBe(reads);
      // The round's search and one `_id` search for the two known appointments.
      expect(w.proxy.stats.count('GET', '/fhir/R4/Appointment') - searches).toBe(2);
    });

    it('cancels an appointment deleted on the FHIR server, and the secretariat gets the cancellation', async () => {
      const created = await w.fhir<FhirAppointment>('POST', 'Appointment', {
        resourceType: 'Appointment',
        identifier: [{ system: APPOINTMENT_SYSTEM, value: 'RDV-CABINET-SUPPR-1' }],
        status: 'booked',
        start: '2030-03-13T10:00:00.000Z',
        end: '2030-03-13T10:20:00.000Z',
        slot: [{ reference: 'Slot/slot-1-2-2' }],
        participant: [
          { actor: { reference: 'Patient/pat-000003' }, status: 'accepted' },
          { actor: { reference: 'Practitioner/prat-medecin-1' }, status: 'accepted' },
        ],
      });
      expect(created.status).toBe(201);
      const fhirId = created.body.id as string;
      await w.runtime.pollLink(w.fhirLinkId);
      const simId = (await until('the booking on the secretariat', () =>
        w.onSim('Appointment', fhirId),
      )) as string;
      await w.settled();
      expect(w.sim.state.get('appointment', simId)?.status).toBe('booked');

      expect((await w.fhir('DELETE', `Appointment/${fhirId}`)).status).toBe(200);
      const polled = await w.runtime.pollLink(w.fhirLinkId);
      expect(polled).toMatchObject({ acquired: true, invalid: 0 });
      const store = w.t.service.store;
      const canonicalId = (await store.identityMap.findCanonical(
        w.fhirLinkId,
        'Appointment',
        fhirId,
      )) as string;
      expect((await store.resources.get(canonicalId))?.data).toMatchObject({ status: 'cancelled' });
      await until(
        'the cancellation on the secretariat',
        () => w.sim.state.get('appointment', simId)?.status === 'cancelled',
      );
      await w.settled();
      // Never written back to the server: it still answers 410.
      expect((await w.fhir('GET', `Appointment/${fhirId}`)).status).toBe(410);

      // The next check leaves a cancelled record out: no read of it again, nothing applied.
      const reads = w.proxy.stats.count('GET', new RegExp(`/Appointment/${fhirId}$`));
      expect(await w.runtime.pollLink(w.fhirLinkId)).toMatchObject({ acquired: true, applied: 0 });
      expect(w.proxy.stats.count('GET', new RegExp(`/Appointment/${fhirId}$`))).toBe(reads);
    });

    it('takes a patient deleted on the FHIR server as inactive', async () => {
      const patient = (await w.fhir<FhirPatient>('GET', 'Patient/pat-000009')).body;
      expect(patient.id).toBe('pat-000009');
      const canonicalId = (await w.t.service.store.identityMap.findCanonical(
        w.fhirLinkId,
        'Patient',
        'pat-000009',
      )) as string;
      expect((await w.t.service.store.resources.get(canonicalId))?.data).not.toMatchObject({ active: false });
      expect((await w.fhir('DELETE', 'Patient/pat-000009')).status).toBe(200);
      await w.runtime.pollLink(w.fhirLinkId);
      expect((await w.t.service.store.resources.get(canonicalId))?.data).toMatchObject({ active: false });
    });

    it('takes a practitioner role deleted on the FHIR server as inactive', async () => {
      const role = await w.fhir<{ id: string }>('POST', 'PractitionerRole', {
        resourceType: 'PractitionerRole',
        active: true,
        practitioner: { reference: 'Practitioner/prat-medecin-1' },
      });
      expect(role.status).toBe(201);
      await w.runtime.pollLink(w.fhirLinkId);
      const store = w.t.service.store;
      const canonicalId = (await store.identityMap.findCanonical(
        w.fhirLinkId,
        'PractitionerRole',
        role.body.id,
      )) as string;
      expect((await store.resources.get(canonicalId))?.data).toMatchObject({ active: true });
      expect((await w.fhir('DELETE', `PractitionerRole/${role.body.id}`)).status).toBe(200);
      await w.runtime.pollLink(w.fhirLinkId);
      expect((await store.resources.get(canonicalId))?.data).toMatchObject({ active: false });
    });
  },
);
