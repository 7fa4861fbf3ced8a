/**
 * Patients: matching a new patient against the practice's (INS, demographic keys), filing a
 * patient's match keys, and the review that holds a patient who looked like known ones.
 */
import type { Patient, ResourceKind } from '../../model/resources.js';
import type { Tx } from '../../store/index.js';
import type { Link } from '../../store/types.js';
import { allKeys, matchPatient, patientKeys, supersededKey } from '../patient-match.js';
import type { PracticeContext } from './context.js';

export const REVIEW_PATIENT_MATCH = 'patient-match';

/** `matchKeys.find` with the ingest's reads. */
async function patientsUnder(tx: Tx, ctx: PracticeContext, keyHash: string): Promise<readonly string[]> {
  let ids = ctx.memo.matchKeys.get(keyHash);
  if (!ids) ctx.memo.matchKeys.set(keyHash, (ids = await tx.matchKeys.find(ctx.practiceId, keyHash)));
  // Not copied: matchPatient only reads it, and its lists grow with the practice.
  return ids;
}

/** The known patients a new one may be (`matchPatient` with the ingest's reads). */
export function matchNewPatient(
  tx: Tx,
  ctx: PracticeContext,
  patient: Patient,
): ReturnType<typeof matchPatient> {
  return matchPatient(patient, (key) => patientsUnder(tx, ctx, key));
}

/**
 * The superseded keys of a patient a practice link knows under several ids: every id but the
 * one it now comes under was merged away or replaced (ADT A40/A47), and stays so when the
 * patient's other keys are filed again.
 */
async function supersededKeysOf(
  tx: Tx,
  link: Link,
  patientId: string,
  externalId: string | undefined,
  newId: boolean,
): Promise<string[]> {
  // A canonical id this ingest just minted is known under no id yet: nothing to read.
  if (link.role !== 'practice' || externalId === undefined || newId) return [];
  const ids = await tx.identityMap.findExternal(link.id, 'Patient', patientId);
  return ids.filter((id) => id !== externalId).map((id) => supersededKey(link.id, id));
}

/** Files a patient's match keys, keeping the memo in step. */
async function fileMatchKeys(
  tx: Tx,
  ctx: PracticeContext,
  patientId: string,
  keyHashes: readonly string[],
  isNew: boolean,
  newId: boolean,
): Promise<void> {
  // A fresh id (created by this ingest) has no keys filed yet: nothing to remove first.
  if (newId) await tx.matchKeys.add(ctx.practiceId, 'Patient', patientId, keyHashes);
  else await tx.matchKeys.replace(ctx.practiceId, 'Patient', patientId, keyHashes);
  // A new record had no keys: it joins the lists of its keys. Otherwise keys it left are unknown here.
  if (!isNew) ctx.memo.matchKeys.clear();
  else for (const key of new Set(keyHashes)) ctx.memo.matchKeys.get(key)?.push(patientId);
}

/**
 * Files the keys of a patient just written: its demographic keys, and the ids its practice link
 * knows it under no more. `isNew`: no record existed; `newId`: the id was minted by this ingest.
 */
export async function filePatientKeys(
  tx: Tx,
  ctx: PracticeContext,
  link: Link,
  patientId: string,
  patient: Patient,
  externalId: string | undefined,
  isNew: boolean,
  newId: boolean,
): Promise<void> {
  await fileMatchKeys(
    tx,
    ctx,
    patientId,
    [...allKeys(patientKeys(patient)), ...(await supersededKeysOf(tx, link, patientId, externalId, newId))],
    isNew,
    newId,
  );
}

/** Holds a new patient that looked like known ones until an operator decides; the review's id. */
export async function openMatchReview(
  tx: Tx,
  ctx: PracticeContext,
  link: Link,
  recordId: string,
  externalId: string | undefined,
  candidates: readonly string[],
): Promise<string> {
  const item = await tx.reviews.open({
    practiceId: ctx.practiceId,
    type: REVIEW_PATIENT_MATCH,
    recordId,
    payload: { linkId: link.id, externalId: externalId ?? null, candidates: [...candidates] },
  });
  return item.id;
}

export async function isHeldForReview(
  tx: Pick<Tx, 'reviews'>,
  kind: ResourceKind,
  recordId: string,
): Promise<boolean> {
  if (kind !== 'Patient') return false;
  return (
    (await tx.reviews.list({ recordId, status: 'open', type: REVIEW_PATIENT_MATCH, limit: 1 })).length > 0
  );
}
