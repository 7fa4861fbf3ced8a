/**
 * Issue 18, point 1, on the shipped IHE PAM France profile through the mapping engine: a
 * message is refused only for a missing or unsafe identity or a missing start; the practitioner,
 * the end, the status and the secondary values have fallbacks, and what is dropped is flagged on
 * the record and warned on the message. The messages are edits of test/fixtures/hl7 (each edit
 * named in its test).
 */
import { readFileSync } from 'node:fs';

import { describe, expect, it } from '@jest/globals';

import { parseHl7 } from '../../src/hl7/index.js';
import { shippedPlan, toCanonical, toCanonicalOrThrow } from '../../src/mapping/index.js';
import { durationMinutes } from '../../src/mapping/run/transforms.js';
import { planFromText } from '../../src/mapping/runtime.js';
import type { Appointment, Patient } from '../../src/model/resources.js';
import { fixturePath } from '../helpers/fixtures.js';

const ihe = shippedPlan('hl7v2-ihe-pam-fr');
const generic = shippedPlan('hl7v2-generic-2.5');
const test = { testLink: true };
const s12 = readFileSync(fixturePath('hl7', 'siu-s12-new-appointment.hl7'), 'utf8');
const without = (text: string, ...names: string[]) =>
  text
    .split('\r')
    .filter((s) => !names.includes(s.slice(0, 3)))
    .join('\r');
const appointmentOf = (text: string) => {
  const r = toCanonicalOrThrow(ihe, parseHl7(text), test);
  return { r, a: r.records.find((x) => x.kind === 'Appointment') };
};
/** The S12 fixture without an end: SCH-11.5 and TQ1-8 emptied. */
const noEnd = s12
  .replace('^^M20^20250317093000+0100^20250317095000+0100', '^^M20^20250317093000+0100')
  .replace('|20250317093000+0100|20250317095000+0100', '|20250317093000+0100|');

describe('the practitioner of an SIU', () => {
  it('comes from PV1-7 when the message has no AIP segment', () => {
    const { r, a } = appointmentOf(without(s12, 'AIP'));
    expect(r.records.find((x) => x.kind === 'Practitioner')?.externalId).toBe('819999900012');
    expect((a?.data as Appointment).participant).toContainEqual({
      actor: { reference: 'Practitioner/819999900012' },
      status: 'accepted',
    });
  });

  it('comes from SCH-16 when there is neither AIP nor PV1', () => {
    const { r } = appointmentOf(without(s12, 'AIP', 'PV1'));
    expect(r.records.find((x) => x.kind === 'Practitioner')?.externalId).toBe('819999900012');
  });

  it('is left out, the appointment applied and flagged practitioner-missing, when no segment names one', () => {
    const text = without(s12, 'AIP', 'PV1').replace(/\|819999900012\^DOCTEUR-FICTIF[^|]*\|/, '||');
    const { r, a } = appointmentOf(text);
    expect(r.records.map((x) => x.kind)).toEqual(['Patient', 'Appointment']);
    expect((a?.data as Appointment).participant.map((p) => p.actor?.reference)).toEqual([
      'Patient/IPP000101',
    ]);
    expect(a?.flags).toEqual(['practitioner-missing']);
    expect(r.issues).toContainEqual(
      expect.objectContaining({
        path: 'Practitioner.id',
        severity: 'warning',
        code: 'ERR_MAPPING_MISSING_ID',
      }),
    );
  });
});

describe('the end of an appointment', () => {
  it('is start + SCH-9 in its SCH-10 unit when the message gives no end', () => {
    const { a } = appointmentOf(noEnd.replace('|20|min^minute^UCUM|^^M20', '|1|h^hour^UCUM|^^M20'));
    expect([(a?.data as Appointment).start, (a?.data as Appointment).end]).toEqual([
      '2025-03-17T08:30:00.000Z',
      '2025-03-17T09:30:00.000Z',
    ]);
  });

  it('drops a duration in a unit it does not know, flagged, and falls back to the appointment type', () => {
    const { a } = appointmentOf(noEnd.replace('|20|min^minute^UCUM|^^M20', '|2|fortnight|^^M20'));
    expect(a?.flags).toContain('appointment-duration-dropped');
    // CONS-SUIVI: 20 minutes.
    expect((a?.data as Appointment).end).toBe('2025-03-17T08:50:00.000Z');
  });

  it('is start + the SCH-11.3 TQ duration when SCH-9 and TQ1-6 are empty', () => {
    // TQ1-6 is read before SCH-11.3 (SCH-11 is kept for backward compatibility only from v2.5).
    const { a } = appointmentOf(
      noEnd.replace('|20|min^minute^UCUM|^^M20', '|||^^H1').replace('|20^min&minute&UCUM|', '||'),
    );
    expect((a?.data as Appointment).end).toBe('2025-03-17T09:30:00.000Z');
  });

  it('is start + the resource segment duration (AIS-7/AIS-8) when SCH and TQ1 give none', () => {
    const text = without(noEnd.replace('|20|min^minute^UCUM|^^M20', '|||^^'), 'TQ1').replace(
      /(AIS\|[^\r]*\|\|\|)20(\|min)/,
      '$145$2',
    );
    expect((appointmentOf(text).a?.data as Appointment).end).toBe('2025-03-17T09:15:00.000Z');
  });

  it("is start + the appointment type's minutes when the message gives no duration at all", () => {
    // Every duration removed: SCH-9/10, SCH-11.3, TQ1, and the resource segments' (AIS-7, AIG-11, AIL-9, AIP-9).
    const text = without(noEnd.replace('|20|min^minute^UCUM|^^M20', '|||^^'), 'TQ1').replace(
      /\|\|\|20\|min\^minute\^UCUM\|\|Booked/g,
      '|||||Booked',
    );
    const { r, a } = appointmentOf(text);
    // CONS-SUIVI lasts 20 minutes (appointmentTypes of the profile).
    expect([(a?.data as Appointment).end, (a?.data as Appointment).minutesDuration]).toEqual([
      '2025-03-17T08:50:00.000Z',
      20,
    ]);
    expect(r.report.find((x) => x.rule === 'Appointment.end')).toMatchObject({
      status: 'defaulted',
      note: 'start + appointmentTypes[code=CONS-SUIVI].minutes',
    });
  });

  /** No duration anywhere and an appointment type the profile does not list. */
  const noDuration = without(noEnd.replace('|20|min^minute^UCUM|^^M20', '|||^^'), 'TQ1')
    .replace(/\|\|\|20\|min\^minute\^UCUM\|\|Booked/g, '|||||Booked')
    .replace('AIS|1|A|CONS-SUIVI^', 'AIS|1|A|VISITE^');

  it('is assumed at start + 15 minutes, flagged appointment-end-assumed with a warning, when nothing gives a duration: the appointment is kept', () => {
    const r = toCanonical(ihe, parseHl7(noDuration), test);
    expect(r.ok).toBe(true);
    const a = r.records.find((x) => x.kind === 'Appointment');
    expect([(a?.data as Appointment).start, (a?.data as Appointment).end]).toEqual([
      '2025-03-17T08:30:00.000Z',
      '2025-03-17T08:45:00.000Z',
    ]);
    expect(a?.flags).toContain('appointment-end-assumed');
    expect(r.issues).toContainEqual(
      expect.objectContaining({
        path: 'Appointment.end',
        severity: 'warning',
        code: 'ERR_MAPPING_RECORD_INVALID',
      }),
    );
    expect(r.report.find((x) => x.rule === 'Appointment.end')).toMatchObject({
      status: 'defaulted',
      canonicalPath: 'end',
    });
  });

  it("is assumed at start + the profile's defaultDurationMinutes when it sets one", () => {
    const plan = planFromText(
      [`extends: hl7v2-ihe-pam-fr`, 'name: long-visits', 'defaultDurationMinutes: 40'].join('\n'),
      'long-visits.yaml',
    );
    const a = toCanonical(plan, parseHl7(noDuration), test).records.find((x) => x.kind === 'Appointment');
    expect([(a?.data as Appointment).end, a?.flags?.includes('appointment-end-assumed')]).toEqual([
      '2025-03-17T09:10:00.000Z',
      true,
    ]);
  });

  it('is not assumed when the start is missing: the message is still refused for its start', () => {
    // Every start removed: SCH-11.4 and the resource segments' (AIS-4, AIG-8, AIL-6, AIP-6).
    const r = toCanonical(ihe, parseHl7(noDuration.replaceAll('20250317093000+0100', '')), test);
    expect(r.ok).toBe(false);
    expect(r.flags).not.toContain('appointment-end-assumed');
    expect(r.issues.filter((i) => i.severity === 'error').map((i) => i.path)).toContain('Appointment.start');
  });
});

describe('filler status codes', () => {
  it.each([
    ['BOOKED', 'booked'],
    ['booked', 'booked'],
    ['Dc', 'cancelled'],
    ['Overbook', 'booked'],
    ['No Show', 'noshow'],
    ['Checked In', 'checked-in'],
  ])('maps %s to %s whatever its case', (code, status) => {
    const { a } = appointmentOf(
      s12
        .replace('|||||Booked^Booked^HL70278\rTQ1', `|||||${code}^${code}^HL70278\rTQ1`)
        .replace(/(SCH\|[^\r]*\|)Booked\^Booked\^HL70278/, `$1${code}^x^HL70278`),
    );
    expect((a?.data as Appointment).status).toBe(status);
  });

  it('warns about an unknown code and takes the booked status of the trigger event instead of refusing', () => {
    const { r, a } = appointmentOf(
      s12.replace(/(SCH\|[^\r]*\|)Booked\^Booked\^HL70278/, '$1Maybe^Maybe^HL70278'),
    );
    expect((a?.data as Appointment).status).toBe('booked');
    expect(a?.flags).toContain('appointment-status-dropped');
    expect(r.issues).toContainEqual(
      expect.objectContaining({ path: 'status', severity: 'warning', code: 'ERR_MAPPING_UNMAPPED_CODE' }),
    );
    expect(JSON.stringify(r.issues)).not.toContain('Maybe');
  });
});

describe('secondary and identity values', () => {
  it('drops a phone number it cannot read, flags the patient and keeps the rest', () => {
    const a28 = readFileSync(fixturePath('hl7', 'adt-a28-create.hl7'), 'utf8').replace(
      '+33478123456',
      '04-78-XX',
    );
    const r = toCanonicalOrThrow(ihe, parseHl7(a28), test);
    const p = r.records[0];
    expect(p?.flags).toEqual(['patient-home-phone-dropped']);
    expect((p?.data as Patient).name?.[0]?.family).toBeDefined();
  });

  it('still refuses an appointment whose patient cannot be referenced', () => {
    const r = toCanonical(generic, parseHl7(s12.replace(/PID\|1\|\|[^|^]*/, 'PID|1||IPP 000101')), test);
    expect(r.error?.code).toBe('ERR_MAPPING_TRANSFORM');
    expect(r.error?.message).toMatch(/^patient \(PID-3\[1\]\.1\)/);
  });
});

describe('durations', () => {
  it.each([
    ['20', undefined, 20],
    ['20', 'min', 20],
    ['1', 'H', 60],
    ['1.5', 'hours', 90],
    ['90', 's', 2],
    ['1', 'wk', 10080],
    ['M30', undefined, 30],
    ['H2', undefined, 120],
    ['S1800', undefined, 30],
    [' 45 ', 'MIN', 45],
  ])('reads %s %s as %d minutes', (raw, unit, minutes) => {
    expect(durationMinutes(raw, unit)).toBe(minutes);
  });

  it.each([['abc'], ['0'], ['-5']])('refuses %s as a duration', (raw) => {
    expect(() => durationMinutes(raw)).toThrow(/duration/);
  });
});

describe('FHIR R4 patients through the shipped FR Core profile', () => {
  const fhir = shippedPlan('fhir-r4-fr-core');
  // The official R4 example Patient (test/fixtures/fhir/r4), edited as named in each test.
  const example = JSON.parse(readFileSync(fixturePath('fhir', 'r4', 'patient-example.json'), 'utf8')) as {
    resourceType: string;
    name: { use?: string }[];
  } & Record<string, unknown>;

  it('takes the first name as the official one when the names carry no use', () => {
    const names = example.name.map(({ use: _use, ...rest }) => rest);
    const r = toCanonicalOrThrow(fhir, { ...example, name: names }, test);
    expect((r.records[0]?.data as Patient).name).toEqual([
      { use: 'official', family: 'CHALMERS', given: ['Peter', 'James'] },
    ]);
  });

  it('accepts a patient with a non-French phone number: kept in E.164, kept as given when its form is unknown, dropped and flagged only when it is not a number', () => {
    const telecom = [
      { system: 'phone', value: '+1 (555) 010-0100', use: 'mobile' },
      { system: 'phone', value: '555-0100', use: 'home' },
      { system: 'phone', value: 'ask reception', use: 'work' },
    ];
    const r = toCanonicalOrThrow(fhir, { ...example, telecom }, test);
    expect((r.records[0]?.data as Patient).telecom).toEqual([
      { system: 'phone', use: 'mobile', value: '+15550100100' },
      { system: 'phone', use: 'home', value: '555-0100' },
    ]);
    expect(r.records[0]?.flags).toEqual(['patient-work-phone-dropped']);
    expect(r.issues).toContainEqual(expect.objectContaining({ path: 'work-phone', severity: 'warning' }));
  });
});

describe('flags on the record', () => {
  it("puts a rule's own flag on its kind's record: an SIU's unqualified INS flags the patient, not the appointment", () => {
    const r = toCanonicalOrThrow(ihe, parseHl7(s12.replace('|||VALI', '|||PROV')), test);
    expect(r.records.find((x) => x.kind === 'Patient')?.flags).toEqual(['ins-not-qualified']);
    expect(r.records.find((x) => x.kind === 'Appointment')?.flags).toBeUndefined();
  });
});
