/**
 * The daily reminder pass (src/sync/reminders.ts) reads the patients it needs, not the
 * practice's file: the patients its window's appointments name, by id, and — recall dates from
 * the practice software — the patients scanned a page at a time, keeping those due. It selects
 * what reading every patient and each candidate's appointments one by one selected (the rules,
 * reminder-selection.ts, are the same), on a real store of each kind. Fictitious patients.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';

import { createLogger } from '../../src/log/logger.js';
import { EXT } from '../../src/model/identifiers.js';
import type { Appointment, Patient } from '../../src/model/resources.js';
import type { Store } from '../../src/store/index.js';
import type { JsonObject, ResourceQuery, StoredResource } from '../../src/store/types.js';
import { agendaColumns } from '../../src/sync/records.js';
import {
  type AppointmentFacts,
  patientFacts,
  recallWindows,
  selectReminders,
  upcomingWindow,
} from '../../src/sync/reminder-selection.js';
import { reminderSettingsOf } from '../../src/sync/reminder-settings.js';
import { ReminderJob } from '../../src/sync/reminders.js';
import { openTestStore, STORE_KINDS, testClock, type TestStore } from '../helpers/stores.js';

const DAY_MS = 86_400_000;
/** Monday 7 December 2026, 08:00 UTC (09:00 in Paris): the pass of that day. */
const NOW = Date.parse('2026-12-07T08:00:00.000Z');
const DAY = '2026-12-07';
const iso = (ms: number) => new Date(ms).toISOString();

/** What the pass read before: every patient, and each recall candidate's appointments one by one. */
async function selectedReadingEverything(store: Store, practiceId: string): Promise<string[]> {
  const p = await store.practices.require(practiceId);
  const s = reminderSettingsOf(p.settings).settings as NonNullable<
    ReturnType<typeof reminderSettingsOf>['settings']
  >;
  const facts = (rows: StoredResource[]): AppointmentFacts[] =>
    rows.map((r) => ({
      id: r.id,
      patientId: r.patientId,
      status: r.status ?? 'unknown',
      start: Date.parse(r.startAt as string),
      visitType: (r.data as unknown as Appointment).serviceType?.[0]?.coding?.[0]?.code ?? null,
    }));
  const win = upcomingWindow(DAY, NOW, p.timezone, s);
  const upcoming = facts(
    await store.resources.list({ practiceId, kind: 'Appointment', from: iso(win.from), to: iso(win.to) }),
  );
  const past: AppointmentFacts[] = [];
  for (const w of recallWindows(DAY, p.timezone, s))
    past.push(
      ...facts(
        await store.resources.list({ practiceId, kind: 'Appointment', from: iso(w.from), to: iso(w.to) }),
      ),
    );
  const patients = new Map(
    (await store.resources.list({ practiceId, kind: 'Patient' })).map((r) => [
      r.id,
      patientFacts(r as Parameters<typeof patientFacts>[0]),
    ]),
  );
  const visitsOf = new Map<string, AppointmentFacts[]>();
  for (const id of [...patients.keys(), ...past.map((a) => a.patientId as string)])
    if (patients.get(id)?.recallDue != null || past.some((a) => a.patientId === id))
      visitsOf.set(id, facts(await store.resources.list({ practiceId, kind: 'Appointment', patientId: id })));
  const { selected } = selectReminders({
    day: DAY,
    now: NOW,
    zone: p.timezone,
    settings: s,
    upcoming,
    past,
    visitsOf,
    patients,
    optedOut: await store.reminders.optedOut(practiceId),
    handed: new Set(),
  });
  return selected.map((r) => `${r.kind} ${r.dedupeKey} ${r.patientId}`).sort();
}

describe.each(STORE_KINDS)('the daily reminder pass reads (%s)', (storeKind) => {
  let t: TestStore;
  let practiceId: string;
  let n = 0;
  /** Where the fixtures are written: the store, or the transaction that writes them all. */
  let w: Pick<Store, 'resources'>;

  const patient = async (extra: Partial<Patient> & { consent?: boolean; recallDue?: string } = {}) => {
    const { consent, recallDue, ...rest } = extra;
    const id = `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`;
    const data: Patient = {
      resourceType: 'Patient',
      id,
      name: [{ family: `FICTIF-${n}`, given: ['Camille'] }],
      gender: 'female',
      birthDate: '1960-01-01',
      extension: [
        ...(consent !== undefined ? [{ url: EXT.reminderConsent, valueBoolean: consent }] : []),
        ...(recallDue !== undefined ? [{ url: EXT.recallDue, valueDate: recallDue }] : []),
      ],
      ...rest,
    };
    await w.resources.put({
      id,
      practiceId,
      kind: 'Patient',
      data: data as unknown as JsonObject,
      origin: 'practice',
      expectedVersion: 0,
      ...(await agendaColumns(t.store as never, data)),
    });
    return id;
  };
  const appointment = async (patientId: string, startMs: number, status = 'booked', visit = 'CONS') => {
    const id = `10000000-0000-4000-8000-${String(++n).padStart(12, '0')}`;
    const data: Appointment = {
      resourceType: 'Appointment',
      id,
      status: status as Appointment['status'],
      start: iso(startMs),
      end: iso(startMs + 15 * 60_000),
      serviceType: [{ coding: [{ code: visit }] }],
      participant: [{ actor: { reference: `Patient/${patientId}` }, status: 'accepted' }],
    };
    await w.resources.put({
      id,
      practiceId,
      kind: 'Appointment',
      data: data as unknown as JsonObject,
      origin: 'practice',
      expectedVersion: 0,
      ...(await agendaColumns(t.store as never, data)),
    });
    return id;
  };

  /** The pass through a store that counts the Patient records each query returns. */
  async function runPass(): Promise<{ selected: string[]; patientsRead: number; largestRead: number }> {
    let patientsRead = 0;
    let largestRead = 0;
    const count = (rows: StoredResource[]) => {
      const patients = rows.filter((r) => r.kind === 'Patient').length;
      patientsRead += patients;
      largestRead = Math.max(largestRead, patients);
      return rows;
    };
    const store: Store = {
      ...t.store,
      resources: {
        ...t.store.resources,
        list: async (q: ResourceQuery) => count(await t.store.resources.list(q)),
        getMany: async (ids: readonly string[]) => count(await t.store.resources.getMany(ids)),
      },
    };
    const job = new ReminderJob({
      store,
      logger: createLogger({ silent: true }),
      connectorOf: () => undefined,
    });
    await job.runPractice(practiceId, DAY);
    const stored = await t.store.reminders.list({ practiceId, passDay: DAY });
    return {
      selected: stored.map((r) => `${r.kind} ${r.dedupeKey} ${r.patientId}`).sort(),
      patientsRead,
      largestRead,
    };
  }

  beforeEach(async () => {
    t = await openTestStore(storeKind, { now: testClock(NOW) });
    practiceId = (await t.store.practices.create({ name: 'Cabinet' })).id;
    const other = (await t.store.practices.create({ name: 'Cabinet voisin' })).id;
    await t.store.transaction(async (tx) => {
      w = tx;
      await fixtures(other);
    });
  }, 120_000);

  async function fixtures(other: string): Promise<void> {
    // Another practice's patient due a recall: never read, never selected.
    const keep = practiceId;
    practiceId = other;
    await patient({ consent: true, recallDue: '2026-12-01' });
    practiceId = keep;

    // 600 patients nobody has to call (more than one page of the scan).
    for (let i = 0; i < 600; i++) await patient({ consent: i % 2 === 0 });
    // Reminders: tomorrow (lead 1 day) with consent, without, refused, inactive; a cancelled one.
    await appointment(await patient({ consent: true }), NOW + DAY_MS);
    await appointment(await patient(), NOW + DAY_MS);
    await appointment(await patient({ consent: false }), NOW + DAY_MS);
    await appointment(await patient({ consent: true, active: false }), NOW + DAY_MS);
    await appointment(await patient({ consent: true }), NOW + DAY_MS, 'cancelled');
    // Echography two days ahead (lead 2), and one three days ahead (not yet).
    await appointment(await patient({ consent: true }), NOW + 2 * DAY_MS, 'booked', 'ECHO');
    await appointment(await patient({ consent: true }), NOW + 3 * DAY_MS, 'booked', 'ECHO');
    // Recall by rule: a visit six months ago; another patient came back since.
    await appointment(await patient({ consent: true }), Date.parse('2026-06-05T09:00:00Z'), 'fulfilled');
    const back = await patient({ consent: true });
    await appointment(back, Date.parse('2026-06-05T10:00:00Z'), 'fulfilled');
    await appointment(back, Date.parse('2026-09-01T10:00:00Z'), 'fulfilled');
    // Recall dates from the practice software: due last week, due but booked ahead, long past, later.
    await patient({ consent: true, recallDue: '2026-12-01' });
    await appointment(await patient({ consent: true, recallDue: '2026-12-03' }), NOW + 10 * DAY_MS);
    await patient({ consent: true, recallDue: '2026-09-01' });
    await patient({ consent: true, recallDue: '2027-01-15' });
  }
  afterEach(async () => {
    await t?.dispose();
  });

  const settings = (recallsFromPracticeSoftware: boolean) =>
    t.store.practices.update(practiceId, {
      settings: {
        reminders: {
          enabled: true,
          defaultLeadDays: 1,
          visitTypes: { ECHO: { leadDays: 2 }, CONS: { recallAfterMonths: 6 } },
          recallsFromPracticeSoftware,
        },
      },
    });

  it('selects what reading every patient selected, scanning the file a page at a time for recall dates', async () => {
    await settings(true);
    const expected = await selectedReadingEverything(t.store, practiceId);
    expect(expected.map((s) => s.split(' ')[0] + ' ' + s.split(' ')[1]?.split(':')[0])).toEqual(
      expect.arrayContaining(['reminder appointment', 'recall recall-rule', 'recall recall-date']),
    );
    const r = await runPass();
    expect(r.selected).toEqual(expected);
    expect(r.largestRead).toBeLessThanOrEqual(500);
  });

  it('reads only the patients the window’s appointments name when recall dates are off', async () => {
    await settings(false);
    const expected = await selectedReadingEverything(t.store, practiceId);
    const r = await runPass();
    expect(r.selected).toEqual(expected);
    // Nine appointments in the windows name nine patients (the cancelled one's included).
    expect(r.patientsRead).toBeLessThanOrEqual(9);
  });
});
