import type { Appointment, Patient, Practitioner, Resource, Schedule, Slot } from '@medplum/fhirtypes';

import {
  IDENTITY_RELIABILITY_SYSTEM,
  IDENTITY_RELIABILITY_URL,
  OID,
  URGENT_SLOT_CODE,
  V2_0276_SYSTEM,
} from '../../../src/model/identifiers.js';

/** Local patient id (IPP) system of the simulated practice software. */
export const DEMO_IPP_SYSTEM = 'urn:oid:1.2.250.1.999.1.1';
/** Business identifier system of appointments in the simulated practice software. */
export const DEMO_APPOINTMENT_SYSTEM = 'urn:oid:1.2.250.1.999.1.2';

/** Days of birth dates used, from 1925-01-01 (a century). */
const BIRTH_DAYS = 36_524;
/**
 * Spreads birth dates over a century like a real patient list: i ↦ i·104729 mod 36524 is a
 * permutation (104729 is prime and does not divide 36524), so 36,524 consecutive patients all
 * have different birth dates. With every family name normalising to FICTIF, patients sharing a
 * birth date and sex look alike to patient matching (and are held for review), as real
 * namesakes would; a cycle of a few hundred dates made nearly every patient of a large load a
 * lookalike of hundreds of others.
 */
function birthDateOf(i: number): string {
  return new Date(Date.UTC(1925, 0, 1) + ((i * 104_729) % BIRTH_DAYS) * 86_400_000)
    .toISOString()
    .slice(0, 10);
}

/**
 * `count` fictitious patients (names FICTIF-000001…, birth dates spread over a century, IPP
 * identifiers, no INS): for paging benchmarks and the demo. Deterministic: the same index always gives the same patient.
 */
export function generatePatients(count: number, start = 1): Patient[] {
  const out: Patient[] = [];
  for (let i = start; i < start + count; i++) {
    const n = String(i).padStart(6, '0');
    out.push({
      resourceType: 'Patient',
      id: `pat-${n}`,
      identifier: [{ use: 'usual', system: DEMO_IPP_SYSTEM, value: `IPP${n}` }],
      name: [{ use: 'official', family: `FICTIF-${n}`, given: [i % 2 === 0 ? 'Camille' : 'Dominique'] }],
      gender: i % 2 === 0 ? 'female' : 'male',
      birthDate: birthDateOf(i),
      extension: [
        {
          url: IDENTITY_RELIABILITY_URL,
          extension: [
            { url: 'identityStatus', valueCoding: { system: IDENTITY_RELIABILITY_SYSTEM, code: 'PROV' } },
          ],
        },
      ],
    });
  }
  return out;
}

/**
 * A small practice for the demo: two practitioners with their agendas, a week of 20-minute
 * slots from `from` (09:00–12:00 UTC each weekday), one blocked period, one urgent-only slot,
 * ten patients and two booked appointments.
 */
export function demoPractice(from: Date): Resource[] {
  const practitioners: Practitioner[] = [
    {
      resourceType: 'Practitioner',
      id: 'prat-medecin-1',
      identifier: [{ system: OID.idnps, value: '810000000001' }],
      name: [{ family: 'GENERALISTE', given: ['Alice'], prefix: ['Dr'] }],
    },
    {
      resourceType: 'Practitioner',
      id: 'prat-medecin-2',
      identifier: [{ system: OID.idnps, value: '810000000002' }],
      name: [{ family: 'PEDIATRE', given: ['Bruno'], prefix: ['Dr'] }],
    },
  ];
  const schedules: Schedule[] = practitioners.map((p, i) => ({
    resourceType: 'Schedule',
    id: `agenda-${i + 1}`,
    active: true,
    actor: [{ reference: `Practitioner/${p.id}` }],
    planningHorizon: {
      start: from.toISOString(),
      end: new Date(from.getTime() + 7 * 86_400_000).toISOString(),
    },
  }));
  const slots: Slot[] = [];
  const day0 = Date.UTC(from.getUTCFullYear(), from.getUTCMonth(), from.getUTCDate());
  for (let d = 0; d < 7; d++) {
    const day = new Date(day0 + d * 86_400_000);
    if (day.getUTCDay() === 0 || day.getUTCDay() === 6) continue;
    schedules.forEach((s, si) => {
      for (let k = 0; k < 9; k++) {
        const start = new Date(day.getTime() + 9 * 3_600_000 + k * 20 * 60_000);
        const slot: Slot = {
          resourceType: 'Slot',
          id: `slot-${si + 1}-${d}-${k}`,
          schedule: { reference: `Schedule/${s.id}` },
          status: d === 1 && k >= 6 ? 'busy-unavailable' : 'free',
          start: start.toISOString(),
          end: new Date(start.getTime() + 20 * 60_000).toISOString(),
        };
        if (k === 0) slot.appointmentType = { coding: [{ system: V2_0276_SYSTEM, code: URGENT_SLOT_CODE }] };
        slots.push(slot);
      }
    });
  }
  const patients = generatePatients(10);
  const booked = slots.filter((s) => s.status === 'free' && s.appointmentType === undefined).slice(0, 2);
  const appointments: Appointment[] = booked.map((slot, i) => {
    slot.status = 'busy';
    return {
      resourceType: 'Appointment',
      id: `rdv-${i + 1}`,
      identifier: [{ system: DEMO_APPOINTMENT_SYSTEM, value: `RDV${String(i + 1).padStart(6, '0')}` }],
      status: 'booked',
      start: slot.start,
      end: slot.end,
      slot: [{ reference: `Slot/${slot.id}` }],
      participant: [
        { actor: { reference: `Patient/${patients[i]?.id}` }, status: 'accepted' },
        {
          actor: { reference: schedules[0]?.actor[0]?.reference ?? 'Practitioner/prat-medecin-1' },
          status: 'accepted',
        },
      ],
    };
  });
  return [...practitioners, ...schedules, ...slots, ...patients, ...appointments];
}
