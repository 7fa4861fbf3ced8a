/**
 * Inbound HL7 v2 messages: `parseHl7(bytes)` → `Hl7Message`.
 *
 * - The bytes are kept exactly as received (`raw`); nothing is ever re-emitted from a rebuild.
 * - Delimiters come from MSH-1 / MSH-2 (HL7 v2.5.1 §2.5.4), custom ones included.
 * - The bytes are decoded per MSH-18 (charset.ts), or the link's default when MSH-18 is empty.
 * - Segments end with CR (§2.5.1); LF and CRLF are accepted too, as file drops use them. Empty
 *   lines are skipped. Z-segments are kept like any other, in order.
 * - Parsing is lazy: one pass finds the segments; the first read of a segment indexes its
 *   separators in one pass; a value is located by walking that index and sliced out; escapes
 *   (escape.ts) are resolved only in the value that is returned.
 * - Values are read through HL7 paths (path.ts), never ad hoc indexes.
 * - Errors are PasserelleError ERR_HL7_PARSE / ERR_HL7_CHARSET whose message and details name the
 *   segment position and field, never a value (values are patient data).
 */
import { inspect } from 'node:util';

import { PasserelleError } from '../errors.js';
import { decodeBytes, type Hl7Charset, requireCharset, resolveCharset } from './charset.js';
import {
  encodingCharacters,
  type EncodingCharactersNote,
  type Hl7Delimiters,
  readEncodingCharacters,
} from './delimiters.js';
import { unescapeHl7 } from './escape.js';
import { formatHl7Path, type Hl7Path, parseHl7Path, toHl7Path } from './path.js';

export interface ParseHl7Options {
  /**
   * Character set used when MSH-18 is empty: the link's agreed default (HL7 v2.5.1 §2.15.9.18).
   * Defaults to `UNICODE UTF-8`, which reads ASCII too and rejects Latin-1 bytes loudly rather
   * than guessing. Accepts HL7 names (`8859/1`) and `windows-1252`.
   */
  readonly defaultCharset?: string;
  /** Decode with this character set whatever MSH-18 says (for senders whose MSH-18 is wrong). */
  readonly charsetOverride?: string;
}

/** One segment of the message, in message order. */
export interface Hl7SegmentRef {
  readonly name: string;
  /** 1-based occurrence among segments of the same name: the `n` of `SEG[n]-F`. */
  readonly occurrence: number;
  /** 1-based position in the message (MSH is 1). */
  readonly position: number;
}

/** HD data type (HL7 v2.5.1 §2.A.36), as used by MSH-3 to MSH-6. */
export interface Hl7HierarchicDesignator {
  readonly namespaceId: string | undefined;
  readonly universalId: string | undefined;
  readonly universalIdType: string | undefined;
}

/** The MSH fields every part of the connector needs, unescaped. */
export interface Hl7Header {
  /** MSH-9.1, e.g. `SIU`. */
  readonly messageCode: string | undefined;
  /** MSH-9.2, e.g. `S12`. */
  readonly triggerEvent: string | undefined;
  /** MSH-9.3, e.g. `SIU_S12` (absent in v2.3). */
  readonly messageStructure: string | undefined;
  /** `MSH-9.1^MSH-9.2` written with `^` whatever the message's delimiters, e.g. `SIU^S12`. */
  readonly messageType: string | undefined;
  /** MSH-7.1, the message date/time as written. */
  readonly timestamp: string | undefined;
  /** MSH-10. */
  readonly controlId: string | undefined;
  /** MSH-11.1 (`P` production, `T` training, `D` debugging). */
  readonly processingId: string | undefined;
  /** MSH-12.1, e.g. `2.5`. */
  readonly version: string | undefined;
  /** MSH-15 (`AL`, `NE`, `ER`, `SU`); empty means original acknowledgment mode (§2.9.2). */
  readonly acceptAckType: string | undefined;
  /** MSH-16. */
  readonly applicationAckType: string | undefined;
  /** MSH-18 first repetition as written, e.g. `8859/1`. */
  readonly charset: string | undefined;
  readonly sendingApplication: Hl7HierarchicDesignator;
  readonly sendingFacility: Hl7HierarchicDesignator;
  readonly receivingApplication: Hl7HierarchicDesignator;
  readonly receivingFacility: Hl7HierarchicDesignator;
}

function parseError(message: string, details: Record<string, unknown>): PasserelleError {
  return new PasserelleError('ERR_HL7_PARSE', message, { details });
}

/*
 * Reading is lazy. The first read of a segment finds every separator in it once (`indexOf`
 * per separator) and records them in order (`SegmentIndex`); a value is then located by walking
 * that short list of small integers, and sliced out of the segment text. Escapes are resolved in
 * the returned value only. Nothing is split into arrays of strings, no regular expression runs.
 */

/** Separator kinds, in nesting order: an element at depth d ends at a separator of kind ≤ d. */
const FIELD = 0;
const REP = 1;
const COMP = 2;
const SUB = 3;

interface SegmentIndex {
  /**
   * `position << 2 | kind` for each separator in order, then `length << 2` as a field end.
   * Read back with `>>> 2`: V8 strings are shorter than 2^29, so positions fit in 32 bits.
   */
  readonly seps: number[];
  /** fieldAt[n] = index in `seps` of the field separator that opens field n. */
  readonly fieldAt: number[];
  /** Whether the segment holds the escape character at all (most do not). */
  readonly hasEscape: boolean;
}

const NONE = 0x7fffffff;

/** Position of the next `sep` in text from `at`, or NONE. (Module-level: no closure per call.) */
function nextSep(text: string, sep: string, at: number): number {
  const i = text.indexOf(sep, at);
  return i === -1 ? NONE : i;
}

// `locate` returns the start of an element and leaves its end here, so reading allocates nothing.
let rangeEnd = 0;

/**
 * Start of element (r, c, s) of the field whose separator is seps[j], at depth 0 (the whole
 * field), 1 (repetition r), 2 (component c of r) or 3 (sub-component s of c of r); -1 when
 * absent. The end is left in rangeEnd.
 */
function locate(seps: number[], j: number, r: number, c: number, s: number, depth: number): number {
  let cr = 1;
  let cc = 1;
  let cs = 1;
  let start = -1;
  if ((depth < 1 || r === 1) && (depth < 2 || c === 1) && (depth < 3 || s === 1))
    start = ((seps[j] as number) >>> 2) + 1;
  for (;;) {
    const e = seps[++j] as number;
    const kind = e & 3;
    if (start >= 0) {
      if (kind <= depth) {
        rangeEnd = e >>> 2;
        return start;
      }
      continue;
    }
    if (kind === FIELD) return -1;
    if (kind === REP) {
      if (++cr > r) return -1;
      cc = 1;
      cs = 1;
    } else if (kind === COMP) {
      cs = 1;
      if (++cc > c && cr === r) return -1;
    } else {
      cs++;
    }
    if (cr === r && (depth < 2 || cc === c) && (depth < 3 || cs === s)) start = (e >>> 2) + 1;
  }
}

const isUpper = (c: number) => c >= 65 && c <= 90;
const isNameChar = (c: number) => (c >= 65 && c <= 90) || (c >= 48 && c <= 57);

/** Splits on CR, LF or CRLF, dropping empty lines. */
function splitSegments(text: string): string[] {
  const out: string[] = [];
  if (text.indexOf('\n') === -1) {
    for (const s of text.split('\r')) if (s !== '') out.push(s);
    return out;
  }
  let start = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = i === text.length ? 13 : text.charCodeAt(i);
    if (c === 13 || c === 10) {
      if (i > start) out.push(text.slice(start, i));
      start = i + 1;
    }
  }
  return out;
}

/**
 * MSH-18's first repetition, first component, read from the first line before the message is
 * decoded (its name is ASCII in every supported charset), or undefined when empty.
 */
function declaredCharset(firstLine: string): string | undefined {
  if (firstLine.length < 9 || !firstLine.startsWith('MSH')) return undefined;
  const fieldSep = firstLine.charAt(3);
  // The separator at index 3 opens MSH-2; the 17th after it opens MSH-18.
  let at = 3;
  for (let n = 2; n < 18; n++) {
    at = firstLine.indexOf(fieldSep, at + 1);
    if (at === -1) return undefined;
  }
  let end = firstLine.indexOf(fieldSep, at + 1);
  if (end === -1) end = firstLine.length;
  // Stop at the first repetition or component separator (MSH-2 characters 2 and 1).
  for (const sep of [firstLine.charAt(4), firstLine.charAt(5)]) {
    if (sep === '' || sep === fieldSep) continue;
    const i = firstLine.indexOf(sep, at + 1);
    if (i !== -1 && i < end) end = i;
  }
  const first = firstLine.slice(at + 1, end).trim();
  return first === '' ? undefined : first;
}

function firstLineOfText(text: string): string {
  let start = 0;
  while (start < text.length && (text.charCodeAt(start) === 13 || text.charCodeAt(start) === 10)) start++;
  let end = text.length;
  const cr = text.indexOf('\r', start);
  const lf = text.indexOf('\n', start);
  if (cr !== -1) end = cr;
  if (lf !== -1 && lf < end) end = lf;
  return text.slice(start, end);
}

function firstLineEnd(bytes: Buffer, from: number): number {
  let end = bytes.length;
  const cr = bytes.indexOf(13, from);
  const lf = bytes.indexOf(10, from);
  if (cr !== -1) end = cr;
  if (lf !== -1 && lf < end) end = lf;
  return end;
}

/**
 * Parses an inbound message. Pass the bytes as received (MLLP frame content, file content);
 * a string is accepted for tests and tools, then `raw` is its UTF-8 encoding.
 *
 * Throws PasserelleError ERR_HL7_PARSE (structure) or ERR_HL7_CHARSET (bytes vs charset) only.
 */
export function parseHl7(input: Buffer | Uint8Array | string, options: ParseHl7Options = {}): Hl7Message {
  let raw: Buffer;
  let text: string;
  let charset: Hl7Charset;
  if (typeof input === 'string') {
    raw = Buffer.from(input, 'utf8');
    text = input.charCodeAt(0) === 0xfeff ? input.slice(1) : input;
    // Already decoded: MSH-18 only tells how to read \X..\ hexadecimal escapes.
    const declared = declaredCharset(firstLineOfText(text));
    charset = (declared !== undefined ? resolveCharset(declared) : undefined) ?? 'UNICODE UTF-8';
  } else if (input instanceof Uint8Array) {
    raw = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
    // A UTF-8 byte order mark, as some Windows tools write into dropped files.
    const start = raw.length >= 3 && raw[0] === 0xef && raw[1] === 0xbb && raw[2] === 0xbf ? 3 : 0;
    let lineStart = start;
    while (lineStart < raw.length && (raw[lineStart] === 13 || raw[lineStart] === 10)) lineStart++;
    if (options.charsetOverride !== undefined) {
      charset = requireCharset(options.charsetOverride, 'link character set override');
    } else {
      const declared = declaredCharset(raw.toString('latin1', lineStart, firstLineEnd(raw, lineStart)));
      if (declared !== undefined) charset = requireCharset(declared, 'MSH-18');
      else
        charset =
          options.defaultCharset !== undefined
            ? requireCharset(options.defaultCharset, 'link default character set')
            : 'UNICODE UTF-8';
    }
    text = decodeBytes(start === 0 ? raw : raw.subarray(start), charset, 'message', start);
  } else {
    throw parseError('an HL7 message must be given as bytes or a string', {});
  }
  return new Hl7Message(raw, text, charset);
}

const EMPTY_HD: Hl7HierarchicDesignator = Object.freeze({
  namespaceId: undefined,
  universalId: undefined,
  universalIdType: undefined,
});

const H = {
  messageCode: parseHl7Path('MSH-9.1'),
  triggerEvent: parseHl7Path('MSH-9.2'),
  messageStructure: parseHl7Path('MSH-9.3'),
  timestamp: parseHl7Path('MSH-7.1'),
  controlId: parseHl7Path('MSH-10'),
  processingId: parseHl7Path('MSH-11.1'),
  version: parseHl7Path('MSH-12.1'),
  acceptAckType: parseHl7Path('MSH-15'),
  applicationAckType: parseHl7Path('MSH-16'),
  charset: parseHl7Path('MSH-18'),
} as const;

export class Hl7Message {
  /** The bytes exactly as received. */
  readonly raw: Buffer;
  /** The decoded text. */
  readonly text: string;
  readonly delimiters: Hl7Delimiters;
  /** What a lenient parse ignored (`escape-doubled`: MSH-2 `^~\\&`); readers warn about it. */
  readonly notes: readonly EncodingCharactersNote[];
  /** The character set the bytes were decoded with. */
  readonly charset: Hl7Charset;

  readonly #segments: string[];
  readonly #names: string[];
  readonly #byName = new Map<string, number[]>();
  readonly #index: (SegmentIndex | undefined)[];
  #header: Hl7Header | undefined;
  #lastName = '';
  #lastOccurrence = 0;
  #lastK = -1;

  /** Use parseHl7(). */
  constructor(raw: Buffer, text: string, charset: Hl7Charset) {
    this.raw = raw;
    this.text = text;
    this.charset = charset;
    const segments = splitSegments(text);
    if (segments.length === 0) throw parseError('empty message: no segment found', {});
    const msh = segments[0] as string;
    if (!msh.startsWith('MSH')) {
      const batch = msh.startsWith('FHS') || msh.startsWith('BHS');
      throw parseError(
        batch
          ? 'batch files (FHS/BHS) hold several messages: split them before parsing'
          : 'a message must start with an MSH segment',
        { segmentIndex: 1 },
      );
    }
    if (msh.length < 4)
      throw parseError('MSH-1 (field separator) is missing', { segment: 'MSH', segmentIndex: 1, field: 1 });
    const fieldSep = msh.charAt(3);
    let msh2End = msh.indexOf(fieldSep, 4);
    if (msh2End === -1) msh2End = msh.length;
    const encoding = readEncodingCharacters(fieldSep, msh.slice(4, msh2End));
    this.delimiters = encoding.delimiters;
    this.notes = encoding.note === undefined ? [] : [encoding.note];

    const names = new Array<string>(segments.length);
    for (let k = 0; k < segments.length; k++) {
      const s = segments[k] as string;
      const ok =
        s.length >= 3 &&
        isUpper(s.charCodeAt(0)) &&
        isNameChar(s.charCodeAt(1)) &&
        isNameChar(s.charCodeAt(2)) &&
        (s.length === 3 || s.charAt(3) === fieldSep);
      if (!ok) {
        // The line itself may be patient data (e.g. a field that held a raw line break): name its position only.
        throw parseError(
          `segment ${k + 1}: expected a segment name (3 upper-case letters or digits) followed by the field separator`,
          { segmentIndex: k + 1 },
        );
      }
      const name = s.slice(0, 3);
      if (k > 0 && name === 'MSH') {
        throw parseError(
          `segment ${k + 1}: a second MSH segment; one message was expected (split batches and concatenated files first)`,
          { segment: 'MSH', segmentIndex: k + 1 },
        );
      }
      names[k] = name;
      const list = this.#byName.get(name);
      if (list === undefined) this.#byName.set(name, [k]);
      else list.push(k);
    }
    this.#segments = segments;
    this.#names = names;
    this.#index = new Array<SegmentIndex | undefined>(segments.length);
  }

  /**
   * The value at `path`, escapes resolved; `undefined` when absent or empty. Omitted parts
   * default to 1 (`PID-5` reads PID-5[1].1.1). The HL7 null `""` comes back as the two
   * characters `""` (see HL7_NULL): it means "delete this value", which differs from absent.
   * A `[*]` path throws ERR_HL7_PATH_INVALID: use getAll.
   */
  get(path: string | Hl7Path): string | undefined {
    const p = typeof path === 'string' ? toHl7Path(path) : path;
    if (p.repetition === '*') throw manyValues(p);
    const k = this.#segmentIndex(p.segment, p.occurrence ?? 1);
    if (k < 0) return undefined;
    if (k === 0 && p.field <= 2) return this.#mshSpecial(p);
    const idx = this.#index[k] ?? this.#indexOf(k);
    const j = idx.fieldAt[p.field];
    if (j === undefined) return undefined;
    const start = locate(idx.seps, j, p.repetition ?? 1, p.component ?? 1, p.subcomponent ?? 1, SUB);
    if (start < 0) return undefined;
    const end = rangeEnd;
    if (start === end) return undefined;
    const v = (this.#segments[k] as string).slice(start, end);
    return idx.hasEscape && v.indexOf(this.delimiters.escape) !== -1
      ? unescapeHl7(v, this.delimiters, this.charset)
      : v;
  }

  /**
   * Every repetition's value at `path` (which may say `[*]` or nothing for the repetition), in
   * order, one entry per repetition, `''` where that repetition has no value there, so entries
   * of `PID-3[*].1` and `PID-3[*].4.2` line up. An explicit `[r]` gives at most that one value.
   * An absent or empty field gives `[]`.
   */
  getAll(path: string | Hl7Path): string[] {
    const p = typeof path === 'string' ? toHl7Path(path) : path;
    if (typeof p.repetition === 'number') {
      const v = this.get(p);
      return v === undefined ? [] : [v];
    }
    const k = this.#segmentIndex(p.segment, p.occurrence ?? 1);
    if (k < 0) return [];
    if (k === 0 && p.field <= 2) {
      const v = this.#mshSpecial(p);
      return v === undefined ? [] : [v];
    }
    const idx = this.#indexOf(k);
    const seps = idx.seps;
    let j = idx.fieldAt[p.field];
    if (j === undefined) return [];
    const c = p.component ?? 1;
    const s = p.subcomponent ?? 1;
    let start = ((seps[j] as number) >>> 2) + 1;
    const out: string[] = [];
    let value = '';
    let cc = 1;
    let cs = 1;
    for (;;) {
      const e = seps[++j] as number;
      const kind = e & 3;
      const end = e >>> 2;
      if (kind === FIELD && end === start && out.length === 0 && cc === 1 && cs === 1) return [];
      if (cc === c && cs === s && end > start) value = this.#value(k, idx, start, end);
      if (kind === FIELD) {
        out.push(value);
        return out;
      }
      if (kind === REP) {
        out.push(value);
        value = '';
        cc = 1;
        cs = 1;
      } else if (kind === COMP) {
        cc++;
        cs = 1;
      } else {
        cs++;
      }
      start = end + 1;
    }
  }

  /**
   * The element at `path` exactly as written, escapes and inner delimiters intact, at the level
   * the path names: `PID-3` the whole field (every repetition), `PID-3[2]` one repetition,
   * `PID-3[2].4` one component, `PID-3[2].4.2` one sub-component. For copying an element into
   * another message (builder.setEncoded) or hashing it; not for display.
   */
  getEncoded(path: string | Hl7Path): string | undefined {
    const p = typeof path === 'string' ? toHl7Path(path) : path;
    if (p.repetition === '*') throw manyValues(p);
    const k = this.#segmentIndex(p.segment, p.occurrence ?? 1);
    if (k < 0) return undefined;
    if (k === 0 && p.field <= 2) return this.#mshSpecial(p);
    const idx = this.#indexOf(k);
    const j = idx.fieldAt[p.field];
    if (j === undefined) return undefined;
    const depth =
      p.component === undefined
        ? p.repetition === undefined
          ? FIELD
          : REP
        : p.subcomponent === undefined
          ? COMP
          : SUB;
    const start = locate(idx.seps, j, p.repetition ?? 1, p.component ?? 1, p.subcomponent ?? 1, depth);
    if (start < 0 || start === rangeEnd) return undefined;
    return (this.#segments[k] as string).slice(start, rangeEnd);
  }

  /** Segments in message order, all of them or those named `name`. */
  segments(name?: string): Hl7SegmentRef[] {
    const out: Hl7SegmentRef[] = [];
    if (name !== undefined) {
      const list = this.#byName.get(name) ?? [];
      list.forEach((k, i) => out.push({ name, occurrence: i + 1, position: k + 1 }));
      return out;
    }
    const seen = new Map<string, number>();
    this.#names.forEach((n, k) => {
      const occurrence = (seen.get(n) ?? 0) + 1;
      seen.set(n, occurrence);
      out.push({ name: n, occurrence, position: k + 1 });
    });
    return out;
  }

  /** MSH fields, read once. */
  get header(): Hl7Header {
    if (this.#header === undefined) {
      const code = this.get(H.messageCode);
      const trigger = this.get(H.triggerEvent);
      this.#header = Object.freeze({
        messageCode: code,
        triggerEvent: trigger,
        messageStructure: this.get(H.messageStructure),
        messageType: code === undefined ? undefined : trigger === undefined ? code : `${code}^${trigger}`,
        timestamp: this.get(H.timestamp),
        controlId: this.get(H.controlId),
        processingId: this.get(H.processingId),
        version: this.get(H.version),
        acceptAckType: this.get(H.acceptAckType),
        applicationAckType: this.get(H.applicationAckType),
        charset: this.get(H.charset),
        sendingApplication: this.#hd(3),
        sendingFacility: this.#hd(4),
        receivingApplication: this.#hd(5),
        receivingFacility: this.#hd(6),
      });
    }
    return this.#header;
  }

  /** What logs may show: never the content (PHI), only its shape. */
  toJSON(): {
    messageType: string | undefined;
    controlId: string | undefined;
    version: string | undefined;
    segments: number;
    bytes: number;
  } {
    const h = this.header;
    return {
      messageType: h.messageType,
      controlId: h.controlId,
      version: h.version,
      segments: this.#segments.length,
      bytes: this.raw.length,
    };
  }

  [inspect.custom](): string {
    return `Hl7Message ${JSON.stringify(this.toJSON())}`;
  }

  #hd(field: number): Hl7HierarchicDesignator {
    if (
      this.getEncoded({
        segment: 'MSH',
        occurrence: undefined,
        field,
        repetition: undefined,
        component: undefined,
        subcomponent: undefined,
      }) === undefined
    )
      return EMPTY_HD;
    const base = {
      segment: 'MSH',
      occurrence: undefined,
      field,
      repetition: undefined,
      subcomponent: undefined,
    } as const;
    return {
      namespaceId: this.get({ ...base, component: 1 }),
      universalId: this.get({ ...base, component: 2 }),
      universalIdType: this.get({ ...base, component: 3 }),
    };
  }

  #mshSpecial(p: Hl7Path): string | undefined {
    // MSH-1 and MSH-2 are not split or unescaped (§2.5.3): they define the delimiters.
    if ((p.repetition ?? 1) !== 1 && p.repetition !== '*') return undefined;
    if ((p.component ?? 1) !== 1 || (p.subcomponent ?? 1) !== 1) return undefined;
    return p.field === 1 ? this.delimiters.field : encodingCharacters(this.delimiters);
  }

  #segmentIndex(name: string, occurrence: number): number {
    // Readers go segment by segment: remember the last lookup.
    if (name === this.#lastName && occurrence === this.#lastOccurrence) return this.#lastK;
    const list = this.#byName.get(name);
    const k = list === undefined ? -1 : (list[occurrence - 1] ?? -1);
    this.#lastName = name;
    this.#lastOccurrence = occurrence;
    this.#lastK = k;
    return k;
  }

  /** The value of segment k between start and end, escapes resolved. */
  #value(k: number, idx: SegmentIndex, start: number, end: number): string {
    const v = (this.#segments[k] as string).slice(start, end);
    return idx.hasEscape && v.indexOf(this.delimiters.escape) !== -1
      ? unescapeHl7(v, this.delimiters, this.charset)
      : v;
  }

  /**
   * The separator index of segment k, built on its first read. Each delimiter is found with
   * indexOf (native, much faster than a loop over characters) and the four streams are merged
   * in position order.
   */
  #indexOf(k: number): SegmentIndex {
    const known = this.#index[k];
    if (known !== undefined) return known;
    const text = this.#segments[k] as string;
    const d = this.delimiters;
    const length = text.length;
    const seps: number[] = [];
    // fieldAt[0] (and MSH's fieldAt[1]) are never read: paths start at field 1, MSH-1/2 are special.
    const fieldAt: number[] = [0];
    let hasEscape = false;
    if (length > 3) {
      // The separator after the name opens field 1, except in MSH where it is MSH-1 itself and
      // opens MSH-2, whose encoding characters are not separators (§2.5.3): the search for
      // separators starts after MSH-2.
      let field = 1;
      if (k === 0) {
        fieldAt.push(0);
        field = 2;
      }
      fieldAt.push(0);
      seps.push(3 << 2);
      let from = 4;
      if (k === 0) {
        from = text.indexOf(d.field, 4);
        if (from === -1) from = length;
      }
      let f = nextSep(text, d.field, from);
      let r = nextSep(text, d.repetition, from);
      let c = nextSep(text, d.component, from);
      let s = nextSep(text, d.subcomponent, from);
      for (;;) {
        if (f < r && f < c && f < s) {
          fieldAt[++field] = seps.length;
          seps.push(f << 2);
          f = nextSep(text, d.field, f + 1);
        } else if (c < r && c < s) {
          seps.push((c << 2) | COMP);
          c = nextSep(text, d.component, c + 1);
        } else if (r < s) {
          seps.push((r << 2) | REP);
          r = nextSep(text, d.repetition, r + 1);
        } else if (s !== NONE) {
          seps.push((s << 2) | SUB);
          s = nextSep(text, d.subcomponent, s + 1);
        } else {
          break;
        }
      }
      hasEscape = text.indexOf(d.escape, from) !== -1;
    }
    seps.push(length << 2);
    const idx: SegmentIndex = { seps, fieldAt, hasEscape };
    this.#index[k] = idx;
    return idx;
  }
}

function manyValues(p: Hl7Path): PasserelleError {
  const text = formatHl7Path(p);
  return new PasserelleError(
    'ERR_HL7_PATH_INVALID',
    `${text}: [*] designates every repetition; read it with getAll`,
    { details: { path: text } },
  );
}

/** The HL7 null (§2.5.3): a field sent as `""` tells the receiver to delete its value. */
export const HL7_NULL = '""';
