/**
 * Message delimiters (HL7 v2.5.1 §2.5.4): the field separator is MSH-1, and MSH-2 holds, in this
 * order, the component separator, the repetition separator, the escape character and the
 * sub-component separator. A fifth MSH-2 character (the v2.7 truncation character) is accepted
 * and ignored. The segment terminator is always carriage return (§2.5.1).
 */
import { PasserelleError } from '../errors.js';

export interface Hl7Delimiters {
  readonly field: string;
  readonly component: string;
  readonly repetition: string;
  readonly escape: string;
  readonly subcomponent: string;
}

/** `|^~\&`, the delimiters HL7 recommends and nearly every sender uses. */
export const DEFAULT_DELIMITERS: Hl7Delimiters = Object.freeze({
  field: '|',
  component: '^',
  repetition: '~',
  escape: '\\',
  subcomponent: '&',
});

/** MSH-2 as it is written: component, repetition, escape, sub-component. */
export function encodingCharacters(d: Hl7Delimiters): string {
  return d.component + d.repetition + d.escape + d.subcomponent;
}

/**
 * Why a set of delimiters is unusable, or undefined when it is fine: each is one character,
 * all five differ, none is a letter, digit, space, CR or LF (those would be ambiguous with data
 * or with the segment terminator).
 */
export function delimiterProblem(d: Hl7Delimiters): string | undefined {
  const all = [d.field, d.component, d.repetition, d.escape, d.subcomponent];
  for (let i = 0; i < all.length; i++) {
    const c = all[i];
    if (typeof c !== 'string' || c.length !== 1) return 'each delimiter must be exactly one character';
    const code = c.charCodeAt(0);
    if (code < 0x21 || code > 0x7e) return 'delimiters must be printable ASCII characters other than space';
    if ((code >= 0x30 && code <= 0x39) || (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a))
      return 'delimiters must not be letters or digits';
    for (let j = 0; j < i; j++) if (all[j] === c) return 'the five delimiters must all differ';
  }
  return undefined;
}

/** Builds delimiters from MSH-1 and MSH-2 text, throwing ERR_HL7_PARSE if they are unusable. */
export function delimitersFromHeader(field: string, msh2: string): Hl7Delimiters {
  return readEncodingCharacters(field, msh2).delimiters;
}

/**
 * What a lenient read of MSH-2 left out: `escape-doubled`, an MSH-2 written `^~\\&` (the
 * escape character doubled, as a string literal escaped once too often leaves it in a file).
 */
export type EncodingCharactersNote = 'escape-doubled';

/**
 * MSH-1 and MSH-2 → delimiters, and what was ignored to read them. Read as written first; only
 * when that is unusable, five characters whose escape character is doubled (`^~\\&`) are read
 * as the four without the copy: no other reading is valid (as written, the sub-component
 * separator would equal the escape character), so the delimiters are not ambiguous.
 */
export function readEncodingCharacters(
  field: string,
  msh2: string,
): { delimiters: Hl7Delimiters; note?: EncodingCharactersNote } {
  if (msh2.length === 5 && msh2.charAt(2) === msh2.charAt(3) && msh2.charAt(3) !== msh2.charAt(4)) {
    const asWritten = {
      field,
      component: msh2.charAt(0),
      repetition: msh2.charAt(1),
      escape: msh2.charAt(2),
      subcomponent: msh2.charAt(3),
    };
    const doubled = { ...asWritten, subcomponent: msh2.charAt(4) };
    if (delimiterProblem(asWritten) !== undefined && delimiterProblem(doubled) === undefined)
      return { delimiters: doubled, note: 'escape-doubled' };
  }
  return { delimiters: strictDelimiters(field, msh2) };
}

function strictDelimiters(field: string, msh2: string): Hl7Delimiters {
  if (msh2.length !== 4 && msh2.length !== 5) {
    throw new PasserelleError(
      'ERR_HL7_PARSE',
      `MSH-2 must hold 4 encoding characters (component, repetition, escape, sub-component), found ${msh2.length}`,
      {
        details: { segment: 'MSH', segmentIndex: 1, field: 2 },
      },
    );
  }
  const d: Hl7Delimiters = {
    field,
    component: msh2.charAt(0),
    repetition: msh2.charAt(1),
    escape: msh2.charAt(2),
    subcomponent: msh2.charAt(3),
  };
  const problem = delimiterProblem(d);
  if (problem !== undefined) {
    throw new PasserelleError('ERR_HL7_PARSE', `MSH-1/MSH-2: ${problem}`, {
      details: { segment: 'MSH', segmentIndex: 1, field: 2 },
    });
  }
  return d;
}
