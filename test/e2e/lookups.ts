/**
 * Small read helpers for the e2e scenarios: find the peers' records by what a person sees
 * (a practitioner's name, a patient's name, a slot's time), never through passerelle's store.
 */
import type { Appointment as FhirAppointment, Bundle } from '@medplum/fhirtypes';

import type {
  Patient as SimPatient,
  Practitioner as SimPractitioner,
  Slot as SimSlot,
} from '../../connectors/secretariat/contract.js';
import type { SecretariatSimulator } from '../../connectors/secretariat/simulator/index.js';
import type { FhirPractice } from './world.js';

function one<T>(items: T[], what: string): T {
  if (items.length !== 1) throw new Error(`expected one ${what} on the secretariat, found ${items.length}`);
  return items[0] as T;
}

export const simPractitioner = (sim: SecretariatSimulator, family: string): SimPractitioner =>
  one(
    sim.state.list('practitioner').filter((p) => p.family === family),
    `practitioner ${family}`,
  );
export const simPatient = (sim: SecretariatSimulator, family: string): SimPatient =>
  one(
    sim.state.list('patient').filter((p) => p.identity.family === family),
    `patient ${family}`,
  );
export const simSlot = (sim: SecretariatSimulator, practitionerId: string, start: Date): SimSlot =>
  one(
    sim.state
      .list('slot')
      .filter((s) => s.practitionerId === practitionerId && Date.parse(s.start) === start.getTime()),
    `slot at ${start.toISOString()}`,
  );

/** Start of the demo agenda's slot `k` on day `d` (slot-<agenda>-<d>-<k>): 09:00 UTC + 20 min·k. */
export const demoSlotStart = (day0: Date, d: number, k: number): Date =>
  new Date(day0.getTime() + d * 86_400_000 + 9 * 3_600_000 + k * 20 * 60_000);

/** Every appointment in the FHIR practice software (read straight from its server). */
export async function fhirAppointments(p: FhirPractice): Promise<FhirAppointment[]> {
  const { status, body } = await p.fhir<Bundle<FhirAppointment>>('GET', 'Appointment?_count=200');
  if (status !== 200) throw new Error(`FHIR search answered ${status}`);
  return (body.entry ?? []).map((e) => e.resource as FhirAppointment);
}

/** An instant as HL7 v2 DTM with the offset of `zone` at that instant, e.g. 20301202100000+0100. */
export function hl7LocalTime(at: Date, zone = 'Europe/Paris'): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-GB', {
      timeZone: zone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
      timeZoneName: 'longOffset',
    })
      .formatToParts(at)
      .map((x) => [x.type, x.value]),
  );
  const offset = /GMT([+-]\d\d):(\d\d)/.exec(parts['timeZoneName'] ?? '');
  return `${parts['year']}${parts['month']}${parts['day']}${parts['hour']}${parts['minute']}${parts['second']}${offset ? `${offset[1]}${offset[2]}` : '+0000'}`;
}
