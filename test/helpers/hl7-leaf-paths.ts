/**
 * An independent, deliberately naive reading of a message (String.split at every level), used
 * as the oracle in tests and to list "every leaf" for the benchmark. It does not unescape.
 */
import { readFileSync } from 'node:fs';

import { fixturePath } from './fixtures.js';

export interface NaiveLeaf {
  /** Full path with every index explicit, e.g. `PID[1]-3[2].4.2`. */
  readonly path: string;
  readonly segment: string;
  readonly occurrence: number;
  readonly field: number;
  readonly repetition: number;
  readonly component: number;
  readonly subcomponent: number;
  /** Raw text of the leaf (escapes not resolved). */
  readonly raw: string;
  /** The field holds sub-components but no component or repetition separator (`a&b&c`). */
  readonly subcomponentOnlyField: boolean;
}

export interface NaiveDelimiters {
  field: string;
  component: string;
  repetition: string;
  subcomponent: string;
}

export function naiveLeaves(text: string, d: NaiveDelimiters): NaiveLeaf[] {
  const out: NaiveLeaf[] = [];
  const seen = new Map<string, number>();
  for (const line of text.split(/\r\n|\r|\n/)) {
    if (line === '') continue;
    const fields = line.split(d.field);
    const name = fields[0] as string;
    const occurrence = (seen.get(name) ?? 0) + 1;
    seen.set(name, occurrence);
    // MSH: fields[1] is MSH-2; MSH-1 (the separator) is not in the split.
    const first = name === 'MSH' ? 2 : 1;
    for (let i = first; i < fields.length; i++) {
      const fieldNo = name === 'MSH' ? i + 1 : i;
      if (name === 'MSH' && fieldNo === 2) continue;
      const f = fields[i] as string;
      if (f === '') continue;
      const subOnly = f.includes(d.subcomponent) && !f.includes(d.component) && !f.includes(d.repetition);
      f.split(d.repetition).forEach((rep, r) => {
        rep.split(d.component).forEach((comp, c) => {
          comp.split(d.subcomponent).forEach((sub, s) => {
            out.push({
              path: `${name}[${occurrence}]-${fieldNo}[${r + 1}].${c + 1}.${s + 1}`,
              segment: name,
              occurrence,
              field: fieldNo,
              repetition: r + 1,
              component: c + 1,
              subcomponent: s + 1,
              raw: sub,
              subcomponentOnlyField: subOnly,
            });
          });
        });
      });
    }
  }
  return out;
}

export const DEFAULT_NAIVE: NaiveDelimiters = {
  field: '|',
  component: '^',
  repetition: '~',
  subcomponent: '&',
};

export const HL7_FIXTURES = [
  'siu-s12-new-appointment.hl7',
  'siu-s13-reschedule.hl7',
  'siu-s14-modify-escapes.hl7',
  'siu-s15-cancel-latin1.hl7',
  'siu-s17-delete-v23.hl7',
  'siu-s23-blocked-slot.hl7',
  'siu-s24-unblocked-slot.hl7',
  'siu-s26-noshow-zsegment.hl7',
  'adt-a04-registration-crlf.hl7',
  'adt-a08-update-lf.hl7',
  'adt-a28-create.hl7',
  'adt-a31-update-custom-delimiters.hl7',
  'adt-a40-merge.hl7',
  'adt-a47-identifier-change.hl7',
] as const;

export function readHl7Fixture(name: string): Buffer {
  return readFileSync(fixturePath('hl7', name));
}
