/**
 * One side's record through the ingest pipeline: identity (identity.ts) → canonical form,
 * tombstone of a deletion, validation → the merge and its effects (apply.ts) → merges of the
 * ids it supersedes.
 */
import type { ExternalRecord } from '../../connector/contract.js';
import { PasserelleError } from '../../errors.js';
import { assumeEnd, END_ASSUMED_FLAG } from '../../model/appointment-end.js';
import { normalize } from '../../model/fields.js';
import type { CanonicalResource } from '../../model/resources.js';
import type { Tx } from '../../store/index.js';
import type { Link } from '../../store/types.js';
import { tombstone } from '../records.js';
import { applyTheirs } from './apply.js';
import { type IngestDeps, type IngestVia, type PracticeContext, Refusal, resourceOf } from './context.js';
import { validatedOnce } from './group.js';
import { applySupersedes, resolveIdentity } from './identity.js';
import { holdForMapping, mapPractitioner, PRACTITIONER_UNMAPPED } from './practitioners.js';

/** Applies one record of a message or page; its flags. Throws a Refusal or a record error. */
export async function applyRecord(
  deps: IngestDeps,
  tx: Tx,
  ctx: PracticeContext,
  link: Link,
  record: ExternalRecord,
  via: IngestVia,
): Promise<string[]> {
  const { kind } = record;
  const identity = await resolveIdentity(deps, tx, ctx, link, record);
  if (identity.outcome === 'ignored') return identity.flags;
  const { canonicalId, mapped, newId, data, unmapped, reviewCandidates, stale, flags } = identity;
  // Held back from the other side until its practitioner is mapped; a deletion goes as ever.
  const held = unmapped.length > 0 && !record.deleted;
  // What the mapping flagged, the unmapped practitioner, and below an assumed end: on the record's audit event.
  let recordFlags = [...(record.flags ?? []), ...(unmapped.length > 0 ? [PRACTITIONER_UNMAPPED] : [])];

  let theirs = normalize(data, canonicalId);
  if (record.deleted) {
    const snap = await tx.snapshots.get(link.id, kind, canonicalId);
    const known = snap?.data ?? (await resourceOf(tx, ctx, canonicalId))?.data;
    if (!known) return ['ignored-unknown-deleted'];
    theirs = tombstone(normalize(known as unknown as CanonicalResource, canonicalId));
  }
  // A connector without a profile-side default (or a profile without Appointment.end rules) may
  // hand a start without an end: the start is there, so the appointment is kept with the
  // product default length and flagged, never refused for its end (issue 18).
  if (kind === 'Appointment' && !record.deleted) {
    const copy = { ...theirs } as Record<string, unknown>;
    if (assumeEnd(copy)) {
      theirs = copy as unknown as CanonicalResource;
      recordFlags = [...recordFlags, END_ASSUMED_FLAG];
      deps.log.warn('appointment end assumed', { linkId: link.id, flag: END_ASSUMED_FLAG });
    }
  }
  // Once per distinct record of a group commit (group.ts), with its content hash.
  const { result: valid, hash: theirsHash } = validatedOnce(tx, kind, theirs, link.isTest);
  if (!valid.ok) {
    const first = valid.issues[0];
    throw new PasserelleError('ERR_MODEL_INVALID', `${first?.path}: ${first?.message}`, {
      issues: valid.issues,
      details: { linkId: link.id, kind },
    });
  }
  theirs = valid.value;
  let applied: string[];
  try {
    applied = await applyTheirs(deps, tx, ctx, link, {
      canonicalId,
      theirs,
      ...(theirsHash !== undefined && { theirsHash }),
      version: record.version ?? null,
      via,
      externalId: record.externalId,
      ...(!mapped && { newExternalId: record.externalId }),
      ...(reviewCandidates && { reviewCandidates }),
      ...(stale && { stale }),
      // Validated just above; a minted id has nothing stored under it yet.
      fastPath: newId ? 'new-id' : 'validated',
      ...(recordFlags.length > 0 && { mappingFlags: recordFlags }),
      ...(held && { heldForPractitioner: true }),
    });
  } catch (e) {
    // The refusal goes back with the booking as the peer sent it (its ids, its data).
    if (e instanceof Refusal) throw new Refusal(e.error, record);
    throw e;
  }
  if (held) await holdForMapping(tx, ctx, link, canonicalId, unmapped);
  // A practitioner the link just created under an id whose mapping was open (an appointment
  // came before its practitioner, as a FHIR poll may): that decides the mapping.
  if (kind === 'Practitioner' && !mapped && !record.deleted && applied.includes('created')) {
    const open = await tx.practitionerMappings.get(link.id, record.externalId);
    if (open?.status === 'open')
      await mapPractitioner(
        deps,
        tx,
        ctx,
        link,
        record.externalId,
        canonicalId,
        'created',
        `link:${link.id}`,
      );
  }
  return [
    ...flags,
    ...applied,
    ...(record.supersedes && link.role === 'practice'
      ? await applySupersedes(deps, tx, ctx, link, kind, canonicalId, record.supersedes)
      : []),
  ];
}
