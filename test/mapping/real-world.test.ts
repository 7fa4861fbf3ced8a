/**
 * Issue 18, the interoperability corpus's gaps as general rules of the shipped HL7 v2 profiles
 * (test/fixtures/hl7/corpus/manifest.yaml names each gap and the message it was seen in). Each
 * case is an edit of the fixture test/fixtures/hl7/siu-s12-new-appointment.hl7 (fictitious
 * patient), named in its test, run through both shipped HL7 v2 profiles.
 */
import { readFileSync } from 'node:fs';

import { describe, expect, it } from '@jest/globals';

import { parseHl7 } from '../../src/hl7/index.js';
import { shippedPlan, toCanonical, toCanonicalOrThrow } from '../../src/mapping/index.js';
import type { Appointment, Patient } from '../../src/model/resources.js';
import { fixturePath } from '../helpers/fixtures.js';

const profiles = ['hl7v2-generic-2.5', 'hl7v2-ihe-pam-fr'] as const;
const s12 = readFileSync(fixturePath('hl7', 'siu-s12-new-appointment.hl7'), 'utf8');
const run = (profile: string, text: string) =>
  toCanonicalOrThrow(shippedPlan(profile), parseHl7(text), { testLink: true });
const appointment = (profile: string, text: string) =>
  run(profile, text).records.find((r) => r.kind === 'Appointment')?.data as Appointment;

describe.each(profiles)('the appointment timing (%s)', (profile) => {
  // A v2.8 sender's SCH-11 left stale (withdrawn since v2.7), the booking in TQ1-7/TQ1-8.
  const stale = s12
    .replace('|2.5.1|', '|2.8|')
    .replace(
      '^^M20^20250317093000+0100^20250317095000+0100',
      '^^M20^20240101080000+0100^20240101083000+0100',
    );

  it('comes from TQ1-7/TQ1-8 when the message has a TQ1, whatever SCH-11 says', () => {
    const a = appointment(profile, stale);
    expect([a.start, a.end]).toEqual(['2025-03-17T08:30:00.000Z', '2025-03-17T08:50:00.000Z']);
  });

  it('still comes from SCH-11 when there is no TQ1 (HL7 v2.3, v2.4)', () => {
    const a = appointment(
      profile,
      stale
        .split('\r')
        .filter((s) => !s.startsWith('TQ1'))
        .join('\r'),
    );
    expect([a.start, a.end]).toEqual(['2024-01-01T07:00:00.000Z', '2024-01-01T07:30:00.000Z']);
  });
});

describe.each(profiles)('a sex code outside HL7 table 0001 (%s)', (profile) => {
  // PID-8 "1" (a number where a code of table 0001 goes), as python-hl7's VINAH sample has it.
  const r = run(profile, s12.replace('||19850314|F|', '||19850314|1|'));
  const patient = r.records.find((x) => x.kind === 'Patient');

  it('becomes unknown, flagged on the record and warned on the message', () => {
    expect((patient?.data as Patient).gender).toBe('unknown');
    expect(patient?.flags).toContain('patient-sex-dropped');
    expect(r.flags).toContain('patient-sex-dropped');
    expect(r.issues).toContainEqual(
      expect.objectContaining({ path: 'sex', severity: 'warning', code: 'ERR_MAPPING_UNMAPPED_CODE' }),
    );
  });

  it('is not flagged when the code is in the table (U, any case)', () => {
    const u = run(profile, s12.replace('||19850314|F|', '||19850314|u|'));
    expect((u.records.find((x) => x.kind === 'Patient')?.data as Patient).gender).toBe('unknown');
    expect(u.flags).not.toContain('patient-sex-dropped');
  });
});

describe.each(profiles)('a message without trigger event in MSH-9 (%s)', (profile) => {
  const a28 = readFileSync(fixturePath('hl7', 'adt-a28-create.hl7'), 'utf8');
  // As HL7 v2.1 writes it: MSH-9 the message type alone, the event in EVN-1.
  const v21 = a28.replace(/\|ADT\^A28\^ADT_A05\|/, '|ADT|').replace(/\rEVN\|\|/, '\rEVN|A28|');

  it('takes its trigger event from EVN-1', () => {
    const r = run(profile, v21);
    expect([r.messageType, r.records.map((x) => x.kind)]).toEqual(['ADT^A28', ['Patient']]);
  });

  it('is refused naming MSH-9.2 and the rule when there is no EVN-1 either', () => {
    const r = toCanonical(shippedPlan(profile), parseHl7(v21.replace(/\rEVN\|A28\|/, '\rEVN||')));
    expect(r.error?.code).toBe('ERR_MAPPING_UNSUPPORTED_MESSAGE');
    expect(r.error?.message).toMatch(/^MSH-9\.2 \(trigger event\) is empty and no EVN-1 gives it: profile /);
    expect(r.error?.details['protocolPath']).toBe('MSH-9.2');
  });
});

describe.each(profiles)('MSH-2 written ^~\\\\& (%s)', (profile) => {
  // The escape character doubled, as LinuxForHealth's sample_unix.hl7 has it.
  const doubled = s12.replace('MSH|^~\\&|', 'MSH|^~\\\\&|');

  it('is read as ^~\\& (the copy ignored), applied, flagged and warned', () => {
    const msg = parseHl7(doubled);
    expect(msg.delimiters).toEqual({
      field: '|',
      component: '^',
      repetition: '~',
      escape: '\\',
      subcomponent: '&',
    });
    expect(msg.notes).toEqual(['escape-doubled']);
    const r = run(profile, doubled);
    expect(appointment(profile, doubled).start).toBe('2025-03-17T08:30:00.000Z');
    expect(r.flags).toContain('msh-2-escape-doubled');
    expect(r.issues).toContainEqual(
      expect.objectContaining({ path: 'MSH-2', severity: 'warning', code: 'ERR_HL7_PARSE' }),
    );
  });

  it('is not a licence for other MSH-2 mistakes: two equal delimiters are still refused naming MSH-2', () => {
    expect(() => parseHl7(s12.replace('MSH|^~\\&|', 'MSH|^^\\&|'))).toThrow(/MSH-1\/MSH-2/);
    expect(() => parseHl7(s12.replace('MSH|^~\\&|', 'MSH|^~\\\\\\&|'))).toThrow(/MSH-2/);
    expect(parseHl7(s12).notes).toEqual([]);
  });
});

describe.each(profiles)('names by their type, XPN-7 (%s)', (profile) => {
  const patientOf = (pid5: string) =>
    run(
      profile,
      s12.replace('|FICTIVE^Jeanne^Jeanne Odile^^^^L~IMAGINAIRE^Jeanne^^^^^D|', `|${pid5}|`),
    ).records.find((r) => r.kind === 'Patient')?.data as Patient;
  const name = (p: Patient, use: string) => p.name?.find((n) => n.use === use);

  it('takes the official name from the repetition typed L, wherever it is, all its parts from that repetition', () => {
    // The customary name first (D), the legal one second (L) with no XPN-2 and a given name in XPN-3, as FHIR-Converter's SIU samples have it.
    const p = patientOf('IMAGINAIRE^Jeanne^J^^^^D~FICTIVE^^Odile^^^^L');
    expect([name(p, 'official')?.family?.toUpperCase(), name(p, 'official')?.given]).toEqual([
      'FICTIVE',
      ['Odile'],
    ]);
    expect([name(p, 'usual')?.family, name(p, 'usual')?.given]).toEqual(['IMAGINAIRE', ['Jeanne', 'J']]);
  });

  it('takes an untyped repetition as the legal name when none is typed L, else the first', () => {
    expect(name(patientOf('IMAGINAIRE^Jeanne^^^^^D~FICTIVE^Jeanne'), 'official')?.family?.toUpperCase()).toBe(
      'FICTIVE',
    );
    expect(name(patientOf('FICTIVE^Jeanne^^^^^D'), 'official')?.family?.toUpperCase()).toBe('FICTIVE');
  });

  it('keeps the further given names (XPN-3) of every name, beside its other names', () => {
    const p = patientOf('FICTIVE^Jeanne^Odile^^^^L~AUTRE^Marie^Claire^^^^M~ALIAS^Zoé^Anne^^^^A');
    expect(name(p, 'official')?.given).toEqual(['Jeanne', 'Odile']);
    expect(name(p, 'maiden')?.given).toEqual(['Marie', 'Claire']);
    expect(name(p, 'anonymous')?.given).toEqual(['Zoé', 'Anne']);
  });
});

describe.each(profiles)('the street address, XAD-1 and XAD-2 (%s)', (profile) => {
  const lines = (xad: string) =>
    ((
      run(profile, s12.replace("|12 rue de l'Exemple^^Testville^^75012^FRA^H|", `|${xad}|`)).records.find(
        (r) => r.kind === 'Patient',
      )?.data as Patient
    ).address ?? [])[0]?.line;

  it('joins the sub-components of XAD-1 (street & street name & dwelling number) into one line', () => {
    // As FHIR-Converter's SIU samples write it: the number in SAD.1, the street name in SAD.2.
    expect(lines('1000&Hospital Lane^^Testville^^75012^FRA^H')).toEqual(['1000 Hospital Lane']);
    expect(lines("&rue de l'Exemple&12^^Testville^^75012^FRA^H")).toEqual(["12 rue de l'Exemple"]);
    expect(lines("12 rue de l'Exemple&rue de l'Exemple&12^^Testville^^75012^FRA^H")).toEqual([
      "12 rue de l'Exemple",
    ]);
  });

  it('reads XAD-2 (other designation) as the second line', () => {
    expect(lines("12 rue de l'Exemple^Bâtiment B^Testville^^75012^FRA^H")).toEqual([
      "12 rue de l'Exemple",
      'Bâtiment B',
    ]);
  });
});

describe('a phone number given as XTN-6 area code + XTN-7 local number, XTN-1 empty (hl7v2-generic-2.5)', () => {
  const phones = (pid13: string) => {
    const r = run(
      'hl7v2-generic-2.5',
      s12.replace('|^PRN^CP^^^^^^^^^+33612345678~^NET^Internet^jeanne.fictive@example.org|', `|${pid13}|`),
    );
    return {
      telecom: (r.records.find((x) => x.kind === 'Patient')?.data as Patient).telecom ?? [],
      flags: r.flags,
    };
  };

  it('is read from its parts, with XTN-5 country code when given', () => {
    expect(phones('^PRN^PH^^33^1^42424242').telecom).toContainEqual({
      system: 'phone',
      use: 'home',
      value: '+33142424242',
    });
    expect(phones('^^^^^01^42424242').telecom).toContainEqual({
      system: 'phone',
      use: 'home',
      value: '+33142424242',
    });
  });

  it('is never silently ignored: kept, or dropped with a flag when the number cannot be normalized', () => {
    // A North American number without country code: what phone-e164 makes of it is its own rule.
    const p = phones('^^^^^626^5641111');
    expect(p.telecom.some((t) => t.use === 'home') || p.flags.includes('patient-home-phone-dropped')).toBe(
      true,
    );
  });
});
