/**
 * A fixed agenda for the iCal tests, written into a real store the way the sync engine writes
 * canonical records (validated, with practitioner_id / patient_id filled), and an independent
 * reading of feeds through ical.js.
 */
import ICAL from 'ical.js';
import { DateTime } from 'luxon';

import { OID, URGENT_SLOT_CODE, V2_0276_SYSTEM } from '../../src/model/identifiers.js';
import type { Appointment, Patient, Practitioner, Schedule, Slot } from '../../src/model/resources.js';
import { assertValid } from '../../src/model/validate.js';
import type { Store } from '../../src/store/index.js';
import type { StoredResource } from '../../src/store/types.js';
import { fixturePatients } from './fixtures.js';

export const PARIS = 'Europe/Paris';

/** An instant from a wall-clock time in `zone`: how a practice states its appointments. */
export function wall(local: string, zone: string = PARIS): string {
  const dt = DateTime.fromISO(local, { zone });
  if (!dt.isValid) throw new Error(`bad local time ${local}`);
  return dt.toUTC().toISO() as string;
}

export function practitioner(id: string, given: string, family: string, rpps: string): Practitioner {
  return assertValid('Practitioner', {
    resourceType: 'Practitioner',
    id,
    identifier: [{ system: OID.idnps, value: `8${rpps}` }],
    name: [{ use: 'official', family, given: [given], prefix: ['Dr'] }],
  });
}

export interface AppointmentSpec {
  readonly id: string;
  readonly practitionerId: string;
  readonly patientId: string | null;
  readonly start: string;
  readonly minutes?: number;
  readonly status?: Appointment['status'];
  readonly type?: string;
  readonly reason?: string;
}

export function appointment(spec: AppointmentSpec): Appointment {
  const end = new Date(Date.parse(spec.start) + (spec.minutes ?? 20) * 60_000).toISOString();
  return assertValid('Appointment', {
    resourceType: 'Appointment',
    id: spec.id,
    status: spec.status ?? 'booked',
    ...(spec.type && { serviceType: [{ text: spec.type }] }),
    ...(spec.reason && { reasonCode: [{ text: spec.reason }] }),
    start: spec.start,
    end,
    participant: [
      ...(spec.patientId
        ? [{ actor: { reference: `Patient/${spec.patientId}` }, status: 'accepted' as const }]
        : []),
      { actor: { reference: `Practitioner/${spec.practitionerId}` }, status: 'accepted' as const },
    ],
  });
}

export function slot(
  id: string,
  scheduleId: string,
  start: string,
  end: string,
  kind: 'blocked' | 'urgent' | 'free',
  comment?: string,
): Slot {
  return assertValid('Slot', {
    resourceType: 'Slot',
    id,
    schedule: { reference: `Schedule/${scheduleId}` },
    status: kind === 'blocked' ? 'busy-unavailable' : 'free',
    ...(kind === 'urgent' && {
      appointmentType: { coding: [{ system: V2_0276_SYSTEM, code: URGENT_SLOT_CODE, display: 'Urgence' }] },
    }),
    start,
    end,
    ...(comment && { comment }),
  });
}

export async function putAppointment(
  store: Store,
  practiceId: string,
  a: Appointment,
): Promise<StoredResource> {
  const patientRef = a.participant.find((p) => p.actor?.reference?.startsWith('Patient/'))?.actor?.reference;
  const practitionerRef = a.participant.find((p) => p.actor?.reference?.startsWith('Practitioner/'))?.actor
    ?.reference;
  return store.resources.put({
    id: a.id,
    practiceId,
    kind: 'Appointment',
    data: a,
    origin: 'secretariat',
    startAt: a.start ?? null,
    endAt: a.end ?? null,
    practitionerId: practitionerRef ? (practitionerRef.split('/')[1] ?? null) : null,
    patientId: patientRef ? (patientRef.split('/')[1] ?? null) : null,
    status: a.status,
  });
}

export async function putSlot(
  store: Store,
  practiceId: string,
  practitionerId: string,
  s: Slot,
): Promise<StoredResource> {
  return store.resources.put({
    id: s.id,
    practiceId,
    kind: 'Slot',
    data: s,
    origin: 'practice',
    startAt: s.start,
    endAt: s.end,
    practitionerId,
    status: s.status,
  });
}

export interface SeededAgenda {
  readonly practiceId: string;
  readonly reunionPracticeId: string;
  readonly patients: readonly Patient[];
  /** Every Appointment and Slot written, latest version. */
  readonly records: () => Promise<StoredResource[]>;
}

/**
 * The agenda the tests share. The clock is testClock()'s 2026-11-23T09:00Z (10:00 in Paris); the
 * default window is then 2026-10-24 → 2027-05-22 in Paris, which holds the last Sundays of
 * October 2026 (the 25th) and of March 2027 (the 28th), when France changes its clocks.
 */
export async function seedAgenda(store: Store, clock: { advance(ms: number): void }): Promise<SeededAgenda> {
  const practice = await store.practices.create({
    id: 'cab-test',
    name: 'Cabinet du Test, Paris',
    timezone: PARIS,
  });
  const reunion = await store.practices.create({
    id: 'cab-reunion',
    name: 'Cabinet de Saint-Denis',
    timezone: 'Indian/Reunion',
  });
  const patients = fixturePatients();
  for (const p of patients)
    await store.resources.put({
      id: p.id,
      practiceId: practice.id,
      kind: 'Patient',
      data: assertValid('Patient', p, { testLink: true }),
      origin: 'practice',
    });
  const marie = practitioner('pr-marie', 'Marie', 'Médecin', '10001234567');
  const luc = practitioner('pr-luc', 'Luc', 'Généraliste', '10007654321');
  for (const p of [marie, luc])
    await store.resources.put({
      id: p.id,
      practiceId: practice.id,
      kind: 'Practitioner',
      data: p,
      origin: 'practice',
    });
  const schedule: Schedule = assertValid('Schedule', {
    resourceType: 'Schedule',
    id: 'sch-marie',
    actor: [{ reference: 'Practitioner/pr-marie' }],
  });
  await store.resources.put({
    id: schedule.id,
    practiceId: practice.id,
    kind: 'Schedule',
    data: schedule,
    origin: 'practice',
    practitionerId: 'pr-marie',
  });

  const [jeanne, paul, lucie] = patients.map((p) => p.id) as [string, string, string];
  const ids: string[] = [];
  const apt = async (spec: AppointmentSpec, practiceId = practice.id) => {
    ids.push(spec.id);
    return putAppointment(store, practiceId, appointment(spec));
  };

  // A cancellation older than the retention (7 days): written 20 days ago, then time moves on.
  clock.advance(-20 * 86_400_000);
  await apt({
    id: 'apt-old-cancel',
    practitionerId: 'pr-marie',
    patientId: paul,
    start: wall('2026-11-30T15:00'),
    status: 'booked',
  });
  await apt({
    id: 'apt-old-cancel',
    practitionerId: 'pr-marie',
    patientId: paul,
    start: wall('2026-11-30T15:00'),
    status: 'cancelled',
  });
  clock.advance(20 * 86_400_000 - 3_600_000);

  // Around the October 2026 change (Sunday 25th, 03:00 CEST → 02:00 CET).
  await apt({
    id: 'apt-oct-sat',
    practitionerId: 'pr-marie',
    patientId: paul,
    start: wall('2026-10-24T09:00'),
    type: 'Consultation',
    reason: 'Douleurs lombaires',
  });
  await apt({
    id: 'apt-oct-sun',
    practitionerId: 'pr-marie',
    patientId: jeanne,
    start: wall('2026-10-25T09:00'),
    type: 'Garde du dimanche',
    reason: 'Fièvre',
  });
  await apt({
    id: 'apt-oct-mon',
    practitionerId: 'pr-marie',
    patientId: lucie,
    start: wall('2026-10-26T09:00'),
    type: 'Consultation',
  });
  // Today and the weeks ahead.
  await apt({
    id: 'apt-noshow',
    practitionerId: 'pr-marie',
    patientId: paul,
    start: wall('2026-11-20T17:30'),
    status: 'noshow',
    type: 'Consultation',
  });
  await apt({
    id: 'apt-today',
    practitionerId: 'pr-marie',
    patientId: lucie,
    start: wall('2026-11-23T10:00'),
    minutes: 30,
    type: 'Suivi',
    reason: 'Contrôle tension; résultats, bilan',
  });
  await apt({
    id: 'apt-moved',
    practitionerId: 'pr-marie',
    patientId: jeanne,
    start: wall('2026-11-24T11:00'),
    type: 'Consultation',
    reason: 'Renouvellement d’ordonnance',
  });
  await apt({
    id: 'apt-cancel',
    practitionerId: 'pr-marie',
    patientId: paul,
    start: wall('2026-11-25T11:00'),
    type: 'Vaccination',
  });
  await apt({
    id: 'apt-tentative',
    practitionerId: 'pr-marie',
    patientId: null,
    start: wall('2026-12-01T08:40'),
    status: 'proposed',
  });
  await apt({
    id: 'apt-error',
    practitionerId: 'pr-marie',
    patientId: jeanne,
    start: wall('2026-12-03T09:00'),
    status: 'entered-in-error',
  });
  // Around the March 2027 change (Sunday 28th, 02:00 CET → 03:00 CEST).
  await apt({
    id: 'apt-mar-sat',
    practitionerId: 'pr-marie',
    patientId: paul,
    start: wall('2027-03-27T09:00'),
    type: 'Consultation',
  });
  await apt({
    id: 'apt-mar-sun',
    practitionerId: 'pr-marie',
    patientId: jeanne,
    start: wall('2027-03-28T09:00'),
    type: 'Garde du dimanche',
  });
  await apt({
    id: 'apt-mar-mon',
    practitionerId: 'pr-marie',
    patientId: lucie,
    start: wall('2027-03-29T09:00'),
    type: 'Consultation',
  });
  // Outside the window, both ends.
  await apt({
    id: 'apt-too-old',
    practitionerId: 'pr-marie',
    patientId: paul,
    start: wall('2026-10-20T09:00'),
  });
  await apt({
    id: 'apt-too-far',
    practitionerId: 'pr-marie',
    patientId: paul,
    start: wall('2027-09-01T09:00'),
  });
  // Another practitioner of the same practice.
  await apt({
    id: 'apt-luc',
    practitionerId: 'pr-luc',
    patientId: jeanne,
    start: wall('2026-11-26T14:00'),
    type: 'Consultation',
  });

  await putSlot(
    store,
    practice.id,
    'pr-marie',
    slot(
      'slot-blocked',
      'sch-marie',
      wall('2026-12-02T14:00'),
      wall('2026-12-02T18:00'),
      'blocked',
      'Formation continue',
    ),
  );
  await putSlot(
    store,
    practice.id,
    'pr-marie',
    slot('slot-urgent', 'sch-marie', wall('2026-11-24T08:00'), wall('2026-11-24T09:00'), 'urgent'),
  );
  await putSlot(
    store,
    practice.id,
    'pr-marie',
    slot('slot-free', 'sch-marie', wall('2026-11-24T09:00'), wall('2026-11-24T09:20'), 'free'),
  );

  // One hour later (back at the clock's start): a move and a cancellation.
  clock.advance(3_600_000);
  await apt({
    id: 'apt-moved',
    practitionerId: 'pr-marie',
    patientId: jeanne,
    start: wall('2026-11-24T15:00'),
    type: 'Consultation',
    reason: 'Renouvellement d’ordonnance',
  });
  await apt({
    id: 'apt-cancel',
    practitionerId: 'pr-marie',
    patientId: paul,
    start: wall('2026-11-25T11:00'),
    type: 'Vaccination',
    status: 'cancelled',
  });

  // An overseas practice: Réunion is UTC+4 all year.
  const reunionDoc = practitioner('pr-reunion', 'Anaïs', 'Payet', '10009999999');
  await store.resources.put({
    id: reunionDoc.id,
    practiceId: reunion.id,
    kind: 'Practitioner',
    data: reunionDoc,
    origin: 'practice',
  });
  await apt(
    {
      id: 'apt-reunion',
      practitionerId: 'pr-reunion',
      patientId: null,
      start: wall('2026-11-30T08:30', 'Indian/Reunion'),
    },
    reunion.id,
  );

  return {
    practiceId: practice.id,
    reunionPracticeId: reunion.id,
    patients,
    records: async () =>
      (await store.resources.getMany([...ids, 'slot-blocked', 'slot-urgent', 'slot-free'])).sort((a, b) =>
        a.id < b.id ? -1 : 1,
      ),
  };
}

export interface ParsedEvent {
  readonly uid: string;
  readonly sequence: number;
  readonly status: string | null;
  readonly summary: string;
  readonly description: string | null;
  readonly transp: string | null;
  readonly tzid: string | null;
  /** ISO UTC instants, as ical.js computes them from the feed's own VTIMEZONE. */
  readonly startUtc: string;
  readonly endUtc: string | null;
  /** Wall-clock time as written in the feed, `YYYY-MM-DDTHH:MM:SS`. */
  readonly startLocal: string;
}

export interface ParsedFeed {
  readonly name: string | null;
  readonly calName: string | null;
  readonly refresh: string | null;
  readonly ttl: string | null;
  readonly timezones: readonly string[];
  readonly events: readonly ParsedEvent[];
}

/**
 * Reads a feed with ical.js (an independent RFC 5545 parser): its VTIMEZONEs are registered
 * first, so TZID times are converted with the feed's own zone definitions, as apps do.
 */
export function parseFeed(text: string): ParsedFeed {
  // ical.js 2.2 predates RFC 7986: it does not know NAME (§5.1) is TEXT and would leave `\,`
  // escaped. Tell it, as for the de-facto X-WR-CALNAME and X-WR-CALDESC.
  for (const name of ['name', 'x-wr-calname', 'x-wr-caldesc'])
    ICAL.design.icalendar.property[name] ??= { defaultType: 'text' };
  const cal = new ICAL.Component(ICAL.parse(text));
  const timezones = cal.getAllSubcomponents('vtimezone');
  for (const vtz of timezones) ICAL.TimezoneService.register(vtz);
  const events = cal.getAllSubcomponents('vevent').map((c) => {
    const e = new ICAL.Event(c);
    const dtstart = c.getFirstProperty('dtstart');
    const str = (name: string) => {
      const v = c.getFirstPropertyValue(name);
      return v === null || v === undefined ? null : String(v);
    };
    return {
      uid: e.uid,
      sequence: e.sequence,
      status: str('status'),
      summary: e.summary,
      description: str('description'),
      transp: str('transp'),
      tzid: (dtstart?.getParameter('tzid') as string | undefined) ?? null,
      startUtc: e.startDate.toJSDate().toISOString(),
      endUtc: c.hasProperty('dtend') ? e.endDate.toJSDate().toISOString() : null,
      startLocal: e.startDate.toString().slice(0, 19),
    };
  });
  const prop = (name: string) => {
    const v = cal.getFirstPropertyValue(name);
    return v === null || v === undefined ? null : String(v);
  };
  return {
    name: prop('name'),
    calName: prop('x-wr-calname'),
    refresh: prop('refresh-interval'),
    ttl: prop('x-published-ttl'),
    timezones: timezones.map((t) => String(t.getFirstPropertyValue('tzid'))),
    events,
  };
}
