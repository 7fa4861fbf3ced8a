/**
 * Every FHIR fixture (test/fixtures/fhir: official R4 examples, FR Core shapes, edge cases)
 * through what the connector does to a resource it reads — FR Core rules at the edge, the
 * shipped profile, the canonical model — accepted or refused for the reason its README states,
 * on a normal link and on a link marked as test. Refusals name the path and the rule, never a
 * value.
 */
import { readdirSync } from 'node:fs';

import { describe, expect, it } from '@jest/globals';

import { edgeIssues, mapInbound } from '../../../connectors/fhir/validate-edge.js';
import type { FhirResource } from '../../../src/mapping/run/types.js';
import { planFromText, shippedPlan } from '../../../src/mapping/runtime.js';
import { fixturePath, readFixture } from '../../helpers/fixtures.js';

type Verdict =
  /** Accepted: the record kind, and whether it is a tombstone. */
  | { readonly accept: string; readonly deleted?: boolean }
  /** Refused: the error code and the first issue's path and rule. */
  | { readonly refuse: string; readonly path: string; readonly rule: RegExp };

/** file → [verdict on a normal link, verdict on a link marked as test]. */
const VERDICTS: Record<string, readonly [Verdict, Verdict]> = {
  'r4/patient-example.json': [{ accept: 'Patient' }, { accept: 'Patient' }],
  'r4/practitioner-example.json': [{ accept: 'Practitioner' }, { accept: 'Practitioner' }],
  'r4/practitionerrole-example.json': [{ accept: 'PractitionerRole' }, { accept: 'PractitionerRole' }],
  'r4/schedule-example.json': [{ accept: 'Schedule' }, { accept: 'Schedule' }],
  'r4/slot-example.json': [{ accept: 'Slot' }, { accept: 'Slot' }],
  'r4/appointment-example.json': [{ accept: 'Appointment' }, { accept: 'Appointment' }],
  'r4/communication-example.json': [{ accept: 'Communication' }, { accept: 'Communication' }],
  'fr-core/patient-ins.json': [{ accept: 'Patient' }, { accept: 'Patient' }],
  'fr-core/patient-ins-test-oid.json': [
    {
      refuse: 'ERR_FHIR_EDGE_INVALID',
      path: 'Patient.identifier[0].system',
      rule: /the INS test\/demo OID urn:oid:1\.2\.250\.1\.213\.1\.4\.10 is accepted only on a link marked as test/,
    },
    { accept: 'Patient' },
  ],
  // Issue 18: kept without its INS, flagged ins-not-qualified (as the HL7 path does with PID-32).
  'fr-core/patient-ins-without-vali.json': [{ accept: 'Patient' }, { accept: 'Patient' }],
  'fr-core/patient-two-official.json': [
    {
      refuse: 'ERR_FHIR_EDGE_INVALID',
      path: 'Patient.identifier[1].use',
      rule: /only one official identifier is allowed/,
    },
    {
      refuse: 'ERR_FHIR_EDGE_INVALID',
      path: 'Patient.identifier[1].use',
      rule: /only one official identifier is allowed/,
    },
  ],
  'fr-core/patient-ins-bad-key.json': [
    {
      refuse: 'ERR_FHIR_EDGE_INVALID',
      path: 'Patient.identifier[0].value',
      rule: /not a valid INS matricule/,
    },
    {
      refuse: 'ERR_FHIR_EDGE_INVALID',
      path: 'Patient.identifier[0].value',
      rule: /not a valid INS matricule/,
    },
  ],
  'fr-core/appointment.json': [{ accept: 'Appointment' }, { accept: 'Appointment' }],
  'fr-core/schedule.json': [{ accept: 'Schedule' }, { accept: 'Schedule' }],
  'fr-core/practitioner-role.json': [{ accept: 'PractitionerRole' }, { accept: 'PractitionerRole' }],
  'fr-core/slot-urgence.json': [{ accept: 'Slot' }, { accept: 'Slot' }],
  'fr-core/slot-plage-bloquee.json': [{ accept: 'Slot' }, { accept: 'Slot' }],
  'edge/patient-ins-nia.json': [{ accept: 'Patient' }, { accept: 'Patient' }],
  'edge/patient-provisional-without-ins.json': [{ accept: 'Patient' }, { accept: 'Patient' }],
  'edge/patient-ins-unknown-oid.json': [
    { refuse: 'ERR_FHIR_EDGE_INVALID', path: 'Patient.identifier[0].system', rule: /not an INS system/ },
    { refuse: 'ERR_FHIR_EDGE_INVALID', path: 'Patient.identifier[0].system', rule: /not an INS system/ },
  ],
  'edge/patient-ins-type-wrong-system.json': [
    {
      refuse: 'ERR_FHIR_EDGE_INVALID',
      path: 'Patient.identifier[0].system',
      rule: /an identifier typed INS-NIR must have the system urn:oid:1\.2\.250\.1\.213\.1\.4\.8/,
    },
    {
      refuse: 'ERR_FHIR_EDGE_INVALID',
      path: 'Patient.identifier[0].system',
      rule: /an identifier typed INS-NIR must have the system/,
    },
  ],
  'edge/patient-reliability-unknown-code.json': [
    {
      refuse: 'ERR_FHIR_EDGE_INVALID',
      path: 'Patient.extension[0].extension[0].valueCoding.code',
      rule: /not an identity reliability code \(VIDE, PROV, VALI, DOUTE, FICTI\)/,
    },
    {
      refuse: 'ERR_FHIR_EDGE_INVALID',
      path: 'Patient.extension[0].extension[0].valueCoding.code',
      rule: /not an identity reliability code/,
    },
  ],
  'edge/appointment-cancelled.json': [{ accept: 'Appointment' }, { accept: 'Appointment' }],
  'edge/appointment-entered-in-error.json': [
    { accept: 'Appointment', deleted: true },
    { accept: 'Appointment', deleted: true },
  ],
  'edge/appointment-end-before-start.json': [
    { refuse: 'ERR_MAPPING_RECORD_INVALID', path: 'Appointment.end', rule: /is before start/ },
    { refuse: 'ERR_MAPPING_RECORD_INVALID', path: 'Appointment.end', rule: /is before start/ },
  ],
};

const plan = shippedPlan('fhir-r4-fr-core');
const load = (file: string) => JSON.parse(readFixture('fhir', ...file.split('/'))) as FhirResource;

/** The patient data of a resource (identifier and contact values, names, birth date, address): never in an error. */
const PHI_KEYS = new Set(['value', 'family', 'given', 'birthDate', 'line', 'city', 'postalCode']);
function phi(v: unknown, key = '', out: string[] = []): string[] {
  if (typeof v === 'string' && PHI_KEYS.has(key)) out.push(v);
  else if (Array.isArray(v)) for (const x of v) phi(x, key, out);
  else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) phi(x, k, out);
  return out;
}

describe('FHIR resources at the edge', () => {
  it('has a verdict for every fixture file', () => {
    const files = ['r4', 'fr-core', 'edge'].flatMap((d) =>
      readdirSync(fixturePath('fhir', d))
        .filter((f) => f.endsWith('.json'))
        .map((f) => `${d}/${f}`),
    );
    expect(files.sort()).toEqual(Object.keys(VERDICTS).sort());
  });

  describe.each([
    ['a normal link', 0, false],
    ['a link marked as test', 1, true],
  ] as const)('on %s', (_label, index, testLink) => {
    it.each(Object.keys(VERDICTS))('%s gets its verdict', (file) => {
      const verdict = (VERDICTS[file] as readonly [Verdict, Verdict])[index];
      const resource = load(file);
      const r = mapInbound(plan, { timezone: 'Europe/Paris', testLink }, resource);
      if ('accept' in verdict) {
        expect(
          r.ok
            ? [r.record?.kind, r.record?.deleted === true, r.record?.externalId]
            : [r.error.code, r.error.message],
        ).toEqual([verdict.accept, verdict.deleted === true, resource['id']]);
        return;
      }
      expect(r.ok).toBe(false);
      if (r.ok) return;
      expect(r.error.code).toBe(verdict.refuse);
      expect(r.error.retryable).toBe(false);
      expect(r.error.issues[0]?.path).toBe(verdict.path);
      expect(r.error.issues[0]?.message).toMatch(verdict.rule);
      expect(r.error.message).toContain(verdict.path);
      const data = phi(resource);
      expect(data.length).toBeGreaterThan(0);
      for (const v of data)
        expect([v, r.error.message.includes(v), JSON.stringify(r.error.issues).includes(v)]).toEqual([
          v,
          false,
          false,
        ]);
    });
  });

  it('reports every FR Core problem of a resource at once, each with its path', () => {
    const patient = load('fr-core/patient-ins.json');
    const ids = patient['identifier'] as Record<string, unknown>[];
    const worse = {
      ...patient,
      identifier: [
        {
          ...ids[0],
          type: undefined,
          system: 'urn:oid:1.2.250.1.213.1.4.10',
          value: '285037511234545',
          use: 'usual',
        },
        { ...ids[1], use: 'official' },
      ],
    } as FhirResource;
    expect(edgeIssues(worse, { testLink: false }).map((i) => i.path)).toEqual([
      'Patient.identifier[0].system',
      'Patient.identifier[0].use',
      'Patient.identifier[0].value',
    ]);
  });

  it('keeps a patient whose INS has no qualified identity, without the INS and flagged ins-not-qualified, as the HL7 path does', () => {
    const resource = load('fr-core/patient-ins-without-vali.json');
    expect(edgeIssues(resource, { testLink: false })).toEqual([]);
    const r = mapInbound(plan, { timezone: 'Europe/Paris', testLink: false }, resource);
    if (!r.ok || r.record?.data.resourceType !== 'Patient')
      throw new Error(`refused: ${r.ok ? 'no record' : r.error.message}`);
    const p = r.record.data;
    // The INS is gone, the IPP, names, contacts and reliability stay.
    expect(p.identifier?.map((i) => [i.system, i.value])).toEqual([
      ['urn:oid:1.2.250.1.999.1.1', 'IPP000101'],
    ]);
    expect(p.name?.find((n) => n.use === 'official')?.family).toBe('FICTIVE');
    expect(p.birthDate).toBe('1985-03-14');
    expect(r.record.flags).toEqual(['ins-not-qualified']);
    expect(r.flags).toContain('ins-not-qualified');
  });

  it('drops the INS of an unqualified identity whatever the profile says, so none can let it travel', () => {
    const resource = load('fr-core/patient-ins-without-vali.json');
    // A profile that maps the INS without the `when` on the reliability.
    const loose = planFromText(
      [
        'name: loose',
        'protocol: fhir-r4',
        'version: 4.0.1',
        'Patient:',
        '  directions: [to-canonical]',
        '  fields:',
        '    - { from: "identifier[system=urn:oid:1.2.250.1.999.1.1].value", to: "identifier[system=urn:oid:1.2.250.1.999.1.1].value" }',
        '    - { from: "identifier[system=urn:oid:1.2.250.1.213.1.4.8].value", to: "identifier[system=urn:oid:1.2.250.1.213.1.4.8].value", set: { use: official } }',
        '    - { from: "name[0].family", to: "name[0].family" }',
      ].join('\n'),
      'loose.yaml',
    );
    const r = mapInbound(loose, { testLink: true }, { ...resource, extension: [] } as FhirResource);
    expect(
      r.ok && r.record?.data.resourceType === 'Patient'
        ? [r.record.data.identifier?.map((i) => i.system), r.record.flags]
        : r,
    ).toEqual([['urn:oid:1.2.250.1.999.1.1'], ['ins-not-qualified']]);
  });

  it('still refuses an INS of an unqualified identity under an unknown OID of the INS arc, or two official identifiers left', () => {
    const resource = load('fr-core/patient-ins-without-vali.json');
    const ids = resource['identifier'] as Record<string, unknown>[];
    const unknownArc = {
      ...resource,
      identifier: [{ ...ids[0], system: 'urn:oid:1.2.250.1.213.1.4.99' }, ids[1]],
    } as FhirResource;
    expect(edgeIssues(unknownArc, { testLink: false }).map((i) => i.path)).toEqual([
      'Patient.identifier[0].system',
    ]);
    const twoOfficial = {
      ...resource,
      identifier: [
        ids[0],
        { ...ids[1], use: 'official' },
        { system: 'urn:oid:1.2.250.1.999.9', value: 'X1', use: 'official' },
      ],
    } as FhirResource;
    expect(edgeIssues(twoOfficial, { testLink: false }).map((i) => i.path)).toEqual([
      'Patient.identifier[2].use',
    ]);
  });

  describe('an appointment whose end nothing gives', () => {
    const apt = load('fr-core/appointment.json');
    const { end: _end, minutesDuration: _minutes, ...noEnd } = apt;

    it('ends minutesDuration after its start when the server sends a duration without an end', () => {
      const r = mapInbound(plan, { testLink: false }, { ...noEnd, minutesDuration: 30 } as FhirResource);
      expect(
        r.ok && r.record?.data.resourceType === 'Appointment' ? [r.record.data.end, r.record.flags ?? []] : r,
      ).toEqual(['2026-12-01T08:50:00.000Z', []]);
    });

    it("is kept with an end assumed from its appointment type's minutes, or else the product default, flagged appointment-end-assumed", () => {
      // CONSULT → CONS (20 minutes in appointmentTypes): derived, nothing assumed.
      const typed = mapInbound(plan, { testLink: false }, noEnd as FhirResource);
      expect(
        typed.ok && typed.record?.data.resourceType === 'Appointment'
          ? [typed.record.data.end, typed.record.flags ?? []]
          : typed,
      ).toEqual(['2026-12-01T08:40:00.000Z', []]);
      // No type at all: start + 15 minutes, flagged; before issue 18 it was refused ("end is required when status is booked").
      const { serviceType: _t, ...untyped } = noEnd;
      const r = mapInbound(plan, { testLink: false }, untyped as FhirResource);
      expect(
        r.ok && r.record?.data.resourceType === 'Appointment'
          ? [r.record.data.start, r.record.data.end, r.record.flags, r.flags]
          : r,
      ).toEqual([
        '2026-12-01T08:20:00.000Z',
        '2026-12-01T08:35:00.000Z',
        ['appointment-end-assumed'],
        ['appointment-end-assumed'],
      ]);
    });
  });

  it('takes a practitioner role whole: who, where, as what, which services, when (official R4 and FR Core examples)', () => {
    const r4 = mapInbound(plan, { testLink: false }, load('r4/practitionerrole-example.json'));
    expect(r4.ok ? r4.record?.data : r4).toEqual({
      resourceType: 'PractitionerRole',
      id: 'example',
      identifier: [{ system: 'http://www.acme.org/practitioners', value: '23' }],
      active: true,
      period: { start: '2012-01-01', end: '2012-03-31' },
      practitioner: { reference: 'Practitioner/example', display: 'Dr Adam Careful' },
      organization: { reference: 'Organization/f001' },
      location: [{ reference: 'Location/1', display: 'South Wing, second floor' }],
      healthcareService: [{ reference: 'HealthcareService/example' }],
      code: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0286', code: 'RP' }] }],
      specialty: [
        {
          coding: [
            { system: 'http://snomed.info/sct', code: '408443003', display: 'General medical practice' },
          ],
        },
      ],
      telecom: [
        { system: 'phone', value: '(03) 5555 6473', use: 'work' },
        { system: 'email', value: 'adam.southern@example.org', use: 'work' },
      ],
      availableTime: [
        { daysOfWeek: ['mon', 'tue', 'wed'], availableStartTime: '09:00:00', availableEndTime: '16:30:00' },
        { daysOfWeek: ['thu', 'fri'], availableStartTime: '09:00:00', availableEndTime: '12:00:00' },
      ],
    });
    const fr = mapInbound(plan, { testLink: false }, load('fr-core/practitioner-role.json'));
    expect(fr.ok ? fr.record?.data : fr).toMatchObject({
      practitioner: { reference: 'Practitioner/FRCorePractitionerExample' },
      organization: { reference: 'Organization/FRCoreOrganizationExample' },
      code: [{ coding: [{ code: 'GENR01' }] }, { coding: [{ code: 'L' }] }, { coding: [{ code: 'FON-05' }] }],
    });
  });

  it("reads the identity reliability of FR Core's previous extension (the guide's own examples) as the current one, so a qualified identity keeps its INS", () => {
    // Official FR Core example: VALI under http://interopsante.org/…/fr-core-ident-reliability,
    // slice identityReliability; its INS is under the test OID (a test link).
    const r = mapInbound(plan, { testLink: true }, load('fr-core-official/Patient-avec-INSNIR-logique.json'));
    if (!r.ok || r.record?.data.resourceType !== 'Patient')
      throw new Error(`refused: ${r.ok ? 'no record' : r.error.message}`);
    expect(
      r.record.data.identifier?.filter((i) => i.use === 'official').map((i) => [i.system, i.value]),
    ).toEqual([['urn:oid:1.2.250.1.213.1.4.10', '162126587913677']]);
    expect(r.record.flags ?? []).not.toContain('ins-not-qualified');
    // Read as qualified, the other official example's INS is checked, and its key is wrong (15 expected, 16 given).
    const martine = mapInbound(
      plan,
      { testLink: false },
      load('fr-core-official/Patient-Martine-Selfiesante.json'),
    );
    expect(martine.ok ? martine : martine.error.message).toMatch(
      /Patient\.identifier\[0\]\.value: not a valid INS/,
    );
    // A legacy extension saying the identity is only provisional still drops the INS.
    const provisional = load('fr-core-official/Patient-avec-INSNIR-logique.json');
    const ext = (
      provisional['extension'] as {
        url: string;
        extension?: { url: string; valueCoding?: { code: string } }[];
      }[]
    ).find((e) => e.url.startsWith('http://interopsante.org'));
    const code = ext?.extension?.find((x) => x.url === 'identityReliability')?.valueCoding;
    if (!code) throw new Error('fixture changed');
    code.code = 'PROV';
    const p = mapInbound(plan, { testLink: true }, provisional);
    expect(p.ok ? p.record?.flags : p).toContain('ins-not-qualified');
  });

  it('keeps the INS of a qualified identity as the one official identifier of the canonical record', () => {
    const r = mapInbound(plan, { testLink: false }, load('fr-core/patient-ins.json'));
    expect(
      r.ok && r.record?.data.resourceType === 'Patient'
        ? r.record.data.identifier?.filter((i) => i.use === 'official').map((i) => i.system)
        : r,
    ).toEqual(['urn:oid:1.2.250.1.213.1.4.8']);
  });
});
