import { describe, expect, it } from '@jest/globals';

import { PracticeReminderSettings } from '../../src/config/schema.js';
import { isPasserelleError } from '../../src/errors.js';
import { EXT } from '../../src/model/identifiers.js';
import {
  type AppointmentFacts,
  type PatientFacts,
  patientFacts,
  recallWindows,
  type SelectionInput,
  selectReminders,
  upcomingWindow,
} from '../../src/sync/reminder-selection.js';
import { checkReminderSettings } from '../../src/sync/reminder-settings.js';

const PARIS = 'Europe/Paris';
const rules = (input: object = {}) => PracticeReminderSettings.parse({ enabled: true, ...input });
const consenting = (id: string, more: Partial<PatientFacts> = {}): PatientFacts => ({
  id,
  consent: true,
  recallDue: null,
  active: true,
  merged: false,
  ...more,
});
const appt = (
  id: string,
  patientId: string | null,
  start: string,
  visitType: string | null = 'CONS',
  status = 'booked',
): AppointmentFacts => ({
  id,
  patientId,
  status,
  start: Date.parse(start),
  visitType,
});
/** 2026-12-07 (a Monday) at 09:00 in Paris. */
const NOW = Date.parse('2026-12-07T08:00:00Z');

function select(over: Partial<SelectionInput>) {
  return selectReminders({
    day: '2026-12-07',
    now: NOW,
    zone: PARIS,
    settings: rules(),
    upcoming: [],
    past: [],
    visitsOf: new Map(),
    patients: new Map(),
    optedOut: new Set(),
    handed: new Set(),
    ...over,
  });
}
const patients = (...ps: PatientFacts[]) => new Map(ps.map((p) => [p.id, p]));

describe('reminder selection', () => {
  it('reminds each visit type by its own lead time and leaves out types set to never', () => {
    const r = select({
      settings: rules({
        defaultLeadDays: 1,
        visitTypes: { ECHO: { leadDays: 2 }, VACC: { leadDays: null } },
      }),
      upcoming: [
        appt('tomorrow-cons', 'p1', '2026-12-08T09:00:00Z', 'CONS'),
        appt('in-two-days-cons', 'p1', '2026-12-09T09:00:00Z', 'CONS'),
        appt('in-two-days-echo', 'p1', '2026-12-09T09:00:00Z', 'ECHO'),
        appt('in-three-days-echo', 'p1', '2026-12-10T09:00:00Z', 'ECHO'),
        appt('tomorrow-vacc', 'p1', '2026-12-08T09:00:00Z', 'VACC'),
      ],
      patients: patients(consenting('p1')),
    });
    expect(r.selected.map((s) => s.appointmentId)).toEqual(['tomorrow-cons', 'in-two-days-echo']);
    expect(r.selected[0]).toMatchObject({
      kind: 'reminder',
      dueOn: '2026-12-08',
      dedupeKey: 'appointment:tomorrow-cons',
    });
  });

  it('still reminds an appointment whose reminder day has passed (a missed pass, a late booking) but not a past or cancelled one', () => {
    const r = select({
      upcoming: [
        appt('later-today', 'p1', '2026-12-07T15:00:00Z'),
        appt('earlier-today', 'p1', '2026-12-07T07:00:00Z'),
        appt('cancelled', 'p1', '2026-12-08T09:00:00Z', 'CONS', 'cancelled'),
      ],
      patients: patients(consenting('p1')),
    });
    expect(r.selected.map((s) => s.appointmentId)).toEqual(['later-today']);
  });

  it('does not remind a patient without recorded consent, unless the practice collects consent elsewhere', () => {
    const input = {
      upcoming: [appt('a1', 'p1', '2026-12-08T09:00:00Z')],
      patients: patients(consenting('p1', { consent: null })),
    };
    const without = select(input);
    expect(without.selected).toEqual([]);
    expect(without.skipped['no-consent']).toBe(1);
    expect(select({ ...input, settings: rules({ assumeConsent: true }) }).selected).toHaveLength(1);
  });

  it('honours an opt-out from the register or from the practice software, even with assumeConsent', () => {
    const r = select({
      settings: rules({ assumeConsent: true }),
      upcoming: [
        appt('a1', 'registered-opt-out', '2026-12-08T09:00:00Z'),
        appt('a2', 'software-refusal', '2026-12-08T09:20:00Z'),
        appt('a3', 'p3', '2026-12-08T09:40:00Z'),
      ],
      patients: patients(
        consenting('registered-opt-out'),
        consenting('software-refusal', { consent: false }),
        consenting('p3'),
      ),
      optedOut: new Set(['registered-opt-out']),
    });
    expect(r.selected.map((s) => s.patientId)).toEqual(['p3']);
    expect(r.skipped['opted-out']).toBe(2);
  });

  it('skips inactive and merged patients and what was already handed', () => {
    const r = select({
      upcoming: [
        appt('a1', 'inactive', '2026-12-08T09:00:00Z'),
        appt('a2', 'merged', '2026-12-08T09:00:00Z'),
        appt('a3', 'p3', '2026-12-08T09:00:00Z'),
      ],
      patients: patients(
        consenting('inactive', { active: false }),
        consenting('merged', { merged: true }),
        consenting('p3'),
      ),
      handed: new Set(['appointment:a3']),
    });
    expect(r.selected).toEqual([]);
    expect(r.skipped).toMatchObject({ 'patient-inactive': 2, 'already-handed': 1 });
  });

  it("reads the appointment's day in the practice's zone, not in UTC", () => {
    // 00:30 on Wednesday 9 in Paris is 23:30 UTC on Tuesday 8: with one day's lead, Tuesday's pass.
    const nearMidnight = appt('a1', 'p1', '2026-12-08T23:30:00Z');
    const ps = patients(consenting('p1'));
    expect(select({ upcoming: [nearMidnight], patients: ps }).selected).toEqual([]);
    const tuesday = select({
      day: '2026-12-08',
      now: Date.parse('2026-12-08T08:00:00Z'),
      upcoming: [nearMidnight],
      patients: ps,
    });
    expect(tuesday.selected[0]?.dueOn).toBe('2026-12-09');
    // In Martinique (UTC-4) the same instant is 19:30 on Tuesday 8: Monday's pass reminds it.
    const martinique = select({ zone: 'America/Martinique', upcoming: [nearMidnight], patients: ps });
    expect(martinique.selected[0]?.dueOn).toBe('2026-12-08');
  });

  it("looks ahead to the end of the practice's local day after the longest lead time", () => {
    const w = upcomingWindow('2026-12-07', NOW, PARIS, rules({ visitTypes: { ECHO: { leadDays: 2 } } }));
    expect(new Date(w.to).toISOString()).toBe('2026-12-09T23:00:00.000Z');
  });

  it('recalls a patient N months after a visit of a type with a recall rule, unless they came back or booked since', () => {
    const settings = rules({ visitTypes: { SUIVI: { recallAfterMonths: 6 } } });
    const visit = appt('v1', 'p1', '2026-06-07T08:00:00Z', 'SUIVI', 'fulfilled');
    const other = appt('v2', 'p2', '2026-06-07T09:00:00Z', 'SUIVI', 'fulfilled');
    const r = select({
      settings,
      past: [visit, other],
      visitsOf: new Map([
        ['p1', [visit]],
        ['p2', [other, appt('v3', 'p2', '2026-12-20T09:00:00Z', 'CONS')]],
      ]),
      patients: patients(consenting('p1'), consenting('p2')),
    });
    expect(r.selected).toEqual([
      {
        kind: 'recall',
        dedupeKey: 'recall-rule:v1',
        appointmentId: null,
        patientId: 'p1',
        visitType: 'SUIVI',
        dueOn: '2026-12-07',
        appointmentStart: null,
      },
    ]);
    const [w] = recallWindows('2026-12-07', PARIS, settings);
    expect(w && visit.start >= w.from && visit.start < w.to).toBe(true);
  });

  it("recalls a patient on the practice software's recall date, with consent, when nothing is booked ahead", () => {
    const r = select({
      patients: patients(
        consenting('due', { recallDue: '2026-12-01' }),
        consenting('not-yet', { recallDue: '2026-12-08' }),
        consenting('booked', { recallDue: '2026-12-01' }),
        consenting('no-consent', { recallDue: '2026-12-01', consent: null }),
      ),
      visitsOf: new Map([['booked', [appt('b1', 'booked', '2026-12-15T09:00:00Z')]]]),
    });
    expect(r.selected.map((s) => s.dedupeKey)).toEqual(['recall-date:due:2026-12-01']);
    expect(r.skipped['no-consent']).toBe(1);
  });

  it('reads consent and the recall date from the FHIR extensions of a canonical Patient', () => {
    const facts = patientFacts({
      id: 'p1',
      data: {
        extension: [
          { url: EXT.reminderConsent, valueBoolean: false },
          { url: EXT.recallDue, valueDate: '2027-01' },
        ],
      },
    });
    expect(facts).toEqual({ id: 'p1', consent: false, recallDue: null, active: true, merged: false });
    expect(patientFacts({ id: 'p2', data: {} }).consent).toBeNull();
  });
});

describe('reminder settings', () => {
  it('refuses malformed rules with every problem named by its path, and leaves other settings alone', () => {
    let caught: unknown;
    try {
      checkReminderSettings({
        reminders: {
          sendAt: '9h',
          defaultLeadDays: -1,
          visitTypes: { ECHO: { leadDays: 45, recallAfterMonths: 0 } },
        },
      });
    } catch (e) {
      caught = e;
    }
    expect(isPasserelleError(caught) && caught.code).toBe('ERR_VALIDATION');
    const paths = (caught as { issues: { path: string }[] }).issues.map((i) => i.path).sort();
    expect(paths).toEqual([
      'body.settings.reminders.defaultLeadDays',
      'body.settings.reminders.sendAt',
      'body.settings.reminders.visitTypes.ECHO.leadDays',
      'body.settings.reminders.visitTypes.ECHO.recallAfterMonths',
    ]);
    expect(checkReminderSettings({ other: 1 })).toEqual({ other: 1 });
  });
});
