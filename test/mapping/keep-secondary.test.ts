/**
 * Issue 18, point 2: keep what real messages carry. Real messages (test/fixtures/hl7/real, with
 * their sources in its README), the project's IHE PAM France samples and the FHIR R4 official
 * example Patient go through the **shipped** profiles; every secondary field is asserted: the
 * other identifiers with their assigner, titles, middle names, name types, every phone with its
 * use, the e-mail, the sex. Each is then rendered back through the same profile and read again,
 * so the reverse direction gives a message carrying the same data.
 *
 * Edits made to the real messages are minimal and said where they are made (`setField`).
 */
import { readFileSync } from 'node:fs';

import { describe, expect, it } from '@jest/globals';

import { parseHl7 } from '../../src/hl7/index.js';
import {
  type FhirResource,
  fromCanonical,
  type MappingContext,
  type MappingPlan,
  shippedPlan,
  toCanonical,
  type ToCanonicalResult,
} from '../../src/mapping/index.js';
import type { Patient } from '../../src/model/resources.js';
import { fixturePath } from '../helpers/fixtures.js';
import { setField } from '../helpers/hl7-text.js';

const ctx: MappingContext = {
  testLink: true,
  timezone: 'Europe/Paris',
  now: () => Date.parse('2025-03-18T10:00:00Z'),
  controlId: 'KEEP-1',
};
const V2_0203 = 'http://terminology.hl7.org/CodeSystem/v2-0203';

/** Segments separated by CR only, whatever the file used. */
const hl7Text = (...path: string[]): string =>
  readFileSync(fixturePath('hl7', ...path), 'latin1').replace(/\r\n?|\n/g, '\r');
const A01 = hl7Text('real', 'hapi-docs-adt-a01-v24.hl7');
const PKB = hl7Text('real', 'pkb-siu-s12-v24.hl7');
const ORSOS = hl7Text('real', 'hapi-orsos-siu-s14-v23.hl7');

const patientOf = (r: ToCanonicalResult): Patient => {
  const rec = r.records.find((x) => x.kind === 'Patient');
  if (!rec) throw new Error('no patient record');
  return rec.data as Patient;
};
const mapHl7 = (plan: MappingPlan, text: string): ToCanonicalResult =>
  toCanonical(plan, parseHl7(Buffer.from(text, 'latin1')), ctx);

/** Renders the patient back through the profile (ADT^A28 / A31) and reads it again. */
function hl7RoundTrip(plan: MappingPlan, patient: Patient, externalId: string): Patient {
  const out = fromCanonical(
    plan,
    { op: 'upsert', kind: 'Patient', externalId, data: patient, base: null },
    ctx,
  );
  expect(out.report.filter((r) => r.status === 'error')).toEqual([]);
  expect(out.ok).toBe(true);
  const again = toCanonical(plan, parseHl7(out.hl7?.bytes ?? Buffer.alloc(0)), ctx);
  expect(again.ok).toBe(true);
  return patientOf(again);
}

describe('the shipped generic HL7 v2.5 profile keeps the secondary data of real messages', () => {
  const plan = shippedPlan('hl7v2-generic-2.5');

  it('keeps the HAPI ADT^A01 patient’s external id, title and home phone', () => {
    // Edit: PID-13 "(416)111-1111" written in international form, +14161111111 (the same number):
    // a profile for French practices reads a national number as French.
    const r = mapHl7(plan, setField(A01, 'PID', 13, '+14161111111'));
    expect(r.ok).toBe(true);
    expect(r.flags).toEqual([]);
    const p = patientOf(r);
    expect(p.identifier).toEqual([
      { system: 'urn:oid:1.2.250.1.999.2.1', value: '2216506', use: 'usual' },
      { system: 'urn:oid:1.2.250.1.999.2.4', value: '9999999999', use: 'secondary' },
    ]);
    expect(p.name).toEqual([{ use: 'official', family: 'Duck', given: ['Donald'], prefix: ['MR.'] }]);
    expect(p.telecom).toEqual([{ system: 'phone', use: 'home', value: '+14161111111' }]);
    expect([p.birthDate, p.gender]).toEqual(['1972-02-27', 'male']);
    expect(hl7RoundTrip(plan, p, '2216506')).toEqual(p);
  });

  it('puts the HAPI ADT^A01 national phone number in E.164 of the country its address names (CA), never as French', () => {
    // Unedited: PID-13 "(416)111-1111", PID-11.6 CA. Before issue 18 it was dropped (read as French, it failed).
    const r = mapHl7(plan, A01);
    expect(r.ok).toBe(true);
    expect(r.flags).toEqual([]);
    expect(r.issues).toEqual([]);
    expect(patientOf(r).telecom).toEqual([{ system: 'phone', use: 'home', value: '+14161111111' }]);
    expect(patientOf(r).address?.[0]?.country).toBe('CA');
    expect(patientOf(r).name?.[0]?.prefix).toEqual(['MR.']);
  });

  it('keeps a national number of unknown form as given when the address names no country, with its use and no flag', () => {
    // Edit: PID-11.6 emptied; "(416)111-1111" is not French by form, so it is not misread as French.
    const r = mapHl7(plan, setField(A01, 'PID', 11, '123 Foo ST.^^TORONTO^ON^M6G 3E6^^H^'));
    expect(r.flags).toEqual([]);
    expect(patientOf(r).telecom).toEqual([{ system: 'phone', use: 'home', value: '(416)111-1111' }]);
  });

  it('keeps the PKB SIU^S12 British national numbers as given (not French by form), or in +44 when the address is in GBR', () => {
    // Unedited PKB: Ofcom drama numbers 07700 900xxx (11 digits), address edited to Jeanne's in FRA.
    const r = mapHl7(plan, PKB);
    expect(r.flags).toEqual(['practitioner-missing']);
    expect(patientOf(r).telecom?.filter((t) => t.system === 'phone')).toEqual([
      { system: 'phone', use: 'home', value: '07700900123' },
      { system: 'phone', use: 'mobile', value: '07700900456' },
      { system: 'phone', use: 'work', value: '07700900789' },
    ]);
    // Edit: the address's country set to GBR.
    const gb = patientOf(mapHl7(plan, setField(PKB, 'PID', 11, "12 rue de l'Exemple^^Testville^^75012^GBR")));
    expect(gb.telecom?.filter((t) => t.system === 'phone').map((t) => t.value)).toEqual([
      '+447700900123',
      '+447700900456',
      '+447700900789',
    ]);
  });

  it('keeps the PKB SIU^S12 patient’s national health number with its assigner, middle name, title, home, mobile and work phones and e-mail', () => {
    // Edit: the Ofcom drama numbers (07700 900xxx) in international form, +44 7700 900xxx.
    let msg = setField(
      PKB,
      'PID',
      13,
      '+447700900123^PRN~+447700900456^PRS~^NET^^jeanne.fictive@example.org',
    );
    msg = setField(msg, 'PID', 14, '+447700900789^WPN');
    const r = mapHl7(plan, msg);
    expect(r.ok).toBe(true);
    expect(r.flags).toEqual(['practitioner-missing']);
    const p = patientOf(r);
    expect(p.identifier).toEqual([
      { system: 'urn:oid:1.2.250.1.999.2.1', value: '9999999999', use: 'usual' },
      {
        system: 'urn:oid:1.2.250.1.999.2.3',
        value: '9999999999',
        use: 'secondary',
        type: { coding: [{ system: V2_0203, code: 'NH' }] },
        assigner: { display: 'NHS' },
      },
    ]);
    expect(p.name).toEqual([
      { use: 'official', family: 'FICTIVE', given: ['Jeanne', 'Odile'], prefix: ['Mme'] },
    ]);
    expect(p.telecom).toEqual([
      { system: 'phone', use: 'home', value: '+447700900123' },
      { system: 'phone', use: 'mobile', value: '+447700900456' },
      { system: 'phone', use: 'work', value: '+447700900789' },
      { system: 'email', value: 'jeanne.fictive@example.org' },
    ]);
    expect([p.birthDate, p.gender]).toEqual(['1985-03-14', 'female']);
    expect(p.address).toEqual([
      { line: ["12 rue de l'Exemple"], city: 'Testville', postalCode: '75012', country: 'FRA' },
    ]);
    expect(hl7RoundTrip(plan, p, '9999999999')).toEqual(p);
  });

  it('keeps the ORSOS SIU^S14 patient’s external and alternate ids with their assigning authority', () => {
    const p = patientOf(mapHl7(plan, ORSOS));
    expect(p.identifier).toEqual([
      { system: 'urn:oid:1.2.250.1.999.2.1', value: '990119205', use: 'usual' },
      {
        system: 'urn:oid:1.2.250.1.999.2.4',
        value: '990119205',
        use: 'secondary',
        assigner: { display: 'R1' },
      },
      {
        system: 'urn:oid:1.2.250.1.999.2.5',
        value: '000533921J',
        use: 'secondary',
        assigner: { display: 'R1' },
      },
    ]);
    expect(hl7RoundTrip(plan, p, '990119205')).toEqual(p);
  });

  it('drops an e-mail field holding "NON", flagged patient-email-dropped with a warning, and applies the rest', () => {
    // Edit: PKB's e-mail repetition holds NON, as French software write it for "no e-mail".
    const r = mapHl7(plan, setField(PKB, 'PID', 13, '^NET^^NON'));
    expect(r.ok).toBe(true);
    expect(r.flags).toContain('patient-email-dropped');
    expect(r.issues).toContainEqual(
      expect.objectContaining({ severity: 'warning', code: 'ERR_MAPPING_TRANSFORM' }),
    );
    expect(JSON.stringify(r.issues)).not.toContain('NON');
    const p = patientOf(r);
    // Only the (British, as given) work phone of PID-14 is left.
    expect(p.telecom).toEqual([{ system: 'phone', use: 'work', value: '07700900789' }]);
    expect(p.name?.[0]?.family).toBe('FICTIVE');
  });

  it('maps the name types beyond L and D to FHIR name uses (M maiden, N nickname, A alias → anonymous)', () => {
    // Edit: PKB's PID-5 given a used, a maiden, a nickname and an alias repetition.
    const r = mapHl7(
      plan,
      setField(
        PKB,
        'PID',
        5,
        'FICTIVE^Jeanne^Odile^^Mme~IMAGINAIRE^Jeanne^^^^^D~ESSAI^Jeanne^^^^^M~^Jeannette^^^^^N~EXEMPLE^Anne^^^^^A',
      ),
    );
    const p = patientOf(r);
    expect(p.name).toEqual([
      { use: 'official', family: 'FICTIVE', given: ['Jeanne', 'Odile'], prefix: ['Mme'] },
      { use: 'usual', family: 'IMAGINAIRE', given: ['Jeanne'] },
      { use: 'maiden', family: 'ESSAI', given: ['Jeanne'] },
      { use: 'nickname', given: ['Jeannette'] },
      { use: 'anonymous', family: 'EXEMPLE', given: ['Anne'] },
    ]);
    expect(hl7RoundTrip(plan, p, '9999999999').name).toEqual(p.name);
  });

  it.each([
    ['M', 'male'],
    ['F', 'female'],
    ['O', 'other'],
    ['A', 'other'],
    ['U', 'unknown'],
    ['N', 'unknown'],
    ['f', 'female'],
  ])('maps the administrative sex %s (HL7 table 0001) to %s', (code, gender) => {
    expect(patientOf(mapHl7(plan, setField(PKB, 'PID', 8, code))).gender).toBe(gender);
  });
});

describe('the shipped IHE PAM France profile keeps the secondary data of French messages', () => {
  const plan = shippedPlan('hl7v2-ihe-pam-fr');
  const A31 = hl7Text('adt-a31-update-custom-delimiters.hl7');
  const A08 = hl7Text('adt-a08-update-lf.hl7');

  it('keeps the ADT^A31 patient’s IPP, INS, birth and used names with every given name, mobile and e-mail', () => {
    const r = mapHl7(plan, A31);
    expect(r.ok).toBe(true);
    const p = patientOf(r);
    expect(p.identifier?.map((i) => [i.system, i.value, i.use])).toEqual([
      ['urn:oid:1.2.250.1.999.1.1', 'IPP000101', 'usual'],
      ['urn:oid:1.2.250.1.213.1.4.10', '285037511234544', 'official'],
    ]);
    expect(p.name).toEqual([
      { use: 'official', family: 'FICTIVE', given: ['Jeanne', 'Jeanne Odile'] },
      { use: 'usual', family: 'IMAGINAIRE', given: ['Jeanne'] },
    ]);
    expect(p.telecom).toEqual([
      { system: 'phone', use: 'mobile', value: '+33612345678' },
      { system: 'email', value: 'jeanne.fictive@example.org' },
    ]);
    expect(hl7RoundTrip(plan, p, 'IPP000101')).toEqual(p);
  });

  it('keeps the ADT^A08 patient’s home, mobile and work phones, and a birth name without name type with its title', () => {
    // Edits: PID-5 with the title MR (XPN-5) and no name type (XPN-7 empty, as many senders
    // write it), PID-14 with a work phone (XTN-2 WPN).
    let msg = setField(A08, 'PID', 5, 'DEMONSTRATION^Paul^Paul^^MR');
    msg = setField(msg, 'PID', 14, '^WPN^PH^^^^^^^^^+33145678902');
    const p = patientOf(mapHl7(plan, msg));
    expect(p.name).toEqual([
      { use: 'official', family: 'DEMONSTRATION', given: ['Paul', 'Paul'], prefix: ['MR'] },
    ]);
    expect(p.telecom).toEqual([
      { system: 'phone', use: 'mobile', value: '+33698765432' },
      { system: 'phone', use: 'home', value: '+33145678901' },
      { system: 'phone', use: 'work', value: '+33145678902' },
    ]);
    expect(hl7RoundTrip(plan, p, '179016912345677')).toEqual(p);
  });

  it('drops an e-mail field holding "NON", flagged, and keeps the patient', () => {
    // Edit: the A31's e-mail (custom delimiters: `!` field, `@` component, `%` repetition) is NON.
    const r = mapHl7(
      plan,
      setField(A31, 'PID', 13, '@PRN@CP@@@@@@@@@+33612345678%@NET@Internet@NON', { fieldSep: '!' }),
    );
    expect(r.ok).toBe(true);
    expect(r.flags).toContain('patient-email-dropped');
    expect(patientOf(r).telecom).toEqual([{ system: 'phone', use: 'mobile', value: '+33612345678' }]);
  });
});

describe('the shipped FHIR R4 FR Core profile keeps the secondary data of the official example Patient', () => {
  const plan = shippedPlan('fhir-r4-fr-core');
  const example = JSON.parse(
    readFileSync(fixturePath('fhir', 'r4', 'patient-example.json'), 'utf8'),
  ) as FhirResource & { telecom: { value?: string }[] };
  // Edit: the Australian national numbers in international form (+61 3 …): a profile for French
  // practices reads a national number as French.
  const edited = {
    ...example,
    telecom: example.telecom.map((t) =>
      t.value ? { ...t, value: t.value.replace(/^\(0(\d)\) /, '+61 $1 ') } : t,
    ),
  };

  it('keeps the Australian numbers of the unedited example as given, with their use, never misread as French', () => {
    // "(03) 5555 6473" has ten digits starting with 0 but is not written the French way: before
    // issue 18 it became +33355556473.
    const r = toCanonical(plan, example, ctx);
    expect(r.ok).toBe(true);
    expect(patientOf(r).telecom).toEqual([
      { system: 'phone', use: 'mobile', value: '(03) 3410 5613' },
      { system: 'phone', use: 'work', value: '(03) 5555 6473' },
    ]);
    expect(r.flags).toEqual([]);
    // With the address's country (edit: address[0].country AU), they go to E.164 under +61.
    const au = toCanonical(
      plan,
      { ...example, address: [{ ...(example['address'] as object[])[0], country: 'AU' }] },
      ctx,
    );
    expect(patientOf(au).telecom?.map((t) => t.value)).toEqual(['+61334105613', '+61355556473']);
  });

  it('keeps every name with its use, the work and mobile phones, sex, birth date and active flag', () => {
    const r = toCanonical(plan, edited, ctx);
    expect(r.ok).toBe(true);
    const p = patientOf(r);
    expect(p.name).toEqual([
      { use: 'official', family: 'CHALMERS', given: ['Peter', 'James'] },
      { use: 'usual', given: ['Jim'] },
      { use: 'maiden', family: 'Windsor', given: ['Peter', 'James'] },
    ]);
    expect(p.telecom).toEqual([
      { system: 'phone', use: 'mobile', value: '+61334105613' },
      { system: 'phone', use: 'work', value: '+61355556473' },
    ]);
    expect([p.gender, p.birthDate, p.active]).toEqual(['male', '1974-12-25', true]);
    // Written back onto the server's resource: the names and phones come back the same.
    const out = fromCanonical(
      plan,
      { op: 'upsert', kind: 'Patient', externalId: 'example', data: p, base: null },
      ctx,
      edited,
    );
    expect(out.ok).toBe(true);
    expect(patientOf(toCanonical(plan, out.fhir as FhirResource, ctx))).toEqual(p);
  });

  it('keeps a name’s title, and drops an e-mail that is not an address with a flag', () => {
    const r = toCanonical(
      plan,
      {
        ...edited,
        name: [{ family: 'Chalmers', given: ['Peter'], prefix: ['Mr'] }],
        telecom: [{ system: 'email', value: 'NON' }],
      },
      ctx,
    );
    expect(r.ok).toBe(true);
    expect(r.flags).toContain('patient-email-dropped');
    const p = patientOf(r);
    expect(p.name).toEqual([{ use: 'official', family: 'CHALMERS', given: ['Peter'], prefix: ['Mr'] }]);
    expect(p.telecom).toBeUndefined();
  });
});
