import { describe, expect, it } from '@jest/globals';

import * as P from '../../../connectors/secretariat/contract.js';
import {
  APPOINTMENT_TYPE_SYSTEM,
  appointmentFromCanonical,
  appointmentToCanonical,
  changeToRecord,
  MESSAGE_AGENT_EXT,
  messageFromCanonical,
  messageToCanonical,
  patientFromCanonical,
  patientToCanonical,
  platformView,
  practitionerFromCanonical,
  practitionerToCanonical,
  REFUSAL_SYSTEM,
  scheduleFromCanonical,
  scheduleToCanonical,
  slotFromCanonical,
  slotToCanonical,
  utc,
} from '../../../connectors/secretariat/mapping.js';
import { isPasserelleError } from '../../../src/errors.js';
import {
  EXT,
  IDENTITY_RELIABILITY_URL,
  OID,
  URGENT_SLOT_CODE,
  V2_0276_SYSTEM,
} from '../../../src/model/identifiers.js';
import type { Appointment, Communication } from '../../../src/model/resources.js';
import { validateAs } from '../../../src/model/validate.js';
import { fixturePatients, readFixture } from '../../helpers/fixtures.js';

function load<T>(schema: { parse(v: unknown): T }, name: string): T {
  return schema.parse(JSON.parse(readFixture('secretariat', name)));
}
/** The writable part of a platform record: what a round trip must give back. */
function writable<T extends object>(r: T, drop: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(r).filter(([k]) => !['id', 'version', 'updatedAt', ...drop].includes(k)),
  );
}
function valid(kind: Parameters<typeof validateAs>[0], value: unknown): void {
  const r = validateAs(kind, value, { testLink: true });
  expect(r.ok ? [] : r.issues).toEqual([]);
}

describe('secretariat mapping: contract JSON ↔ canonical', () => {
  it('round-trips a practitioner and carries the RPPS as the FR Core national identifier 8 + RPPS', () => {
    const p = load(P.Practitioner, 'practitioner.json');
    const c = practitionerToCanonical(p);
    valid('Practitioner', c);
    expect(c.identifier).toEqual([
      expect.objectContaining({ system: OID.idnps, value: '819900000011', use: 'official' }),
    ]);
    expect(c.meta).toEqual({ versionId: '3', lastUpdated: '2026-11-20T08:15:00Z' });
    expect(practitionerFromCanonical(c)).toEqual(writable(p, []));
  });

  it('refuses to write a practitioner without an RPPS, naming the field', () => {
    const c = practitionerToCanonical(load(P.Practitioner, 'practitioner.json'));
    expect(() => practitionerFromCanonical({ ...c, identifier: [] })).toThrow(
      /Practitioner\.identifier: needs an RPPS/,
    );
  });

  it('round-trips a schedule with opening hours and the durations of its appointment types', () => {
    const s = load(P.Schedule, 'schedule.json');
    const c = scheduleToCanonical(s);
    valid('Schedule', c);
    expect(c.actor).toEqual([{ reference: 'Practitioner/prac-000001' }]);
    expect(c.serviceTypeDuration).toEqual([
      { serviceType: { coding: [{ system: APPOINTMENT_TYPE_SYSTEM, code: 'consultation' }] }, minutes: 20 },
      {
        serviceType: { coding: [{ system: APPOINTMENT_TYPE_SYSTEM, code: 'urgence-du-jour' }] },
        minutes: 15,
      },
    ]);
    expect(scheduleFromCanonical(c)).toEqual(writable(s, []));
  });

  it('maps an urgent-only slot to a free slot reserved to v2-0276 EMERGENCY, and back', () => {
    const s = load(P.Slot, 'slot-urgent-only.json');
    const c = slotToCanonical(s);
    valid('Slot', c);
    expect(c.status).toBe('free');
    expect(c.appointmentType).toEqual({ coding: [{ system: V2_0276_SYSTEM, code: URGENT_SLOT_CODE }] });
    expect(slotFromCanonical(c)).toEqual(writable(s, ['practitionerId']));
  });

  it('maps a blocked slot (plage bloquée) to busy-unavailable, and back', () => {
    const s = load(P.Slot, 'slot-blocked.json');
    const c = slotToCanonical(s);
    valid('Slot', c);
    expect(c.status).toBe('busy-unavailable');
    expect(c.appointmentType).toBeUndefined();
    expect(slotFromCanonical(c)).toEqual(writable(s, ['practitionerId']));
  });

  it('writes a slot time given with an offset in UTC', () => {
    const c = slotToCanonical(load(P.Slot, 'slot-blocked.json'));
    expect(slotFromCanonical({ ...c, start: '2026-11-24T11:30:00+01:00' }).start).toBe(
      '2026-11-24T10:30:00.000Z',
    );
    expect(utc('2026-11-24T10:30:00Z')).toBe('2026-11-24T10:30:00Z');
  });

  it('records the booking agent with the FR Core appointment-operator extension, and round-trips the booking', () => {
    const a = load(P.Appointment, 'appointment-booked.json');
    const c = appointmentToCanonical(a);
    valid('Appointment', c);
    expect(c.extension).toEqual([
      { url: EXT.appointmentOperator, valueReference: { display: 'agent-amelie' } },
    ]);
    expect(c.participant.map((p) => p.actor?.reference)).toEqual([
      'Practitioner/prac-000001',
      'Patient/pat-000021',
    ]);
    expect(c.slot).toEqual([{ reference: 'Slot/slot-000013' }]);
    expect(c.serviceType).toEqual([{ coding: [{ system: APPOINTMENT_TYPE_SYSTEM, code: 'consultation' }] }]);
    const back = appointmentFromCanonical(c);
    expect(back.fields).toEqual(writable(a, ['status', 'cancelReason', 'refusal', 'createdAt']));
    expect(back.status).toBe('booked');
  });

  it('maps a refused booking to a cancellation with the refusal code and the agent message, and back', () => {
    const a = load(P.Appointment, 'appointment-refused.json');
    const c = appointmentToCanonical(a);
    valid('Appointment', c);
    expect(c.status).toBe('cancelled');
    expect(c.cancelationReason).toEqual({
      coding: [{ system: REFUSAL_SYSTEM, code: 'slot-blocked' }],
      text: a.refusal?.message,
    });
    const back = appointmentFromCanonical(c);
    expect(back.status).toBe('refused');
    expect(back.refusal).toEqual(a.refusal);
    expect(back.cancelReason).toBeNull();
  });

  it('maps a cancelled appointment with its reason, without patient or slot, and back', () => {
    const a = load(P.Appointment, 'appointment-cancelled.json');
    const c = appointmentToCanonical(a);
    valid('Appointment', c);
    expect(c.participant).toHaveLength(1);
    expect(c.extension).toBeUndefined();
    const back = appointmentFromCanonical(c);
    expect(back).toEqual({
      fields: writable(a, ['status', 'cancelReason', 'refusal', 'createdAt']),
      status: 'cancelled',
      cancelReason: a.cancelReason,
      refusal: null,
    });
  });

  it('carries the INS of a qualified identity as the one official identifier, and round-trips the patient', () => {
    const p = load(P.Patient, 'patient-qualified.json');
    const c = patientToCanonical(p);
    valid('Patient', c);
    expect(c.identifier).toEqual([
      expect.objectContaining({ use: 'official', system: OID.insNirTest, value: '285037511234544' }),
    ]);
    expect(c.name).toEqual([
      { use: 'official', family: 'FICTIVE', given: ['Jeanne', 'Odile'] },
      { use: 'usual', family: 'IMAGINAIRE' },
    ]);
    expect(c.extension?.some((e) => e.url === EXT.origin)).toBe(false);
    expect(patientFromCanonical(c)).toEqual(writable(p, []));
  });

  it('flags an identity an agent took from a caller as a proposal from the secretariat, without INS, and back', () => {
    const p = load(P.Patient, 'patient-proposal.json');
    const c = patientToCanonical(p);
    valid('Patient', c);
    expect(c.identifier).toBeUndefined();
    expect(c.extension).toEqual([
      expect.objectContaining({ url: IDENTITY_RELIABILITY_URL }),
      { url: EXT.origin, valueCode: 'secretariat' },
    ]);
    expect(patientFromCanonical(c)).toEqual(writable(p, []));
  });

  it('never sends an INS for an identity that is not qualified', () => {
    const [jeanne] = fixturePatients();
    if (!jeanne) throw new Error('fixture missing');
    const provisional = {
      ...jeanne,
      extension: jeanne.extension?.map((e) =>
        e.url === IDENTITY_RELIABILITY_URL
          ? { url: e.url, extension: [{ url: 'identityStatus', valueCoding: { code: 'PROV' } }] }
          : e,
      ),
    };
    const out = patientFromCanonical(provisional);
    expect(out.ins).toBeNull();
    expect(out.identity.reliability).toBe('PROV');
    expect(P.PatientInput.safeParse(out).success).toBe(true);
  });

  it('maps every fixture patient to a patient the platform accepts', () => {
    for (const p of fixturePatients())
      expect(P.PatientInput.safeParse(patientFromCanonical(p)).error).toBeUndefined();
  });

  it('turns a call message into a Communication: priority, caller as sender, callback number, taken-at as sent', () => {
    const m = load(P.Message, 'message-urgent.json');
    const c = messageToCanonical(m);
    valid('Communication', c);
    expect(c).toMatchObject({
      priority: 'urgent',
      // Delivered to passerelle, not yet read at the practice.
      status: 'in-progress',
      sender: { display: 'Paul DEMONSTRATION' },
      sent: '2026-11-22T12:30:00Z',
      subject: { reference: 'Patient/pat-000022' },
      recipient: [{ reference: 'Practitioner/prac-000001' }],
      reasonCode: [{ text: 'Fièvre' }],
      payload: [{ contentString: m.text }],
    });
    expect(c.extension).toEqual([
      { url: EXT.callbackPhone, valueString: '+33145678901' },
      { url: MESSAGE_AGENT_EXT, valueString: 'agent-amelie' },
    ]);
    expect(c.received).toBeUndefined();
    expect(messageFromCanonical(c)).toEqual(writable(m, ['agentId', 'status', 'acknowledgedAt']));
  });

  it('shows an acknowledged message as received, and a new one as in progress', () => {
    const m = load(P.Message, 'message-acknowledged.json');
    const c = messageToCanonical(m);
    valid('Communication', c);
    expect([c.status, c.received]).toEqual(['completed', '2026-11-22T14:00:00Z']);
    expect(messageFromCanonical(c)).toEqual(writable(m, ['agentId', 'status', 'acknowledgedAt']));
    expect(messageToCanonical({ ...m, status: 'new', acknowledgedAt: null }).status).toBe('in-progress');
  });

  it('writes asap and stat priorities as urgent (the platform has two levels)', () => {
    const c = messageToCanonical(load(P.Message, 'message-urgent.json'));
    expect(messageFromCanonical({ ...c, priority: 'stat' } as Communication).priority).toBe('urgent');
    expect(messageFromCanonical({ ...c, priority: 'routine' } as Communication).priority).toBe('routine');
  });

  it('turns a delete change into a tombstone record and skips appointment types, which have no canonical kind', () => {
    const slot = load(P.Slot, 'slot-blocked.json');
    const rec = changeToRecord(
      { seq: 9, type: 'slot', id: slot.id, version: 5, op: 'delete', origin: 'integration', data: slot },
      'ERR_SECRETARIAT_BAD_RESPONSE',
    );
    expect(rec).toMatchObject({
      kind: 'Slot',
      externalId: 'slot-000012',
      version: '5',
      deleted: true,
      updatedAt: slot.updatedAt,
    });
    const type = {
      id: 'consultation',
      version: 1,
      updatedAt: '2026-11-20T08:00:00Z',
      label: 'Consultation',
      durationMinutes: 20,
      instructions: null,
      practitionerIds: [],
      active: true,
    };
    expect(
      changeToRecord(
        {
          seq: 10,
          type: 'appointment-type',
          id: 'consultation',
          version: 1,
          op: 'upsert',
          origin: 'platform',
          data: type,
        },
        'ERR_SECRETARIAT_BAD_RESPONSE',
      ),
    ).toBeNull();
  });

  it('refuses a change whose data breaks the contract, naming the field and not its value', () => {
    const p = load(P.Patient, 'patient-qualified.json');
    const bad = { ...p, contact: { ...p.contact, phones: [{ number: 'call me', use: 'mobile' }] } };
    let caught: unknown;
    try {
      changeToRecord(
        { seq: 3, type: 'patient', id: p.id, version: 5, op: 'upsert', origin: 'agent', data: bad },
        'ERR_WEBHOOK_PAYLOAD',
      );
    } catch (e) {
      caught = e;
    }
    expect(isPasserelleError(caught) && caught.code).toBe('ERR_WEBHOOK_PAYLOAD');
    expect((caught as Error).message).toContain('patient.contact.phones.0.number');
    expect((caught as Error).message).not.toContain('call me');
  });

  it('views an appointment as the platform keeps it: start and end without the practice’s minutesDuration', () => {
    const booked: Appointment = {
      resourceType: 'Appointment',
      id: 'apt-1',
      status: 'booked',
      start: '2030-03-12T08:00:00.000Z',
      end: '2030-03-12T08:20:00.000Z',
      minutesDuration: 20,
      comment: 'Note du cabinet',
      participant: [{ actor: { reference: 'Practitioner/pr-1' }, status: 'accepted' }],
    };
    const { minutesDuration: _d, ...kept } = booked;
    expect(platformView(structuredClone(booked))).toEqual(kept);
  });
});
