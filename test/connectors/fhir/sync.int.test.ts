/**
 * The FHIR connector in the whole service (issue items 2–4): a practice whose software is the
 * FHIR peer (Medplum-based, over HTTP on 127.0.0.1, behind the fault proxy) and whose
 * secretariat is the simulator. Agent bookings, moves and cancellations reach the FHIR server
 * as conditional updates keyed on the business identifier with the operator extension; practice
 * edits, cancellations, withdrawals and deletions reach the secretariat; a concurrent edit is a
 * 412 that surfaces as a conflict without losing either side's change; a lost answer does not
 * make a second resource; 429 (Retry-After), 500 and a hang are retried to delivery; a resource
 * that breaks FR Core is dead-lettered alone; a Subscription notification triggers the poll.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type {
  Appointment as FhirAppointment,
  Bundle,
  Communication as FhirCommunication,
  Patient as FhirPatient,
  PractitionerRole as FhirPractitionerRole,
} from '@medplum/fhirtypes';

import type { Appointment as SimAppointment } from '../../../connectors/secretariat/contract.js';
import { EXT } from '../../../src/model/identifiers.js';
import {
  APPOINTMENT_SYSTEM,
  type FhirWorld,
  startFhirWorld,
  SUBSCRIPTION_SECRET,
  until,
} from '../../helpers/fhir-world.js';

const DAY0 = new Date('2030-03-11T00:00:00Z'); // a Monday: the demo agenda starts here

describe.each(['sqlite', 'postgres'] as const)(
  'FHIR practice software ⇄ passerelle ⇄ secretariat, over real HTTP (%s store)',
  (storeKind) => {
    let w: FhirWorld;
    const json = async <T>(res: Response, status: number): Promise<T> => {
      const body = await res.text();
      if (res.status !== status) throw new Error(`expected HTTP ${status}, got ${res.status}: ${body}`);
      return (body ? JSON.parse(body) : undefined) as T;
    };
    const simSlot = async (fhirSlot: string) =>
      (await until(`slot ${fhirSlot} on the secretariat`, () => w.onSim('Slot', fhirSlot))) as string;
    const simPatient = async (fhirPatient: string) =>
      (await until(`patient ${fhirPatient} on the secretariat`, () =>
        w.onSim('Patient', fhirPatient),
      )) as string;
    const fhirAppointment = async (id: string) =>
      (await w.fhir<FhirAppointment>('GET', `Appointment/${id}`)).body;
    const byIdentifier = async (value: string) =>
      (
        await w.fhir<Bundle<FhirAppointment>>(
          'GET',
          `Appointment?identifier=${encodeURIComponent(`${APPOINTMENT_SYSTEM}|${value}`)}`,
        )
      ).body;
    /** Edits a resource in the practice software (GET, change, PUT with If-Match), as its users would. */
    const practiceEdits = async (id: string, change: (a: FhirAppointment) => FhirAppointment) => {
      const current = await w.fhir<FhirAppointment>('GET', `Appointment/${id}`);
      const res = await w.fhir<FhirAppointment>('PUT', `Appointment/${id}`, change(current.body), {
        'if-match': current.etag as string,
      });
      expect(res.status).toBe(200);
      return res.body;
    };
    /** An agent books `slot` (a FHIR slot id) for `patient` (a FHIR patient id); resolves with the FHIR appointment. */
    const agentBooks = async (agent: string, slot: string, patient: string, note?: string) => {
      const apt = await w.sim
        .agent(agent)
        .book({ slotId: await simSlot(slot), patientId: await simPatient(patient), ...(note && { note }) });
      const fhirId = await until('the booking on the FHIR server', () => w.onFhir('Appointment', apt.id));
      await w.settled();
      return { sim: apt, fhirId };
    };

    beforeAll(async () => {
      w = await startFhirWorld({ store: storeKind, day0: DAY0 });
      const first = await w.runtime.pollLink(w.fhirLinkId);
      expect(first).toMatchObject({ acquired: true, invalid: 0 });
      await until(
        'the agenda on the secretariat',
        () => w.sim.state.list('slot').length === 90 && w.sim.state.list('practitioner').length === 2,
      );
      await w.settled();
    }, 60_000);

    afterAll(async () => {
      await w.dispose();
    });

    it('loads the practice’s agenda, patients and appointments from the FHIR server and publishes them to the secretariat', async () => {
      const store = w.t.service.store;
      const count = async (kind: 'Practitioner' | 'Patient' | 'Schedule' | 'Slot' | 'Appointment') =>
        (await store.resources.list({ practiceId: w.practiceId, kind })).length;
      expect([
        await count('Practitioner'),
        await count('Patient'),
        await count('Schedule'),
        await count('Slot'),
        await count('Appointment'),
      ]).toEqual([2, 10, 2, 90, 2]);
      // Blocked periods reach the platform blocked, urgent-only slots keep their marking.
      expect(w.sim.state.list('slot').filter((s) => s.status === 'blocked')).toHaveLength(6);
      expect(w.sim.state.list('slot').filter((s) => s.status === 'busy')).toHaveLength(2);
      expect(await store.deadLetters.count({ status: 'open', linkId: w.fhirLinkId })).toBe(0);
      // The practice's own bookings fill those busy slots: the platform holds them too, none refused.
      expect(await store.deadLetters.count({ status: 'open', linkId: w.secLinkId })).toBe(0);
      const held = w.sim.state.list('appointment').map((a) => `${a.status} ${a.start}`);
      const ours = await store.resources.list({ practiceId: w.practiceId, kind: 'Appointment' });
      expect(held.sort()).toEqual(ours.map((r) => `booked ${(r.data as { start?: string }).start}`).sort());
      // …and the practice's side keeps its bookings in their slots.
      for (const r of ours)
        expect(
          (
            await fhirAppointment(
              (await store.identityMap.findExternal(w.fhirLinkId, 'Appointment', r.id))[0] as string,
            )
          ).slot,
        ).toHaveLength(1);
      // A second poll right after finds nothing new: every version read again in the overlap window is skipped.
      const again = await w.runtime.pollLink(w.fhirLinkId);
      expect(again).toMatchObject({ acquired: true, applied: 0, invalid: 0 });
    });

    it('pulls a practitioner role made in the FHIR server: stored canonically under its practitioner, the secretariat untouched', async () => {
      const created = await w.fhir<FhirPractitionerRole>('POST', 'PractitionerRole', {
        resourceType: 'PractitionerRole',
        active: true,
        practitioner: { reference: 'Practitioner/prat-medecin-2', display: 'Dr Bruno PEDIATRE' },
        organization: { reference: 'Organization/cabinet-essais', display: 'Maison de santé des Essais' },
        location: [{ reference: 'Location/site-nord', display: 'Site nord, 1er étage' }],
        code: [
          { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/practitioner-role', code: 'doctor' }] },
        ],
        specialty: [
          {
            coding: [{ system: 'http://snomed.info/sct', code: '394537008', display: 'Pediatric specialty' }],
          },
        ],
        healthcareService: [
          { reference: 'HealthcareService/consult-pediatrie', display: 'Consultation pédiatrique' },
        ],
        availableTime: [
          { daysOfWeek: ['mon', 'thu'], availableStartTime: '09:00:00', availableEndTime: '12:00:00' },
        ],
      });
      expect(created.status).toBe(201);
      const changesBefore = w.sim.state.changes().length;
      await w.runtime.pollLink(w.fhirLinkId);
      const store = w.t.service.store;
      const roleId = (await store.identityMap.findCanonical(
        w.fhirLinkId,
        'PractitionerRole',
        created.body.id as string,
      )) as string;
      const practitionerId = (await store.identityMap.findCanonical(
        w.fhirLinkId,
        'Practitioner',
        'prat-medecin-2',
      )) as string;
      expect(roleId).toMatch(/./);
      // The practitioner reference is the canonical record's; the others pass through as the server gave them.
      expect((await store.resources.get(roleId))?.data).toMatchObject({
        resourceType: 'PractitionerRole',
        active: true,
        practitioner: { reference: `Practitioner/${practitionerId}` },
        location: [{ reference: 'Location/site-nord', display: 'Site nord, 1er étage' }],
        healthcareService: [
          { reference: 'HealthcareService/consult-pediatrie', display: 'Consultation pédiatrique' },
        ],
        availableTime: [
          { daysOfWeek: ['mon', 'thu'], availableStartTime: '09:00:00', availableEndTime: '12:00:00' },
        ],
      });
      // Filed under its practitioner: the practitioner's roles are one query away.
      expect(
        (
          await store.resources.list({ practiceId: w.practiceId, kind: 'PractitionerRole', practitionerId })
        ).map((r) => r.id),
      ).toEqual([roleId]);
      // The platform's contract has no practitioner role: nothing goes there (see connectors/fhir/README.md).
      await w.settled();
      expect(w.sim.state.changes().length).toBe(changesBefore);
      expect(await store.deadLetters.count({ status: 'open', linkId: w.secLinkId })).toBe(0);
    });

    it('writes an agent’s booking to the FHIR server by conditional update on its business identifier, with the agent as operator', async () => {
      const before = w.proxy.stats.count('PUT', '/fhir/R4/Appointment');
      const { sim, fhirId } = await agentBooks(
        'agent-amelie',
        'slot-1-0-3',
        'pat-000003',
        'Renouvellement ordonnance.',
      );
      const canonicalId = (await w.t.service.store.identityMap.findCanonical(
        w.fhirLinkId,
        'Appointment',
        fhirId,
      )) as string;
      const apt = await fhirAppointment(fhirId);
      expect(apt).toMatchObject({
        status: 'booked',
        start: sim.start,
        end: sim.end,
        comment: 'Renouvellement ordonnance.',
        slot: [{ reference: 'Slot/slot-1-0-3' }],
      });
      expect(apt.identifier).toEqual([{ system: APPOINTMENT_SYSTEM, value: canonicalId }]);
      expect(apt.extension).toEqual([
        { url: EXT.appointmentOperator, valueReference: { display: 'agent-amelie' } },
      ]);
      expect(apt.participant?.map((p) => p.actor?.reference).sort()).toEqual([
        'Patient/pat-000003',
        'Practitioner/prat-medecin-1',
      ]);
      // PUT Appointment?identifier=… (ANS flow 6b): one write, one resource with that identifier.
      expect(
        w.proxy.stats.requests.filter((r) => r.method === 'PUT' && r.path === '/fhir/R4/Appointment').length -
          before,
      ).toBe(1);
      expect((await byIdentifier(canonicalId)).total).toBe(1);

      // The poll reads it back: passerelle's own write, not news; nothing goes back to the secretariat.
      await w.runtime.pollLink(w.fhirLinkId);
      await w.settled();
      expect(
        w.sim.state
          .changes()
          .filter((c) => c.id === sim.id)
          .map((c) => c.origin),
      ).toEqual(['agent']);
      expect(w.peer.repo.countOf('Appointment')).toBe(3);
    });

    it('brings a practice edit made in the FHIR server to the secretariat, and keeps what the profile does not map', async () => {
      const { sim, fhirId } = await agentBooks('agent-bruno', 'slot-1-0-4', 'pat-000004');
      await practiceEdits(fhirId, (a) => ({ ...a, comment: 'Apporter la carte Vitale.', priority: 5 }));
      await w.runtime.pollLink(w.fhirLinkId);
      await until(
        'the practice’s note on the secretariat',
        () => w.sim.state.get('appointment', sim.id)?.note === 'Apporter la carte Vitale.',
      );
      await w.settled();
      // The agent moves it: passerelle's update starts from the server's resource, so the practice's
      // `priority` (not in the profile) survives, and the If-Match is the version it merged.
      const slot5 = await simSlot('slot-1-0-5');
      await w.sim.agent('agent-bruno').move(sim.id, { slotId: slot5 });
      await until(
        'the move on the FHIR server',
        async () => (await fhirAppointment(fhirId)).slot?.[0]?.reference === 'Slot/slot-1-0-5',
      );
      const moved = await fhirAppointment(fhirId);
      expect(moved).toMatchObject({
        priority: 5,
        comment: 'Apporter la carte Vitale.',
        start: w.sim.state.get('appointment', sim.id)?.start,
      });
    });

    it('cancels on the FHIR server with status cancelled and a reason, never a delete; and the other way round', async () => {
      const { sim, fhirId } = await agentBooks('agent-amelie', 'slot-1-0-6', 'pat-000005');
      const deletes = w.proxy.stats.count('DELETE', /Appointment/);
      await w.sim.agent('agent-amelie').cancel(sim.id, 'Le patient a un empêchement.');
      await until(
        'the cancellation on the FHIR server',
        async () => (await fhirAppointment(fhirId)).status === 'cancelled',
      );
      expect((await fhirAppointment(fhirId)).cancelationReason).toEqual({
        text: 'Le patient a un empêchement.',
      });
      expect(w.proxy.stats.count('DELETE', /Appointment/)).toBe(deletes);

      // The practice cancels one in its software: the secretariat sees it cancelled.
      const other = await agentBooks('agent-amelie', 'slot-1-0-7', 'pat-000006');
      await practiceEdits(other.fhirId, (a) => ({
        ...a,
        status: 'cancelled',
        cancelationReason: { text: 'Médecin absent' },
      }));
      await w.runtime.pollLink(w.fhirLinkId);
      await until(
        'the cancellation on the secretariat',
        () => w.sim.state.get('appointment', other.sim.id)?.status === 'cancelled',
      );
    });

    it('takes an appointment the practice marks entered-in-error, or deletes, as cancelled on the secretariat', async () => {
      const withdrawn = await agentBooks('agent-amelie', 'slot-2-0-1', 'pat-000007');
      await practiceEdits(withdrawn.fhirId, (a) => ({ ...a, status: 'entered-in-error' }));
      await w.runtime.pollLink(w.fhirLinkId);
      await until(
        'the withdrawal on the secretariat',
        () => w.sim.state.get('appointment', withdrawn.sim.id)?.status === 'cancelled',
      );

      // Deleted outright (the peer offers no type-level _history), before the hourly existence check:
      // seen when passerelle next writes it.
      const deleted = await agentBooks('agent-bruno', 'slot-2-0-2', 'pat-000008');
      expect((await w.fhir('DELETE', `Appointment/${deleted.fhirId}`)).status).toBe(200);
      const putsBefore = w.proxy.stats.count('PUT', /Appointment/);
      const r = await w.sim.agent('agent-bruno').get<SimAppointment>(`/appointments/${deleted.sim.id}`);
      expect(r.status).toBe('booked');
      await w.sim.agent('agent-bruno').move(deleted.sim.id, { slotId: await simSlot('slot-2-0-3') });
      await until(
        'the deletion on the secretariat',
        () => w.sim.state.get('appointment', deleted.sim.id)?.status === 'cancelled',
      );
      await w.settled();
      // Never written again on the server: it answers 410, nothing was re-created.
      expect(w.proxy.stats.count('PUT', /Appointment/)).toBe(putsBefore);
      expect((await w.fhir('GET', `Appointment/${deleted.fhirId}`)).status).toBe(410);
    });

    it('turns a concurrent edit into a 412 and an open conflict, losing neither side’s change', async () => {
      const { sim, fhirId } = await agentBooks('agent-amelie', 'slot-2-0-4', 'pat-000009');
      const canonicalId = (await w.t.service.store.identityMap.findCanonical(
        w.fhirLinkId,
        'Appointment',
        fhirId,
      )) as string;
      // The practice moves it in its software (not polled yet) while the agent moves it elsewhere.
      const practiceStart = '2030-03-11T10:40:00.000Z';
      await practiceEdits(fhirId, (a) => ({
        ...a,
        start: practiceStart,
        end: '2030-03-11T11:00:00.000Z',
        slot: [{ reference: 'Slot/slot-2-0-5' }],
      }));
      await w.sim.agent('agent-amelie').move(sim.id, { slotId: await simSlot('slot-2-0-6') });
      const agentStart = w.sim.state.get('appointment', sim.id)?.start as string;

      const conflicts = await until('the conflict', async () => {
        const list = await json<{
          items: { id: string; recordId: string; status: string; fields: string[] }[];
        }>(
          await w.t.api(`/api/v1/conflicts?practiceId=${w.practiceId}&status=open&recordId=${canonicalId}`),
          200,
        );
        return list.items.length > 0 ? list.items : undefined;
      });
      await w.settled();
      expect(conflicts).toHaveLength(1);
      const detail = await json<{ fields: { path: string; practice: unknown; secretariat: unknown }[] }>(
        await w.t.api(`/api/v1/conflicts/${conflicts[0]?.id}`),
        200,
      );
      const time = detail.fields.find((f) => f.path === 'start/end');
      expect(time).toMatchObject({ practice: { start: practiceStart }, secretariat: { start: agentStart } });
      // No lost update: each side still holds its own move; the FHIR write was refused by If-Match.
      expect((await fhirAppointment(fhirId)).start).toBe(practiceStart);
      expect(w.sim.state.get('appointment', sim.id)?.start).toBe(agentStart);
      // The server was the judge: passerelle's PUT carried the version it merged against and got 412.
      expect(
        w.proxy.stats.requests.some(
          (r) => r.method === 'PUT' && r.path === `/fhir/R4/Appointment/${fhirId}` && r.status === 412,
        ),
      ).toBe(true);
      expect(
        w.logs.some(
          (l) =>
            l.message === 'fhir resource changed since the last sync; handed back for a re-merge' &&
            l['externalId'] === fhirId,
        ),
      ).toBe(true);
      expect(await w.t.service.store.deadLetters.count({ status: 'open', linkId: w.fhirLinkId })).toBe(0);

      // An integrator decides for the practice: the secretariat gets the practice's time.
      await json(
        await w.t.api(`/api/v1/conflicts/${conflicts[0]?.id}/resolve`, {
          method: 'POST',
          key: w.integrator,
          json: { side: 'practice' },
        }),
        200,
      );
      await until(
        'the practice’s time on the secretariat',
        () => w.sim.state.get('appointment', sim.id)?.start === practiceStart,
      );
    });

    it('makes one resource of a booking whose answer was lost: the retried conditional update finds it', async () => {
      w.proxy.plan([{ kind: 'lose-answer', method: 'PUT', path: '/fhir/R4/Appointment' }]);
      const { fhirId } = await agentBooks('agent-bruno', 'slot-2-0-7', 'pat-000010');
      expect(w.proxy.pending()).toBe(0);
      const canonicalId = (await w.t.service.store.identityMap.findCanonical(
        w.fhirLinkId,
        'Appointment',
        fhirId,
      )) as string;
      const puts = w.proxy.stats.requests
        .filter((r) => r.method === 'PUT' && r.path === '/fhir/R4/Appointment')
        .slice(-2);
      // The first reached the server (and created it); the second found it by its identifier.
      expect(puts.map((r) => [r.outcome, r.status])).toEqual([
        ['lose-answer', 201],
        ['forwarded', 200],
      ]);
      expect((await byIdentifier(canonicalId)).total).toBe(1);
    });

    it('delivers through 429 (waiting its Retry-After), 500 and a hang', async () => {
      w.proxy.plan([
        { kind: 'status', status: 429, retryAfter: 1, method: 'PUT', path: '/fhir/R4/Appointment' },
        { kind: 'status', status: 500, method: 'PUT', path: '/fhir/R4/Appointment' },
        { kind: 'hang', maxMs: 5000, method: 'PUT', path: '/fhir/R4/Appointment' },
      ]);
      const { fhirId } = await agentBooks('agent-amelie', 'slot-2-2-1', 'pat-000001');
      expect(w.proxy.pending()).toBe(0);
      const canonicalId = (await w.t.service.store.identityMap.findCanonical(
        w.fhirLinkId,
        'Appointment',
        fhirId,
      )) as string;
      expect((await byIdentifier(canonicalId)).total).toBe(1);
      const outcomes = w.proxy.stats.requests
        .filter((r) => r.method === 'PUT' && r.path === '/fhir/R4/Appointment')
        .slice(-4)
        .map((r) => r.status ?? r.outcome);
      expect(outcomes).toEqual([429, 500, 'hang', 201]);
      // The client waited what the server asked (Retry-After: 1 → 1000 ms), then backed off for the others.
      const retried = w.logs
        .filter((l) => l.message === 'fhir request retried' && l['interaction'] === 'conditional-update')
        .slice(-3);
      expect(retried.map((l) => [l['status'], l['code']])).toEqual([
        [429, 'ERR_FHIR_OPERATION_OUTCOME'],
        [500, 'ERR_FHIR_OPERATION_OUTCOME'],
        [0, 'ERR_FHIR_TIMEOUT'],
      ]);
      expect(retried[0]?.['delayMs']).toBe(1000);
      // Pulls go through faults too.
      w.proxy.plan([
        { kind: 'status', status: 503, retryAfter: 0, method: 'GET', path: '/fhir/R4/Practitioner' },
      ]);
      expect(await w.runtime.pollLink(w.fhirLinkId)).toMatchObject({ acquired: true });
      expect(w.proxy.pending()).toBe(0);
      expect(await w.t.service.store.deadLetters.count({ status: 'open', linkId: w.fhirLinkId })).toBe(0);
    });

    it('writes an urgent call message as a Communication with its priority, and brings the practice’s acknowledgement back', async () => {
      const m = await w.sim.agent('agent-bruno').leaveMessage({
        callerName: 'Appelant',
        text: 'Douleur thoracique, rappeler vite.',
        priority: 'urgent',
        patientId: await simPatient('pat-000002'),
      });
      const fhirId = (await until('the message on the FHIR server', () =>
        w.onFhir('Communication', m.id),
      )) as string;
      await w.settled();
      const c = (await w.fhir<FhirCommunication>('GET', `Communication/${fhirId}`)).body;
      expect(c).toMatchObject({
        priority: 'urgent',
        subject: { reference: 'Patient/pat-000002' },
        payload: [{ contentString: 'Douleur thoracique, rappeler vite.' }],
      });
      // The practice reads it in its software and marks it received.
      const read = await w.fhir<FhirCommunication>('GET', `Communication/${fhirId}`);
      const acknowledged = await w.fhir<FhirCommunication>(
        'PUT',
        `Communication/${fhirId}`,
        { ...read.body, status: 'completed', received: '2030-03-11T08:05:00.000Z' },
        { 'if-match': read.etag as string },
      );
      expect(acknowledged.status).toBe(200);
      await w.runtime.pollLink(w.fhirLinkId);
      await until(
        'the acknowledgement on the secretariat',
        () => w.sim.state.get('message', m.id)?.acknowledgedAt === '2030-03-11T08:05:00.000Z',
      );
      await w.settled();
      expect(await w.t.service.store.deadLetters.count({ status: 'open', linkId: w.fhirLinkId })).toBe(0);
    });

    it('dead-letters alone a patient that breaks FR Core, with the path and rule, and applies the rest of the page', async () => {
      // A qualified identity whose INS key is wrong: an unsafe identity, refused whole.
      const bad: FhirPatient = {
        resourceType: 'Patient',
        identifier: [{ use: 'official', system: 'urn:oid:1.2.250.1.213.1.4.8', value: '285037511234545' }],
        name: [{ use: 'official', family: 'INVALIDE', given: ['Ines'] }],
        gender: 'female',
        birthDate: '1985-03-14',
        extension: [
          {
            url: 'https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-identity-reliability',
            extension: [{ url: 'identityStatus', valueCoding: { code: 'VALI' } }],
          },
        ],
      };
      const good: FhirPatient = {
        resourceType: 'Patient',
        identifier: [{ system: 'urn:oid:1.2.250.1.999.1.1', value: 'IPP900001' }],
        name: [{ use: 'official', family: 'VALIDE', given: ['Victor'] }],
        gender: 'male',
        birthDate: '1990-01-01',
      };
      const badId = (await w.fhir<FhirPatient>('POST', 'Patient', bad)).body.id as string;
      const goodId = (await w.fhir<FhirPatient>('POST', 'Patient', good)).body.id as string;
      const r = await w.runtime.pollLink(w.fhirLinkId);
      expect(r).toMatchObject({ acquired: true, invalid: 1 });
      expect(
        await w.t.service.store.identityMap.findCanonical(w.fhirLinkId, 'Patient', goodId),
      ).toBeDefined();
      expect(
        await w.t.service.store.identityMap.findCanonical(w.fhirLinkId, 'Patient', badId),
      ).toBeUndefined();
      const dead = await json<{ items: { reasonCode: string; reason: string; source: string }[] }>(
        await w.t.api(`/api/v1/dead-letters?linkId=${w.fhirLinkId}&status=open`),
        200,
      );
      expect(dead.items.map((d) => [d.source, d.reasonCode])).toEqual([['inbox', 'ERR_FHIR_EDGE_INVALID']]);
      expect(dead.items[0]?.reason).toBe(
        'Patient refused at the edge: Patient.identifier[0].value: not a valid INS matricule (15 characters with a correct key)',
      );
      expect(dead.items[0]?.reason).not.toContain('285037511234545');
      // Read again in the overlap window, it is the same version: not dead-lettered twice.
      await w.runtime.pollLink(w.fhirLinkId);
      expect(await w.t.service.store.deadLetters.count({ status: 'open', linkId: w.fhirLinkId })).toBe(1);
    });

    it('keeps a patient whose INS comes without a qualified identity, without the INS, flagged ins-not-qualified, and publishes it', async () => {
      const deadBefore = await w.t.service.store.deadLetters.count({ status: 'open', linkId: w.fhirLinkId });
      const provisional: FhirPatient = {
        resourceType: 'Patient',
        identifier: [
          { use: 'official', system: 'urn:oid:1.2.250.1.213.1.4.8', value: '285037511234544' },
          { use: 'usual', system: 'urn:oid:1.2.250.1.999.1.1', value: 'IPP900002' },
        ],
        name: [{ use: 'official', family: 'PROVISOIRE', given: ['Paule'] }],
        gender: 'female',
        birthDate: '1985-03-14',
        extension: [
          {
            url: 'https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-identity-reliability',
            extension: [{ url: 'identityStatus', valueCoding: { code: 'PROV' } }],
          },
        ],
      };
      const fhirId = (await w.fhir<FhirPatient>('POST', 'Patient', provisional)).body.id as string;
      const r = await w.runtime.pollLink(w.fhirLinkId);
      expect(r).toMatchObject({ acquired: true, invalid: 0 });
      expect(await w.t.service.store.deadLetters.count({ status: 'open', linkId: w.fhirLinkId })).toBe(
        deadBefore,
      );
      const canonicalId = (await w.t.service.store.identityMap.findCanonical(
        w.fhirLinkId,
        'Patient',
        fhirId,
      )) as string;
      expect(canonicalId).toBeDefined();
      const stored = (await w.t.service.store.resources.get(canonicalId))?.data as {
        identifier?: { system?: string }[];
        name?: { family?: string }[];
      };
      expect([stored.identifier?.map((i) => i.system), stored.name?.[0]?.family]).toEqual([
        ['urn:oid:1.2.250.1.999.1.1'],
        'PROVISOIRE',
      ]);
      const events = await w.t.service.store.audit.list({ resourceId: canonicalId, action: 'sync.apply' });
      expect((events[0]?.details as { flags?: string[] }).flags).toEqual(
        expect.arrayContaining(['ins-not-qualified', 'created']),
      );
      // The rest of the patient goes on to the secretariat.
      await simPatient(fhirId);
      await w.settled();
    });

    it('polls at once on a Subscription notification carrying the shared secret, and refuses one without it', async () => {
      const hook = `${w.t.url}/hooks/fhir/${w.fhirLinkId}`;
      const refusedRes = await fetch(hook, {
        method: 'POST',
        headers: { 'content-type': 'application/fhir+json' },
        body: '{}',
      });
      expect(refusedRes.status).toBe(401);
      // The connector's ERR_FHIR_SUBSCRIPTION_SECRET stays in the log; the answer is the one every unauthenticated webhook gets.
      expect(await refusedRes.json()).toMatchObject({ code: 'ERR_WEBHOOK_SIGNATURE' });

      // The practice books in its software; its server notifies passerelle (R4 rest-hook).
      const created = await w.fhir<FhirAppointment>('POST', 'Appointment', {
        resourceType: 'Appointment',
        identifier: [{ system: APPOINTMENT_SYSTEM, value: 'RDV-CABINET-0001' }],
        status: 'booked',
        start: '2030-03-13T09:20:00.000Z',
        end: '2030-03-13T09:40:00.000Z',
        slot: [{ reference: 'Slot/slot-1-2-1' }],
        participant: [
          { actor: { reference: 'Patient/pat-000002' }, status: 'accepted' },
          { actor: { reference: 'Practitioner/prat-medecin-1' }, status: 'accepted' },
        ],
      });
      const ok = await fetch(hook, {
        method: 'POST',
        headers: { 'content-type': 'application/fhir+json', 'x-passerelle-secret': SUBSCRIPTION_SECRET },
        body: JSON.stringify(created.body),
      });
      expect(ok.status).toBe(200);
      const onSim = await until('the practice’s booking on the secretariat', () =>
        w.onSim('Appointment', created.body.id as string),
      );
      expect(w.sim.state.get('appointment', onSim)).toMatchObject({
        status: 'booked',
        start: '2030-03-13T09:20:00.000Z',
      });
    });
  },
);
