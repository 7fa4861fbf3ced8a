/**
 * Reminders and recalls (issue 21 point 3), end to end: the FHIR peer is the practice software
 * (patients' consent flags in their FHIR extension), the secretariat simulator's agents book the
 * appointments and then call the patients the reminders name, the whole service runs on a real
 * SQLite store with an injected clock shared with the simulator (the daily pass is driven by
 * the clock, not by waiting).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Bundle, Communication as FhirCommunication, Patient as FhirPatient } from '@medplum/fhirtypes';

import { type RemindersModule, remindersModule } from '../../src/app/features/reminders.js';
import { reportsModule } from '../../src/app/features/reports.js';
import { EXT } from '../../src/model/identifiers.js';
import { createApiKey } from '../../src/security/api-keys.js';
import type { ReminderJob } from '../../src/sync/reminders.js';
import { type FhirWorld, startFhirWorld, until } from '../helpers/fhir-world.js';
import { testClock } from '../helpers/stores.js';

const DAY = 86_400_000;
/** The Monday after today, 00:00 UTC: the demo agenda's first day (slots from 09:00 UTC). */
function nextMonday(): Date {
  const now = new Date();
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  const ahead = ((8 - new Date(today).getUTCDay()) % 7 || 7) + 7;
  return new Date(today + ahead * DAY);
}

describe('reminders and recalls through the secretariat', () => {
  const day0 = nextMonday();
  const clock = testClock(Date.now());
  let w: FhirWorld;
  let reminders!: RemindersModule;
  let job: ReminderJob;
  let keyA: string;
  let keyB: string;
  let otherPractice: string;
  const names: string[] = [];
  const fhirAppointments: Record<string, string> = {};

  const json = async <T>(res: Response, status: number): Promise<T> => {
    const body = await res.text();
    if (res.status !== status) throw new Error(`expected HTTP ${status}, got ${res.status}: ${body}`);
    return (body ? JSON.parse(body) : undefined) as T;
  };
  const store = () => w.t.service.store;
  const canonical = async (kind: 'Patient' | 'Appointment', fhirId: string) =>
    (await store().identityMap.findCanonical(w.fhirLinkId, kind, fhirId)) as string;
  const patchSettings = async (practiceId: string, settings: object) => {
    const p = await json<{ version: number }>(await w.t.api(`/api/v1/practices/${practiceId}`), 200);
    return w.t.api(`/api/v1/practices/${practiceId}`, {
      method: 'PATCH',
      headers: { 'if-match': `"${p.version}"` },
      json: { settings },
    });
  };
  /** The practice's staff set (or not) the reminder consent flag in their software. */
  const setConsent = async (fhirId: string, consent: boolean | null) => {
    const current = await w.fhir<FhirPatient>('GET', `Patient/${fhirId}`);
    names.push(current.body.name?.[0]?.family as string);
    if (consent === null) return;
    const body = {
      ...current.body,
      extension: [...(current.body.extension ?? []), { url: EXT.reminderConsent, valueBoolean: consent }],
    };
    await json(
      await fetch(`${w.peer.url}/Patient/${fhirId}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/fhir+json', 'if-match': current.etag as string },
        body: JSON.stringify(body),
      }),
      200,
    );
  };
  /** An agent books a demo slot for a patient; resolves once the practice software has it. */
  const book = async (fhirSlot: string, fhirPatient: string) => {
    const slotId = (await until(`slot ${fhirSlot} on the platform`, () =>
      w.onSim('Slot', fhirSlot),
    )) as string;
    const patientId = (await until(`patient ${fhirPatient} on the platform`, () =>
      w.onSim('Patient', fhirPatient),
    )) as string;
    const apt = await w.sim.agent('agent-amelie').book({ slotId, patientId });
    fhirAppointments[fhirPatient] = (await until('the booking on the FHIR server', () =>
      w.onFhir('Appointment', apt.id),
    )) as string;
    return apt;
  };
  const pass = async (dayMs: number) => {
    clock.set(dayMs + 7 * 3_600_000); // 08:00 in Paris (winter), the practice's send time
    return job.runDue();
  };

  beforeAll(async () => {
    w = await startFhirWorld({
      day0,
      now: clock,
      extraModules: (sync) => {
        reminders = remindersModule({ sync, schedule: false });
        return [reminders, reportsModule({ scheduleDigests: false })];
      },
    });
    job = reminders.jobOf(w.t.service.context);
    // Alice consents, Bruno refused in the practice software, Chloé has no flag, Denis consents.
    await setConsent('pat-000003', true);
    await setConsent('pat-000004', false);
    await setConsent('pat-000005', null);
    await setConsent('pat-000006', true);
    await w.runtime.pollLink(w.fhirLinkId);
    await w.settled();
    await book('slot-1-0-3', 'pat-000003');
    await book('slot-1-0-4', 'pat-000004');
    await book('slot-1-0-5', 'pat-000005');
    await book('slot-1-0-6', 'pat-000006');
    await book('slot-1-1-3', 'pat-000006'); // Denis again on Tuesday
    await w.settled();
    otherPractice = (
      await json<{ id: string }>(
        await w.t.api('/api/v1/practices', { method: 'POST', json: { name: 'Cabinet voisin' } }),
        201,
      )
    ).id;
    const key = async (role: 'viewer' | 'integrator', practiceId: string) =>
      (await createApiKey(store(), { role, practiceId, createdBy: 'test', via: 'test' })).key;
    keyA = await key('integrator', w.practiceId);
    keyB = await key('integrator', otherPractice);
  }, 120_000);
  afterAll(async () => {
    await w?.dispose();
  });

  it('refuses malformed reminder rules, naming each field, and keeps the practice unchanged', async () => {
    const res = await patchSettings(w.practiceId, {
      reminders: { enabled: true, defaultLeadDays: 40, visitTypes: { ECHO: { recallAfterMonths: 0 } } },
    });
    const body = await json<{ error: { code: string; details: { issues: { path: string }[] } } }>(res, 400);
    expect(body.error.code).toBe('ERR_VALIDATION');
    expect(body.error.details.issues.map((i) => i.path).sort()).toEqual([
      'body.settings.reminders.defaultLeadDays',
      'body.settings.reminders.visitTypes.ECHO.recallAfterMonths',
    ]);
    const kept = await json<{ settings: Record<string, unknown> }>(
      await w.t.api(`/api/v1/practices/${w.practiceId}`),
      200,
    );
    expect(kept.settings['reminders']).toBeUndefined();
    await json(
      await patchSettings(w.practiceId, {
        reminders: { enabled: true, sendAt: '08:00', defaultLeadDays: 1 },
      }),
      200,
    );
  });

  it('reminds only consenting patients, hands them to the agents once, and honours an opt-out reported on the call', async () => {
    // Sunday: Monday's appointments are due (one day's lead time).
    const sunday = await pass(day0.getTime() - DAY);
    expect(sunday.passes).toHaveLength(1);
    expect(sunday.passes[0]).toMatchObject({ reminders: 2, recalls: 0 });
    // Bruno refused; Chloé and the two demo patients booked by the seed have no consent recorded.
    expect(sunday.passes[0]?.skipped).toMatchObject({ 'opted-out': 1, 'no-consent': 3 });
    expect(sunday.handed).toBe(2);

    const agent = w.sim.agent('agent-bruno');
    const open = await agent.reminders();
    const simPatient = async (fhir: string) => w.onSim('Patient', fhir);
    expect(open.map((r) => r.patientId).sort()).toEqual(
      [await simPatient('pat-000003'), await simPatient('pat-000006')].sort(),
    );
    expect(
      open.every(
        (r) =>
          r.kind === 'reminder' && r.appointmentId !== null && r.note.startsWith('Rappel du rendez-vous du'),
      ),
    ).toBe(true);

    // A second run the same day, a forced pass and a restart-like re-run hand nothing twice.
    expect((await job.runDue()).passes).toEqual([]);
    const forced = await json<{ selected: number; skipped: Record<string, number> }>(
      await w.t.api(`/api/v1/practices/${w.practiceId}/reminders/run`, {
        method: 'POST',
        key: keyA,
        json: {},
      }),
      200,
    );
    expect(forced.selected).toBe(0);
    expect(forced.skipped['already-handed']).toBe(2);
    expect(await agent.reminders()).toHaveLength(2);

    // The agents call: Alice is reached; Denis declines and asks not to be reminded again.
    const aliceSim = await simPatient('pat-000003');
    for (const r of open)
      if (r.patientId === aliceSim) await agent.reportReminder(r.id, 'reached');
      else await agent.reportReminder(r.id, 'declined', true);
    const collected = await job.runDue();
    expect(collected).toMatchObject({ outcomes: 2, writtenBack: 2 });

    // Monday: Denis's Tuesday appointment is not reminded (opted out on the call).
    const monday = await pass(day0.getTime());
    expect(monday.passes[0]).toMatchObject({ reminders: 0 });
    expect(monday.passes[0]?.skipped['opted-out']).toBe(2);
    expect(await agent.reminders()).toEqual([]);
  });

  it('writes each outcome back to the practice software as a Communication about the appointment', async () => {
    const rows = await store().reminders.list({ practiceId: w.practiceId });
    const denis = await canonical('Patient', 'pat-000006');
    for (const r of rows.filter((x) => x.outcome !== null)) {
      const found = await w.fhir<Bundle<FhirCommunication>>(
        'GET',
        `Communication?identifier=${encodeURIComponent(`https://fhir.passerelle.fr/reminder|${r.id}`)}`,
      );
      expect(found.body.total ?? found.body.entry?.length).toBe(1);
      const c = found.body.entry?.[0]?.resource as FhirCommunication;
      expect(c.status).toBe('completed');
      expect(c.about?.[0]?.reference).toMatch(/^Appointment\//);
      expect(c.payload?.[0]?.contentString).toContain(
        r.patientId === denis ? 'refusé par le patient' : 'patient joint',
      );
      if (r.patientId === denis)
        expect(c.payload?.[0]?.contentString).toContain('ne souhaite plus être relancé');
    }
    // Read back by the poll, it stays in the practice software: nothing reaches the secretariat.
    const messages = w.sim.state.list('message').length;
    await w.runtime.pollLink(w.fhirLinkId);
    await w.settled();
    expect(w.sim.state.list('message')).toHaveLength(messages);
  });

  it('counts reminders, outcomes, opt-outs and what was not made in the activity report and its CSV', async () => {
    const from = new Date(day0.getTime() - 7 * DAY).toISOString();
    const to = new Date(day0.getTime() + 7 * DAY).toISOString();
    const report = await json<{ reminders: Record<string, number> }>(
      await w.t.api(`/api/v1/reports/activity?practice=${w.practiceId}&from=${from}&to=${to}`, { key: keyA }),
      200,
    );
    expect(report.reminders).toEqual({
      reminders: 2,
      recalls: 0,
      handed: 2,
      reached: 1,
      notReached: 0,
      rebooked: 0,
      declined: 1,
      awaitingOutcome: 0,
      optOuts: 1,
      writtenBack: 2,
      skippedNoConsent: 3 + 3,
      skippedOptedOut: 1 + 2,
      skippedInactive: 0,
    });
    const csv = await w.t.api(
      `/api/v1/reports/activity?practice=${w.practiceId}&from=${from}&to=${to}&format=csv`,
      { key: keyA },
    );
    expect(await csv.text()).toContain('Rappels et relances');
  });

  it("exports the day's reminders as CSV for the practice's staff, audited, and nothing of them to another practice's key", async () => {
    const sunday = new Date(day0.getTime() - DAY).toISOString().slice(0, 10);
    const res = await w.t.api(`/api/v1/practices/${w.practiceId}/reminders?day=${sunday}&format=csv`, {
      key: keyA,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-disposition')).toContain(
      `passerelle-relances-${w.practiceId}-${sunday}.csv`,
    );
    const text = await res.text();
    const lines = text.trim().split('\r\n');
    expect(lines).toHaveLength(3);
    expect(text).toContain('patient joint');
    expect(text).toContain('refusé par le patient');
    const audited = await store().audit.list({
      practiceIds: [w.practiceId],
      action: 'reminders.export',
      limit: 10,
    });
    expect(audited.length).toBeGreaterThan(0);

    const list = `/api/v1/practices/${w.practiceId}/reminders?day=${sunday}`;
    expect((await w.t.api(list, { key: keyB })).status).toBe(403);
    expect((await w.t.api(`${list}&format=csv`, { key: keyB })).status).toBe(403);
    expect(
      (
        await w.t.api(`/api/v1/practices/${w.practiceId}/reminders/run`, {
          method: 'POST',
          key: keyB,
          json: {},
        })
      ).status,
    ).toBe(403);
    const alice = await canonical('Patient', 'pat-000003');
    const optOut = `/api/v1/practices/${w.practiceId}/reminder-opt-outs/${alice}`;
    expect((await w.t.api(optOut, { method: 'PUT', key: keyB })).status).toBe(403);
    expect((await w.t.api(optOut, { method: 'DELETE', key: keyB })).status).toBe(403);
    expect((await store().reminders.optedOut(w.practiceId)).has(alice)).toBe(false);
    // Its own practice's key records the opt-out.
    expect(await json(await w.t.api(optOut, { method: 'PUT', key: keyA }), 200)).toEqual({
      optedOut: true,
      changed: true,
    });
    expect((await store().reminders.optedOut(w.practiceId)).has(alice)).toBe(true);
    const mine = await json<{ items: { patientId: string; outcome: string | null }[] }>(
      await w.t.api(list, { key: keyA }),
      200,
    );
    expect(mine.items).toHaveLength(2);
  });

  it('logs no patient name', () => {
    const text = JSON.stringify(w.logs);
    expect(names.length).toBe(4);
    for (const n of names) expect(text).not.toContain(n);
  });
});
