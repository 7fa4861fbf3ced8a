/**
 * Issue 16, "Sealed at rest": the fictitious patients written through every repository that
 * holds patient data are unreadable in the raw store (SQLite file + WAL, PostgreSQL rows), the
 * repositories read them back, and `key rotate` moves everything to a new key in resumable
 * batches, sealing rows written in clear before sealing existed.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { statSync } from 'node:fs';
import { dirname, join } from 'node:path';

import { afterEach, describe, expect, it } from '@jest/globals';
import { sql } from 'kysely';

import type { Patient } from '../../src/model/resources.js';
import { Keyring } from '../../src/security/sealing.js';
import { openPostgresStore, openSqliteStore, type Store, type StoreSealing } from '../../src/store/index.js';
import { resealStore, SEALED_TABLES } from '../../src/store/reseal.js';
import { fixturePatients } from '../helpers/fixtures.js';
import { hl7 } from '../helpers/hl7.js';
import { type PhiFinding, scanFilesForPhi, scanForPhi, sqliteStoreFiles } from '../helpers/phi-scan.js';
import { openTestStore, STORE_KINDS, type StoreKind, tempDir, type TestStore } from '../helpers/stores.js';

const patients = fixturePatients();
const matchKey = (p: Patient) =>
  createHash('sha256')
    .update(`demo:${p.name?.[0]?.family ?? ''}|${p.birthDate ?? ''}|${p.gender ?? ''}`)
    .digest('hex');
const phone = (p: Patient) => p.telecom?.find((t) => t.system === 'phone')?.value ?? '';

interface Written {
  readonly patient: Patient;
  readonly resourceId: string;
  readonly inboxId: number;
  readonly outboxKey: string;
  readonly deadLetterId: string;
  readonly reviewId: string;
  readonly conflictId: string;
}

async function setUp(store: Store): Promise<void> {
  await store.practices.create({ id: 'cab-seal', name: 'Cabinet scellé' });
  await store.links.create({
    id: 'lnk-seal',
    practiceId: 'cab-seal',
    role: 'practice',
    connector: 'hl7v2',
    name: 'HL7',
  });
}

/** One patient through every repository that holds patient data. */
async function writePatient(store: Store, patient: Patient, tag: string): Promise<Written> {
  const resourceId = randomUUID();
  const data = { ...patient, id: resourceId } as unknown as Record<string, unknown>;
  const ins = patient.identifier?.[0]?.value ?? '';
  const family = patient.name?.[0]?.family ?? '';
  await store.resources.put({
    id: resourceId,
    practiceId: 'cab-seal',
    kind: 'Patient',
    data,
    origin: 'practice',
    expectedVersion: 0,
  });
  await store.snapshots.put({
    linkId: 'lnk-seal',
    kind: 'Patient',
    canonicalId: resourceId,
    data,
    externalVersion: null,
  });
  await store.matchKeys.add('cab-seal', 'Patient', resourceId, [matchKey(patient)]);
  // A patient without IPP is known to an HL7 peer by its INS (mappings/hl7v2-ihe-pam-fr.yaml).
  await store.identityMap.set({
    linkId: 'lnk-seal',
    kind: 'Patient',
    externalId: ins,
    canonicalId: resourceId,
    practiceId: 'cab-seal',
  });
  const body = hl7(
    'MSH|^~\\&|LOGICIEL|CAB|PASSERELLE|CAB|20261123090000||ADT^A31|' + tag + '|P|2.5',
    `PID|||${ins}^^^INS-NIR||${family}^${patient.name?.[0]?.given?.[0] ?? ''}||19850314|F|||||${phone(patient)}`,
  );
  const accepted = await store.inbox.accept({
    linkId: 'lnk-seal',
    dedupeKey: `LOGICIEL|CAB|${tag}`,
    bodyHash: createHash('sha256').update(body).digest('hex'),
    messageType: 'ADT^A31',
    body,
  });
  const outboxKey = `push-${tag}`;
  await store.outbox.enqueue({
    practiceId: 'cab-seal',
    linkId: 'lnk-seal',
    kind: 'Patient',
    recordId: resourceId,
    op: 'update',
    payload: data,
    idempotencyKey: outboxKey,
  });
  const dead = await store.deadLetters.add({
    practiceId: 'cab-seal',
    linkId: 'lnk-seal',
    source: 'inbox',
    ref: tag,
    kind: 'Patient',
    recordId: resourceId,
    reasonCode: 'ERR_MODEL_INVALID',
    reason: 'invalid',
    payload: data,
  });
  const review = await store.reviews.open({
    practiceId: 'cab-seal',
    type: 'patient-match',
    recordId: resourceId,
    payload: { incoming: data },
  });
  await store.reviews.close(review.id, { status: 'resolved', resolution: { kept: family }, by: 'test' });
  const conflict = await store.conflicts.open({
    practiceId: 'cab-seal',
    kind: 'Patient',
    recordId: resourceId,
    fields: [{ path: 'telecom', base: null, practice: phone(patient), secretariat: ins }],
  });
  await store.conflicts.close(conflict.id, {
    status: 'resolved',
    resolution: { value: phone(patient) },
    by: 'test',
  });
  return {
    patient,
    resourceId,
    inboxId: accepted.entry.id,
    outboxKey,
    deadLetterId: dead.id,
    reviewId: review.id,
    conflictId: conflict.id,
  };
}

/** Every datum written comes back in clear through the repositories. */
async function expectReadBack(store: Store, w: Written): Promise<void> {
  const family = w.patient.name?.[0]?.family;
  expect((await store.resources.get(w.resourceId))?.data['name']).toEqual(w.patient.name);
  expect((await store.resources.getMany([w.resourceId]))[0]?.data['telecom']).toEqual(w.patient.telecom);
  expect((await store.snapshots.get('lnk-seal', 'Patient', w.resourceId))?.data['identifier']).toEqual(
    w.patient.identifier,
  );
  expect(await store.matchKeys.find('cab-seal', matchKey(w.patient))).toContain(w.resourceId);
  const ins = w.patient.identifier?.[0]?.value as string;
  expect(await store.identityMap.findCanonical('lnk-seal', 'Patient', ins)).toBe(w.resourceId);
  expect(await store.identityMap.findExternal('lnk-seal', 'Patient', w.resourceId)).toEqual([ins]);
  expect((await store.identityMap.listByCanonical(w.resourceId)).map((l) => l.externalId)).toEqual([ins]);
  expect((await store.inbox.get(w.inboxId))?.body?.toString('latin1')).toContain(`${family}^`);
  expect((await store.outbox.list({ recordId: w.resourceId }))[0]?.payload['name']).toEqual(w.patient.name);
  expect((await store.deadLetters.get(w.deadLetterId))?.payload?.['telecom']).toEqual(w.patient.telecom);
  expect((await store.reviews.get(w.reviewId))?.resolution).toEqual({ kept: family });
  const conflict = await store.conflicts.get(w.conflictId);
  expect(conflict?.fields[0]?.practice).toBe(phone(w.patient));
  expect(conflict?.resolution).toEqual({ value: phone(w.patient) });
}

/** Every row of every table, as raw bytes (byte columns as they are stored). */
async function rawRows(store: Store): Promise<Array<{ name: string; data: Buffer }>> {
  const tables = [
    'practices',
    'links',
    'identity_map',
    'cursors',
    'audit_events',
    'activity_events',
    ...SEALED_TABLES,
  ];
  const out: Array<{ name: string; data: Buffer }> = [];
  for (const table of tables) {
    const { rows } = await sql<Record<string, unknown>>`SELECT * FROM ${sql.table(table)}`.execute(store.db);
    const parts = rows.flatMap((r) =>
      Object.values(r).map((v) =>
        Buffer.isBuffer(v) ? v : v instanceof Uint8Array ? Buffer.from(v) : Buffer.from(String(v)),
      ),
    );
    out.push({ name: table, data: Buffer.concat(parts) });
  }
  return out;
}

/** PHI readable without the key: raw rows on both stores, plus the database file and WAL bytes on SQLite. */
async function rawFindings(kind: StoreKind, store: Store, location: string): Promise<PhiFinding[]> {
  const findings = scanForPhi(await rawRows(store));
  if (kind === 'sqlite') findings.push(...scanFilesForPhi(sqliteStoreFiles(location)));
  return findings;
}

function reopen(kind: StoreKind, location: string, sealing: StoreSealing): Promise<Store> {
  return kind === 'sqlite'
    ? openSqliteStore({ path: location, sealing })
    : openPostgresStore({ url: location, poolSize: 3, sealing });
}

describe.each(STORE_KINDS)('sealed at rest (%s)', (kind) => {
  const open: TestStore[] = [];
  const handles: Store[] = [];
  afterEach(async () => {
    for (const h of handles.splice(0)) await h.close();
    for (const t of open.splice(0)) await t.dispose();
  });

  it('keeps names, INS and phone numbers out of the raw store while the repositories read them back', async () => {
    const t = await openTestStore(kind, { sealing: new Keyring(randomBytes(32)) });
    open.push(t);
    await setUp(t.store);
    const written = [];
    for (const [i, p] of patients.entries()) written.push(await writePatient(t.store, p, `S${i}`));
    for (const w of written) await expectReadBack(t.store, w);
    expect(await rawFindings(kind, t.store, t.location)).toEqual([]);
  });

  it('finds the same data readable when the store is written in clear (the scan sees what sealing hides)', async () => {
    const t = await openTestStore(kind, { sealing: { plain: true } });
    open.push(t);
    await setUp(t.store);
    for (const [i, p] of patients.entries()) await writePatient(t.store, p, `P${i}`);
    const kinds = new Set((await rawFindings(kind, t.store, t.location)).map((f) => f.kind));
    expect([...kinds].sort()).toEqual(['ins', 'name', 'phone']);
  });

  it('rotates to a new key in batches, resumes after a stop, and seals rows written in clear before sealing', async () => {
    const t = await openTestStore(kind, { sealing: { plain: true } });
    open.push(t);
    await setUp(t.store);
    const written: Written[] = [];
    // Rows of a store upgraded from before sealing: in clear, match keys unkeyed.
    written.push(await writePatient(t.store, patients[0] as Patient, 'L0'));
    const oldKey = randomBytes(32);
    const newKey = randomBytes(32);
    const before = await reopen(kind, t.location, new Keyring(oldKey));
    handles.push(before);
    for (const [i, p] of patients.slice(1).entries()) written.push(await writePatient(before, p, `O${i}`));

    const rotating = await reopen(kind, t.location, new Keyring(newKey, [oldKey]));
    handles.push(rotating);
    const stopped = await resealStore(rotating, new Keyring(newKey, [oldKey]), {
      batchSize: 2,
      maxBatches: 3,
    });
    expect(stopped).toMatchObject({ complete: false, batches: 3 });
    // Interrupted half way: old, new and clear rows side by side, all readable.
    for (const w of written) await expectReadBack(rotating, w);

    const resumed = await resealStore(rotating, new Keyring(newKey, [oldKey]), { batchSize: 2 });
    expect(resumed.complete).toBe(true);
    // Each row re-sealed once over the two runs: the resumed run skips what the first one did.
    const total = (table: string) => (stopped.resealed[table] ?? 0) + (resumed.resealed[table] ?? 0);
    for (const table of SEALED_TABLES) expect([table, total(table)]).toEqual([table, written.length]);
    const again = await resealStore(rotating, new Keyring(newKey, [oldKey]), { batchSize: 2 });
    expect(Object.values(again.resealed).every((n) => n === 0)).toBe(true);

    // The old key can go: everything opens under the new key alone.
    const after = await reopen(kind, t.location, new Keyring(newKey));
    handles.push(after);
    for (const w of written) await expectReadBack(after, w);
    if (kind === 'sqlite') await sql`PRAGMA wal_checkpoint(TRUNCATE)`.execute(after.db);
    expect(await rawFindings(kind, after, t.location)).toEqual([]);
  });

  if (kind === 'sqlite') {
    it('creates the database, its WAL and shared-memory files 0600 in a 0700 folder', async () => {
      const dir = tempDir();
      try {
        const path = join(dir.path, 'data', 'nested', 'passerelle.db');
        const store = await openSqliteStore({ path, sealing: new Keyring(randomBytes(32)) });
        handles.push(store);
        await store.migrate();
        await store.practices.create({ id: 'cab-mode', name: 'Cabinet' });
        for (const file of sqliteStoreFiles(path))
          expect((statSync(file).mode & 0o777).toString(8)).toBe('600');
        expect((statSync(dirname(path)).mode & 0o777).toString(8)).toBe('700');
      } finally {
        for (const h of handles.splice(0)) await h.close();
        dir.remove();
      }
    });
  }
});
