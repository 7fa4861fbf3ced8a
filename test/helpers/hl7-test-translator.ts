/**
 * TEST-ONLY HL7 translator. It maps a handful of fields of the fixtures in test/fixtures/hl7
 * with the codec so that the transport (MLLP, file drop, ACKs, dedupe) can be tested end to end
 * against the real engine. It is NOT the product mapping: the product translator comes from
 * the mapping profiles (mappings/*.yaml, the mapping engine), and connectors/hl7v2 ships no
 * field mapping of its own.
 *
 * Inbound: SIU S12/S13/S14/S15/S17/S26 → Practitioner, Patient (when a PID is there),
 * Appointment; SIU S23/S24 → Practitioner, Schedule, Slot; ADT A04/A05/A08/A28/A31 → Patient,
 * A40/A47 → Patient superseding MRG-1. Outbound: Appointment → SIU S12/S14/S15, Patient → ADT
 * A28/A31, in original acknowledgment mode.
 */
import { DateTime } from 'luxon';

import {
  formatHl7Timestamp,
  type Hl7Message,
  Hl7MessageBuilder,
} from '../../src/hl7/index.js';
import {
  hl7FieldError,
  type Hl7OutboundContext,
  type Hl7Translator,
  type Hl7TranslatorContext,
  unsupportedMessage,
} from '../../connectors/hl7v2/translator.js';
import type { Appointment, Patient, Practitioner, Schedule, Slot } from '../../src/model/resources.js';
import type { ExternalRecord, OutboundChange } from '../../src/connector/contract.js';

const RPPS_SYSTEM = 'urn:oid:1.2.250.1.71.4.2.1';

/** HL7 DTM (with or without offset) → FHIR instant in UTC; wall-clock times are in the practice's zone. */
export function hl7TimeToInstant(value: string, path: string, timezone: string): string {
  const m = /^(\d{12}(?:\d{2})?)(?:\.\d+)?([+-]\d{4})?$/.exec(value);
  if (!m) throw hl7FieldError(path, 'not an HL7 date/time (YYYYMMDDHHMM[SS][+ZZZZ])', '102');
  const d = m[1] as string;
  const [y, mo, da, h, mi, se] = [
    d.slice(0, 4),
    d.slice(4, 6),
    d.slice(6, 8),
    d.slice(8, 10),
    d.slice(10, 12),
    d.slice(12, 14) || '00',
  ].map(Number) as [number, number, number, number, number, number];
  const offset = m[2];
  if (offset) {
    // Plain arithmetic when the offset is given (luxon parsing is slow on the hot path).
    const ms =
      Date.UTC(y, mo - 1, da, h, mi, se) -
      (offset[0] === '-' ? -1 : 1) * (Number(offset.slice(1, 3)) * 60 + Number(offset.slice(3, 5))) * 60_000;
    const check = new Date(Date.UTC(y, mo - 1, da, h, mi, se));
    if (
      Number.isNaN(ms) ||
      check.getUTCMonth() !== mo - 1 ||
      check.getUTCDate() !== da ||
      h > 23 ||
      mi > 59 ||
      se > 59
    )
      throw hl7FieldError(path, 'not a valid date/time', '102');
    return new Date(ms).toISOString();
  }
  const dt = DateTime.fromObject(
    { year: y, month: mo, day: da, hour: h, minute: mi, second: se },
    { zone: timezone },
  );
  if (!dt.isValid) throw hl7FieldError(path, 'not a valid date/time', '102');
  return dt.toUTC().toISO() as string;
}

function practitioner(msg: Hl7Message): Practitioner & { id: string } {
  const at = msg.get('AIP-3.1') !== undefined ? 'AIP-3' : 'SCH-16';
  const id = msg.get(`${at}.1`);
  if (!id) throw hl7FieldError(`${at}.1`, 'the practitioner id is required');
  const family = msg.get(`${at}.2`);
  const given = msg.get(`${at}.3`);
  return {
    resourceType: 'Practitioner',
    id,
    identifier: [{ system: RPPS_SYSTEM, value: id }],
    ...(family && { name: [{ family, ...(given && { given: [given] }) }] }),
  };
}

function patient(msg: Hl7Message): Patient & { id: string } {
  const types = msg.getAll('PID-3[*].5');
  const r = types.indexOf('PI');
  if (r < 0) throw hl7FieldError('PID-3', 'no local patient id (identifier type PI)');
  const ipp = msg.get(`PID-3[${r + 1}].1`);
  if (!ipp) throw hl7FieldError(`PID-3[${r + 1}].1`, 'the local patient id is empty');
  const oid = msg.get(`PID-3[${r + 1}].4.2`);
  const names: NonNullable<Patient['name']> = [];
  msg.getAll('PID-5[*].7').forEach((type, i) => {
    const family = msg.get(`PID-5[${i + 1}].1`);
    const given = msg.get(`PID-5[${i + 1}].2`);
    if (family)
      names.push({ use: type === 'D' ? 'usual' : 'official', family, ...(given && { given: [given] }) });
  });
  const birth = msg.get('PID-7');
  if (birth !== undefined && !/^\d{8}$/.test(birth))
    throw hl7FieldError('PID-7', 'not a date (YYYYMMDD)', '102');
  const sex = msg.get('PID-8');
  const gender =
    sex === 'F'
      ? 'female'
      : sex === 'M'
        ? 'male'
        : sex === 'O'
          ? 'other'
          : sex === 'U'
            ? 'unknown'
            : undefined;
  return {
    resourceType: 'Patient',
    id: ipp,
    identifier: [{ system: oid ? `urn:oid:${oid}` : 'urn:passerelle:test:ipp', value: ipp }],
    ...(names.length > 0 && { name: names }),
    ...(birth && { birthDate: `${birth.slice(0, 4)}-${birth.slice(4, 6)}-${birth.slice(6, 8)}` }),
    ...(gender && { gender }),
  };
}

function times(msg: Hl7Message, ctx: Hl7TranslatorContext): { start: string; end: string | undefined } {
  const start = msg.get('SCH-11.4');
  if (!start) throw hl7FieldError('SCH-11.4', 'the start time is required');
  const end = msg.get('SCH-11.5');
  return {
    start: hl7TimeToInstant(start, 'SCH-11.4', ctx.timezone),
    end: end ? hl7TimeToInstant(end, 'SCH-11.5', ctx.timezone) : undefined,
  };
}

const record = (data: ExternalRecord['data'], extra: Partial<ExternalRecord> = {}): ExternalRecord => ({
  kind: data.resourceType,
  externalId: data.id,
  data,
  ...extra,
});

function siu(msg: Hl7Message, trigger: string, ctx: Hl7TranslatorContext): ExternalRecord[] {
  const filler = msg.get('SCH-2.1');
  if (!filler) throw hl7FieldError('SCH-2', 'the filler appointment id is required');
  const doc = practitioner(msg);
  if (trigger === 'S23' || trigger === 'S24') {
    const scheduleId = msg.get('SCH-5.1');
    if (!scheduleId) throw hl7FieldError('SCH-5', 'the schedule id is required');
    const { start, end } = times(msg, ctx);
    if (!end) throw hl7FieldError('SCH-11.5', 'the end time is required');
    const schedule: Schedule = {
      resourceType: 'Schedule',
      id: scheduleId,
      actor: [{ reference: `Practitioner/${doc.id}` }],
    };
    const slot: Slot = {
      resourceType: 'Slot',
      id: filler,
      schedule: { reference: `Schedule/${scheduleId}` },
      status: trigger === 'S23' ? 'busy-unavailable' : 'free',
      start,
      end,
    };
    return [record(doc), record(schedule), record(slot)];
  }
  const pid = msg.segments('PID').length > 0 ? patient(msg) : undefined;
  const { start, end } = times(msg, ctx);
  const filled = msg.get('SCH-25.1');
  const status: Appointment['status'] =
    trigger === 'S15'
      ? 'cancelled'
      : trigger === 'S26'
        ? 'noshow'
        : filled === 'Pending'
          ? 'pending'
          : filled === 'Cancelled'
            ? 'cancelled'
            : 'booked';
  const appointment: Appointment = {
    resourceType: 'Appointment',
    id: filler,
    status,
    start,
    ...(end && { end }),
    participant: [
      ...(pid ? [{ actor: { reference: `Patient/${pid.id}` }, status: 'accepted' as const }] : []),
      { actor: { reference: `Practitioner/${doc.id}` }, status: 'accepted' as const },
    ],
  };
  return [
    record(doc),
    ...(pid ? [record(pid)] : []),
    record(appointment, trigger === 'S17' ? { deleted: true } : {}),
  ];
}

function adt(msg: Hl7Message, trigger: string): ExternalRecord[] {
  const p = patient(msg);
  if (trigger === 'A40' || trigger === 'A47') {
    const old = msg.get('MRG-1.1');
    if (!old) throw hl7FieldError('MRG-1', 'the merged patient id is required');
    return [record(p, { supersedes: [old] })];
  }
  return [record(p)];
}

const ADT_EVENTS = new Set(['A04', 'A05', 'A08', 'A28', 'A31', 'A40', 'A47']);
const SIU_EVENTS = new Set(['S12', 'S13', 'S14', 'S15', 'S17', 'S23', 'S24', 'S26']);

function dtm(iso: string | undefined, tz: string): string | undefined {
  return iso === undefined ? undefined : formatHl7Timestamp(new Date(iso), tz);
}

const idOf = (ref: string | undefined, kind: string) =>
  ref?.startsWith(`${kind}/`) ? ref.slice(kind.length + 1) : undefined;

export const testHl7Translator: Hl7Translator = {
  toRecords(msg, ctx) {
    const { messageCode, triggerEvent } = msg.header;
    if (messageCode === 'SIU') {
      if (!triggerEvent || !SIU_EVENTS.has(triggerEvent)) throw unsupportedMessage('event', triggerEvent);
      return { records: siu(msg, triggerEvent, ctx), flags: [] };
    }
    if (messageCode === 'ADT') {
      if (!triggerEvent || !ADT_EVENTS.has(triggerEvent)) throw unsupportedMessage('event', triggerEvent);
      return {
        records: adt(msg, triggerEvent),
        flags: msg.segments('ZFD').length > 0 ? ['ignored-segment:ZFD'] : [],
      };
    }
    throw unsupportedMessage('type', messageCode);
  },

  fromChange(change: OutboundChange, ctx: Hl7OutboundContext) {
    const b = new Hl7MessageBuilder({ charset: ctx.charset });
    const header = (code: string, trigger: string, structure: string) => {
      b.set('MSH-3', ctx.sendingApplication)
        .set('MSH-4', ctx.sendingFacility)
        .set('MSH-5', 'LOGICIEL-CABINET')
        .set('MSH-6', 'CABINET-TEST')
        .set('MSH-7', formatHl7Timestamp(ctx.timestamp, ctx.timezone))
        .set('MSH-9.1', code)
        .set('MSH-9.2', trigger)
        .set('MSH-9.3', structure)
        .set('MSH-10', ctx.controlId)
        .set('MSH-11', 'P')
        .set('MSH-12', '2.5');
      if (ctx.charset === 'UNICODE UTF-8') b.set('MSH-18', 'UNICODE UTF-8');
    };
    const data = change.data;
    if (data.resourceType === 'Appointment') {
      const trigger =
        change.externalId === null
          ? 'S12'
          : change.op === 'cancel' || data.status === 'cancelled'
            ? 'S15'
            : 'S14';
      header('SIU', trigger, 'SIU_S12');
      b.appendSegment('SCH');
      b.set('SCH-1.1', change.canonicalId);
      if (change.externalId) b.set('SCH-2.1', change.externalId);
      const start = dtm(data.start, ctx.timezone);
      const end = dtm(data.end, ctx.timezone);
      if (start) b.set('SCH-11.4', start);
      if (end) b.set('SCH-11.5', end);
      b.set('SCH-25.1', data.status === 'cancelled' ? 'Cancelled' : 'Booked');
      const patientId = data.participant
        .map((p) => idOf(p.actor?.reference, 'Patient'))
        .find((x) => x !== undefined);
      if (patientId) {
        b.appendSegment('PID');
        b.set('PID-3.1', patientId);
      }
      const doctorId = data.participant
        .map((p) => idOf(p.actor?.reference, 'Practitioner'))
        .find((x) => x !== undefined);
      if (doctorId) {
        b.appendSegment('RGS');
        b.set('RGS-1', '1');
        b.appendSegment('AIP');
        b.set('AIP-1', '1').set('AIP-3.1', doctorId);
      }
      return { message: b.encode().bytes, externalId: change.externalId ?? change.canonicalId };
    }
    if (data.resourceType === 'Patient') {
      header('ADT', change.externalId === null ? 'A28' : 'A31', 'ADT_A05');
      b.appendSegment('EVN');
      b.set('EVN-2', formatHl7Timestamp(ctx.timestamp, ctx.timezone));
      b.appendSegment('PID');
      b.set('PID-3.1', change.externalId ?? change.canonicalId).set('PID-3.5', 'PI');
      const name = data.name?.[0];
      if (name?.family) b.set('PID-5.1', name.family);
      if (name?.given?.[0]) b.set('PID-5.2', name.given[0]);
      if (data.birthDate) b.set('PID-7', data.birthDate.replace(/-/g, ''));
      return { message: b.encode().bytes, externalId: change.externalId ?? change.canonicalId };
    }
    throw unsupportedMessage('type', data.resourceType);
  },
};

/** The factory form `hl7v2Connector({ translator })` takes. */
export const testHl7TranslatorFactory = () => testHl7Translator;
