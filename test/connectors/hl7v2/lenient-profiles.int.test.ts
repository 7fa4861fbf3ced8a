/**
 * Issue 18, point 1: lenient on structure, strict on identity and time. Real messages published
 * by others (test/fixtures/hl7/real/README.md gives each one's source and the edits made to it)
 * go over MLLP to an hl7v2 link running the shipped generic profile through the real connector,
 * mapping engine and sync engine, on both stores. A message is rejected only for a missing
 * identity or start; anything else that fails a check is dropped or defaulted, flagged on the
 * record (its audit event) and the rest applied.
 *
 * The messages carry no MSH-15/MSH-16 (v2.3/v2.4 original mode): the ACK tells the application
 * outcome, AA applied, AE refused.
 */
import { readFileSync } from 'node:fs';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { profileTranslatorFactory } from '../../../connectors/hl7v2/index.js';
import type { Appointment, Patient, ResourceKind } from '../../../src/model/resources.js';
import { fixturePath } from '../../helpers/fixtures.js';
import {
  type Hl7LinkHarness,
  listenConfig,
  parseAck,
  RawMllpSocket,
  startHl7Link,
  withControlId,
} from '../../helpers/hl7.js';
import { setField } from '../../helpers/hl7-text.js';
import { STORE_KINDS } from '../../helpers/stores.js';

const real = (name: string): string => readFileSync(fixturePath('hl7', 'real', name), 'latin1');
const ORSOS = real('hapi-orsos-siu-s14-v23.hl7');
const PKB = real('pkb-siu-s12-v24.hl7');
const A01 = real('hapi-docs-adt-a01-v24.hl7');

/** The segments of a message without those named. */
const without = (text: string, ...names: string[]): string =>
  text
    .split('\r')
    .filter((s) => !names.includes(s.slice(0, 3)))
    .join('\r');
describe.each(STORE_KINDS)('real HL7 v2 messages through the shipped generic profile (%s store)', (kind) => {
  let h: Hl7LinkHarness;
  let socket: RawMllpSocket;
  let seq = 0;

  beforeAll(async () => {
    h = await startHl7Link({
      kind,
      config: listenConfig(),
      profile: 'hl7v2-generic-2.5',
      connectorOptions: { translator: profileTranslatorFactory() },
    });
    socket = await RawMllpSocket.connect(h.port);
  }, 30_000);
  afterAll(async () => {
    socket?.destroy();
    await h?.dispose();
  });

  /** Sends the text with a fresh control id; the ACK code and ERR-8 (the reason) if any. */
  const send = async (text: string): Promise<{ code: string | undefined; reason: string | undefined }> => {
    const a = parseAck(
      await socket.request(withControlId(Buffer.from(text, 'latin1'), `LEN-${kind}-${++seq}`)),
    );
    return { code: a.code, reason: a.message.get('ERR-8') ?? a.message.get('MSA-3') };
  };
  const record = async <T>(k: ResourceKind, externalId: string): Promise<T & { id: string }> => {
    const id = await h.store.identityMap.findCanonical(h.link.id, k, externalId);
    if (id === undefined) throw new Error(`no ${k} ${externalId} on the link`);
    return (await h.store.resources.get(id))?.data as unknown as T & { id: string };
  };
  /** The mapping flags of the record's last applied change (its sync.apply audit event). */
  const flagsOf = async (k: ResourceKind, externalId: string): Promise<string[]> => {
    const id = await h.store.identityMap.findCanonical(h.link.id, k, externalId);
    const events = await h.store.audit.list({ resourceId: id as string, action: 'sync.apply' });
    return ((events[events.length - 1]?.details as { flags?: string[] } | undefined)?.flags ?? []).slice();
  };
  const practitionerOf = (a: Appointment): string | undefined =>
    a.participant.find((p) => p.actor?.reference?.startsWith('Practitioner/'))?.actor?.reference;

  it('applies a real SIU^S14 without filler status as booked, its end from SCH-9 in SCH-10 minutes (HAPI, ORSOS v2.3)', async () => {
    expect(await send(ORSOS)).toEqual({ code: 'AA', reason: undefined });
    const a = await record<Appointment>('Appointment', '569576');
    // 16:10 in Paris (CEST), 379 minutes long.
    expect([a.status, a.start, a.end, a.minutesDuration]).toEqual([
      'booked',
      '2010-04-07T14:10:00.000Z',
      '2010-04-07T20:29:00.000Z',
      379,
    ]);
    const practitioner = await record<{ name?: { family?: string }[] }>('Practitioner', '51873');
    expect(practitionerOf(a)).toBe(`Practitioner/${practitioner.id}`);
    expect(practitioner.name?.[0]?.family).toBe('FICTIF');
  });

  it('takes the practitioner from AIG when there is no AIP, then PV1-7, then SCH-16', async () => {
    // Edits of the ORSOS message: its AIP segments (and first AIG) gone, then every AIG, then PV1.
    const noAip = without(ORSOS, 'AIP').replace('AIG|1|1|51873|STAFF|||||20100407164000\r', '');
    expect(await send(setField(noAip, 'SCH', 2, 'AIG-CASE'))).toEqual({ code: 'AA', reason: undefined });
    expect(practitionerOf(await record<Appointment>('Appointment', 'AIG-CASE'))).toBe(
      `Practitioner/${(await record<object>('Practitioner', '33043')).id}`,
    );

    const noAig = without(ORSOS, 'AIP', 'AIG');
    expect(await send(setField(noAig, 'SCH', 2, 'PV1-CASE'))).toEqual({ code: 'AA', reason: undefined });
    expect(practitionerOf(await record<Appointment>('Appointment', 'PV1-CASE'))).toBe(
      `Practitioner/${(await record<object>('Practitioner', '51873')).id}`,
    );

    const noPv1 = without(ORSOS, 'AIP', 'AIG', 'PV1');
    expect(await send(setField(noPv1, 'SCH', 2, 'SCH16-CASE'))).toEqual({ code: 'AA', reason: undefined });
    // ORSOS fills SCH-16 (filler contact person) with its user code.
    expect(practitionerOf(await record<Appointment>('Appointment', 'SCH16-CASE'))).toBe(
      `Practitioner/${(await record<object>('Practitioner', 'ADS')).id}`,
    );
  });

  it('applies an SIU^S12 whose AIP names nobody by id without a practitioner, flagged practitioner-missing (PKB)', async () => {
    expect(await send(PKB)).toEqual({ code: 'AA', reason: undefined });
    const a = await record<Appointment>('Appointment', 'ID123');
    // Minute precision, Paris winter time.
    expect([a.status, a.start, a.end, practitionerOf(a)]).toEqual([
      'booked',
      '2014-11-20T11:31:00.000Z',
      '2014-11-20T11:32:00.000Z',
      undefined,
    ]);
    expect(await flagsOf('Appointment', 'ID123')).toEqual(
      expect.arrayContaining(['practitioner-missing', 'created']),
    );
    expect((await record<Patient>('Patient', '9999999999')).name?.[0]?.family).toBe('FICTIVE');
  });

  it('reads timestamps with trailing spaces, seconds, a fraction and an offset', async () => {
    const edited = setField(
      setField(PKB, 'SCH', 1, 'TS-CASE'),
      'SCH',
      11,
      '^^^201411201231 ^20141120123200.5+0000 ',
    );
    expect(await send(edited)).toEqual({ code: 'AA', reason: undefined });
    const a = await record<Appointment>('Appointment', 'TS-CASE');
    expect([a.start, a.end]).toEqual(['2014-11-20T11:31:00.000Z', '2014-11-20T12:32:00.500Z']);
  });

  it('keeps a booked appointment whose end nothing gives, its end assumed at start + 15 minutes, flagged appointment-end-assumed', async () => {
    // Edit of the PKB message: SCH-11 keeps its start only (no end, and PKB sends no duration or appointment type).
    const edited = setField(setField(PKB, 'SCH', 1, 'END-ASSUMED'), 'SCH', 11, '^^^201411201231');
    expect(await send(edited)).toEqual({ code: 'AA', reason: undefined });
    const a = await record<Appointment>('Appointment', 'END-ASSUMED');
    expect([a.status, a.start, a.end]).toEqual([
      'booked',
      '2014-11-20T11:31:00.000Z',
      '2014-11-20T11:46:00.000Z',
    ]);
    expect(await flagsOf('Appointment', 'END-ASSUMED')).toEqual(
      expect.arrayContaining(['appointment-end-assumed', 'created']),
    );
    // The message's outcome carries the flag too (applied with warnings).
    const inbox = await h.store.inbox.list({ linkId: h.link.id });
    expect(inbox.find((m) => m.flags.includes('appointment-end-assumed'))).toBeDefined();
  });

  it('maps filler status codes whatever their case; an unknown one is flagged and the trigger event decides', async () => {
    expect(await send(setField(setField(ORSOS, 'SCH', 2, 'ST-UPPER'), 'SCH', 25, 'NOSHOW'))).toEqual({
      code: 'AA',
      reason: undefined,
    });
    expect((await record<Appointment>('Appointment', 'ST-UPPER')).status).toBe('noshow');

    expect(await send(setField(setField(ORSOS, 'SCH', 2, 'ST-UNKNOWN'), 'SCH', 25, 'Tentative'))).toEqual({
      code: 'AA',
      reason: undefined,
    });
    expect((await record<Appointment>('Appointment', 'ST-UNKNOWN')).status).toBe('booked');
    expect(await flagsOf('Appointment', 'ST-UNKNOWN')).toContain('appointment-status-dropped');

    // An S15 whose filler status the map does not know: the trigger says cancelled.
    const s15 = setField(setField(ORSOS, 'SCH', 25, 'CANCELED-BY-CLINIC'), 'MSH', 8, 'SIU^S15');
    expect(await send(s15)).toEqual({ code: 'AA', reason: undefined });
    expect((await record<Appointment>('Appointment', '569576')).status).toBe('cancelled');

    const s16 = setField(setField(setField(ORSOS, 'SCH', 2, 'ST-S16'), 'SCH', 25, 'Dc'), 'MSH', 8, 'SIU^S16');
    expect(await send(s16)).toEqual({ code: 'AA', reason: undefined });
    expect((await record<Appointment>('Appointment', 'ST-S16')).status).toBe('cancelled');
  });

  it('takes an ADT^A01 as a patient update (HAPI documentation example)', async () => {
    expect(await send(A01)).toEqual({ code: 'AA', reason: undefined });
    const p = await record<Patient>('Patient', '2216506');
    expect([p.name?.[0]?.family, p.name?.[0]?.given, p.birthDate, p.gender]).toEqual([
      'Duck',
      ['Donald'],
      '1972-02-27',
      'male',
    ]);
  });

  it('reads phone numbers in the country of the patient: +1 for the Toronto A01, British numbers of PKB kept as given, never as French', async () => {
    const a01 = setField(A01, 'PID', 3, '2216508^');
    expect(await send(a01)).toEqual({ code: 'AA', reason: undefined });
    expect((await record<Patient>('Patient', '2216508')).telecom).toEqual([
      { system: 'phone', use: 'home', value: '+14161111111' },
    ]);
    expect(await flagsOf('Patient', '2216508')).not.toContain('patient-home-phone-dropped');
    // PKB (unedited phones, 07700 900xxx; its address is Jeanne's, in FRA): not French by form.
    const pkb = setField(setField(PKB, 'SCH', 1, 'PHONES'), 'PID', 3, 'PKB-PHONES^^^NHS^NH');
    expect(await send(pkb)).toEqual({ code: 'AA', reason: undefined });
    expect(
      (await record<Patient>('Patient', 'PKB-PHONES')).telecom
        ?.filter((t) => t.system === 'phone')
        .map((t) => t.value),
    ).toEqual(['07700900123', '07700900456', '07700900789']);
  });

  it('keeps PID-3 identifiers of assigning authorities the profile does not name, with their system and assigner, unflagged', async () => {
    // Edit of ORSOS: its own appointment id, and PID-3 with two more repetitions (a namespace only, an ISO OID).
    const edited = setField(
      setField(ORSOS, 'SCH', 2, 'OTHER-IDS'),
      'PID',
      3,
      'OTHER-IDS-1~A123^^^OTHERHOSP^MR~B456^^^&2.16.840.1.113883.19.5&ISO^PI',
    );
    expect(await send(edited)).toEqual({ code: 'AA', reason: undefined });
    const p = await record<Patient>('Patient', 'OTHER-IDS-1');
    expect(
      p.identifier
        ?.filter((i) => ['A123', 'B456'].includes(i.value))
        .map((i) => [i.system, i.value, i.assigner?.display]),
    ).toEqual([
      ['https://fhir.passerelle.fr/NamingSystem/hl7v2-assigning-authority/OTHERHOSP', 'A123', 'OTHERHOSP'],
      ['urn:oid:2.16.840.1.113883.19.5', 'B456', undefined],
    ]);
    expect((await flagsOf('Patient', 'OTHER-IDS-1')).filter((f) => f.endsWith('-dropped'))).toEqual([]);
  });

  it('keeps a patient whose birth date cannot be read, without it and flagged, and says which value it dropped', async () => {
    const edited = setField(setField(A01, 'PID', 3, '2216507^'), 'PID', 7, '1972-02-27');
    expect(await send(edited)).toEqual({ code: 'AA', reason: undefined });
    const p = await record<Patient>('Patient', '2216507');
    expect([p.name?.[0]?.family, p.birthDate]).toEqual(['Duck', undefined]);
    expect(await flagsOf('Patient', '2216507')).toContain('patient-birth-date-dropped');
  });

  it('keeps a merged-away id resolving to the survivor when the survivor of an ADT^A40 is new: never a second patient', async () => {
    // The HAPI A01 under the id the A40 merges away, then the project's A40 fixture (original
    // mode) whose survivor passerelle has never seen, then the A01 again under the old id.
    const old = setField(A01, 'PID', 3, 'MRG-OLD^');
    expect(await send(old)).toEqual({ code: 'AA', reason: undefined });
    const a40 = readFileSync(fixturePath('hl7', 'adt-a40-merge.hl7'), 'latin1')
      .replace(/\r\n?|\n/g, '\r')
      .replace('IPP000101^^^', 'MRG-NEW^^^')
      .replace('IPP000199^^^', 'MRG-OLD^^^');
    expect(await send(setField(setField(a40, 'MSH', 14, ''), 'MSH', 15, ''))).toEqual({
      code: 'AA',
      reason: undefined,
    });
    const survivor = await h.store.identityMap.findCanonical(h.link.id, 'Patient', 'MRG-NEW');
    expect(survivor).toBeDefined();
    expect(await h.store.identityMap.findCanonical(h.link.id, 'Patient', 'MRG-OLD')).toBe(survivor);
    const patients = async () =>
      (await h.store.resources.list({ practiceId: h.link.practiceId, kind: 'Patient' })).length;
    const before = await patients();

    expect(await send(setField(old, 'PID', 5, 'Duck^Della'))).toEqual({ code: 'AA', reason: undefined });
    expect(await patients()).toBe(before);
    expect(await h.store.identityMap.findCanonical(h.link.id, 'Patient', 'MRG-OLD')).toBe(survivor);
    // The late message under the merged-away id does not rewrite the survivor (whose XPN-3, the
    // fixture's list of birth given names, is kept as further given names).
    expect((await record<Patient>('Patient', 'MRG-NEW')).name?.[0]?.given).toEqual([
      'Jeanne',
      'Jeanne Odile',
    ]);
  });

  it('rejects an appointment without a start, naming the field, and a patient without an id', async () => {
    const noStart = setField(setField(PKB, 'SCH', 1, 'NO-START'), 'SCH', 11, '');
    const r = await send(noStart);
    expect(r.code).toBe('AE');
    expect(r.reason).toMatch(/start/);
    expect(await h.store.identityMap.findCanonical(h.link.id, 'Appointment', 'NO-START')).toBeUndefined();

    const noId = await send(setField(A01, 'PID', 3, ''));
    expect(noId.code).toBe('AE');
    expect(noId.reason).toMatch(/Patient\.id/);
  });
});

describe.each(STORE_KINDS)("the link's default practitioner (%s store)", (kind) => {
  let h: Hl7LinkHarness;
  let socket: RawMllpSocket;
  beforeAll(async () => {
    h = await startHl7Link({
      kind,
      config: listenConfig({ defaultPractitioner: '51873' }),
      profile: 'hl7v2-generic-2.5',
      connectorOptions: { translator: profileTranslatorFactory() },
    });
    socket = await RawMllpSocket.connect(h.port);
  }, 30_000);
  afterAll(async () => {
    socket?.destroy();
    await h?.dispose();
  });

  it('gives an appointment whose message names no practitioner the link default, flagged practitioner-defaulted', async () => {
    const send = async (text: string, id: string) =>
      parseAck(await socket.request(withControlId(Buffer.from(text, 'latin1'), id))).code;
    // The ORSOS message makes practitioner 51873 known to the link; the PKB one names nobody.
    expect(await send(ORSOS, `DEF-${kind}-1`)).toBe('AA');
    expect(await send(PKB, `DEF-${kind}-2`)).toBe('AA');
    const practitioner = await h.store.identityMap.findCanonical(h.link.id, 'Practitioner', '51873');
    const appointment = await h.store.identityMap.findCanonical(h.link.id, 'Appointment', 'ID123');
    const a = (await h.store.resources.get(appointment as string))?.data as unknown as Appointment;
    expect(a.participant).toContainEqual({
      actor: { reference: `Practitioner/${practitioner as string}` },
      status: 'accepted',
    });
    const events = await h.store.audit.list({ resourceId: appointment as string, action: 'sync.apply' });
    expect((events[0]?.details as { flags?: string[] }).flags).toContain('practitioner-defaulted');
  });
});
