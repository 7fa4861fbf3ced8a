/**
 * Looks for the fictitious patients of test/fixtures/patients.json in raw bytes: store files,
 * WAL, logs, raw database rows. Issue 16: none of their names, INS or phone numbers may be
 * readable at rest without the key.
 */
import { existsSync, readFileSync } from 'node:fs';

import { isInsSystem } from '../../src/model/identifiers.js';
import type { Patient } from '../../src/model/resources.js';
import { fixturePatients } from './fixtures.js';

export type PhiKind = 'name' | 'ins' | 'phone';

export interface PhiNeedle {
  readonly kind: PhiKind;
  readonly patientId: string;
  readonly value: string;
}

export interface PhiFinding extends PhiNeedle {
  /** The file path or the label given with the buffer. */
  readonly source: string;
  readonly offset: number;
}

const capitalized = (s: string) => s.charAt(0).toUpperCase() + s.slice(1).toLowerCase();

/**
 * The strings that would give a patient away: family names (as written and capitalised), given
 * names, INS values, and phone numbers in international, national and spaced national form
 * (an HL7 PID-13 carries the national one).
 */
export function phiNeedles(patients: readonly Patient[] = fixturePatients()): PhiNeedle[] {
  const out: PhiNeedle[] = [];
  const add = (kind: PhiKind, patientId: string, value: string) => {
    if (!out.some((n) => n.value === value)) out.push({ kind, patientId, value });
  };
  for (const p of patients) {
    const id = p.id ?? '?';
    for (const n of p.name ?? []) {
      if (n.family) {
        add('name', id, n.family);
        add('name', id, capitalized(n.family));
      }
      for (const g of n.given ?? []) add('name', id, g);
    }
    for (const i of p.identifier ?? []) if (isInsSystem(i.system) && i.value) add('ins', id, i.value);
    for (const t of p.telecom ?? []) {
      if (t.system !== 'phone' || !t.value) continue;
      add('phone', id, t.value);
      const national = t.value.startsWith('+33') ? `0${t.value.slice(3)}` : t.value;
      add('phone', id, national);
      add('phone', id, national.replace(/(\d{2})(?=\d)/g, '$1 '));
    }
  }
  return out;
}

/** Every occurrence of a needle in the sources, in UTF-8 and in Latin-1 (HL7 bodies in windows-1252). */
export function scanForPhi(
  sources: ReadonlyArray<{ readonly name: string; readonly data: Buffer | string }>,
  needles: readonly PhiNeedle[] = phiNeedles(),
): PhiFinding[] {
  const findings: PhiFinding[] = [];
  for (const { name, data } of sources) {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    for (const needle of needles) {
      for (const encoding of ['utf8', 'latin1'] as const) {
        const offset = bytes.indexOf(Buffer.from(needle.value, encoding));
        if (offset >= 0) {
          findings.push({ ...needle, source: name, offset });
          break;
        }
      }
    }
  }
  return findings;
}

/** `scanForPhi` over files; paths that do not exist (a WAL already checkpointed away) are skipped. */
export function scanFilesForPhi(paths: readonly string[], needles?: readonly PhiNeedle[]): PhiFinding[] {
  return scanForPhi(
    paths.filter((p) => existsSync(p)).map((p) => ({ name: p, data: readFileSync(p) })),
    needles,
  );
}

/** A SQLite store's files: the database, its WAL and its shared-memory index. */
export function sqliteStoreFiles(dbPath: string): string[] {
  return [dbPath, `${dbPath}-wal`, `${dbPath}-shm`];
}
