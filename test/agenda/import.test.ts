/**
 * Rules read from the practice software (src/agenda/import.ts) on published resources
 * (test/fixtures/fhir/agenda/README.md cites each) and on the SIU^S23/S24 fixtures through the
 * shipped IHE PAM France profile.
 */
import { readFileSync } from 'node:fs';

import { describe, expect, it } from '@jest/globals';

import {
  AgendaRules,
  type FhirExtension,
  freeSlots,
  importRules,
  readFrScheduleExtensions,
  type RuleInput,
} from '../../src/agenda/index.js';
import { parseHl7 } from '../../src/hl7/index.js';
import { shippedPlan, toCanonicalOrThrow } from '../../src/mapping/index.js';
import type { Slot } from '../../src/model/resources.js';
import { fixturePath } from '../helpers/fixtures.js';

const json = <T>(...parts: string[]) => JSON.parse(readFileSync(fixturePath(...parts), 'utf8')) as T;
type WithExtensions = { extension: FhirExtension[] };

describe('FrSchedule (ANS shared agenda, FR Core)', () => {
  it.each(['ans-gap-fr-schedule-example.json', 'fr-core-schedule-example.json'])(
    'reads the availability and the visit-type duration of %s',
    (file) => {
      const read = readFrScheduleExtensions(json<WithExtensions>('fhir', 'agenda', file).extension);
      expect(read.availabilityTime).toEqual([
        {
          type: 'free',
          start: '2020-11-09T07:00:00.000Z',
          end: '2020-11-09T19:00:00.000Z',
          identifier: 'dispo09112020',
        },
      ]);
      expect(read.serviceTypeDuration).toEqual([
        { serviceType: { coding: [expect.objectContaining({ code: expect.any(String) })] }, minutes: 15 },
      ]);
    },
  );

  it('opens the agenda on the dated availability only, with the visit type, and offers its slots', () => {
    const read = readFrScheduleExtensions(
      json<WithExtensions>('fhir', 'agenda', 'ans-gap-fr-schedule-example.json').extension,
    );
    const imported = importRules([{ source: 'schedule', reference: 'Schedule/example', ...read }]);
    expect(imported.hasHours).toBe(true);
    expect(imported.rules).toMatchObject({
      weekly: [],
      exceptions: [{ date: '2020-11-09', hours: [{ start: '08:00', end: '20:00' }] }],
      visitTypes: [{ code: '1', label: 'suivi', durationMinutes: 15 }],
    });
    const rules = AgendaRules.parse(imported.rules);
    const slots = freeSlots(
      rules,
      { appointments: [], blocks: [] },
      {
        visitType: '1',
        from: '2020-11-09T00:00:00Z',
        to: '2020-11-11T00:00:00Z',
        now: '2020-11-01T00:00:00Z',
      },
    );
    // 08:00–20:00 Paris (UTC+1 in November) in 15-minute visits: 48, all on the 9th.
    expect(slots).toHaveLength(48);
    expect([slots[0]?.start, slots.at(-1)?.end]).toEqual([
      '2020-11-09T07:00:00.000Z',
      '2020-11-09T19:00:00.000Z',
    ]);
  });

  it('turns a busy-unavailable availability into an absence and splits a free one across midnight', () => {
    const imported = importRules([
      {
        source: 'schedule',
        reference: 'Schedule/s',
        availabilityTime: [
          { type: 'free', start: '2026-12-09T19:00:00Z', end: '2026-12-10T01:00:00Z' },
          {
            type: 'busy-unavailable',
            start: '2026-12-14T07:00:00Z',
            end: '2026-12-14T11:00:00Z',
            identifier: 'congrès',
          },
        ],
      },
    ]);
    expect(imported.rules.exceptions).toEqual([
      { date: '2026-12-09', hours: [{ start: '20:00', end: '23:59' }] },
      { date: '2026-12-10', hours: [{ start: '00:00', end: '02:00' }] },
    ]);
    expect(imported.rules.absences).toEqual([
      { start: '2026-12-14T07:00:00Z', end: '2026-12-14T11:00:00Z', label: 'congrès' },
    ]);
  });
});

describe('availableTime and notAvailable (FHIR R4 PractitionerRole, HealthcareService)', () => {
  it('reads the R4 PractitionerRole example: weekly hours and a leave by dates', () => {
    const role = json<Pick<RuleInput, 'availableTime' | 'notAvailable'>>(
      'fhir',
      'r4',
      'practitionerrole-example.json',
    );
    const imported = importRules([
      { source: 'practitioner-role', reference: 'PractitionerRole/example', ...role },
    ]);
    expect(imported.rules.weekly).toEqual([
      { days: ['mon', 'tue', 'wed'], start: '09:00', end: '16:30' },
      { days: ['thu', 'fri'], start: '09:00', end: '12:00' },
    ]);
    expect(imported.rules.absences).toEqual([
      {
        fromDate: '2017-05-01',
        toDate: '2017-05-20',
        label: 'Adam will be on extended leave during May 2017',
      },
    ]);
    expect(AgendaRules.safeParse(imported.rules).success).toBe(true);
    expect(imported.sources).toEqual([
      { source: 'practitioner-role', reference: 'PractitionerRole/example' },
    ]);
  });

  it('leaves out hours that end before they start, says so, and keeps the holidays as absences', () => {
    const service = json<Pick<RuleInput, 'availableTime' | 'notAvailable'>>(
      'fhir',
      'agenda',
      'healthcareservice-example-availability.json',
    );
    const imported = importRules([
      { source: 'healthcare-service', reference: 'HealthcareService/example', ...service },
    ]);
    expect(imported.rules.weekly).toEqual([]);
    expect(imported.hasHours).toBe(false);
    expect(imported.issues).toEqual([
      'HealthcareService/example: availableTime[0] left out (no days, or end not after start)',
      'HealthcareService/example: availableTime[1] left out (no days, or end not after start)',
    ]);
    expect(imported.rules.absences).toEqual([
      { fromDate: '2015-12-25', toDate: '2015-12-26', label: 'Christmas/Boxing Day' },
      { fromDate: '2016-01-01', toDate: '2016-01-01', label: 'New Years Day' },
    ]);
  });

  it('joins several sources and keeps the first duration of a visit type', () => {
    const imported = importRules([
      {
        source: 'practitioner-role',
        reference: 'PractitionerRole/a',
        availableTime: [{ daysOfWeek: ['mon'], allDay: true }],
      },
      {
        source: 'schedule',
        reference: 'Schedule/b',
        serviceTypeDuration: [
          { serviceType: { coding: [{ code: 'CONS', display: 'Consultation' }] }, minutes: 20 },
          { serviceType: { coding: [{ code: 'CONS' }] }, minutes: 30 },
        ],
      },
    ]);
    expect(imported.rules.weekly).toEqual([{ days: ['mon'], start: '00:00', end: '23:59' }]);
    expect(imported.rules.visitTypes).toEqual([{ code: 'CONS', label: 'Consultation', durationMinutes: 20 }]);
    expect(imported.sources.map((s) => s.reference)).toEqual(['PractitionerRole/a', 'Schedule/b']);
  });
});

describe('HL7 v2 SIU^S23 / S24 (blocked and reopened slots)', () => {
  const ihe = shippedPlan('hl7v2-ihe-pam-fr');
  const ctx = { testLink: true, now: () => Date.parse('2025-03-18T10:00:00Z'), controlId: 'T-1' };
  const slotOf = (file: string) =>
    toCanonicalOrThrow(ihe, parseHl7(readFileSync(fixturePath('hl7', file))), ctx).records.find(
      (r) => r.kind === 'Slot',
    )?.data as Slot;
  const asInput = (s: Slot): RuleInput => ({
    source: 'blocked-slot',
    reference: `Slot/${s.id}`,
    ...(s.status === 'busy-unavailable' && { blocked: { start: s.start, end: s.end } }),
  });

  it('makes the S23 block an absence and the S24 that reopens it none', () => {
    const blocked = importRules([asInput(slotOf('siu-s23-blocked-slot.hl7'))]);
    // SCH-11: 20 March 2025 12:00–14:00 +01:00.
    expect(blocked.rules.absences).toEqual([
      { start: '2025-03-20T11:00:00.000Z', end: '2025-03-20T13:00:00.000Z' },
    ]);
    expect(blocked.hasHours).toBe(false);
    expect(importRules([asInput(slotOf('siu-s24-unblocked-slot.hl7'))]).rules.absences).toEqual([]);
  });
});
