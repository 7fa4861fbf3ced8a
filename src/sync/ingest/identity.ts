/**
 * Identity: a side's record id → the canonical id (identity map, survivors of merged patients,
 * ids that supersede others, passerelle's own writes coming back, new records and whether this
 * side may create them), and merges of patient records (ADT A40 from the practice, or a
 * resolved match review).
 */
import { randomUUID } from 'node:crypto';

import type { ExternalRecord } from '../../connector/contract.js';
import { PasserelleError } from '../../errors.js';
import { fieldsHash } from '../../model/fields.js';
import { mayCreate } from '../../model/ownership.js';
import type { Appointment, CanonicalResource, Patient, ResourceKind } from '../../model/resources.js';
import type { Tx } from '../../store/index.js';
import type { JsonObject, Link } from '../../store/types.js';
import { supersededKey } from '../patient-match.js';
import { agendaColumns, replacedBy } from '../records.js';
import { rewriteRefs } from '../references.js';
import { clearMemo, identityKey, type IngestDeps, type PracticeContext, resourceOf } from './context.js';
import { enqueue, targets } from './outbox-plan.js';
import { matchNewPatient } from './patients.js';
import {
  openPractitionerMapping,
  PRACTITIONER_UNMAPPED,
  proposalOf,
  withoutUnmapped,
} from './practitioners.js';

/** The canonical id of a peer's record (identity map), read once per ingest. */
async function canonicalOf(
  tx: Tx,
  ctx: PracticeContext,
  linkId: string,
  kind: ResourceKind,
  externalId: string,
): Promise<string | undefined> {
  const key = identityKey(linkId, kind, externalId);
  if (ctx.memo.canonical.has(key)) return ctx.memo.canonical.get(key);
  const id = await tx.identityMap.findCanonical(linkId, kind, externalId);
  ctx.memo.canonical.set(key, id);
  return id;
}

/** `survivor` with the ingest's reads. */
async function survivorIn(tx: Tx, ctx: PracticeContext, kind: ResourceKind, id: string): Promise<string> {
  if (kind !== 'Patient') return id;
  let current = id;
  for (let hop = 0; hop < 5; hop++) {
    const next = replacedBy((await resourceOf(tx, ctx, current))?.data);
    if (!next) return current;
    current = next;
  }
  return current;
}

/** The surviving record of a merged patient (Patient.link replaced-by), a few hops at most. */
export async function survivor(tx: Pick<Tx, 'resources'>, kind: ResourceKind, id: string): Promise<string> {
  if (kind !== 'Patient') return id;
  let current = id;
  for (let hop = 0; hop < 5; hop++) {
    const next = replacedBy((await tx.resources.get(current))?.data);
    if (!next) return current;
    current = next;
  }
  return current;
}

/** What identity decided for a side's record. */
export type Identity =
  /** Nothing to apply (a deletion of an unknown record, a record this side may not create…). */
  | { readonly outcome: 'ignored'; readonly flags: string[] }
  | {
      readonly outcome: 'resolved';
      /** Practitioner ids of the link the record named and that are not mapped yet (left out of `data`). */
      readonly unmapped: readonly string[];
      readonly canonicalId: string;
      /** The record's external id was already mapped on this link. */
      readonly mapped: boolean;
      /** `canonicalId` is a random UUID minted here: nothing in the store refers to it yet. */
      readonly newId: boolean;
      /** The record's data with canonical references. */
      readonly data: CanonicalResource;
      /** A new patient that looked like these: held for a match review. */
      readonly reviewCandidates: readonly string[] | undefined;
      readonly stale: (() => Promise<boolean>) | undefined;
      readonly flags: string[];
    };

/** Finds (or mints) the canonical id of a side's record and translates its references. */
export async function resolveIdentity(
  deps: IngestDeps,
  tx: Tx,
  ctx: PracticeContext,
  link: Link,
  record: ExternalRecord,
): Promise<Identity> {
  const { kind } = record;
  let canonicalId = await canonicalOf(tx, ctx, link.id, kind, record.externalId);
  const mapped = canonicalId !== undefined;
  if (canonicalId) canonicalId = await survivorIn(tx, ctx, kind, canonicalId);

  // References arrive in the peer's ids; every synced kind they name must be known here.
  const rewritten = await rewriteRefs(record.data, async (ref) => {
    const id = await canonicalOf(tx, ctx, link.id, ref.kind, ref.id);
    return id === undefined ? undefined : survivorIn(tx, ctx, ref.kind, id);
  });
  let data = rewritten.value;
  const { missing } = rewritten;
  // An appointment naming a practitioner id the link has not mapped is applied without it,
  // held, and the id goes to the link's practitioner mapping review (practitioners.ts).
  const unmapped =
    kind === 'Appointment'
      ? [...new Set(missing.filter((m) => m.kind === 'Practitioner').map((m) => m.id))]
      : [];
  // A booking into a slot the secretariat platform holds on its own — one passerelle published
  // from the practitioner's agenda rules (issue 20), never a canonical record — is applied
  // without that slot: the booking's time is what the agenda checks.
  const untracked =
    kind === 'Appointment' && link.role === 'secretariat'
      ? new Set(missing.filter((m) => m.kind === 'Slot').map((m) => `Slot/${m.id}`))
      : new Set<string>();
  if (untracked.size > 0) {
    const { slot, ...rest } = data as Appointment;
    const kept = (slot ?? []).filter((r) => !untracked.has(r.reference ?? ''));
    data = (kept.length > 0 ? { ...rest, slot: kept } : rest) as CanonicalResource;
  }
  const unknown = missing.filter(
    (m) => !(kind === 'Appointment' && (m.kind === 'Practitioner' || untracked.has(`Slot/${m.id}`))),
  );
  if (unknown.length > 0) {
    throw new PasserelleError(
      'ERR_SYNC_UNKNOWN_REFERENCE',
      `a ${kind} from link ${link.id} refers to a ${unknown[0]?.kind} unknown on this link`,
      {
        details: { linkId: link.id, kind, references: unknown.map((m) => m.kind) },
      },
    );
  }
  // Its flag goes with the record's mapping flags (record.ts), into its audit event too.
  if (unmapped.length > 0) data = await withoutUnmapped(tx, ctx, link, data as Appointment, unmapped);

  let reviewCandidates: readonly string[] | undefined;
  const flags: string[] = [];
  /** A new canonical id (a random UUID): nothing in the store refers to it yet. */
  let newId = false;
  // An id the practice merged away (ADT A40) still in use — a late or replayed message: its
  // references follow the survivor, but its stale identity does not overwrite the survivor's.
  // Looked up only when the record would change something.
  const stale =
    mapped && kind === 'Patient' && link.role === 'practice' && !record.supersedes
      ? async () =>
          (await tx.matchKeys.find(ctx.practiceId, supersededKey(link.id, record.externalId))).length > 0
      : undefined;
  if (
    !canonicalId &&
    record.supersedes &&
    link.role === 'practice' &&
    (!record.deleted || kind !== 'Patient')
  ) {
    // A new id that supersedes a known one (ADT A47, change of the patient identifier list;
    // or an A40 whose surviving id is new here) is the same record under its corrected id:
    // it takes the record over instead of creating a second one (IHE ITI PAM, ITI-30 A47).
    // Likewise the filler id a practice gives a booking passerelle placed (SIU SCH-2 beside
    // SCH-1), even on the message that deletes it (S17).
    for (const previous of record.supersedes) {
      const known = await canonicalOf(tx, ctx, link.id, kind, previous);
      if (known === undefined) continue;
      canonicalId = await survivorIn(tx, ctx, kind, known);
      if (kind === 'Patient') {
        // A late message under the merged-away id must find the survivor, never make a second
        // patient (issue 18): the old id stays mapped, filed as superseded so that what is
        // sent goes to the new id and what comes under the old one is stale.
        const key = supersededKey(link.id, previous);
        if (!(await tx.matchKeys.find(ctx.practiceId, key)).includes(canonicalId))
          await tx.matchKeys.add(ctx.practiceId, 'Patient', canonicalId, [key]);
        ctx.memo.matchKeys.clear();
      } else {
        // The old id no longer exists on that side: messages to it carry the new one.
        await tx.identityMap.remove(link.id, kind, previous);
        ctx.memo.canonical.set(identityKey(link.id, kind, previous), undefined);
      }
      flags.push('identifier-changed');
      break;
    }
  }
  if (!canonicalId && record.writtenAs !== undefined && !record.deleted) {
    const own = await tx.resources.get(record.writtenAs);
    if (own?.practiceId === ctx.practiceId && own.kind === kind) {
      canonicalId = own.id;
      flags.push('own-write');
    }
  }
  if (!canonicalId) {
    if (record.deleted) return { outcome: 'ignored', flags: ['ignored-unknown-deleted'] };
    if (kind === 'Practitioner' && (record.needsMapping || !mayCreate(ctx.rules, kind, link.role))) {
      // Not created: an operator maps the id (practitioners.ts); what the link says of the
      // practitioner helps the operator decide.
      await openPractitionerMapping(tx, ctx, link, record.externalId, proposalOf(data));
      if (record.needsMapping) return { outcome: 'ignored', flags: [PRACTITIONER_UNMAPPED] };
    }
    if (!mayCreate(ctx.rules, kind, link.role)) {
      deps.log.info('new record ignored: this side may not create it', { linkId: link.id, kind });
      return { outcome: 'ignored', flags: [`ignored-not-creator:${kind}`] };
    }
    // A refused or cancelled booking coming back from the secretariat is not news.
    if (
      kind === 'Appointment' &&
      link.role === 'secretariat' &&
      ['cancelled', 'noshow', 'entered-in-error'].includes((data as { status?: string }).status ?? '')
    ) {
      return { outcome: 'ignored', flags: ['ignored-inactive-new'] };
    }
    canonicalId = randomUUID();
    newId = true;
    if (kind === 'Patient') {
      const match = await matchNewPatient(tx, ctx, data as Patient);
      if (match.outcome === 'ins') {
        canonicalId = await survivorIn(tx, ctx, 'Patient', match.patientId);
        newId = false;
        flags.push('patient-matched-ins');
      } else if (match.outcome === 'candidates') {
        reviewCandidates = match.candidates;
        flags.push('patient-review');
      }
    }
  }
  return { outcome: 'resolved', canonicalId, mapped, newId, data, unmapped, reviewCandidates, stale, flags };
}

/**
 * Makes `fromId` a non-surviving record of `toId`: identity links and references move to the
 * survivor, `fromId` stays as an inactive record pointing at it (Patient.link replaced-by).
 */
export async function mergePatients(
  deps: IngestDeps,
  tx: Tx,
  ctx: PracticeContext,
  fromId: string,
  toId: string,
  cause: string,
  source?: Link,
): Promise<void> {
  if (fromId === toId) return;
  clearMemo(ctx);
  const mergedAway = source ? await tx.identityMap.findExternal(source.id, 'Patient', fromId) : [];
  await tx.identityMap.repoint(fromId, toId);
  for (const l of ctx.links) await tx.snapshots.delete(l.id, 'Patient', fromId);
  const toSurvivor = async (ref: { kind: ResourceKind; id: string }) =>
    ref.kind === 'Patient' && ref.id === fromId ? toId : ref.id;
  for (const kind of ['Appointment', 'Communication'] as const) {
    for (const r of await tx.resources.list({ practiceId: ctx.practiceId, kind, patientId: fromId })) {
      const { value } = await rewriteRefs(r.data as unknown as CanonicalResource, toSurvivor);
      const stored = await tx.resources.put({
        id: r.id,
        practiceId: ctx.practiceId,
        kind,
        data: value as unknown as JsonObject,
        origin: r.origin,
        expectedVersion: r.version,
        ...(await agendaColumns(tx, value)),
      });
      for (const target of [
        ...targets(deps.registry, ctx, kind, 'practice'),
        ...targets(deps.registry, ctx, kind, 'secretariat'),
      ]) {
        if (target.id === source?.id) {
          // The side that sent the merge (ADT A40) moved its records itself: it holds what it
          // held, with the survivor as patient. Nothing goes back unless it misses more (rule 6).
          const snap = await tx.snapshots.get(target.id, kind, r.id);
          if (snap) {
            const held = (await rewriteRefs(snap.data as unknown as CanonicalResource, toSurvivor)).value;
            const hash = fieldsHash(held);
            await tx.snapshots.put({
              linkId: target.id,
              kind,
              canonicalId: r.id,
              data: held as unknown as JsonObject,
              hash,
              externalVersion: snap.externalVersion,
            });
            if (hash === fieldsHash(value)) continue;
          }
        }
        await enqueue(tx, ctx, target, value, `${target.id}:${r.id}:v${stored.version}:${cause}`, cause);
      }
    }
  }
  const from = await tx.resources.get(fromId);
  if (from) {
    const data = {
      ...(from.data as unknown as Patient),
      active: false,
      link: [{ other: { reference: `Patient/${toId}` }, type: 'replaced-by' as const }],
    };
    await tx.resources.put({
      id: fromId,
      practiceId: ctx.practiceId,
      kind: 'Patient',
      data: data as unknown as JsonObject,
      origin: from.origin,
      expectedVersion: from.version,
      ...(await agendaColumns(tx, data)),
    });
  }
  await tx.matchKeys.replace(
    ctx.practiceId,
    'Patient',
    fromId,
    source ? mergedAway.map((id) => supersededKey(source.id, id)) : [],
  );
}

/** A practice's record that supersedes others (ADT A40): the known ones merge into it. */
export async function applySupersedes(
  deps: IngestDeps,
  tx: Tx,
  ctx: PracticeContext,
  link: Link,
  kind: ResourceKind,
  survivorId: string,
  supersedes: readonly string[],
): Promise<string[]> {
  if (kind !== 'Patient') return [];
  const flags: string[] = [];
  for (const externalId of supersedes) {
    const other = await tx.identityMap.findCanonical(link.id, kind, externalId);
    if (!other || other === survivorId) continue;
    await mergePatients(deps, tx, ctx, other, survivorId, 'merge', link);
    flags.push('merged');
  }
  return flags;
}
