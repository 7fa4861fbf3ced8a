/**
 * The demo's fictitious data: two practices, one whose software speaks FHIR R4 (the Medplum
 * peer, seeded with connectors/fhir/peer/seed.ts plus the fixture patients) and one whose
 * software speaks HL7 v2 over MLLP (the HL7 simulator, which sends the messages built here).
 * Practitioners carry RPPS numbers of the 199… range and patients the INS test OID
 * (urn:oid:1.2.250.1.213.1.4.10): they belong to nobody.
 */
import type { Patient as FhirPatient, Resource, Slot } from '@medplum/fhirtypes';
import { DateTime } from 'luxon';

import { demoPractice } from '../../connectors/fhir/peer/index.js';
import { DEMO_APPOINTMENT_TYPES, fictitiousPatients } from '../../connectors/secretariat/simulator/index.js';
import { IDENTITY_RELIABILITY_URL, OID } from '../model/identifiers.js';
import type { Patient } from '../model/resources.js';

export const DEMO_ZONE = 'Europe/Paris';
export { DEMO_APPOINTMENT_TYPES };

/** Ids in passerelle and on the secretariat platform; fixed so that a restart finds them again. */
export const DEMO_PRACTICES = {
  fhir: {
    id: 'demo-cabinet-fhir',
    name: 'Cabinet des Tilleuls (démo, logiciel FHIR)',
    label: 'cabinet FHIR',
    platformPracticeId: 'cabinet-tilleuls',
  },
  hl7: {
    id: 'demo-cabinet-hl7',
    name: 'Maison de santé du Parc (démo, logiciel HL7 v2)',
    label: 'cabinet HL7',
    platformPracticeId: 'msp-du-parc',
  },
} as const;
export type DemoPracticeKey = keyof typeof DEMO_PRACTICES;

/**
 * What the FHIR practice's software holds at first start: agendas, slots, patients, two bookings.
 *
 * The peer seed books its two appointments into slots it marks busy. The secretariat platform
 * refuses any booking into a slot that is not free (409 slot-unavailable), even the practice's
 * own booking of its own busy slot, so those would end in dead letters (a product issue, see
 * docs/demo.md). Here the practice booked them outside its slot grid (08:20 and 08:40 UTC, the
 * slots start at 09:00) and the slots stay free.
 */
export function fhirPracticeSeed(day0: Date): Resource[] {
  const resources = demoPractice(day0);
  const slots = new Map(resources.filter((r): r is Slot => r.resourceType === 'Slot').map((s) => [s.id, s]));
  let n = 0;
  for (const r of resources) {
    if (r.resourceType !== 'Appointment') continue;
    for (const ref of r.slot ?? []) {
      const slot = slots.get(ref.reference?.replace('Slot/', '') ?? '');
      if (slot) slot.status = 'free';
    }
    delete r.slot;
    const start = new Date(Date.parse((r.start ?? '').slice(0, 10)) + (8 * 60 + 20 + 20 * n++) * 60_000);
    r.start = start.toISOString();
    r.end = new Date(start.getTime() + 20 * 60_000).toISOString();
  }
  // The peer seed numbers its patients (FICTIF-000001…): the demo gives them names a person reads.
  let i = 0;
  for (const r of resources) if (r.resourceType === 'Patient') r.name = [demoPatientName(i++, r.gender)];
  // The fixture patients are canonical FHIR already; the peer stores them as its own.
  const patients: FhirPatient[] = fictitiousPatients().map((p) => ({ ...(p as unknown as FhirPatient) }));
  return [...resources, ...patients];
}

/** Family names that read as names and are plainly not anyone's (the FHIR practice's patients). */
const DEMO_FAMILY_NAMES = [
  'EXEMPLE',
  'MODELE',
  'SPECIMEN',
  'TEMOIN',
  'MAQUETTE',
  'ESQUISSE',
  'PROTOTYPE',
  'ECHANTILLON',
  'BROUILLON',
  'SIMULATION',
] as const;
const DEMO_GIVEN_NAMES = {
  female: ['Louise', 'Chloé', 'Inès', 'Manon', 'Zoé'],
  male: ['Hugo', 'Arthur', 'Jules', 'Gabriel', 'Noé'],
} as const;

/**
 * The official name of the demo's i-th generated patient: a given name that fits the sex and a
 * family name like « SPECIMEN » — letters only, so initials read « L. E. », never « C. F.-0. ».
 */
export function demoPatientName(
  i: number,
  gender: string | undefined,
): { use: 'official'; family: string; given: string[] } {
  const given = DEMO_GIVEN_NAMES[gender === 'female' ? 'female' : 'male'];
  return {
    use: 'official',
    family: DEMO_FAMILY_NAMES[i % DEMO_FAMILY_NAMES.length] as string,
    given: [given[Math.floor(i / 2) % given.length] as string],
  };
}

/** A practitioner of the HL7 practice, as its software names it in AIP-3 / SCH-16 (XCN). */
export interface Hl7Practitioner {
  readonly rpps: string;
  readonly family: string;
  readonly given: string;
  readonly agenda: string;
}

export const HL7_PRACTITIONERS: readonly Hl7Practitioner[] = [
  { rpps: '19900000033', family: 'EXEMPLAIRE', given: 'Claire', agenda: 'AGENDA-CLAIRE' },
  { rpps: '19900000044', family: 'FACTICE', given: 'David', agenda: 'AGENDA-DAVID' },
];

/** Opening hours of the HL7 practice (practice time): where agents and staff book at a free time. */
export const HL7_OPENING = { startHour: 14, endHour: 18, stepMinutes: 20 } as const;

const xcn = (p: Hl7Practitioner) =>
  `8${p.rpps}^${p.family}^${p.given}^^^DR^^^ASIP-SANTE-PS&${OID.idnps.slice(8)}&ISO^D^^^IDNPS`;
const ts = (iso: string) => DateTime.fromISO(iso, { zone: DEMO_ZONE }).toFormat('yyyyMMddHHmmssZZZ');
const hl7Date = (d: string | undefined) => (d ?? '').replaceAll('-', '');

/** PID of a canonical patient (IPP, INS of a qualified identity, name, birth, sex, phone, reliability). */
export function pidOf(p: Patient, phone?: string): string {
  const ids: string[] = [];
  for (const id of p.identifier ?? []) {
    if (id.system === OID.insNirTest && id.value)
      ids.push(`${id.value}^^^ASIP-SANTE-INS-NIR&${OID.insNirTest.slice(8)}&ISO^INS`);
    else if (id.use === 'usual' && id.value) ids.push(`${id.value}^^^CABINET-TEST&1.2.250.1.999.1.1&ISO^PI`);
  }
  const name = p.name?.find((n) => n.use === 'official') ?? p.name?.[0];
  const given = name?.given ?? [];
  const tel = phone ?? p.telecom?.find((t) => t.system === 'phone')?.value;
  const reliability = (p.extension ?? [])
    .find((e) => e.url === IDENTITY_RELIABILITY_URL)
    ?.extension?.find((e) => e.url === 'identityStatus')?.valueCoding?.code;
  const sex = p.gender === 'female' ? 'F' : p.gender === 'male' ? 'M' : 'U';
  const fields = [
    'PID',
    '1',
    '',
    ids.join('~'),
    '',
    `${name?.family ?? ''}^${given[0] ?? ''}^${given.join(' ')}^^^^L`,
    '',
    hl7Date(p.birthDate),
    sex,
    '',
    '',
    '',
    '',
    tel ? `^PRN^PH^^^^^^^^^${tel}` : '',
  ];
  while (fields.length < 33) fields.push('');
  fields[32] = reliability ?? 'PROV';
  return fields.join('|');
}

/** The patients the HL7 practice's software knows: those of the fixtures with a local IPP. */
export function hl7Patients(): Patient[] {
  // Paul has no IPP in the fixtures; this practice's software gave him one.
  return fictitiousPatients().map((p) =>
    p.identifier?.some((i) => i.use === 'usual')
      ? p
      : {
          ...p,
          identifier: [
            ...(p.identifier ?? []),
            { use: 'usual', system: 'urn:oid:1.2.250.1.999.1.1', value: 'IPP000202' },
          ],
        },
  );
}

const msh = (type: string, controlId: string, at: string) =>
  // Original acknowledgment mode (MSH-15/16 empty): the ACK says whether passerelle applied it.
  `MSH|^~\\&|LOGICIEL-CABINET|CABINET-TEST^1.2.250.1.999.1^ISO|PASSERELLE|SECRETARIAT-DEMO|${ts(at)}||${type}|${controlId}|P|2.5|||||FRA|UNICODE UTF-8`;

/** ADT^A28 (new patient) or ADT^A31 (patient update), IHE PAM France. */
export function adtMessage(
  trigger: 'A28' | 'A31',
  controlId: string,
  at: string,
  patient: Patient,
  phone?: string,
): Buffer {
  return Buffer.from(
    [msh(`ADT^${trigger}^ADT_A05`, controlId, at), `EVN||${ts(at)}`, pidOf(patient, phone), 'PV1|1|N'].join(
      '\r',
    ),
    'utf8',
  );
}

export interface Hl7Booking {
  readonly appointmentId: string;
  readonly practitioner: Hl7Practitioner;
  readonly patient: Patient;
  readonly appointmentType: { id: string; label: string };
  readonly start: string;
  readonly minutes: number;
}

/** SIU^S12: a booking made by the practice staff in its own software. */
export function s12Message(controlId: string, at: string, b: Hl7Booking): Buffer {
  const start = ts(b.start);
  const end = ts(DateTime.fromISO(b.start).plus({ minutes: b.minutes }).toISO() as string);
  const p = b.practitioner;
  return Buffer.from(
    [
      msh('SIU^S12^SIU_S12', controlId, at),
      `SCH||${b.appointmentId}^LOGICIEL-CABINET|||${p.agenda}^Agenda Dr ${p.family}^L|S12^Nouveau rendez-vous^L|ROUTINE^${b.appointmentType.label}^HL70276|Normal^Normal^HL70277|${b.minutes}|min^minute^UCUM|^^M${b.minutes}^${start}^${end}|||||${xcn(p)}||||ACCUEIL^ACCUEIL-DEMO^Sophie|||||Booked^Booked^HL70278`,
      `TQ1|1|||||${b.minutes}^min&minute&UCUM|${start}|${end}`,
      pidOf(b.patient),
      'PV1|1|O',
      'RGS|1|A',
      `AIS|1|A|${b.appointmentType.id}^${b.appointmentType.label}^L|${start}|||${b.minutes}|min^minute^UCUM||Booked^Booked^HL70278`,
      `AIP|1|A|${xcn(p)}|MED^Médecin^L||${start}|||${b.minutes}|min^minute^UCUM||Booked^Booked^HL70278`,
    ].join('\r'),
    'utf8',
  );
}

/** SIU^S23: the practice blocks a period of a practitioner's agenda (plage bloquée). */
export function s23Message(
  controlId: string,
  at: string,
  blockId: string,
  p: Hl7Practitioner,
  startIso: string,
  minutes: number,
  reason: string,
): Buffer {
  const start = ts(startIso);
  const end = ts(DateTime.fromISO(startIso).plus({ minutes }).toISO() as string);
  return Buffer.from(
    [
      msh('SIU^S23^SIU_S12', controlId, at),
      `SCH||${blockId}^LOGICIEL-CABINET|||${p.agenda}^Agenda Dr ${p.family}^L|BLOC^Plage bloquée : ${reason}^L|||${minutes}|min^minute^UCUM|^^M${minutes}^${start}^${end}|||||${xcn(p)}||||ACCUEIL^ACCUEIL-DEMO^Sophie|||||Blocked^Blocked^HL70278`,
      'RGS|1|A',
      `AIP|1|A|${xcn(p)}|MED^Médecin^L||${start}|||${minutes}|min^minute^UCUM||Blocked^Blocked^HL70278`,
    ].join('\r'),
    'utf8',
  );
}

/** The next `count` weekdays after `from`, at midnight practice time. */
export function nextWorkingDays(from: Date, count: number): DateTime[] {
  const days: DateTime[] = [];
  for (
    let d = DateTime.fromJSDate(from, { zone: DEMO_ZONE }).startOf('day').plus({ days: 1 });
    days.length < count;
    d = d.plus({ days: 1 })
  ) {
    if (d.weekday <= 5) days.push(d);
  }
  return days;
}

/**
 * What the HL7 practice's software sends at first start: its patients (A28), two bookings
 * (S12) and a blocked afternoon (S23). Control ids are fixed, so a resend is deduplicated.
 */
export function hl7InitialMessages(day0: Date): Buffer[] {
  const at = day0.toISOString();
  const [d1, d2] = nextWorkingDays(day0, 2) as [DateTime, DateTime];
  const patients = hl7Patients();
  const [claire, david] = HL7_PRACTITIONERS as [Hl7Practitioner, Hl7Practitioner];
  const consultation = DEMO_APPOINTMENT_TYPES[0] as { id: string; label: string };
  const iso = (d: DateTime, hour: number, minute = 0) => d.set({ hour, minute }).toISO() as string;
  return [
    ...patients.map((p, i) => adtMessage('A28', `DEMO-INIT-A28-${i + 1}`, at, p)),
    s12Message('DEMO-INIT-S12-1', at, {
      appointmentId: 'RDV-INIT-1',
      practitioner: claire,
      patient: patients[0] as Patient,
      appointmentType: consultation,
      start: iso(d1, 14),
      minutes: 20,
    }),
    s12Message('DEMO-INIT-S12-2', at, {
      appointmentId: 'RDV-INIT-2',
      practitioner: david,
      patient: patients[1] as Patient,
      appointmentType: consultation,
      start: iso(d1, 15),
      minutes: 20,
    }),
    s23Message('DEMO-INIT-S23-1', at, 'PLG-INIT-1', david, iso(d2, 14), 240, 'formation'),
  ];
}
