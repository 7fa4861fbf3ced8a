/**
 * RGPD rights on one fictitious patient, on both stores, after real traffic through the sync
 * engine between two memory peers (the practice software creates Jeanne and Paul, the
 * secretariat books Jeanne and takes a call message about her): the export holds every datum
 * about Jeanne; the erase is refused while a change about her waits in the outbox, then leaves
 * nothing of her in any table (enumerated from the database itself) but audit rows naming her
 * canonical id only; on SQLite the file itself, after a checkpoint, holds none of her values.
 * Paul, the other patient, keeps all his data.
 */
import { readFileSync } from 'node:fs';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sql } from 'kysely';

import { isPasserelleError } from '../../src/errors.js';
import type { Appointment, CanonicalResource, Communication, Patient } from '../../src/model/resources.js';
import {
  erasePatient,
  exportPatient,
  type PatientEraseResult,
  type PatientExport,
} from '../../src/privacy/patient-data.js';
import type { JsonObject, Store } from '../../src/store/index.js';
import { fixturePatients, identifyingValues } from '../helpers/fixtures.js';
import { STORE_KINDS } from '../helpers/stores.js';
import { at, booking, seedAgenda, SyncHarness } from '../helpers/sync-harness.js';

const [jeanne, paul] = fixturePatients() as [Patient, Patient];
const BY = { actor: 'test-dpo', role: 'admin', via: 'test' } as const;

/** Every table of the store, as the database itself lists them (not our schema file). */
async function tables(store: Store): Promise<string[]> {
  const q =
    store.dialect === 'sqlite'
      ? sql<{
          name: string;
        }>`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`
      : sql<{
          name: string;
        }>`SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name`;
  return (await q.execute(store.db)).rows.map((r) => r.name);
}

/** Each row of `table` as one text (bytes read as Latin-1 so any ASCII value shows). */
async function rowsAsText(store: Store, table: string): Promise<string[]> {
  const rows = (await sql<Record<string, unknown>>`SELECT * FROM ${sql.table(table)}`.execute(store.db)).rows;
  return rows.map((r) =>
    Object.values(r)
      .map((v) =>
        Buffer.isBuffer(v)
          ? v.toString('latin1')
          : typeof v === 'object' && v !== null
            ? JSON.stringify(v)
            : String(v),
      )
      .join('\u0001'),
  );
}

const found = (text: string, needles: readonly string[]) =>
  needles.filter((n) => text.toLowerCase().includes(n.toLowerCase()));

describe.each(STORE_KINDS)('export and erase of one patient (%s store)', (kind) => {
  let h: SyncHarness;
  let jeanneId: string;
  let paulId: string;
  let appointmentId: string;
  let secAppointment: string;
  let exported: PatientExport;
  let refusal: unknown;
  let erased: PatientEraseResult;
  const needles = identifyingValues(jeanne);

  beforeAll(async () => {
    // Unsealed: the scans below must see what the erase left, not ciphertext (sealing is tested apart).
    h = await SyncHarness.open(kind, { unsealed: true });
    const agenda = seedAgenda(h.prac);
    const pracJeanne = h.prac.create(structuredClone(jeanne) as CanonicalResource);
    h.prac.create(structuredClone(paul) as CanonicalResource);
    await h.cycle();
    jeanneId = (await h.canonicalId('Patient', 'prac', pracJeanne)) as string;
    paulId = (await h.store.resources.list({ practiceId: h.practiceId, kind: 'Patient' })).find(
      (p) => p.id !== jeanneId,
    )?.id as string;

    // The secretariat books Jeanne and takes a call message about her; both reach the practice.
    const secJeanne = (await h.counterpart('Patient', 'prac', pracJeanne)) as string;
    const secPractitioner = (await h.counterpart('Practitioner', 'prac', agenda.practitioner)) as string;
    secAppointment = h.sec.create(
      booking(secPractitioner, secJeanne, at('2026-11-30', '09:00'), at('2026-11-30', '09:20'), {
        comment: 'Mme FICTIVE, rappeler au +33612345678',
      }),
    );
    const message: Communication = {
      resourceType: 'Communication',
      id: 'x',
      status: 'completed',
      priority: 'urgent',
      subject: { reference: `Patient/${secJeanne}` },
      recipient: [{ reference: `Practitioner/${secPractitioner}` }],
      payload: [{ contentString: 'Jeanne FICTIVE (née le 1985-03-14) rappelle au +33612345678' }],
    };
    h.sec.create(message as CanonicalResource);
    await h.sec.deliver();
    await h.dispatch();
    appointmentId = (await h.canonicalId('Appointment', 'sec', secAppointment)) as string;

    // What an operator would meet: a dead letter, a conflict and a match review about her.
    const record = (await h.store.resources.get(jeanneId))?.data as JsonObject;
    await h.store.deadLetters.add({
      practiceId: h.practiceId,
      linkId: h.pracLink.id,
      source: 'outbox',
      ref: null,
      kind: 'Patient',
      recordId: jeanneId,
      reasonCode: 'ERR_X',
      reason: 'refused by the peer',
      payload: record,
    });
    await h.store.conflicts.open({
      practiceId: h.practiceId,
      kind: 'Patient',
      recordId: jeanneId,
      fields: [
        {
          path: 'telecom[0].value',
          base: '+33612345678',
          practice: '+33612345678',
          secretariat: '+33699999999',
        },
      ],
    });
    await h.store.reviews.open({
      practiceId: h.practiceId,
      type: 'patient-match',
      recordId: jeanneId,
      payload: { externalId: secJeanne, candidates: [paulId] },
    });

    // An older record of hers merged into this one (ADT A40): inactive, replaced-by her.
    const merged = {
      ...structuredClone(jeanne),
      id: 'jeanne-merged-away',
      active: false,
      link: [{ other: { reference: `Patient/${jeanneId}` }, type: 'replaced-by' }],
    };
    await h.store.resources.put({
      id: 'jeanne-merged-away',
      practiceId: h.practiceId,
      kind: 'Patient',
      data: merged as unknown as JsonObject,
      origin: 'practice',
      expectedVersion: 0,
      status: 'inactive',
    });

    exported = await exportPatient(h.store, h.practiceId, jeanneId, BY);

    // A change about her still to deliver: the erase waits for it.
    h.sec.edit<Appointment>(secAppointment, (a) => ({ ...a, end: at('2026-11-30', '09:30') }));
    await h.sec.deliver();
    refusal = await erasePatient(h.store, h.practiceId, jeanneId, BY).catch((e: unknown) => e);
    await h.dispatch();
    erased = await erasePatient(h.store, h.practiceId, jeanneId, BY);
  });
  afterAll(async () => {
    await h.dispose();
  });

  it('exports the record, its external ids, match keys, snapshots, appointments, messages and queue rows', () => {
    expect(exported.patientId).toBe(jeanneId);
    expect(exported.mergedRecords.map((p) => p.id)).toEqual(['jeanne-merged-away']);
    expect((exported.patient.data as unknown as Patient).identifier?.map((i) => i.value)).toContain(
      '285037511234544',
    );
    expect(
      exported.identities
        .filter((i) => i.kind === 'Patient')
        .map((i) => i.linkId)
        .sort(),
    ).toEqual([h.pracLink.id, h.secLink.id].sort());
    expect(exported.matchKeys.length).toBeGreaterThan(0);
    expect(exported.snapshots.filter((s) => s.kind === 'Patient')).toHaveLength(2);
    expect(exported.appointments.map((a) => a.id)).toEqual([appointmentId]);
    expect(exported.communications).toHaveLength(1);
    expect(exported.outbox.some((o) => o.recordId === jeanneId && o.status === 'done')).toBe(true);
    expect(exported.deadLetters).toHaveLength(1);
    expect(exported.conflicts).toHaveLength(1);
    expect(exported.reviewItems).toHaveLength(1);
    expect(exported.activity.length).toBeGreaterThan(0);
  });

  it('exports the received messages that carried her and the audit events about her', () => {
    expect(exported.inbox.length).toBeGreaterThan(0);
    expect(exported.inbox.some((e) => e.body?.includes('285037511234544'))).toBe(true);
    expect(exported.audit.some((e) => e.action === 'sync.apply' && e.patientId === jeanneId)).toBe(true);
  });

  it('refuses the erase while a change about her waits in the outbox', () => {
    expect(isPasserelleError(refusal) && refusal.code).toBe('ERR_PATIENT_ERASE_PENDING');
  });

  it('reports what it removed and keeps the appointment without her', async () => {
    expect(erased.removed).toMatchObject({
      patientRecords: 2,
      communications: 1,
      deadLetters: 1,
      conflicts: 1,
      reviewItems: 1,
    });
    expect(erased.removed.inboxBodies).toBeGreaterThan(0);
    expect(erased.pseudonymised.appointments).toBe(1);
    const appointment = await h.store.resources.get(appointmentId);
    expect(appointment?.patientId).toBeNull();
    expect(appointment?.startAt).toBe(at('2026-11-30', '09:00'));
    expect(JSON.stringify(appointment?.data)).not.toContain(jeanneId);
    expect(await h.store.resources.get(jeanneId)).toBeUndefined();
    expect(await h.store.resources.get('jeanne-merged-away')).toBeUndefined();
  });

  it('leaves nothing of her in any table but audit rows naming her canonical id only', async () => {
    const names = await tables(h.store);
    expect(names).toEqual(
      expect.arrayContaining([
        'resources',
        'inbox',
        'outbox',
        'dead_letters',
        'review_items',
        'audit_events',
        'match_keys',
        'identity_map',
        'snapshots',
      ]),
    );
    const leaks: string[] = [];
    let auditRows = 0;
    for (const table of names) {
      for (const row of await rowsAsText(h.store, table)) {
        for (const n of found(row, needles)) leaks.push(`${table}: ${n}`);
        if (row.includes(jeanneId)) {
          if (table === 'audit_events') auditRows++;
          else leaks.push(`${table}: canonical id`);
        }
      }
    }
    expect(leaks).toEqual([]);
    expect(auditRows).toBeGreaterThan(2);
    const trail = await h.store.audit.list({ patientId: jeanneId, limit: 1000 });
    expect(trail.map((e) => e.action)).toEqual(
      expect.arrayContaining(['sync.apply', 'patient.export', 'patient.erase']),
    );
    expect(await h.store.audit.verify()).toMatchObject({ ok: true });
  });

  it('keeps every datum of the other patient', async () => {
    const paulNow = await h.store.resources.get(paulId);
    expect((paulNow?.data as unknown as Patient).name?.[0]?.family).toBe('DEMONSTRATION');
    expect((await h.store.identityMap.listByCanonical(paulId)).length).toBe(2);
  });

  if (kind === 'sqlite') {
    it('leaves none of her values in the SQLite file after a checkpoint', async () => {
      await sql`PRAGMA wal_checkpoint(TRUNCATE)`.execute(h.store.db);
      const file = (await sql<{ file: string }>`PRAGMA database_list`.execute(h.store.db)).rows[0]
        ?.file as string;
      const bytes = readFileSync(file).toString('latin1');
      expect(bytes.length).toBeGreaterThan(0);
      expect(found(bytes, needles)).toEqual([]);
      expect(found(bytes, identifyingValues(paul)).length).toBeGreaterThan(0);
    });
  }
});
