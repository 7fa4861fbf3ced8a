/**
 * Outbound HL7 v2 messages. Values are set by HL7 path and escaped with the message's own
 * delimiters (escape.ts); encoding follows HL7 v2.5.1 §2.5–2.7:
 * - MSH-1 / MSH-2 come from the chosen delimiters and cannot be set;
 * - every segment ends with CR (§2.5.1), including the last one;
 * - trailing empty fields, repetitions, components and sub-components are not written (§2.5.3:
 *   "trailing delimiters may be omitted"), so the output has no `||||` tails;
 * - values are checked against the character set when set, so an error names the path.
 *
 * Inbound messages are never re-emitted through this builder: they are kept as received.
 */
import { PasserelleError } from '../errors.js';
import { encodeText, type Hl7Charset, resolveCharset, unencodableIndex } from './charset.js';
import {
  DEFAULT_DELIMITERS,
  delimiterProblem,
  encodingCharacters,
  type Hl7Delimiters,
} from './delimiters.js';
import { escapeHl7, unescapeHl7 } from './escape.js';
import { formatHl7Path, type Hl7Path, toHl7Path } from './path.js';

export interface Hl7BuilderOptions {
  /** Defaults to `|^~\&`. */
  readonly delimiters?: Hl7Delimiters;
  /**
   * Character set of the output bytes; defaults to `UNICODE UTF-8`. The builder does not write
   * MSH-18 by itself (a link may agree on a charset without declaring it); if MSH-18 is set, it
   * must name this charset.
   */
  readonly charset?: Hl7Charset;
}

/** An encoded outbound message: the text and the bytes to put on the wire. */
export interface Hl7EncodedMessage {
  readonly text: string;
  readonly bytes: Buffer;
  readonly charset: Hl7Charset;
}

type Subs = (string | undefined)[];
type Comps = (Subs | undefined)[];
type Reps = (Comps | undefined)[];

interface SegmentDraft {
  readonly name: string;
  /** Index = field number. For MSH, 1 and 2 are never used. */
  readonly fields: (Reps | undefined)[];
}

function buildError(path: string, message: string): PasserelleError {
  return new PasserelleError('ERR_HL7_BUILD', `${path}: ${message}`, { details: { path } });
}

export class Hl7MessageBuilder {
  readonly delimiters: Hl7Delimiters;
  readonly charset: Hl7Charset;
  readonly #segments: SegmentDraft[] = [{ name: 'MSH', fields: [] }];

  constructor(options: Hl7BuilderOptions = {}) {
    const d = options.delimiters ?? DEFAULT_DELIMITERS;
    const problem = delimiterProblem(d);
    if (problem !== undefined) throw buildError('MSH-2', problem);
    this.delimiters = d;
    this.charset = options.charset ?? 'UNICODE UTF-8';
  }

  /** Appends a new segment and returns its occurrence number (the `n` of `SEG[n]-F`). */
  appendSegment(name: string): number {
    if (!/^[A-Z][A-Z0-9]{2}$/.test(name))
      throw buildError(name, 'a segment name is 3 upper-case letters or digits, starting with a letter');
    if (name === 'MSH')
      throw buildError(name, 'a message has exactly one MSH segment, created by the builder');
    this.#segments.push({ name, fields: [] });
    return this.#segments.filter((s) => s.name === name).length;
  }

  /**
   * Sets the leaf at `path` (omitted parts default to 1) to `value`, escaped on output. A
   * segment occurrence one past the last is appended; further ones are an error. `''` clears.
   */
  set(path: string | Hl7Path, value: string): this {
    const p = this.#checkPath(path);
    this.#checkValue(p, value);
    const comps = this.#comps(p);
    const c = (p.component ?? 1) - 1;
    const subs = (comps[c] ??= []);
    subs[(p.subcomponent ?? 1) - 1] = value;
    return this;
  }

  /**
   * Copies an element written with `from` delimiters (e.g. `Hl7Message.getEncoded`) to `path`,
   * at the level the path names (field, repetition, component or sub-component), re-escaping
   * every leaf for this message. `fromCharset` only matters for `\X..\` escapes.
   */
  setEncoded(
    path: string | Hl7Path,
    encoded: string,
    from: Hl7Delimiters,
    fromCharset: Hl7Charset = 'UNICODE UTF-8',
  ): this {
    const p = this.#checkPath(path);
    const leaf = (s: string): string | undefined => {
      if (s === '') return undefined;
      const v = unescapeHl7(s, from, fromCharset);
      this.#checkValue(p, v);
      return v;
    };
    const toSubs = (s: string): Subs | undefined =>
      s === '' ? undefined : s.split(from.subcomponent).map(leaf);
    const toComps = (s: string): Comps | undefined =>
      s === '' ? undefined : s.split(from.component).map(toSubs);
    const seg = this.#segment(p);
    if (p.component === undefined && p.repetition === undefined) {
      seg.fields[p.field] = encoded === '' ? undefined : encoded.split(from.repetition).map(toComps);
      return this;
    }
    if (p.component === undefined) {
      const reps = (seg.fields[p.field] ??= []);
      reps[(p.repetition as number) - 1] = toComps(encoded);
      return this;
    }
    const comps = this.#comps(p);
    if (p.subcomponent === undefined) {
      comps[p.component - 1] = toSubs(encoded);
    } else {
      const subs = (comps[p.component - 1] ??= []);
      subs[p.subcomponent - 1] = leaf(encoded);
    }
    return this;
  }

  /** The message text, segments terminated by CR. */
  toString(): string {
    const d = this.delimiters;
    let out = '';
    for (const seg of this.#segments) {
      let line = seg.name;
      if (seg.name === 'MSH') line += d.field + encodingCharacters(d);
      const first = seg.name === 'MSH' ? 3 : 1;
      let last = seg.fields.length - 1;
      const texts: string[] = [];
      for (let f = first; f <= last; f++) texts.push(this.#fieldText(seg.fields[f]));
      last = texts.length;
      while (last > 0 && texts[last - 1] === '') last--;
      for (let i = 0; i < last; i++) line += d.field + texts[i];
      out += `${line}\r`;
    }
    return out;
  }

  /** Text and bytes; checks that MSH-18, if set, names the builder's charset. */
  encode(): Hl7EncodedMessage {
    const msh18 = this.#segments[0]?.fields[18]?.[0]?.[0]?.[0];
    if (msh18 !== undefined && msh18 !== '' && resolveCharset(msh18) !== this.charset) {
      throw buildError('MSH-18', `declares a character set other than the builder's (${this.charset})`);
    }
    const text = this.toString();
    return { text, bytes: encodeText(text, this.charset), charset: this.charset };
  }

  #fieldText(reps: Reps | undefined): string {
    if (reps === undefined) return '';
    const d = this.delimiters;
    const repTexts: string[] = [];
    for (let r = 0; r < reps.length; r++) {
      const comps = reps[r];
      const compTexts: string[] = [];
      if (comps !== undefined) {
        for (let c = 0; c < comps.length; c++) {
          const subs = comps[c];
          const subTexts: string[] = [];
          if (subs !== undefined)
            for (let s = 0; s < subs.length; s++) subTexts.push(escapeHl7(subs[s] ?? '', d));
          compTexts.push(trimJoin(subTexts, d.subcomponent));
        }
      }
      repTexts.push(trimJoin(compTexts, d.component));
    }
    return trimJoin(repTexts, d.repetition);
  }

  #checkPath(path: string | Hl7Path): Hl7Path {
    const p = toHl7Path(path);
    const text = formatHl7Path(p);
    if (p.repetition === '*') throw buildError(text, '[*] cannot be set; set each repetition [1], [2]…');
    if (p.segment === 'MSH' && p.field <= 2)
      throw buildError(text, 'MSH-1 and MSH-2 are written from the builder delimiters');
    if (p.segment === 'MSH' && (p.occurrence ?? 1) !== 1)
      throw buildError(text, 'a message has exactly one MSH segment');
    return p;
  }

  #checkValue(p: Hl7Path, value: string): void {
    if (typeof value !== 'string') throw buildError(formatHl7Path(p), 'values are strings');
    const bad = unencodableIndex(value, this.charset);
    if (bad !== -1) {
      // The code point of one character is not identifying; the value itself may be.
      const cp = value.codePointAt(bad) ?? 0;
      throw buildError(
        formatHl7Path(p),
        `character U+${cp.toString(16).toUpperCase().padStart(4, '0')} at position ${bad + 1} cannot be written in ${this.charset}`,
      );
    }
  }

  #segment(p: Hl7Path): SegmentDraft {
    const occurrence = p.occurrence ?? 1;
    let seen = 0;
    for (const s of this.#segments) {
      if (s.name === p.segment && ++seen === occurrence) return s;
    }
    if (occurrence === seen + 1) {
      const s: SegmentDraft = { name: p.segment, fields: [] };
      this.#segments.push(s);
      return s;
    }
    throw buildError(
      formatHl7Path(p),
      `occurrence ${occurrence} of ${p.segment} needs occurrence ${seen + 1} first`,
    );
  }

  #comps(p: Hl7Path): Comps {
    const seg = this.#segment(p);
    const reps = (seg.fields[p.field] ??= []);
    return (reps[((p.repetition as number | undefined) ?? 1) - 1] ??= []);
  }
}

function trimJoin(parts: string[], sep: string): string {
  let n = parts.length;
  while (n > 0 && parts[n - 1] === '') n--;
  if (n === parts.length) return parts.join(sep);
  return parts.slice(0, n).join(sep);
}
