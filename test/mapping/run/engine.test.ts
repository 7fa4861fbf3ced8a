/**
 * What the engine does beyond field rules: French identity rules, message rules (which trigger
 * produces what), outbound events, value maps, filters, FHIR updates that keep what is not
 * mapped, and reports that never carry patient data.
 */
import { readFileSync } from 'node:fs';

import { describe, expect, it } from '@jest/globals';

import type { ExternalRecord } from '../../../src/connector/contract.js';
import { parseHl7 } from '../../../src/hl7/index.js';
import {
  type CanonicalChange,
  type FhirResource,
  fromCanonical,
  loadProfileText,
  type MappingPlan,
  passesFilters,
  requirePlan,
  shippedPlan,
  shippedProfileText,
  toCanonical,
  toCanonicalOrThrow,
} from '../../../src/mapping/index.js';
import type { Appointment, Patient, Slot } from '../../../src/model/resources.js';
import { fixturePath, fixturePatients, identifyingValues } from '../../helpers/fixtures.js';

const ihe = shippedPlan('hl7v2-ihe-pam-fr');
const fhir = shippedPlan('fhir-r4-fr-core');
const test = { testLink: true, now: () => Date.parse('2025-03-18T10:00:00Z'), controlId: 'T-1' };
const hl7 = (file: string) => readFileSync(fixturePath('hl7', file));
const hl7Text = (file: string) => hl7(file).toString('utf8');
const json = <T>(...parts: string[]) => JSON.parse(readFileSync(fixturePath(...parts), 'utf8')) as T;
const withProfile = (base: string, edit: (text: string) => string): MappingPlan =>
  requirePlan(loadProfileText(edit(shippedProfileText(base)), { label: 'edited' }));
/** The record of one kind a message produced (SIU messages also name their practitioner). */
const recordOf = (records: readonly ExternalRecord[], kind: string) => records.find((x) => x.kind === kind);

describe('French identity rules (IHE PAM France)', () => {
  it('carries the INS with its OID as the official identifier when PID-32 is VALI', () => {
    const r = toCanonicalOrThrow(
      ihe,
      parseHl7(
        hl7('adt-a28-create.hl7')
          .toString('utf8')
          .replace('PROV', 'VALI')
          .replace(
            'IPP000303^^^CABINET-TEST&1.2.250.1.999.1.1&ISO^PI',
            'IPP000303^^^CABINET-TEST&1.2.250.1.999.1.1&ISO^PI~285037511234544^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.10&ISO^INS',
          ),
      ),
      test,
    );
    const p = r.records[0]?.data as Patient;
    expect(p.identifier?.find((i) => i.use === 'official')).toEqual({
      system: 'urn:oid:1.2.250.1.213.1.4.10',
      value: '285037511234544',
      use: 'official',
      type: {
        coding: [
          { system: 'https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203', code: 'INS-NIR-TEST' },
        ],
      },
    });
    expect(r.flags).toEqual([]);
  });

  it('drops the INS of an identity that is not qualified and flags the message', () => {
    const msg = parseHl7(hl7Text('adt-a04-registration-crlf.hl7').replace('|||VALI', '|||PROV'));
    const r = toCanonicalOrThrow(ihe, msg, test);
    const p = r.records[0]?.data as Patient;
    expect(p.identifier?.map((i) => i.system)).toEqual(['urn:oid:1.2.250.1.999.1.1']);
    expect(r.flags).toEqual(['ins-not-qualified']);
    expect(r.report.find((x) => x.rule === 'ins-nir-test')).toMatchObject({
      status: 'unmapped',
      note: 'dropped: condition not met, flag ins-not-qualified',
    });
  });

  it('refuses the INS test OID on a link that is not marked as test (the canonical validator decides)', () => {
    const r = toCanonical(ihe, parseHl7(hl7('adt-a04-registration-crlf.hl7')), { testLink: false });
    expect(r.ok).toBe(false);
    expect(r.error?.code).toBe('ERR_MAPPING_RECORD_INVALID');
    expect(r.issues.map((i) => i.path)).toEqual(['Patient.identifier[1].system']);
    expect(toCanonical(ihe, parseHl7(hl7('adt-a04-registration-crlf.hl7')), { testLink: true }).ok).toBe(
      true,
    );
  });

  it('reads the birth name (type L, upper case) and the used name (type D) into official and usual names', () => {
    const msg = parseHl7(
      hl7Text('adt-a31-update-custom-delimiters.hl7').replace('FICTIVE@Jeanne', 'Fictive@Jeanne'),
    );
    const p = toCanonicalOrThrow(ihe, msg, test).records[0]?.data as Patient;
    expect(p.name).toEqual([
      { use: 'official', family: 'FICTIVE', given: ['Jeanne', 'Jeanne Odile'] },
      { use: 'usual', family: 'IMAGINAIRE', given: ['Jeanne'] },
    ]);
    expect(p.telecom).toEqual([
      { system: 'phone', use: 'mobile', value: '+33612345678' },
      { system: 'email', value: 'jeanne.fictive@example.org' },
    ]);
  });

  it('identifies a patient known only by its INS by the INS, and references it from the appointment', () => {
    const r = toCanonicalOrThrow(ihe, parseHl7(hl7('siu-s13-reschedule.hl7')), test);
    expect(r.records.map((x) => [x.kind, x.externalId])).toEqual([
      ['Practitioner', '819999900012'],
      ['Patient', '179016912345677'],
      ['Appointment', 'RDV000124'],
    ]);
    expect((recordOf(r.records, 'Appointment')?.data as Appointment).participant[0]).toEqual({
      actor: { reference: 'Patient/179016912345677' },
      status: 'accepted',
    });
  });
});

describe('message rules', () => {
  it('turns SIU^S12 into a patient and a booked appointment in UTC', () => {
    const r = toCanonicalOrThrow(ihe, parseHl7(hl7('siu-s12-new-appointment.hl7')), test);
    const a = recordOf(r.records, 'Appointment')?.data as Appointment;
    expect(r.messageType).toBe('SIU^S12');
    expect(a).toMatchObject({
      resourceType: 'Appointment',
      id: 'RDV000123',
      status: 'booked',
      start: '2025-03-17T08:30:00.000Z',
      end: '2025-03-17T08:50:00.000Z',
      minutesDuration: 20,
    });
    expect(a.participant.map((p) => p.actor?.reference)).toEqual([
      'Patient/IPP000101',
      'Practitioner/819999900012',
    ]);
    expect(recordOf(r.records, 'Appointment')?.updatedAt).toBe('2025-03-16T17:45:12.000Z');
    expect(recordOf(r.records, 'Practitioner')?.data).toMatchObject({
      identifier: [{ system: 'urn:oid:1.2.250.1.71.4.2.1', value: '819999900012', use: 'official' }],
      name: [{ use: 'official', family: 'DOCTEUR-FICTIF', given: ['Alice'], prefix: ['DR'] }],
      active: true,
    });
  });

  it('cancels on SIU^S15, deletes (tombstone) on S17, marks a no-show on S26', () => {
    const s15 = recordOf(
      toCanonicalOrThrow(ihe, parseHl7(hl7('siu-s15-cancel-latin1.hl7')), test).records,
      'Appointment',
    );
    expect([s15?.data.resourceType, (s15?.data as Appointment).status, s15?.deleted]).toEqual([
      'Appointment',
      'cancelled',
      undefined,
    ]);
    expect((s15?.data as Appointment).serviceType?.[0]?.coding?.[0]?.display).toBe('Échographie abdominale');
    const s17 = toCanonicalOrThrow(ihe, parseHl7(hl7('siu-s17-delete-v23.hl7')), test).records.find(
      (x) => x.kind === 'Appointment',
    );
    expect([s17?.deleted, (s17?.data as Appointment).status, (s17?.data as Appointment).start]).toEqual([
      true,
      'cancelled',
      '2025-03-19T09:00:00.000Z',
    ]);
    const s26 = recordOf(
      toCanonicalOrThrow(ihe, parseHl7(hl7('siu-s26-noshow-zsegment.hl7')), test).records,
      'Appointment',
    );
    expect((s26?.data as Appointment).status).toBe('noshow');
  });

  it("makes a blocked slot of SIU^S23 in its practitioner's agenda and frees it on S24", () => {
    const s23 = toCanonicalOrThrow(ihe, parseHl7(hl7('siu-s23-blocked-slot.hl7')), test).records;
    expect(s23.map((x) => [x.kind, x.externalId])).toEqual([
      ['Practitioner', '819999900012'],
      ['Schedule', 'AGENDA-ALICE'],
      ['Slot', 'PLG-0042'],
    ]);
    const slot = recordOf(s23, 'Slot')?.data as Slot;
    expect([slot.status, slot.schedule.reference]).toEqual(['busy-unavailable', 'Schedule/AGENDA-ALICE']);
    expect(recordOf(s23, 'Schedule')?.data).toMatchObject({
      actor: [{ reference: 'Practitioner/819999900012' }],
      active: true,
    });
    const s24 = toCanonicalOrThrow(ihe, parseHl7(hl7('siu-s24-unblocked-slot.hl7')), test).records;
    expect((recordOf(s24, 'Slot')?.data as Slot).status).toBe('free');
  });

  it('lists the ids a merged patient replaces (ADT^A40 MRG-1)', () => {
    const r = toCanonicalOrThrow(ihe, parseHl7(hl7('adt-a40-merge.hl7')), test);
    expect(r.records.map((x) => [x.externalId, x.supersedes])).toEqual([['IPP000101', ['IPP000199']]]);
    expect(
      toCanonicalOrThrow(ihe, parseHl7(hl7('adt-a47-identifier-change.hl7')), test).records[0]?.supersedes,
    ).toEqual(['IPP000110']);
  });

  it('refuses a trigger event the profile does not accept, naming the ones it does', () => {
    const msg = parseHl7(hl7Text('adt-a28-create.hl7').replace('ADT^A28^ADT_A05', 'ADT^A02^ADT_A02'));
    const r = toCanonical(ihe, msg, test);
    expect(r.error?.code).toBe('ERR_MAPPING_UNSUPPORTED_MESSAGE');
    expect(r.error?.message).toMatch(
      /^profile hl7v2-ihe-pam-fr accepts no ADT\^A02 message \(accepted: SIU\^S12, /,
    );
  });

  it('refuses a message without the record id, naming the path', () => {
    const msg = parseHl7(hl7Text('siu-s24-unblocked-slot.hl7').replace('PLG-0042^LOGICIEL-CABINET', ''));
    const r = toCanonical(ihe, msg, test);
    expect(r.error?.code).toBe('ERR_MAPPING_MISSING_ID');
    expect(r.report.find((x) => x.status === 'error')).toMatchObject({
      rule: 'Slot.id',
      protocolPath: 'SCH-2.1',
      status: 'error',
    });
  });
});

describe('value maps and transforms at run time', () => {
  it('writes the default of an unmapped code and reports it defaulted', () => {
    const r = toCanonicalOrThrow(
      ihe,
      parseHl7(hl7Text('adt-a28-create.hl7').replace('|19920507|F|', '|19920507|X|')),
      test,
    );
    expect((r.records[0]?.data as Patient).gender).toBe('unknown');
    expect(r.report.find((x) => x.rule === 'sex')).toMatchObject({
      status: 'defaulted',
      note: 'code not in sex: default',
    });
  });

  it('drops a secondary value that cannot be transformed, flags it and warns, without quoting the value', () => {
    const r = toCanonical(
      ihe,
      parseHl7(hl7Text('adt-a28-create.hl7').replace('+33478123456', '04-78-XX')),
      test,
    );
    expect(r.ok).toBe(true);
    expect(r.flags).toContain('patient-home-phone-dropped');
    expect(r.issues).toContainEqual(
      expect.objectContaining({ path: 'home-phone', severity: 'warning', code: 'ERR_MAPPING_TRANSFORM' }),
    );
    expect(JSON.stringify(r.issues)).not.toContain('04-78');
    expect(
      ((recordOf(r.records, 'Patient')?.data as Patient).telecom ?? []).some((t) => t.use === 'home'),
    ).toBe(false);
  });

  it('fails a message whose start cannot be read, without quoting the value', () => {
    // Without TQ1 (read before SCH-11 since issue 18), as a v2.3/v2.4 sender writes it.
    const text = hl7Text('siu-s12-new-appointment.hl7')
      .replace(/\^\^M20\^20250317093000\+0100/, '^^M20^2025-03-17')
      .replace(/\rTQ1\|[^\r]*/, '');
    const r = toCanonical(ihe, parseHl7(text), test);
    expect(r.error?.code).toBe('ERR_MAPPING_TRANSFORM');
    expect(r.error?.message).toMatch(/^start \(SCH-11\.4\): not an HL7 date\/time/);
  });

  it('reads times without offset in the practice zone given by the link', () => {
    const r = toCanonicalOrThrow(ihe, parseHl7(hl7('siu-s17-delete-v23.hl7')), {
      ...test,
      timezone: 'America/Martinique',
    });
    expect((recordOf(r.records, 'Appointment')?.data as Appointment).start).toBe('2025-03-19T14:00:00.000Z');
  });
});

describe('outbound HL7 messages', () => {
  const s12 = toCanonicalOrThrow(ihe, parseHl7(hl7('siu-s12-new-appointment.hl7')), test);
  const patient = recordOf(s12.records, 'Patient');
  const appt = recordOf(s12.records, 'Appointment')?.data as Appointment;
  const change = (over: Partial<CanonicalChange>): CanonicalChange => ({
    op: 'upsert',
    kind: 'Appointment',
    externalId: 'RDV000123',
    data: appt,
    base: appt,
    related: patient ? [{ data: patient.data, externalId: patient.externalId }] : [],
    ...over,
  });

  it.each([
    ['a new booking', { base: null }, 'created', 'SIU^S12'],
    [
      'a move',
      { data: { ...appt, start: '2025-03-17T09:00:00.000Z', end: '2025-03-17T09:20:00.000Z' } },
      'moved',
      'SIU^S13',
    ],
    ['a modification', { data: { ...appt, comment: 'Apporter les résultats' } }, 'modified', 'SIU^S14'],
    ['a cancellation', { op: 'cancel', data: { ...appt, status: 'cancelled' } }, 'cancelled', 'SIU^S15'],
    ['a no-show', { data: { ...appt, status: 'noshow' } }, 'noshow', 'SIU^S26'],
    ['a deletion', { op: 'delete' }, 'deleted', 'SIU^S17'],
  ] as const)('sends %s as %s → %s', (_what, over, event, type) => {
    const r = fromCanonical(ihe, change(over as Partial<CanonicalChange>), test);
    expect([r.event, r.hl7?.messageType]).toEqual([event, type]);
    const msg = parseHl7(r.hl7?.bytes ?? Buffer.alloc(0));
    expect(msg.header.messageType).toBe(type);
    expect(msg.get('MSH-10')).toBe('T-1');
    expect(msg.get('SCH-2')).toBe('RDV000123');
  });

  it('writes times in the practice zone, the status through the value map, and the patient from the related record', () => {
    const r = fromCanonical(ihe, change({ data: { ...appt, status: 'cancelled' } }), test);
    const msg = parseHl7(r.hl7?.bytes ?? Buffer.alloc(0));
    expect([
      msg.get('SCH-11.4'),
      msg.get('TQ1-7'),
      msg.get('SCH-25'),
      msg.get('PID-3[1].1'),
      msg.get('PID-3[1].4.2'),
      msg.get('PID-32'),
    ]).toEqual([
      '20250317093000+0100',
      '20250317093000+0100',
      'Cancelled',
      'IPP000101',
      '1.2.250.1.999.1.1',
      'VALI',
    ]);
    expect(msg.segments().map((s) => s.name)).toEqual(['MSH', 'SCH', 'TQ1', 'NTE', 'PID', 'AIS', 'AIP']);
  });

  it("gives a booking the practice has no id for yet passerelle's id as placer id (SCH-1)", () => {
    const r = fromCanonical(
      ihe,
      change({ externalId: null, canonicalId: 'c-7f3a', base: null, data: { ...appt, id: 'c-7f3a' } }),
      test,
    );
    const msg = parseHl7(r.hl7?.bytes ?? Buffer.alloc(0));
    expect([msg.get('SCH-1'), msg.get('SCH-2')]).toEqual(['c-7f3a', undefined]);
  });

  it('flags a message rendered without its related patient', () => {
    const r = fromCanonical(ihe, change({ related: [] }), test);
    expect(r.ok).toBe(true);
    expect(parseHl7(r.hl7?.bytes ?? Buffer.alloc(0)).segments('PID')).toEqual([]);
    expect(r.report.find((x) => x.rule === 'messages.outbound.Appointment.include')).toMatchObject({
      status: 'unmapped',
      kind: 'Patient',
    });
  });

  it('refuses an event the profile names no message for', () => {
    const r = fromCanonical(
      ihe,
      { op: 'delete', kind: 'Patient', externalId: 'IPP000101', data: patient?.data as Patient, base: null },
      test,
    );
    expect(r.error?.code).toBe('ERR_MAPPING_NO_OUTBOUND');
    expect(r.error?.message).toBe(
      'profile hl7v2-ihe-pam-fr names no outbound message for Patient deleted (messages.outbound.Patient.events.deleted)',
    );
  });

  it('sends a patient update as ADT^A31 and a call message as MDM^T02', () => {
    expect(
      fromCanonical(
        ihe,
        {
          op: 'upsert',
          kind: 'Patient',
          externalId: 'IPP000101',
          data: patient?.data as Patient,
          base: patient?.data as Patient,
        },
        test,
      ).hl7?.messageType,
    ).toBe('ADT^A31');
    const msg = json<Record<string, unknown>>('mappings', 'samples', 'communication-urgent.json');
    const r = fromCanonical(
      ihe,
      {
        op: 'upsert',
        kind: 'Communication',
        externalId: null,
        canonicalId: 'c-msg-1',
        data: msg as never,
        base: null,
      },
      test,
    );
    const m = parseHl7(r.hl7?.bytes ?? Buffer.alloc(0));
    expect([
      r.hl7?.messageType,
      m.get('TXA-12'),
      m.get('OBX[1]-5'),
      m.get('OBX[2]-5')?.slice(0, 20),
      m.get('TXA-17'),
    ]).toEqual(['MDM^T02', 'c-msg-1', 'URGENT', 'Rappeler Mme FICTIVE', 'AU']);
  });
});

describe('filters', () => {
  const filtered = withProfile('hl7v2-ihe-pam-fr', (t) =>
    t.replace(
      '# Every practitioner and every',
      'filters:\n  practitioners: { include: ["819999900099"] }\n  appointmentTypes: { exclude: [ECHO] }\n# Every practitioner and every',
    ),
  );

  it('keeps appointments of other practitioners or excluded types from syncing, both ways', () => {
    const r = toCanonicalOrThrow(filtered, parseHl7(hl7('siu-s12-new-appointment.hl7')), test);
    expect(r.records.map((x) => x.kind)).toEqual(['Patient']);
    expect(r.filtered).toEqual([
      {
        kind: 'Practitioner',
        externalId: '819999900012',
        reason: "practitioner not in the profile's filters",
      },
      { kind: 'Appointment', externalId: 'RDV000123', reason: "practitioner not in the profile's filters" },
    ]);
    expect(r.flags).toEqual(['filtered']);
    const appt = recordOf(
      toCanonicalOrThrow(ihe, parseHl7(hl7('siu-s15-cancel-latin1.hl7')), test).records,
      'Appointment',
    )?.data as Appointment;
    expect(
      passesFilters(filtered, {
        ...appt,
        participant: [{ actor: { reference: 'Practitioner/819999900099' }, status: 'accepted' }],
      }),
    ).toEqual({ pass: false, reason: "appointment type excluded by the profile's filters" });
    expect(
      fromCanonical(
        filtered,
        { op: 'upsert', kind: 'Appointment', externalId: 'RDV000126', data: appt, base: null },
        test,
      ),
    ).toMatchObject({ ok: true, skipped: "practitioner not in the profile's filters" });
  });
});

describe('FHIR updates', () => {
  const current = json<FhirResource>('fhir', 'r4', 'appointment-example.json');
  const mapped = toCanonicalOrThrow(fhir, current, test).records[0]?.data as Appointment;

  it("sets only mapped elements on the server's current resource and keeps the rest as it is", () => {
    const data: Appointment = {
      ...mapped,
      status: 'cancelled',
      start: '2013-12-10T10:00:00.000Z',
      end: '2013-12-10T12:00:00.000Z',
    };
    const r = fromCanonical(
      fhir,
      { op: 'cancel', kind: 'Appointment', externalId: 'example', data, base: mapped },
      test,
      current,
    );
    const out = r.fhir as FhirResource;
    expect([out['status'], out['start'], out['end']]).toEqual([
      'cancelled',
      '2013-12-10T10:00:00.000Z',
      '2013-12-10T12:00:00.000Z',
    ]);
    for (const key of ['text', 'serviceCategory', 'specialty', 'reasonReference', 'priority', 'basedOn'])
      expect(out[key]).toEqual(current[key]);
    expect((out['participant'] as unknown[])[2]).toEqual((current['participant'] as unknown[])[2]);
    expect((out['participant'] as { actor: { display?: string } }[])[0]?.actor.display).toBe(
      'Peter James Chalmers',
    );
  });

  it('removes a mapped element only when the canonical side cleared it since the last sync', () => {
    const { comment: _dropped, ...withoutComment } = mapped;
    const cleared = fromCanonical(
      fhir,
      { op: 'upsert', kind: 'Appointment', externalId: 'example', data: withoutComment, base: mapped },
      test,
      current,
    );
    expect(cleared.fhir?.['comment']).toBeUndefined();
    expect(cleared.report.find((x) => x.protocolPath === 'comment')).toMatchObject({
      status: 'mapped',
      note: 'removed: cleared on the canonical side',
    });
    const neverHad = fromCanonical(
      fhir,
      {
        op: 'upsert',
        kind: 'Appointment',
        externalId: 'example',
        data: withoutComment,
        base: withoutComment,
      },
      test,
      current,
    );
    expect(neverHad.fhir?.['comment']).toBe(current['comment']);
  });

  it('drops the whole phone entry, not only its number, when the canonical side replaced a home phone by a mobile one', () => {
    // Issue 9, e2e scenario 4: an agent replaced the patient's home phone by a mobile number.
    const server: FhirResource = {
      resourceType: 'Patient',
      id: 'pat-1',
      name: [{ use: 'official', family: 'FICTIF', given: ['Dominique'] }],
      telecom: [
        { system: 'phone', value: '+33140000003', use: 'home' },
        { system: 'email', value: 'dominique@example.org' },
        { system: 'phone', value: '+33140000009', use: 'home', period: { start: '2020-01-01' } },
      ],
    };
    const base = toCanonicalOrThrow(
      fhir,
      { ...server, telecom: (server['telecom'] as unknown[]).slice(0, 2) },
      test,
    ).records[0]?.data as Patient;
    const data: Patient = {
      ...base,
      telecom: [
        { system: 'phone', value: '+33601020303', use: 'mobile' },
        { system: 'email', value: 'dominique@example.org' },
      ],
    };
    const out = fromCanonical(
      fhir,
      { op: 'upsert', kind: 'Patient', externalId: 'pat-1', data, base },
      test,
      { ...server, telecom: (server['telecom'] as unknown[]).slice(0, 2) },
    ).fhir as FhirResource;
    expect(out['telecom']).toEqual([
      { system: 'email', value: 'dominique@example.org' },
      { system: 'phone', use: 'mobile', value: '+33601020303' },
    ]);
    // An entry holding more than passerelle writes (here a period) is the practice's: only its number goes.
    const kept = fromCanonical(
      fhir,
      { op: 'upsert', kind: 'Patient', externalId: 'pat-1', data, base },
      test,
      { ...server, telecom: [(server['telecom'] as unknown[])[2]] },
    ).fhir as FhirResource;
    expect(kept['telecom']).toEqual([
      { system: 'phone', use: 'home', period: { start: '2020-01-01' } },
      { system: 'phone', use: 'mobile', value: '+33601020303' },
      { system: 'email', value: 'dominique@example.org' },
    ]);
  });

  it("maps the practice's visit-type codes to the catalogue and back", () => {
    const appt = json<FhirResource>('fhir', 'fr-core', 'appointment.json');
    const r = toCanonicalOrThrow(fhir, appt, test);
    expect((r.records[0]?.data as Appointment).serviceType).toEqual([
      {
        coding: [
          { code: 'CONS', system: 'https://fhir.passerelle.fr/CodeSystem/secretariat-appointment-type' },
        ],
      },
    ]);
    const back = fromCanonical(
      fhir,
      {
        op: 'upsert',
        kind: 'Appointment',
        externalId: 'fr-rdv-jeanne',
        data: r.records[0]?.data as Appointment,
        base: null,
      },
      test,
    );
    expect(back.fhir?.['serviceType']).toEqual([
      { coding: [{ code: 'CONSULT', system: 'urn:oid:1.2.250.1.999.1.4' }] },
    ]);
    expect(r.records[0]?.version).toBeUndefined();
  });

  it('takes the record version from meta.versionId for If-Match', () => {
    const r = toCanonicalOrThrow(
      fhir,
      { ...current, meta: { versionId: '7', lastUpdated: '2025-03-17T08:00:00Z' } },
      test,
    );
    expect([r.records[0]?.version, r.records[0]?.updatedAt]).toEqual(['7', '2025-03-17T08:00:00Z']);
  });
});

describe('reports and errors carry no patient data', () => {
  it('names rules and paths only, for every sample of every profile', () => {
    const values = fixturePatients()
      .flatMap(identifyingValues)
      .filter((v) => v.length > 3);
    const outputs: unknown[] = [];
    for (const file of [
      'siu-s12-new-appointment.hl7',
      'adt-a04-registration-crlf.hl7',
      'siu-s13-reschedule.hl7',
    ]) {
      const r = toCanonical(ihe, parseHl7(hl7(file)), { testLink: false, inventory: true });
      outputs.push(r.report, r.issues, r.error?.message, r.flags);
    }
    const bad = toCanonical(
      ihe,
      parseHl7(
        hl7Text('adt-a04-registration-crlf.hl7').replace('+33612345678', '0612XX').replace('|F|', '|Q|'),
      ),
      test,
    );
    outputs.push(bad.report, bad.issues, bad.error?.message, bad.error?.issues);
    const text = JSON.stringify(outputs);
    expect(values.filter((v) => text.includes(v))).toEqual([]);
    expect(text).not.toContain('0612XX');
  });
});
