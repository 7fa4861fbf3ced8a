/**
 * RGPD rights on one patient (articles 15, 17 and 20): export everything passerelle holds about
 * them, and erase it. A patient is its canonical Patient record (`resources.id`, a random UUID)
 * with, around it: the records merged into it (ADT A40: inactive, `replaced-by` it), its external
 * ids per link (identity map), hashed match keys, per-link snapshots, the appointments and call
 * messages naming it (`resources.patient_id`), the queues rows about any of these records, the
 * raw messages that carried it, activity events and audit events.
 *
 * Erase keeps the audit trail as it is: its rows name the patient only by that canonical UUID
 * (never a name, INS, phone or birth date), and once the identity map, match keys and records
 * are gone, nothing in the store links the UUID to a person any more: the rows are pseudonymised
 * by construction. Rewriting them would break the hash chain that proves nobody edited it.
 *
 * Payload columns are read and written only through the repositories (so a sealing layer
 * applies); the raw statements here delete rows by key or select columns without patient data.
 */
import type { Kysely } from 'kysely';

import { PasserelleError } from '../errors.js';
import type { Appointment, Patient } from '../model/resources.js';
import type { Repos, Store, Tx } from '../store/index.js';
import type { Database } from '../store/schema.js';
import type {
  ActivityEvent,
  AuditEvent,
  Conflict,
  DeadLetter,
  IdentityLink,
  InboxEntry,
  JsonObject,
  OutboxItem,
  ReviewItem,
  Snapshot,
  StoredResource,
} from '../store/types.js';

export const PATIENT_EXPORT_FORMAT = 'passerelle-patient-export/1';

/** A raw message as exported: its body as text (HL7 v2 or JSON), never re-parsed. */
export type ExportedInboxEntry = Omit<InboxEntry, 'body' | 'response'> & { readonly body: string | null };

/** Everything held about one patient (`passerelle patient export`, GET …/patients/:id/export). */
export interface PatientExport {
  readonly format: typeof PATIENT_EXPORT_FORMAT;
  readonly exportedAt: string;
  readonly practiceId: string;
  readonly patientId: string;
  /** The canonical record. */
  readonly patient: StoredResource;
  /** Records of the same person merged into it (inactive, Patient.link replaced-by). */
  readonly mergedRecords: readonly StoredResource[];
  /** External ids of the patient and its related records on each link. */
  readonly identities: readonly IdentityLink[];
  /** SHA-256 match keys filed for the patient (src/sync/patient-match.ts). */
  readonly matchKeys: readonly string[];
  /** What each link last held of the patient and its related records. */
  readonly snapshots: readonly Snapshot[];
  readonly appointments: readonly StoredResource[];
  readonly communications: readonly StoredResource[];
  readonly conflicts: readonly Conflict[];
  readonly reviewItems: readonly ReviewItem[];
  readonly outbox: readonly OutboxItem[];
  readonly deadLetters: readonly DeadLetter[];
  /** Received messages whose body carries one of the patient's identifiers or external ids. */
  readonly inbox: readonly ExportedInboxEntry[];
  readonly activity: readonly ActivityEvent[];
  /** Audit events about the patient or its related records (reads, changes, exports). */
  readonly audit: readonly AuditEvent[];
}

/** What an erase removed or pseudonymised, per kind of data (counts only: safe to log). */
export interface PatientEraseResult {
  readonly practiceId: string;
  readonly patientId: string;
  readonly erasedAt: string;
  readonly removed: {
    readonly patientRecords: number;
    readonly communications: number;
    readonly identities: number;
    readonly matchKeys: number;
    readonly snapshots: number;
    readonly conflicts: number;
    readonly reviewItems: number;
    readonly outbox: number;
    readonly deadLetters: number;
    readonly inboxBodies: number;
    readonly activity: number;
  };
  /** Appointments kept for the agenda (a slot stays taken) with the patient and free text removed. */
  readonly pseudonymised: { readonly appointments: number; readonly snapshots: number };
  /** Audit events kept: they name the patient only by the canonical id, which no longer resolves. */
  readonly auditEventsKept: number;
}

export interface PrivacyActor {
  /** API key id or `cli`. */
  readonly actor: string;
  readonly role?: string | null;
  readonly via: string;
  readonly requestId?: string | null;
}

type Reader = Repos & { readonly db: Kysely<Database> };

const BIG = 1_000_000;
/** Needles shorter than this would match unrelated messages (short numeric external ids). */
const MIN_NEEDLE = 5;
const INBOX_PAGE = 500;

interface Collected {
  readonly data: Omit<PatientExport, 'format' | 'exportedAt'>;
  /** The patient's own record and those merged into it. */
  readonly subjects: readonly string[];
}

async function collect(r: Reader, practiceId: string, patientId: string): Promise<Collected> {
  const patient = await r.resources.get(patientId);
  // Another practice's patient answers as unknown: ids are not to be probed across practices.
  if (!patient || patient.kind !== 'Patient' || patient.practiceId !== practiceId) {
    throw new PasserelleError('ERR_NOT_FOUND', `patient ${patientId} not found in practice ${practiceId}`, {
      details: { patient: patientId, practice: practiceId },
    });
  }
  // A merged-away record is inactive (engine.mergePatients): only those are read, not every patient.
  const inactive = await r.db
    .selectFrom('resources')
    .select('id')
    .where('practice_id', '=', practiceId)
    .where('kind', '=', 'Patient')
    .where('status', '=', 'inactive')
    .execute();
  const mergedRecords = (await r.resources.getMany(inactive.map((x) => x.id))).filter(
    (p) =>
      p.id !== patientId &&
      ((p.data as unknown as Patient).link ?? []).some((l) => l.other?.reference === `Patient/${patientId}`),
  );
  const subjects = [patientId, ...mergedRecords.map((p) => p.id)];
  const appointments: StoredResource[] = [];
  const communications: StoredResource[] = [];
  for (const s of subjects) {
    appointments.push(...(await r.resources.list({ practiceId, kind: 'Appointment', patientId: s })));
    communications.push(...(await r.resources.list({ practiceId, kind: 'Communication', patientId: s })));
  }
  const records = [patient, ...mergedRecords, ...appointments, ...communications];
  const recordIds = records.map((x) => x.id);

  const identities: IdentityLink[] = [];
  for (const id of recordIds) identities.push(...(await r.identityMap.listByCanonical(id)));
  const matchKeys = (
    await r.db
      .selectFrom('match_keys')
      .select('key_hash')
      .where('resource_id', 'in', subjects)
      .orderBy('key_hash')
      .execute()
  ).map((k) => k.key_hash);
  const links = await r.links.list({ practiceId });
  const snapshots: Snapshot[] = [];
  for (const l of links) {
    for (const x of records) {
      const snap = await r.snapshots.get(l.id, x.kind, x.id);
      if (snap) snapshots.push(snap);
    }
  }
  const conflicts: Conflict[] = [];
  const outbox: OutboxItem[] = [];
  const deadLetters: DeadLetter[] = [];
  for (const id of recordIds) {
    conflicts.push(...(await r.conflicts.list({ practiceId, recordId: id, limit: BIG })));
    outbox.push(...(await r.outbox.list({ practiceId, recordId: id, limit: BIG })));
    deadLetters.push(...(await r.deadLetters.list({ practiceId, recordId: id, limit: BIG })));
  }
  const reviewItems: ReviewItem[] = [];
  for (const s of subjects)
    reviewItems.push(...(await r.reviews.list({ practiceId, recordId: s, limit: BIG })));

  // Raw messages and inbound dead letters are not filed by record: look for the patient's
  // identifiers (INS, IPP…) and its external ids on every link in their text.
  const needles = [
    ...new Set([
      ...[patient, ...mergedRecords].flatMap((p) =>
        ((p.data as unknown as Patient).identifier ?? []).map((i) => i.value ?? ''),
      ),
      ...identities.filter((i) => i.kind === 'Patient').map((i) => i.externalId),
    ]),
  ].filter((n) => n.length >= MIN_NEEDLE);
  const mentions = (text: string) => needles.some((n) => text.includes(n));
  for (const d of await r.deadLetters.list({ practiceId, source: 'inbox', limit: BIG })) {
    if (d.recordId === null && d.payload !== null && mentions(JSON.stringify(d.payload))) deadLetters.push(d);
  }
  const inbox: ExportedInboxEntry[] = [];
  for (const l of links) {
    for (let afterId = 0; ;) {
      const page = await r.inbox.list({ linkId: l.id, afterId, limit: INBOX_PAGE });
      for (const e of page) {
        const text = e.body?.toString('latin1');
        if (text !== undefined && mentions(text)) {
          const { body, response: _response, ...rest } = e;
          inbox.push({ ...rest, body: body?.toString('utf8') ?? null });
        }
      }
      if (page.length < INBOX_PAGE) break;
      afterId = page[page.length - 1]?.id ?? afterId;
    }
  }

  // Ids, codes and timings only (no patient data): read as they are, without the repository.
  const activityEvents: ActivityEvent[] = (
    await r.db
      .selectFrom('activity_events')
      .selectAll()
      .where('practice_id', '=', practiceId)
      .where('record_id', 'in', recordIds)
      .orderBy('seq')
      .execute()
  ).map((a) => ({
    seq: Number(a.seq),
    practiceId: a.practice_id,
    at: new Date(Number(a.at)).toISOString(),
    type: a.type as ActivityEvent['type'],
    origin: a.origin as ActivityEvent['origin'],
    linkId: a.link_id,
    kind: a.kind,
    recordId: a.record_id,
    practitionerId: a.practitioner_id,
    priority: a.priority,
    latencyMs: a.latency_ms === null ? null : Number(a.latency_ms),
    detail: a.detail,
  }));
  const audit = new Map<number, AuditEvent>();
  for (const s of subjects)
    for (const e of await r.audit.list({ patientId: s, limit: BIG })) audit.set(e.seq, e);
  for (const id of recordIds)
    for (const e of await r.audit.list({ resourceId: id, limit: BIG })) audit.set(e.seq, e);

  return {
    subjects,
    data: {
      practiceId,
      patientId,
      patient,
      mergedRecords,
      identities,
      matchKeys,
      snapshots,
      appointments,
      communications,
      conflicts,
      reviewItems,
      outbox,
      deadLetters,
      inbox,
      activity: activityEvents,
      audit: [...audit.values()].sort((a, b) => a.seq - b.seq),
    },
  };
}

/** Everything held about one patient of `practiceId`, as one JSON document; the read is audited. */
export async function exportPatient(
  store: Store,
  practiceId: string,
  patientId: string,
  by: PrivacyActor,
): Promise<PatientExport> {
  const { data } = await collect(store, practiceId, patientId);
  const exported: PatientExport = {
    format: PATIENT_EXPORT_FORMAT,
    exportedAt: new Date(store.now()).toISOString(),
    ...data,
  };
  await store.audit.append({
    actor: by.actor,
    role: by.role ?? null,
    action: 'patient.export',
    resourceType: 'Patient',
    resourceId: patientId,
    patientId,
    outcome: 'success',
    requestId: by.requestId ?? null,
    via: by.via,
    details: { practiceId, counts: countsOf(exported) },
  });
  return exported;
}

function countsOf(e: PatientExport): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(e)) if (Array.isArray(v)) out[k] = v.length;
  return out;
}

/** The appointment without its patient: the slot stays taken, free text and reasons go. */
function pseudonymiseAppointment(data: JsonObject, subjects: ReadonlySet<string>): JsonObject {
  const a = data as unknown as Appointment;
  const { description: _d, comment: _c, patientInstruction: _p, reasonCode: _r, ...rest } = a;
  const isSubject = (ref: string | undefined) =>
    ref !== undefined && ref.startsWith('Patient/') && subjects.has(ref.slice('Patient/'.length));
  const participant = a.participant.map((p) => {
    if (!isSubject(p.actor?.reference)) return p;
    const { actor: _actor, ...kept } = p;
    return kept;
  });
  return { ...rest, participant } as unknown as JsonObject;
}

/**
 * Erases one patient of `practiceId` in one transaction: records deleted (appointments kept,
 * pseudonymised, so the agenda keeps its slots), queue rows and raw bodies about it removed,
 * audit events kept (see the header). Refused with ERR_PATIENT_ERASE_PENDING while a change about
 * it waits in the outbox: dropping it would leave a peer silently out of step (a cancellation
 * never sent), and sending it after the erase would need the data just erased.
 */
export async function erasePatient(
  store: Store,
  practiceId: string,
  patientId: string,
  by: PrivacyActor,
): Promise<PatientEraseResult> {
  return store.transaction(async (tx) => {
    const { data, subjects } = await collect(tx, practiceId, patientId);
    const waiting = data.outbox.filter((o) => o.status === 'pending' || o.status === 'leased');
    if (waiting.length > 0) {
      throw new PasserelleError(
        'ERR_PATIENT_ERASE_PENDING',
        `patient ${patientId} has ${waiting.length} change(s) still to deliver; erase once they are delivered, or dead-lettered and discarded`,
        {
          details: { patient: patientId, pending: waiting.length, outboxSeqs: waiting.map((o) => o.seq) },
        },
      );
    }
    const subjectSet = new Set(subjects);
    const deletedRecords = [...subjects, ...data.communications.map((c) => c.id)];
    const removed = {
      patientRecords: subjects.length,
      communications: data.communications.length,
      identities: await deleteIn(tx, 'identity_map', 'canonical_id', deletedRecords),
      matchKeys: await deleteIn(tx, 'match_keys', 'resource_id', subjects),
      snapshots: 0,
      conflicts: await deleteIn(
        tx,
        'conflicts',
        'id',
        data.conflicts.map((c) => c.id),
      ),
      reviewItems: await deleteIn(
        tx,
        'review_items',
        'id',
        data.reviewItems.map((r) => r.id),
      ),
      outbox: await deleteIn(
        tx,
        'outbox',
        'seq',
        data.outbox.map((o) => o.seq),
      ),
      deadLetters: await deleteIn(tx, 'dead_letters', 'id', [...new Set(data.deadLetters.map((d) => d.id))]),
      inboxBodies: 0,
      activity: 0,
    };
    let pseudonymisedSnapshots = 0;
    for (const s of data.snapshots) {
      if (s.kind === 'Appointment') {
        // The merge base keeps its hash (echo suppression compares it with what the peer holds).
        await tx.snapshots.put({
          linkId: s.linkId,
          kind: s.kind,
          canonicalId: s.canonicalId,
          data: pseudonymiseAppointment(s.data, subjectSet),
          hash: s.hash,
          externalVersion: s.externalVersion,
        });
        pseudonymisedSnapshots++;
      } else {
        await tx.snapshots.delete(s.linkId, s.kind, s.canonicalId);
        removed.snapshots++;
      }
    }
    for (const a of data.appointments) {
      await tx.resources.put({
        id: a.id,
        practiceId,
        kind: 'Appointment',
        data: pseudonymiseAppointment(a.data, subjectSet),
        origin: a.origin,
        expectedVersion: a.version,
        startAt: a.startAt,
        endAt: a.endAt,
        practitionerId: a.practitionerId,
        patientId: null,
        status: a.status,
      });
    }
    removed.activity = Number(
      (
        await tx.db
          .deleteFrom('activity_events')
          .where('practice_id', '=', practiceId)
          .where('record_id', 'in', deletedRecords)
          .executeTakeFirst()
      ).numDeletedRows,
    );
    for (const e of data.inbox) if (await clearBody(tx, e.id)) removed.inboxBodies++;
    await deleteIn(tx, 'resources', 'id', deletedRecords);
    const result: PatientEraseResult = {
      practiceId,
      patientId,
      erasedAt: new Date(store.now()).toISOString(),
      removed,
      pseudonymised: { appointments: data.appointments.length, snapshots: pseudonymisedSnapshots },
      auditEventsKept: data.audit.length,
    };
    await tx.audit.append({
      actor: by.actor,
      role: by.role ?? null,
      action: 'patient.erase',
      resourceType: 'Patient',
      resourceId: patientId,
      patientId,
      outcome: 'success',
      requestId: by.requestId ?? null,
      via: by.via,
      details: {
        practiceId,
        removed,
        pseudonymised: result.pseudonymised,
        auditEventsKept: result.auditEventsKept,
      },
    });
    return result;
  });
}

type KeyedTable =
  'identity_map' | 'match_keys' | 'conflicts' | 'review_items' | 'outbox' | 'dead_letters' | 'resources';
type KeyColumn = 'canonical_id' | 'resource_id' | 'id' | 'seq';

/** Deletes the rows whose `column` is one of `values` (500 at a time: bound-parameter limits). */
async function deleteIn(
  tx: Tx,
  table: KeyedTable,
  column: KeyColumn,
  values: readonly (string | number)[],
): Promise<number> {
  let n = 0;
  for (let i = 0; i < values.length; i += 500) {
    const chunk = values.slice(i, i + 500);
    // The table/column pairs are fixed by the callers above; kysely cannot type a union of them.
    const db = tx.db as unknown as Kysely<Record<KeyedTable, Record<KeyColumn, string | number>>>;
    n += Number((await db.deleteFrom(table).where(column, 'in', chunk).executeTakeFirst()).numDeletedRows);
  }
  return n;
}

/** The body of a received message goes; its dedupe key and the answer sent stay (resends). */
async function clearBody(tx: Tx, id: number): Promise<boolean> {
  const res = await tx.db
    .updateTable('inbox')
    .set({ body: null })
    .where('id', '=', id)
    .where('body', 'is not', null)
    .executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}
