/**
 * Issue 18: identifiers in systems a profile does not name — an HL7 PID-3 repetition of an
 * unknown assigning authority, a FHIR identifier of an unknown system — are kept on the
 * canonical patient with their system and assigner as given, never dropped, never a reason to
 * refuse the patient, with no flag (nothing was dropped). The INS keeps its French rules: one no
 * INS rule kept is never stored as another identifier. Real messages and resources, edits named.
 */
import { readFileSync } from 'node:fs';

import { describe, expect, it } from '@jest/globals';

import { parseHl7 } from '../../src/hl7/index.js';
import {
  type FhirResource,
  shippedPlan,
  toCanonical,
  type ToCanonicalResult,
} from '../../src/mapping/index.js';
import { systemOfAuthority } from '../../src/mapping/run/other-identifiers.js';
import type { Patient } from '../../src/model/resources.js';
import { fixturePath } from '../helpers/fixtures.js';
import { setField } from '../helpers/hl7-text.js';

const ctx = { testLink: true, timezone: 'Europe/Paris' };
const V2_0203 = 'http://terminology.hl7.org/CodeSystem/v2-0203';
const hl7 = (...path: string[]) =>
  readFileSync(fixturePath('hl7', ...path), 'latin1').replace(/\r\n?|\n/g, '\r');
const patientOf = (r: ToCanonicalResult): Patient =>
  r.records.find((x) => x.kind === 'Patient')?.data as Patient;

describe('HL7 PID-3 repetitions of an unknown assigning authority', () => {
  // Edit of the ORSOS SIU^S14 (HAPI): PID-3 gets three more repetitions — a namespace only, a
  // universal id (ISO OID) with a type, and one with no authority at all.
  const ORSOS = setField(
    hl7('real', 'hapi-orsos-siu-s14-v23.hl7'),
    'PID',
    3,
    '990119205~A123^^^OTHERHOSP^MR~B456^^^&2.16.840.1.113883.19.5&ISO^PI~C789',
  );

  it('are kept on the patient with their system and assigner, no flag, the message applied', () => {
    const r = toCanonical(shippedPlan('hl7v2-generic-2.5'), parseHl7(ORSOS), ctx);
    expect(r.ok).toBe(true);
    expect(r.flags).not.toContain('patient-identifier-dropped');
    const ids = patientOf(r).identifier ?? [];
    expect(ids.map((i) => i.value)).toEqual(['990119205', '990119205', '000533921J', 'A123', 'B456', 'C789']);
    expect(ids.slice(3)).toEqual([
      {
        system: 'https://fhir.passerelle.fr/NamingSystem/hl7v2-assigning-authority/OTHERHOSP',
        value: 'A123',
        use: 'secondary',
        type: { coding: [{ system: V2_0203, code: 'MR' }] },
        assigner: { display: 'OTHERHOSP' },
      },
      {
        system: 'urn:oid:2.16.840.1.113883.19.5',
        value: 'B456',
        use: 'secondary',
        type: { coding: [{ system: V2_0203, code: 'PI' }] },
      },
      {
        system: 'https://fhir.passerelle.fr/NamingSystem/hl7v2-assigning-authority/unknown',
        value: 'C789',
        use: 'secondary',
      },
    ]);
    expect(
      r.report.filter((x) => x.rule === 'Patient.identifier (other)').map((x) => x.protocolPath),
    ).toEqual(['PID-3[2]', 'PID-3[3]', 'PID-3[4]']);
  });

  it('are kept beside the IPP and the INS by the IHE PAM France profile; an INS without VALI is dropped by its rule, never kept as another identifier', () => {
    const s12 = hl7('siu-s12-new-appointment.hl7');
    // Edit: a third PID-3 repetition from another hospital.
    const pid3 =
      'IPP000101^^^CABINET-TEST&1.2.250.1.999.1.1&ISO^PI~285037511234544^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.10&ISO^INS~H-778^^^CHU-EXEMPLE&1.2.250.1.999.7.1&ISO^PI';
    const plan = shippedPlan('hl7v2-ihe-pam-fr');
    const vali = patientOf(toCanonical(plan, parseHl7(setField(s12, 'PID', 3, pid3)), ctx));
    expect(vali.identifier?.map((i) => [i.system, i.value, i.use])).toEqual([
      ['urn:oid:1.2.250.1.999.1.1', 'IPP000101', 'usual'],
      ['urn:oid:1.2.250.1.213.1.4.10', '285037511234544', 'official'],
      ['urn:oid:1.2.250.1.999.7.1', 'H-778', 'secondary'],
    ]);
    // Edit: PID-32 PROV instead of VALI.
    const prov = toCanonical(
      plan,
      parseHl7(setField(s12, 'PID', 3, pid3).replace('|||VALI', '|||PROV')),
      ctx,
    );
    expect(prov.ok).toBe(true);
    expect(patientOf(prov).identifier?.map((i) => i.value)).toEqual(['IPP000101', 'H-778']);
    expect(prov.records.find((x) => x.kind === 'Patient')?.flags).toEqual(['ins-not-qualified']);
  });

  it('names a system from the assigning authority: ISO OID, URI, else a passerelle naming system per namespace', () => {
    expect(systemOfAuthority('CHU', '1.2.250.1.999.7.1', 'ISO')).toBe('urn:oid:1.2.250.1.999.7.1');
    expect(systemOfAuthority(undefined, '2.16.840.1.113883.19.5', undefined)).toBe(
      'urn:oid:2.16.840.1.113883.19.5',
    );
    expect(systemOfAuthority('X', 'https://id.example.org/mrn', 'URI')).toBe('https://id.example.org/mrn');
    expect(systemOfAuthority('NHS', undefined, undefined)).toBe(
      'https://fhir.passerelle.fr/NamingSystem/hl7v2-assigning-authority/NHS',
    );
    expect(systemOfAuthority('A B', undefined, undefined)).toBe(
      'https://fhir.passerelle.fr/NamingSystem/hl7v2-assigning-authority/A%20B',
    );
  });
});

describe('FHIR identifiers of a system the profile does not name', () => {
  const plan = shippedPlan('fhir-r4-fr-core');

  it('keeps the official R4 example patient’s medical record number with its system, type and assigner', () => {
    // Unedited: before issue 18 the FR Core profile dropped it (only the IPP and INS systems were read).
    const example = JSON.parse(
      readFileSync(fixturePath('fhir', 'r4', 'patient-example.json'), 'utf8'),
    ) as FhirResource;
    const r = toCanonical(plan, example, ctx);
    expect(r.ok).toBe(true);
    expect(r.flags).toEqual([]);
    expect(patientOf(r).identifier).toEqual([
      {
        system: 'urn:oid:1.2.36.146.595.217.0.1',
        value: '12345',
        use: 'usual',
        type: { coding: [{ system: V2_0203, code: 'MR' }] },
        assigner: { display: 'Acme Healthcare' },
      },
    ]);
  });

  it('keeps them beside the IPP and the INS, and never keeps an INS its rule dropped', () => {
    const patient = JSON.parse(
      readFileSync(fixturePath('fhir', 'fr-core', 'patient-ins-without-vali.json'), 'utf8'),
    ) as FhirResource & { identifier: object[] };
    // Edit: one more identifier, of a system the profile does not name.
    const withOther = {
      ...patient,
      identifier: [...patient.identifier, { system: 'urn:oid:1.2.250.1.999.7.1', value: 'H-778' }],
    };
    const r = toCanonical(plan, withOther, ctx);
    expect(r.ok).toBe(true);
    expect(patientOf(r).identifier?.map((i) => [i.system, i.value])).toEqual([
      ['urn:oid:1.2.250.1.999.1.1', 'IPP000101'],
      ['urn:oid:1.2.250.1.999.7.1', 'H-778'],
    ]);
    expect(r.flags).toEqual(['ins-not-qualified']);
  });
});
