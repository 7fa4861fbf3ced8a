import { describe, expect, it } from '@jest/globals';

import { generatePracticePatients, isGeneratedTwin } from '../../../../connectors/fhir/peer/population.js';

/** Patients sharing family name + birth date + sex with an earlier one (the match key's lookalikes). */
function lookalikes(patients: ReturnType<typeof generatePracticePatients>): number {
  const seen = new Set<string>();
  let n = 0;
  for (const p of patients) {
    const key = `${p.name?.[0]?.family}|${p.birthDate}|${p.gender}`;
    if (seen.has(key)) n++;
    seen.add(key);
  }
  return n;
}

describe('generatePracticePatients', () => {
  const patients = generatePracticePatients(20_000);

  it('generates the same patients for the same indexes, whether alone or in a larger slice', () => {
    expect(generatePracticePatients(5, 101)).toEqual(patients.slice(100, 105));
  });

  it('holds about the lookalikes of a real practice file (≈ 1 %), not the 63 % of the old generator', () => {
    const rate = lookalikes(patients) / patients.length;
    expect(rate).toBeGreaterThan(0.002);
    expect(rate).toBeLessThan(0.03);
  });

  it('makes twins share the family name and birth date of the patient before them', () => {
    const twins = patients.map((_, k) => k + 1).filter((i) => i > 1 && isGeneratedTwin(i));
    expect(twins.length / patients.length).toBeGreaterThan(0.005);
    expect(twins.length / patients.length).toBeLessThan(0.03);
    for (const i of twins.slice(0, 50)) {
      const [before, twin] = [patients[i - 2], patients[i - 1]];
      expect(twin?.name?.[0]?.family).toBe(before?.name?.[0]?.family);
      expect(twin?.birthDate).toBe(before?.birthDate);
    }
  });

  it('spreads family names: the most frequent one holds well under 1 % of the file', () => {
    const counts = new Map<string, number>();
    for (const p of patients) {
      const f = p.name?.[0]?.family ?? '';
      counts.set(f, (counts.get(f) ?? 0) + 1);
    }
    expect(Math.max(...counts.values()) / patients.length).toBeLessThan(0.01);
    expect(counts.size).toBeGreaterThan(patients.length / 2);
  });
});
