/**
 * Issue 18, point 3: a profile `extends:` another and overrides a few rules. The merge
 * (src/mapping/extends.ts), its refusals, and where its issues are reported.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from '@jest/globals';

import {
  loadProfile,
  loadProfileText,
  type LoadResult,
  type MappingPlan,
  shippedPlan,
} from '../../../src/mapping/index.js';

const dir = mkdtempSync(join(tmpdir(), 'passerelle-extends-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const generic = shippedPlan('hl7v2-generic-2.5');
const fhir = shippedPlan('fhir-r4-fr-core');

function plan(r: LoadResult): MappingPlan {
  if (!r.ok) throw new Error(r.issues.map((i) => `${i.location ?? ''} ${i.path}: ${i.message}`).join('\n'));
  return r.plan;
}
function issues(r: LoadResult) {
  if (r.ok) throw new Error('the profile loaded; issues were expected');
  return r.issues.map((i) => ({ code: i.code, location: i.location, message: i.message }));
}
const child = (lines: string) =>
  loadProfileText(`name: child\nextends: hl7v2-generic-2.5\n${lines}`, { label: 'child.yaml' });
const rule = (p: MappingPlan, kind: 'Appointment' | 'Patient', label: string) =>
  p.kinds[kind]?.rules.find((r) => r.label === label);
const labels = (p: MappingPlan, kind: 'Appointment' | 'Patient') => p.kinds[kind]?.rules.map((r) => r.label);

describe('a profile that extends a shipped profile', () => {
  it('inherits every rule, section and message of its parent when it overrides nothing', () => {
    const p = plan(child(''));
    expect(p.name).toBe('child');
    expect(p.parents).toEqual(['hl7v2-generic-2.5']);
    expect([p.protocol, p.version, p.timezone]).toEqual([
      generic.protocol,
      generic.version,
      generic.timezone,
    ]);
    for (const kind of ['Appointment', 'Patient'] as const)
      expect(labels(p, kind)).toEqual(labels(generic, kind));
    expect([...(p.hl7?.inbound.keys() ?? [])]).toEqual([...(generic.hl7?.inbound.keys() ?? [])]);
    expect(p.kinds.Appointment?.rules.every((r) => r.origin === 'hl7v2-generic-2.5')).toBe(true);
  });

  it('replaces the inherited rule of the same name in place, and says which profile each rule comes from', () => {
    const p = plan(child('Appointment:\n  fields:\n    - { name: note, from: "NTE[2]-3", to: comment }\n'));
    expect(labels(p, 'Appointment')).toEqual(labels(generic, 'Appointment'));
    expect(rule(p, 'Appointment', 'note')).toMatchObject({ fromText: 'NTE[2]-3', origin: 'child' });
    expect(rule(p, 'Appointment', 'start')?.origin).toBe('hl7v2-generic-2.5');
  });

  it('matches an unnamed rule by its canonical path, and appends a rule with a new key', () => {
    const p = plan(
      child(
        'Patient:\n  fields:\n    - { from: PID-8, to: gender, map: sex, default: unknown }\n    - { name: former-name, from: "PID-9[1].1", to: "name[use=old].family" }\n',
      ),
    );
    const sex = p.kinds.Patient?.rules.find((r) => r.to?.text === 'gender');
    expect(sex).toMatchObject({ origin: 'child', default: 'unknown' });
    expect(labels(p, 'Patient')).toEqual([
      ...(labels(generic, 'Patient') ?? []).map((l) => (l === 'sex' ? sex?.label : l)),
      'former-name',
    ]);
  });

  it('deletes the inherited rules its remove: names, and a section set to null', () => {
    const p = plan(
      child(
        'Patient:\n  remove: [email, home-phone]\nCommunication: null\nmessages:\n  outbound:\n    Communication: null\n',
      ),
    );
    expect(labels(p, 'Patient')).toEqual(
      labels(generic, 'Patient')?.filter((l) => l !== 'email' && l !== 'home-phone'),
    );
    expect(p.kinds.Communication).toBeUndefined();
  });

  it('merges value maps code by code, a null code deleting an inherited one, and constants key by key', () => {
    const p = plan(
      child(
        'constants:\n  patientIdSystem: urn:oid:1.2.250.1.999.7.1\nvalueMaps:\n  appointment-status:\n    codes: { Reserve: booked, Dc: null }\n',
      ),
    );
    const map = rule(p, 'Appointment', 'status')?.map;
    expect(map?.codes.get('Reserve')).toBe('booked');
    expect(map?.codes.has('Dc')).toBe(false);
    expect(map?.codes.get('Booked')).toBe('booked');
    expect(p.constants.patientIdSystem).toBe('urn:oid:1.2.250.1.999.7.1');
    expect(p.constants.practitionerIdSystem).toBe(generic.constants.practitionerIdSystem);
  });

  it('merges the appointment-type catalogue by code: replace, add, and remove: true', () => {
    const p = plan(
      loadProfileText(
        'name: child\nextends: fhir-r4-fr-core\nappointmentTypes:\n  - { code: CONS, display: Consultation, minutes: 15 }\n  - { code: ECHO, remove: true }\n  - { code: TELE, display: Téléconsultation, minutes: 15 }\n',
        { label: 'child.yaml' },
      ),
    );
    expect(p.appointmentTypes.map((t) => [t.code, t.minutes])).toEqual([
      ...fhir.appointmentTypes
        .filter((t) => t.code !== 'ECHO')
        .map((t) => [t.code, t.code === 'CONS' ? 15 : t.minutes]),
      ['TELE', 15],
    ]);
  });

  it('is versioned by its parent too: the same child text over another parent has another hash', () => {
    const a = plan(child(''));
    const b = plan(loadProfileText('name: child\nextends: hl7v2-ihe-pam-fr\n', { label: 'child.yaml' }));
    expect(a.hash).not.toBe(b.hash);
  });
});

describe('what a child cannot do', () => {
  it('extend a profile that does not exist: the error names the shipped profiles', () => {
    expect(
      issues(loadProfileText('name: child\nextends: hl7v2-generic-25\n', { label: 'child.yaml' })),
    ).toEqual([
      {
        code: 'ERR_MAPPING_EXTENDS',
        location: 'child.yaml:2:10',
        message:
          'unknown parent profile hl7v2-generic-25 (did you mean hl7v2-generic-2.5?); shipped profiles: fhir-r4-fr-core, hl7v2-generic-2.5, hl7v2-ihe-pam-fr; or a file such as ./hl7v2-generic-25.yaml',
      },
    ]);
  });

  it('change the protocol of its parent', () => {
    expect(
      issues(
        loadProfileText('name: child\nextends: hl7v2-generic-2.5\nprotocol: fhir-r4\n', {
          label: 'child.yaml',
        }),
      ),
    ).toEqual([
      {
        code: 'ERR_MAPPING_PROTOCOL_MISMATCH',
        location: 'child.yaml:3:11',
        message:
          'protocol fhir-r4 differs from hl7v2, the protocol of hl7v2-generic-2.5 (a profile extends one of its own protocol)',
      },
    ]);
  });

  it('remove a rule its parent does not have', () => {
    expect(issues(child('Patient:\n  remove: [e-mail]\n'))).toEqual([
      {
        code: 'ERR_MAPPING_EXTENDS',
        location: 'child.yaml:4:12',
        message: 'remove: no inherited Patient rule is named e-mail or writes it (did you mean email?)',
      },
    ]);
  });

  it('extend a file when it was given as text (the API stores profiles, not folders)', () => {
    expect(
      issues(loadProfileText('name: child\nextends: ./site.yaml\n', { label: 'profile' }))[0]?.message,
    ).toMatch(
      /^\.\/site\.yaml: a profile given as text \(stored through the API\) extends a shipped profile, by name/,
    );
  });

  it('form a cycle: the error names the chain', () => {
    writeFileSync(join(dir, 'a.yaml'), 'name: a\nextends: ./b.yaml\n');
    writeFileSync(join(dir, 'b.yaml'), 'name: b\nextends: ./a.yaml\n');
    expect(issues(loadProfile(join(dir, 'a.yaml'), { label: 'a.yaml' }))).toEqual([
      {
        code: 'ERR_MAPPING_EXTENDS',
        location: 'a.yaml:2:10',
        message: 'the parent profile ./b.yaml is invalid (its issues are listed with it)',
      },
      {
        code: 'ERR_MAPPING_EXTENDS',
        location: 'b.yaml:2:10',
        message: 'extends cycle: a.yaml → b.yaml → a.yaml',
      },
    ]);
  });

  it('go deeper than the limit', () => {
    for (let i = 1; i <= 5; i++)
      writeFileSync(
        join(dir, `d${i}.yaml`),
        `name: d${i}\nextends: ${i === 5 ? 'hl7v2-generic-2.5' : `./d${i + 1}.yaml`}\n`,
      );
    const r = issues(loadProfile(join(dir, 'd1.yaml'), { label: 'd1.yaml' }));
    expect(r).toEqual([
      {
        code: 'ERR_MAPPING_EXTENDS',
        location: 'd1.yaml:2:10',
        message: 'the parent profile ./d2.yaml is invalid (its issues are listed with it)',
      },
      {
        code: 'ERR_MAPPING_EXTENDS',
        location: 'd5.yaml:2:10',
        message:
          'extends goes more than 4 profiles deep: d1.yaml → d2.yaml → d3.yaml → d4.yaml → d5.yaml → mappings/hl7v2-generic-2.5.yaml',
      },
    ]);
  });
});

describe('issues in a child', () => {
  it('are reported at the child file:line:column, not in its parent', () => {
    const r = issues(
      child(
        'Appointment:\n  fields:\n    - { name: note, from: "NTE[2]-3", to: commment }\nvalueMaps:\n  sex:\n    codes: { X: alien }\n',
      ),
    );
    expect(r).toEqual([
      {
        code: 'ERR_MAPPING_UNKNOWN_FIELD',
        location: 'child.yaml:5:43',
        message: expect.stringMatching(
          /^unknown canonical path Appointment\.commment \(did you mean comment\?\)/,
        ) as unknown as string,
      },
      {
        code: 'ERR_MAPPING_VALUE_MAP',
        location: 'child.yaml:8:17',
        message: expect.stringContaining('alien is not allowed in Patient.gender') as unknown as string,
      },
    ]);
  });

  it('of type are reported at the child, with the merged profile checked by the schema', () => {
    expect(
      issues(
        child(
          'timezone: 3\nAppointment:\n  fields:\n    - { name: note, from: "NTE[2]-3", to: comment, tranform: trim }\n',
        ),
      ),
    ).toEqual([
      { code: 'ERR_MAPPING_SCHEMA', location: 'child.yaml:3:11', message: 'expected string' },
      {
        code: 'ERR_MAPPING_UNKNOWN_KEY',
        location: 'child.yaml:6:52',
        message: 'unknown key tranform (did you mean transform?)',
      },
    ]);
  });

  it("a file that extends a file beside it loads, each rule naming its own file's profile", () => {
    writeFileSync(
      join(dir, 'site.yaml'),
      'name: site\nextends: hl7v2-generic-2.5\nPatient:\n  remove: [email]\n',
    );
    writeFileSync(
      join(dir, 'vendor.yaml'),
      'name: vendor\nextends: ./site.yaml\nAppointment:\n  fields:\n    - { name: note, from: "NTE[2]-3", to: comment }\n',
    );
    const p = plan(loadProfile(join(dir, 'vendor.yaml')));
    expect(p.parents).toEqual(['site', 'hl7v2-generic-2.5']);
    expect(rule(p, 'Appointment', 'note')?.origin).toBe('vendor');
    expect(labels(p, 'Patient')).not.toContain('email');
  });
});
