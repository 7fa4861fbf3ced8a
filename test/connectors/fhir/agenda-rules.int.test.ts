/**
 * Agenda rules from the practice software through the FHIR peer (issue 20): an FrSchedule with
 * the ANS shared-agenda extensions (availabilityTime, serviceTypeDuration) is pulled by the FHIR
 * link, becomes the practitioner's rules in effect, and FHIR clients search its free slots as
 * the ANS guide does (GET /fhir/r4/Slot); rules set through the API then win; a key limited to
 * another practice finds nothing. One world for the file.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { validateResource } from '@medplum/core';
import type { Bundle, Resource, Schedule as FhirSchedule, Slot as FhirSlot } from '@medplum/fhirtypes';
import { DateTime } from 'luxon';

import { loadFhirDefinitions } from '../../../connectors/fhir/peer/definitions.js';
import type { Schedule } from '../../../src/model/resources.js';
import { createApiKey } from '../../../src/security/api-keys.js';
import { type FhirWorld, startFhirWorld } from '../../helpers/fhir-world.js';

const DAY0 = new Date();
// The day after tomorrow, 08:00–12:00 in Paris: the agenda the practice software opens.
const day = DateTime.now().setZone('Europe/Paris').plus({ days: 2 }).startOf('day');
const OPEN = { start: day.set({ hour: 8 }).toISO() as string, end: day.set({ hour: 12 }).toISO() as string };
const RPPS = '10000000002';

describe('agenda rules from a FHIR practice software, and the ANS free-slot search', () => {
  let w: FhirWorld;
  let otherKey = '';
  let viewerKey = '';
  let practitionerId = '';

  const search = async (key: string, extra = '') => {
    const res = await w.t.api(
      `/fhir/r4/Slot?schedule.actor=Practitioner/${RPPS}&start=ge${day.toISODate()}&start=lt${day.plus({ days: 1 }).toISODate()}&status=free${extra}`,
      { key },
    );
    return { status: res.status, type: res.headers.get('content-type'), body: (await res.json()) as Bundle };
  };

  beforeAll(async () => {
    w = await startFhirWorld({ day0: DAY0 });
    const agenda = await w.fhir<FhirSchedule>('GET', 'Schedule/agenda-2');
    // The ANS guide's FrSchedule extensions (test/fixtures/fhir/agenda/ans-gap-fr-schedule-example.json), on this practice's agenda.
    const put = await w.fhir('PUT', 'Schedule/agenda-2', {
      ...agenda.body,
      extension: [
        {
          url: 'https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-schedule-availability-time',
          extension: [
            { url: 'identifier', valueIdentifier: { value: 'dispo-matin' } },
            {
              url: 'type',
              valueCoding: {
                system: 'https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-schedule-type',
                code: 'free',
              },
            },
            { url: 'start', valueDateTime: OPEN.start },
            { url: 'end', valueDateTime: OPEN.end },
          ],
        },
        {
          url: 'https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-service-type-duration',
          extension: [
            {
              url: 'serviceType',
              valueCodeableConcept: { coding: [{ code: 'SUIVI', display: 'Consultation de suivi' }] },
            },
            {
              url: 'duration',
              valueDuration: { value: 20, unit: 'min', system: 'http://unitsofmeasure.org', code: 'min' },
            },
          ],
        },
      ],
    });
    expect(put.status).toBe(200);
    expect(await w.runtime.pollLink(w.fhirLinkId)).toMatchObject({ acquired: true, invalid: 0 });
    const store = w.t.service.store;
    const schedules = await store.resources.list({ practiceId: w.practiceId, kind: 'Schedule' });
    const withHours = schedules.find((s) => (s.data as unknown as Schedule).availabilityTime !== undefined);
    practitionerId = withHours?.practitionerId as string;
    const other = await store.practices.create({ id: 'cab-autre', name: 'Autre cabinet' });
    otherKey = (
      await createApiKey(store, { role: 'viewer', practiceId: other.id, createdBy: 'test', via: 'test' })
    ).key;
    viewerKey = (
      await createApiKey(store, { role: 'viewer', practiceId: w.practiceId, createdBy: 'test', via: 'test' })
    ).key;
  }, 120_000);

  afterAll(async () => {
    await w.dispose();
  });

  it('keeps the FrSchedule availability and visit durations and puts the imported rules in effect', async () => {
    expect(practitionerId).toBeTruthy();
    const res = await w.t.api(
      `/api/v1/practices/${w.practiceId}/agenda-rules/imported?practitionerId=${practitionerId}`,
      { key: viewerKey },
    );
    const body = (await res.json()) as { inEffect: string; imported: { rules: object; sources: object[] } };
    expect(body.inEffect).toBe('practice-software');
    expect(body.imported.rules).toMatchObject({
      exceptions: [{ date: day.toISODate(), hours: [{ start: '08:00', end: '12:00' }] }],
      visitTypes: [{ code: 'SUIVI', durationMinutes: 20 }],
    });
    expect(body.imported.sources).toEqual(
      expect.arrayContaining([expect.objectContaining({ source: 'schedule' })]),
    );
  });

  it('answers the ANS free-slot search with a valid searchset Bundle of Slot and, asked, their Schedule', async () => {
    const { status, type, body } = await search(viewerKey, '&_include=Slot:schedule');
    expect([status, type]).toEqual([200, 'application/fhir+json; charset=utf-8']);
    expect(body).toMatchObject({ resourceType: 'Bundle', type: 'searchset' });
    const slots = (body.entry ?? [])
      .filter((e) => e.search?.mode === 'match')
      .map((e) => e.resource as FhirSlot);
    const schedules = (body.entry ?? []).filter((e) => e.search?.mode === 'include');
    expect(slots.length).toBeGreaterThan(0);
    expect(body.total).toBe(slots.length);
    expect(schedules).toHaveLength(1);
    for (const s of slots) {
      expect(s.status).toBe('free');
      expect(Date.parse(s.end as string) - Date.parse(s.start as string)).toBe(20 * 60_000);
      expect(Date.parse(s.start as string)).toBeGreaterThanOrEqual(Date.parse(OPEN.start));
      expect(Date.parse(s.end as string)).toBeLessThanOrEqual(Date.parse(OPEN.end));
      expect(s.serviceType?.[0]?.coding?.[0]?.code).toBe('SUIVI');
      expect(s.schedule.reference).toBe(`Schedule/${schedules[0]?.resource?.id}`);
    }
    // Structurally valid FHIR R4, every resource and the Bundle (Medplum's validator, as the peer uses).
    loadFhirDefinitions();
    const errors = [body, ...(body.entry ?? []).map((e) => e.resource as Resource)].flatMap((r) =>
      validateResource(r).filter((i) => i.severity === 'error'),
    );
    expect(errors).toEqual([]);
    // A visit type the rules do not have finds nothing; a bad search is an OperationOutcome.
    expect((await search(viewerKey, '&service-type=ECHO')).body.total).toBe(0);
    const bad = await w.t.api('/fhir/r4/Slot?start=ge2026-01-01', { key: viewerKey });
    expect([bad.status, ((await bad.json()) as { resourceType: string }).resourceType]).toEqual([
      400,
      'OperationOutcome',
    ]);
  });

  it('gives a key limited to another practice nothing of this one, and no key at all a 401', async () => {
    const other = await search(otherKey);
    expect([other.status, other.body.total, other.body.entry]).toEqual([200, 0, []]);
    const imported = await w.t.api(
      `/api/v1/practices/${w.practiceId}/agenda-rules/imported?practitionerId=${practitionerId}`,
      { key: otherKey },
    );
    expect(imported.status).toBe(403);
    expect((await w.t.api(`/fhir/r4/Slot?schedule.actor=Practitioner/${RPPS}`, { key: null })).status).toBe(
      401,
    );
  });

  it('lets the rules set through the API win over the imported ones', async () => {
    const put = await w.t.api(`/api/v1/practices/${w.practiceId}/agenda-rules`, {
      method: 'PUT',
      key: w.integrator,
      json: {
        practitionerId,
        rules: {
          weekly: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], start: '14:00', end: '15:00' }],
          visitTypes: [{ code: 'CONS', label: 'Consultation', durationMinutes: 30 }],
          closedOnHolidays: false,
        },
      },
    });
    expect(put.status).toBe(200);
    const { body } = await search(viewerKey);
    const slots = (body.entry ?? []).map((e) => e.resource as FhirSlot);
    expect(slots.map((s) => s.serviceType?.[0]?.coding?.[0]?.code)).toEqual(['CONS', 'CONS']);
    expect(
      slots.map((s) => DateTime.fromISO(s.start as string, { zone: 'Europe/Paris' }).toFormat('HH:mm')),
    ).toEqual(['14:00', '14:30']);
  });
});
