/**
 * Differential tests: our codec against hl7-standard 1.0.4, an independent parser, on the
 * subset of HL7 that hl7-standard reads correctly (measured in shared/libraries.md §1). Every
 * leaf (field / repetition / component / sub-component) of a message must agree. Alongside,
 * getAll is checked against get, and getEncoded at field / repetition / component level
 * against a naive split of the same text.
 *
 * Excluded, and why (connectors/hl7v2/README.md § Codec, "hl7-standard"):
 * - custom delimiters: hl7-standard hard-codes `|` and `^` and forces MSH-2 to `^~\&`;
 * - escape resolution: hl7-standard returns `\F\`, `\T\`, `\X0D\`… raw, so our unescaped values
 *   are compared only on leaves without an escape character; on every leaf, our *encoded* leaf
 *   (getEncoded) is compared, which checks that escapes never split anything;
 * - sub-component-only fields (`a&b&c`, no `^` nor `~`): hl7-standard stores them in the same
 *   shape as repetitions and its build() writes them back as `a~b~c`;
 * - MSH-1 and MSH-2: not in hl7-standard's data (MSH-2 is overwritten with `^~\&`);
 * - segments with no field separator at all (a bare `ERR`) and mixed line endings:
 *   hl7-standard drops lines without `|` and splits on the most frequent line ending only.
 */
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import HL7, { type Hl7StandardValue } from 'hl7-standard';

import { type Hl7Message, parseHl7 } from '../../src/hl7/message.js';
import { HL7_FIXTURES, naiveLeaves, readHl7Fixture } from '../helpers/hl7-leaf-paths.js';

interface StandardView {
  /** Leaf values by full path `SEG[n]-F[r].C.S`. */
  readonly leaves: Map<string, string>;
  /** `SEG[n]-F` of fields read as a flat list (sub-component-only fields). */
  readonly flatFields: Set<string>;
  /** Segment names in message order. */
  readonly names: string[];
}

function addComponents(
  leaves: Map<string, string>,
  field: string,
  r: number,
  comps: Record<string, string | string[]>,
): void {
  for (const [key, v] of Object.entries(comps)) {
    const c = Number(key.slice(key.lastIndexOf('.') + 1));
    const subs = Array.isArray(v) ? v : [v];
    subs.forEach((s, i) => leaves.set(`${field}[${r}].${c}.${i + 1}`, s));
  }
}

/** hl7-standard's reading of `text`, flattened to leaves. */
function standardView(text: string): StandardView {
  const h = new HL7(text);
  h.transform();
  const segments = Object.values(h.transformed)
    .flat()
    .sort((a, b) => a.index - b.index);
  const leaves = new Map<string, string>();
  const flatFields = new Set<string>();
  const seen = new Map<string, number>();
  for (const seg of segments) {
    const n = (seen.get(seg.type) ?? 0) + 1;
    seen.set(seg.type, n);
    for (const [key, value] of Object.entries(seg.data) as [string, Hl7StandardValue][]) {
      const f = Number(key.slice(4));
      if (seg.type === 'MSH' && f <= 2) continue;
      const field = `${seg.type}[${n}]-${f}`;
      if (typeof value === 'string') leaves.set(`${field}[1].1.1`, value);
      else if (Array.isArray(value)) {
        value.forEach((rep, r) => {
          if (typeof rep === 'string') {
            flatFields.add(field);
            return;
          }
          addComponents(leaves, field, r + 1, rep);
        });
      } else addComponents(leaves, field, 1, value);
    }
  }
  return { leaves, flatFields, names: segments.map((s) => s.type) };
}

/** Raw text of every field, by a naive split (no escape handling needed: escapes hold no delimiter). */
function naiveFields(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const seen = new Map<string, number>();
  for (const line of text.split(/\r\n|\r|\n/)) {
    if (line === '') continue;
    const parts = line.split('|');
    const name = parts[0] as string;
    const n = (seen.get(name) ?? 0) + 1;
    seen.set(name, n);
    parts.forEach((f, i) => {
      if (i === 0 || (name === 'MSH' && i === 1)) return;
      out.set(`${name}[${n}]-${name === 'MSH' ? i + 1 : i}`, f);
    });
  }
  return out;
}

const fieldOf = (path: string) =>
  path.slice(0, path.indexOf('[', 4) === -1 ? undefined : path.indexOf('[', 4));

/** Compares every leaf either side knows of; returns how many were compared. */
function compareWithStandard(msg: Hl7Message): number {
  const std = standardView(msg.text);
  expect(msg.segments().map((s) => s.name)).toEqual(std.names);
  const paths = new Set(std.leaves.keys());
  for (const l of naiveLeaves(msg.text, msg.delimiters)) paths.add(l.path);
  let compared = 0;
  const disagreements: string[] = [];
  for (const path of paths) {
    if (std.flatFields.has(fieldOf(path))) continue;
    const theirs = std.leaves.get(path) ?? '';
    const encoded = msg.getEncoded(path) ?? '';
    if (encoded !== theirs)
      disagreements.push(`${path}: encoded ${JSON.stringify(encoded)} vs ${JSON.stringify(theirs)}`);
    if (!theirs.includes('\\')) {
      const value = msg.get(path) ?? '';
      if (value !== theirs)
        disagreements.push(`${path}: value ${JSON.stringify(value)} vs ${JSON.stringify(theirs)}`);
    }
    compared++;
  }
  // getAll lines up with get, repetition by repetition (`''` where a repetition lacks the leaf).
  const reps = new Map<string, number>();
  const leafKinds = new Set<string>();
  for (const path of paths) {
    const m = /^(.+)\[(\d+)\]\.(\d+\.\d+)$/.exec(path);
    if (m === null) throw new Error(`unexpected path ${path}`);
    const [, field, r, cs] = m as unknown as [string, string, string, string];
    reps.set(field, Math.max(reps.get(field) ?? 0, Number(r)));
    leafKinds.add(`${field}|${cs}`);
  }
  for (const kind of leafKinds) {
    const [field, cs] = kind.split('|') as [string, string];
    const expected =
      msg.getEncoded(field) === undefined
        ? []
        : Array.from({ length: reps.get(field) ?? 0 }, (_, i) => msg.get(`${field}[${i + 1}].${cs}`) ?? '');
    const all = msg.getAll(`${field}[*].${cs}`);
    if (JSON.stringify(all) !== JSON.stringify(expected))
      disagreements.push(
        `${field}[*].${cs}: getAll ${JSON.stringify(all)} vs get ${JSON.stringify(expected)}`,
      );
  }
  // getEncoded at the field, repetition and component levels gives the text as written.
  const orUndefined = (v: string | undefined) => (v === '' ? undefined : v);
  for (const [field, raw] of naiveFields(msg.text)) {
    const got: (string | undefined)[] = [msg.getEncoded(field)];
    const want: (string | undefined)[] = [orUndefined(raw)];
    raw.split('~').forEach((rep, r) => {
      got.push(msg.getEncoded(`${field}[${r + 1}]`));
      want.push(orUndefined(rep));
      rep.split('^').forEach((comp, c) => {
        got.push(msg.getEncoded(`${field}[${r + 1}].${c + 1}`));
        want.push(orUndefined(comp));
      });
    });
    if (JSON.stringify(got) !== JSON.stringify(want))
      disagreements.push(`${field}: getEncoded ${JSON.stringify(got)} vs ${JSON.stringify(want)}`);
  }
  // One assertion per message keeps hundreds of runs fast; the list names every disagreement.
  expect(disagreements).toEqual([]);
  return compared;
}

// Leaf text: plain characters, accented ones, and well-formed escape sequences (kept raw by
// hl7-standard, compared encoded only).
const leafArb = fc.oneof(
  { weight: 3, arbitrary: fc.string({ unit: fc.constantFrom(...'AZaz09 .-/:+éÉçà€'), maxLength: 8 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '',
      '""',
      'a\\F\\b',
      '\\S\\',
      '\\T\\x',
      '\\R\\',
      '\\E\\',
      '\\X0D0A\\',
      'l1\\.br\\l2',
      '\\H\\x\\N\\',
    ),
  },
);
const subsArb = fc.array(leafArb, { minLength: 1, maxLength: 3 }).map((s) => s.join('&'));
const compsArb = fc.array(subsArb, { minLength: 1, maxLength: 4 }).map((c) => c.join('^'));
const fieldArb = fc.array(compsArb, { minLength: 1, maxLength: 3 }).map((r) => r.join('~'));
const nameArb = fc
  .tuple(
    fc.constantFrom(...'ABCDEFGHIJKLNOPQRSTUVWXYZ'),
    fc.constantFrom(...'ABCIRSVXZ019'),
    fc.constantFrom(...'ABCIRSVXZ019'),
  )
  .map((t) => t.join(''))
  .filter((n) => n !== 'MSH');
const segmentArb = fc
  .tuple(nameArb, fc.array(fieldArb, { minLength: 1, maxLength: 12 }))
  .map(([name, fields]) => `${name}|${fields.join('|')}`);
const messageArb = fc
  .tuple(
    fc.array(fieldArb, { minLength: 1, maxLength: 16 }),
    fc.array(segmentArb, { maxLength: 8 }),
    fc.constantFrom('\r', '\n', '\r\n'),
  )
  .map(([msh, segments, eol]) => [`MSH|^~\\&|${msh.join('|')}`, ...segments].map((s) => s + eol).join(''));

describe('differential against hl7-standard (default delimiters)', () => {
  const fixtures = HL7_FIXTURES.filter((f) => f !== 'adt-a31-update-custom-delimiters.hl7');

  it.each(fixtures)('agrees on every leaf of %s', (name) => {
    const msg = parseHl7(readHl7Fixture(name));
    expect(msg.delimiters.component).toBe('^');
    expect(compareWithStandard(msg)).toBeGreaterThan(20);
  });

  it('agrees on every leaf of random messages with repetitions, components, sub-components and escapes', () => {
    fc.assert(
      fc.property(messageArb, (text) => {
        compareWithStandard(parseHl7(text));
      }),
      { numRuns: 200 },
    );
  });

  it('differs where hl7-standard is known to be wrong: a&b&c comes back as repetitions, escapes stay raw', () => {
    const msg = parseHl7(readHl7Fixture('siu-s26-noshow-zsegment.hl7'));
    const h = new HL7(msg.text, { lineEndings: '\r' });
    h.transform();
    // The same shape as a repeated field (whose get() gives the first repetition)…
    expect(h.getSegment('ZRV')?.data['ZRV.3']).toEqual(['SMS', 'MAIL', 'APPEL']);
    expect(h.get('ZRV.3')).toBe('SMS');
    // …and build() writes repetitions: the data changed meaning.
    expect(h.build()).toContain('|SMS~MAIL~APPEL|');
    expect(msg.getAll('ZRV-3[*].1.1')).toEqual(['SMS']);
    expect(msg.get('ZRV-3.1.3')).toBe('APPEL');

    const s14 = parseHl7(readHl7Fixture('siu-s14-modify-escapes.hl7'));
    const h14 = new HL7(s14.text, { lineEndings: '\r' });
    h14.transform();
    expect(h14.get('AIS.3.2')).toBe('Consultation longue \\T\\ bilan');
    expect(s14.get('AIS-3.2')).toBe('Consultation longue & bilan');
  });
});
