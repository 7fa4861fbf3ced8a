/**
 * HL7 v2 field paths, the one way passerelle addresses a value in a message (mapping profiles,
 * the codec's readers and builder, ACK error locations).
 *
 *   SEG[n]-F[r].C.S
 *
 * - `SEG`  segment name: 3 characters, an upper-case letter then letters or digits (Z-segments too).
 * - `[n]`  segment occurrence, 1-based, default 1: `OBX[2]-5` is field 5 of the second OBX.
 * - `F`    field number, 1-based. `MSH-1` is the field separator and `MSH-2` the encoding
 *          characters, as HL7 v2.5.1 §2.5.3 counts them.
 * - `[r]`  field repetition, 1-based, default 1; `[*]` means every repetition (readers only).
 * - `.C`   component, 1-based; `.S` sub-component, 1-based. Omitted means 1 for readers,
 *          following HAPI's Terser: `PID-8` reads PID-8.1.1.
 *
 * Examples: `PID-5[1].1`, `SCH-11.4`, `AIS-3.1`, `PID-3[2].4.2`, `OBX[2]-5`, `PID-3[*].1`.
 */
import { PasserelleError } from '../errors.js';

export interface Hl7Path {
  /** Segment name, e.g. `PID`, `ZBE`. */
  readonly segment: string;
  /** 1-based segment occurrence; `undefined` when the path does not say (readers use 1). */
  readonly occurrence: number | undefined;
  /** 1-based field number. */
  readonly field: number;
  /** 1-based repetition, `'*'` for all, `undefined` when the path does not say (readers use 1). */
  readonly repetition: number | '*' | undefined;
  /** 1-based component; `undefined` when the path does not say (readers use 1). */
  readonly component: number | undefined;
  /** 1-based sub-component; `undefined` when the path does not say (readers use 1). */
  readonly subcomponent: number | undefined;
}

/** Bigger numbers than this are certainly a typo; they would also overflow nothing but memory. */
const MAX_INDEX = 99_999;

function invalid(input: string, reason: string): PasserelleError {
  // A path is a mapping-profile artefact, not patient data: it may be quoted in full.
  return new PasserelleError('ERR_HL7_PATH_INVALID', `${input}: ${reason}`, {
    details: { path: input, reason },
  });
}

const isUpper = (c: number) => c >= 65 && c <= 90;
const isDigit = (c: number) => c >= 48 && c <= 57;

/**
 * Parses a path; throws ERR_HL7_PATH_INVALID with a message naming the problem, e.g.
 * `PID-0: field numbers start at 1`.
 */
export function parseHl7Path(input: string): Hl7Path {
  if (typeof input !== 'string' || input.length === 0) throw invalid(String(input), 'empty path');
  const s = input;
  let i = 0;

  const c0 = s.charCodeAt(0);
  const c1 = s.charCodeAt(1);
  const c2 = s.charCodeAt(2);
  if (!(isUpper(c0) && (isUpper(c1) || isDigit(c1)) && (isUpper(c2) || isDigit(c2)))) {
    throw invalid(
      input,
      'a path starts with a 3-character segment name: an upper-case letter, then upper-case letters or digits (e.g. PID, ZBE)',
    );
  }
  const segment = s.slice(0, 3);
  i = 3;

  const readNumber = (what: string): number => {
    const start = i;
    while (i < s.length && isDigit(s.charCodeAt(i))) i++;
    if (i === start) {
      throw invalid(input, `expected a ${what} number at position ${start + 1}`);
    }
    if (i - start > 5) throw invalid(input, `${what} number too large (at most ${MAX_INDEX})`);
    const n = Number(s.slice(start, i));
    if (n === 0) throw invalid(input, `${what} numbers start at 1`);
    return n;
  };

  let occurrence: number | undefined;
  if (s[i] === '[') {
    i++;
    if (s[i] === '*')
      throw invalid(input, '[*] is only allowed on a field repetition (SEG-F[*]), not on a segment');
    occurrence = readNumber('segment occurrence');
    if (s[i] !== ']') throw invalid(input, `expected ']' after the segment occurrence at position ${i + 1}`);
    i++;
  }

  if (s[i] !== '-')
    throw invalid(input, `expected '-' and a field number after the segment name at position ${i + 1}`);
  i++;
  const field = readNumber('field');

  let repetition: number | '*' | undefined;
  if (s[i] === '[') {
    i++;
    if (s[i] === '*') {
      repetition = '*';
      i++;
    } else {
      repetition = readNumber('repetition');
    }
    if (s[i] !== ']') throw invalid(input, `expected ']' after the repetition at position ${i + 1}`);
    i++;
  }

  let component: number | undefined;
  let subcomponent: number | undefined;
  if (s[i] === '.') {
    i++;
    component = readNumber('component');
    if (s[i] === '.') {
      i++;
      subcomponent = readNumber('sub-component');
    }
  }

  if (i !== s.length) throw invalid(input, `unexpected '${s[i]}' at position ${i + 1}`);
  return { segment, occurrence, field, repetition, component, subcomponent };
}

/** The path as text; `formatHl7Path(parseHl7Path(s)) === s` for every valid `s`. */
export function formatHl7Path(p: Hl7Path): string {
  let out = p.segment;
  if (p.occurrence !== undefined) out += `[${p.occurrence}]`;
  out += `-${p.field}`;
  if (p.repetition !== undefined) out += `[${p.repetition}]`;
  if (p.component !== undefined) {
    out += `.${p.component}`;
    if (p.subcomponent !== undefined) out += `.${p.subcomponent}`;
  }
  return out;
}

/** A path object built in code, checked as strictly as a parsed one. */
export function hl7Path(
  segment: string,
  field: number,
  more: { occurrence?: number; repetition?: number | '*'; component?: number; subcomponent?: number } = {},
): Hl7Path {
  const p: Hl7Path = {
    segment,
    occurrence: more.occurrence,
    field,
    repetition: more.repetition,
    component: more.component,
    subcomponent: more.subcomponent,
  };
  if (p.subcomponent !== undefined && p.component === undefined) {
    throw invalid(`${segment}-${field}`, 'a sub-component needs a component');
  }
  const text = formatHl7Path(p);
  // Re-parse so that one set of rules (names, ranges) applies to both spellings.
  parseHl7Path(text);
  return p;
}

const cache = new Map<string, Hl7Path>();
const CACHE_LIMIT = 10_000;

/**
 * `parseHl7Path` with a bounded memo, for readers that receive paths as strings on hot paths.
 * Mapping code should compile its paths once with `parseHl7Path` and pass the objects.
 */
export function toHl7Path(path: string | Hl7Path): Hl7Path {
  if (typeof path !== 'string') return path;
  let p = cache.get(path);
  if (p === undefined) {
    p = parseHl7Path(path);
    if (cache.size >= CACHE_LIMIT) cache.clear();
    cache.set(path, p);
  }
  return p;
}
