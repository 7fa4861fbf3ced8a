import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import type { Patient } from '../../src/model/resources.js';

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');

export function fixturePath(...parts: string[]): string {
  return join(FIXTURES, ...parts);
}

export function readFixture(...parts: string[]): string {
  return readFileSync(fixturePath(...parts), 'utf8');
}

/** The fictitious patients of test/fixtures/patients.json. */
export function fixturePatients(): Patient[] {
  return (JSON.parse(readFixture('patients.json')) as { patients: Patient[] }).patients;
}

/** Every identifying value of a patient, to assert none leaks into logs or bodies. */
export function identifyingValues(p: Patient): string[] {
  const values: string[] = [];
  for (const n of p.name ?? []) {
    if (n.family) values.push(n.family);
    values.push(...(n.given ?? []));
  }
  for (const t of p.telecom ?? []) values.push(t.value);
  for (const a of p.address ?? []) values.push(...(a.line ?? []), ...(a.city ? [a.city] : []));
  for (const id of p.identifier ?? []) values.push(id.value);
  if (p.birthDate) values.push(p.birthDate);
  return values;
}
