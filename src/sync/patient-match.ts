/**
 * Patient matching for a patient record seen for the first time on a link (design: "Nothing
 * is merged automatically on a fuzzy patient match"):
 * 1. a qualified INS (FR Core: INS-NIR/NIA as the official identifier with reliability VALI)
 *    equal to one known patient's → that patient;
 * 2. (the identity map is consulted before matching: a known external id never gets here);
 * 3. known patients with the same family name, birth date and sex → candidates for a person
 *    to review; the incoming record is kept apart, never merged;
 * 4. otherwise a new patient.
 * Match keys are stored hashed (src/store match_keys), so lookups need no scan of the patients
 * and the index holds no readable identity.
 */
import { createHash } from 'node:crypto';

import { isInsSystem } from '../model/identifiers.js';
import type { Patient } from '../model/resources.js';
import { identityReliability } from '../model/validate.js';

export function matchKeyHash(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** Upper case, accents and punctuation removed: "Lefèvre-Dupont" ≡ "LEFEVRE DUPONT". */
export function normalizeName(s: string): string {
  return s
    .normalize('NFD')
    .replace(/\p{M}/gu, '')
    .toUpperCase()
    .replace(/[^A-Z]/g, '');
}

/** The qualified INS of a patient, as `system|value`, or undefined. */
export function qualifiedIns(p: Patient): string | undefined {
  if (identityReliability(p) !== 'VALI') return undefined;
  const ins = (p.identifier ?? []).find((i) => i.use === 'official' && isInsSystem(i.system));
  return ins ? `${ins.system}|${ins.value}` : undefined;
}

export interface PatientKeys {
  readonly ins: string | undefined;
  readonly demographics: readonly string[];
}

/** Hashed lookup keys: the INS key, and one name + birth date + sex key per family name. */
export function patientKeys(p: Patient): PatientKeys {
  const ins = qualifiedIns(p);
  const demographics = new Set<string>();
  if (p.birthDate && p.gender) {
    for (const n of p.name ?? []) {
      const family = n.family ? normalizeName(n.family) : '';
      if (family) demographics.add(matchKeyHash(`demo:${family}|${p.birthDate}|${p.gender}`));
    }
  }
  return { ins: ins === undefined ? undefined : matchKeyHash(`ins:${ins}`), demographics: [...demographics] };
}

/**
 * Filed under a merged (non-surviving) patient for each id the merging side knew it by: a later
 * record under such an id is stale (the side merged it away) and must not rewrite the survivor.
 */
export function supersededKey(linkId: string, externalId: string): string {
  return matchKeyHash(`superseded:${linkId}|${externalId}`);
}

export function allKeys(k: PatientKeys): string[] {
  return [...(k.ins ? [k.ins] : []), ...k.demographics];
}

export type MatchOutcome =
  | { readonly outcome: 'ins'; readonly patientId: string }
  | { readonly outcome: 'candidates'; readonly candidates: readonly string[] }
  | { readonly outcome: 'new' };

/**
 * Decides from the ids found under each key (`find` looks a hashed key up among the practice's
 * current, non-merged patients). An INS shared by several records is not an exact match:
 * they go to review.
 */
export async function matchPatient(
  p: Patient,
  find: (keyHash: string) => Promise<readonly string[]>,
): Promise<MatchOutcome> {
  const keys = patientKeys(p);
  if (keys.ins) {
    const byIns = await find(keys.ins);
    if (byIns.length === 1) return { outcome: 'ins', patientId: byIns[0] as string };
    if (byIns.length > 1) return { outcome: 'candidates', candidates: [...byIns].sort() };
  }
  const candidates = new Set<string>();
  for (const k of keys.demographics) for (const id of await find(k)) candidates.add(id);
  return candidates.size > 0
    ? { outcome: 'candidates', candidates: [...candidates].sort() }
    : { outcome: 'new' };
}
