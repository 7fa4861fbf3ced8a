import { describe, expect, it } from '@jest/globals';

import type { Patient } from '../../src/model/resources.js';
import {
  allKeys,
  matchPatient,
  normalizeName,
  patientKeys,
  qualifiedIns,
} from '../../src/sync/patient-match.js';
import { fixturePatients } from '../helpers/fixtures.js';

const [jeanne, paul] = fixturePatients() as [Patient, Patient];

/** An index of known patients by hashed key, as the match_keys table holds it. */
function index(patients: Patient[]): (key: string) => Promise<string[]> {
  const byKey = new Map<string, string[]>();
  for (const p of patients)
    for (const k of allKeys(patientKeys(p))) byKey.set(k, [...(byKey.get(k) ?? []), p.id]);
  return async (key) => byKey.get(key) ?? [];
}

const withoutIns = (p: Patient, id: string): Patient => ({
  ...p,
  id,
  identifier: (p.identifier ?? []).filter((i) => i.use !== 'official'),
  extension: [],
});

describe('patient matching', () => {
  it('matches a qualified INS exactly', async () => {
    const incoming = {
      ...structuredClone(jeanne),
      id: 'from-secretariat',
      name: [{ use: 'official' as const, family: 'AUTRE' }],
    };
    expect(await matchPatient(incoming, index([jeanne, paul]))).toEqual({
      outcome: 'ins',
      patientId: jeanne.id,
    });
  });

  it('does not trust an INS whose identity is not qualified (VALI)', async () => {
    const provisional: Patient = {
      ...structuredClone(jeanne),
      id: 'x',
      name: [{ family: 'AUTRE' }],
      extension: [],
    };
    expect(qualifiedIns(provisional)).toBeUndefined();
    expect(await matchPatient(provisional, index([jeanne]))).toEqual({ outcome: 'new' });
  });

  it('proposes candidates by family name, birth date and sex, ignoring case and accents — never a match', async () => {
    const incoming = withoutIns({ ...jeanne, name: [{ family: 'fictivé', given: ['J.'] }] }, 'new-one');
    expect(normalizeName('Fictivé')).toBe(normalizeName('FICTIVE'));
    expect(await matchPatient(incoming, index([jeanne, paul]))).toEqual({
      outcome: 'candidates',
      candidates: [jeanne.id],
    });
  });

  it('sends two records sharing one INS to review rather than picking one', async () => {
    const twin = { ...structuredClone(jeanne), id: 'dup' };
    expect(await matchPatient({ ...structuredClone(jeanne), id: 'in' }, index([jeanne, twin]))).toEqual({
      outcome: 'candidates',
      candidates: ['dup', jeanne.id].sort(),
    });
  });

  it('creates a new patient when nothing is alike (different birth date)', async () => {
    const other = withoutIns({ ...jeanne, birthDate: '1990-01-01' }, 'n');
    expect(await matchPatient(other, index([jeanne, paul]))).toEqual({ outcome: 'new' });
  });

  it('stores only hashes as keys', () => {
    const keys = allKeys(patientKeys(jeanne));
    expect(keys.length).toBeGreaterThanOrEqual(2);
    for (const k of keys) {
      expect(k).toMatch(/^[0-9a-f]{64}$/);
      expect(k).not.toContain('FICTIVE');
    }
  });
});
