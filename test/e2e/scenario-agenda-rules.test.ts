/**
 * Issue 20 end to end: the practice's agenda rules enforced on secretariat bookings, through the
 * simulators. The practice sets Dr GENERALISTE's rules (mornings 09:00–12:00 Paris for
 * consultations, 12:00–13:00 kept for the day's urgencies); a routine booking in a slot its
 * FHIR software marks urgent-only is refused; an agent's booking in the evening
 * is refused back to the platform with the reason in French, as is a routine booking in the
 * urgent-only hour; an urgent booking takes that hour; a booking the practice forced passes.
 * Refused bookings never reach the practice software.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DateTime } from 'luxon';

import type { Appointment as SimAppointment } from '../../connectors/secretariat/contract.js';
import { fhirAppointments, simPatient, simPractitioner } from './lookups.js';
import { startWorld, type World } from './world.js';

describe('scenario: agenda rules enforced on secretariat bookings', () => {
  let w: World;
  let practitionerId: string;
  /** Wednesday after day0 (the demo agenda’s day 2), at a Paris wall-clock time. */
  const wednesdayAt = (hhmm: string) =>
    DateTime.fromISO(
      `${DateTime.fromJSDate(w.day0, { zone: 'UTC' }).plus({ days: 2 }).toISODate()}T${hhmm}`,
      {
        zone: 'Europe/Paris',
      },
    ).toJSDate();

  beforeAll(async () => {
    w = await startWorld();
  }, 120_000);
  afterAll(async () => {
    await w?.dispose();
  });

  const bookOnly = async (at: Date, minutes: number, appointmentTypeId: string): Promise<SimAppointment> => {
    const sec = w.fhir.secretariat;
    return sec.agent('agent-amelie').book({
      practitionerId: simPractitioner(sec, 'GENERALISTE').id,
      patientId: simPatient(sec, 'FICTIF-000004').id,
      start: at.toISOString(),
      end: new Date(at.getTime() + minutes * 60_000).toISOString(),
      appointmentTypeId,
    });
  };
  /** The booking refused on the platform, or accepted: a new appointment in the practice software. */
  const outcome = async (booking: SimAppointment, before: number) =>
    w.until(`booking ${booking.id} accepted or refused`, async () => {
      const a = w.fhir.secretariat.state.get('appointment', booking.id);
      if (a?.status === 'refused') return a;
      return (await fhirAppointments(w.fhir)).length > before ? a : undefined;
    });
  const book = async (at: Date, minutes: number, appointmentTypeId: string) => {
    const before = (await fhirAppointments(w.fhir)).length;
    return outcome(await bookOnly(at, minutes, appointmentTypeId), before);
  };

  it('accepts a booking while the practitioner has no rules, and the practice then sets them', async () => {
    const first = await book(wednesdayAt('10:40'), 20, 'CONS');
    await w.until(
      'the booking in the practice software',
      async () => (await fhirAppointments(w.fhir)).length === 1,
    );
    await w.settled(w.fhir);
    const report = await w.activity(w.fhir.id);
    practitionerId = report.appointments.byPractitioner[0]?.practitionerId as string;
    expect(practitionerId).toEqual(expect.any(String));
    expect(first?.status).toBe('booked');

    const res = await w.api(`/api/v1/practices/${w.fhir.id}/agenda-rules`, {
      method: 'PUT',
      key: w.integratorKey,
      json: {
        practitionerId,
        rules: {
          timeZone: 'Europe/Paris',
          closedOnHolidays: false,
          weekly: [
            { days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '12:00' },
            { days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '12:00', end: '13:00', kind: 'urgent' },
          ],
          visitTypes: [
            { code: 'CONS', label: 'Consultation', durationMinutes: 20 },
            { code: 'CONS-SUIVI', label: 'Urgence du jour', durationMinutes: 20, urgent: true },
          ],
        },
      },
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { outsideRules: unknown[] }).outsideRules).toEqual([]);
  });

  it('refuses a routine booking in a slot the practice software marked urgent-only, once it has rules', async () => {
    // The demo agenda's first slot of each day (09:00Z, 10:00 Paris) is v2-0276 EMERGENCY.
    const refused = await book(wednesdayAt('10:00'), 20, 'CONS');
    expect(refused?.refusal?.code).toBe('ERR_SYNC_OUTSIDE_AGENDA_RULES');
    expect(refused?.refusal?.message).toMatch(/réservé aux urgences du jour/);
  });

  it('refuses back to the agent, in French, a booking outside opening hours', async () => {
    const from = (await fhirAppointments(w.fhir)).length;
    const refused = await book(wednesdayAt('19:00'), 20, 'CONS');
    expect(refused?.status).toBe('refused');
    expect(refused?.refusal?.code).toBe('ERR_SYNC_OUTSIDE_AGENDA_RULES');
    expect(refused?.refusal?.message).toMatch(
      /^Rendez-vous refusé : le mercredi .* à 19:00 est en dehors des heures d’ouverture du cabinet\./,
    );
    await w.settled(w.fhir);
    expect(await fhirAppointments(w.fhir)).toHaveLength(from);
  });

  it('refuses a routine booking in the urgent-only hour, and takes an urgent one there', async () => {
    const refused = await book(wednesdayAt('12:00'), 20, 'CONS');
    expect(refused?.refusal?.message).toMatch(/réservé aux urgences du jour/);

    const accepted = await book(wednesdayAt('12:20'), 20, 'CONS-SUIVI');
    // CONS-SUIVI is this practitioner's urgent visit type in the rules above.
    expect(accepted?.status).toBe('booked');
  });

  it('refuses a booking whose duration does not match its visit type', async () => {
    expect((await book(wednesdayAt('11:00'), 45, 'CONS'))?.refusal?.message).toMatch(
      /ce motif dure 20 minutes/,
    );
  });

  it('lets a booking the practice forced pass, once, audited', async () => {
    const at = wednesdayAt('19:30');
    const forced = await w.api(`/api/v1/practices/${w.fhir.id}/forced-bookings`, {
      method: 'POST',
      key: w.integratorKey,
      json: {
        practitionerId,
        start: at.toISOString(),
        end: new Date(at.getTime() + 20 * 60_000).toISOString(),
        reason: 'Patient vu en fin de journée à la demande du médecin',
      },
    });
    expect(forced.status).toBe(201);
    expect((await book(at, 20, 'CONS'))?.status).toBe('booked');
    const list = (await (
      await w.api(`/api/v1/practices/${w.fhir.id}/forced-bookings`, { key: w.integratorKey })
    ).json()) as {
      items: { usedBy: string | null }[];
    };
    expect(list.items).toEqual([expect.objectContaining({ usedBy: expect.any(String) })]);
  });
});
