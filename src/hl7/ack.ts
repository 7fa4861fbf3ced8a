/**
 * Acknowledgments (HL7 v2.5.1 §2.9 and §2.14: MSH, MSA, ERR).
 *
 * - MSH: sender and receiver swapped (MSH-3/4 ↔ MSH-5/6), MSH-9 `ACK^<trigger>^ACK` (v2.3 has
 *   no message-structure component: `ACK^<trigger>`), same MSH-11, MSH-12, MSH-17, MSH-18 and
 *   delimiters as the inbound message, our own MSH-7 and MSH-10.
 * - MSA: MSA-1 the code, MSA-2 the inbound MSH-10; MSA-3 the text for v2.3 / v2.4 only (in v2.5
 *   MSA-3 is kept for backward compatibility and ERR carries the text).
 * - ERR, when an error is given: v2.5 and later, ERR-2 location (ERL: segment ^ sequence ^ field
 *   ^ repetition ^ component ^ sub-component), ERR-3 code (CWE `code^text^HL70357`), ERR-4
 *   severity (table 0516), ERR-8 user message. v2.3 / v2.4: ERR-1 (ELD: segment ^ sequence ^
 *   field ^ code&text&HL70357; the CE is written in sub-components, §2.24.3 of v2.3).
 *
 * The text of an error goes to the peer: it must never hold patient data.
 */
import { DateTime } from 'luxon';

import { PasserelleError } from '../errors.js';
import { type Hl7EncodedMessage, Hl7MessageBuilder } from './builder.js';
import { decodeBytes, type Hl7Charset, resolveCharset } from './charset.js';
import { DEFAULT_DELIMITERS, delimitersFromHeader, type Hl7Delimiters } from './delimiters.js';
import { unescapeHl7 } from './escape.js';
import type { Hl7Message } from './message.js';
import { type Hl7Path, toHl7Path } from './path.js';

/** Acknowledgment codes, HL7 table 0008 (original mode A*, enhanced mode C*). */
export const ACK_CODES = ['AA', 'AE', 'AR', 'CA', 'CE', 'CR'] as const;
export type AckCode = (typeof ACK_CODES)[number];

/** HL7 table 0357, message error condition codes, with their HL7 texts. */
export const HL7_ERROR_CODES = {
  '0': 'Message accepted',
  '100': 'Segment sequence error',
  '101': 'Required field missing',
  '102': 'Data type error',
  '103': 'Table value not found',
  '200': 'Unsupported message type',
  '201': 'Unsupported event code',
  '202': 'Unsupported processing id',
  '203': 'Unsupported version id',
  '204': 'Unknown key identifier',
  '205': 'Duplicate key identifier',
  '206': 'Application record locked',
  '207': 'Application internal error',
} as const;
export type Hl7ErrorCode = keyof typeof HL7_ERROR_CODES;

export interface AckError {
  /** Where the problem lies in the inbound message (ERR-2, or ERR-1 before v2.5). */
  readonly path?: string | Hl7Path;
  /** HL7 table 0357 code. */
  readonly hl7ErrorCode: Hl7ErrorCode;
  /** ERR-8 (v2.5+) / MSA-3 (v2.3, v2.4). Sent to the peer: never patient data. */
  readonly message?: string;
  /** Table 0516: E error (default for AE/AR/CE/CR), W warning (default for AA/CA), I information. */
  readonly severity?: 'E' | 'W' | 'I';
}

export interface AckContent {
  readonly code: AckCode;
  readonly error?: AckError;
}

export interface AckOptions {
  /** MSH-10 of the ACK itself. */
  readonly controlId: string;
  /** MSH-7: a Date (written in `timeZone`), or an HL7 DTM already formatted. */
  readonly timestamp: Date | string;
  /** IANA zone for a Date timestamp; default Europe/Paris. */
  readonly timeZone?: string;
  /** Our application (MSH-3.1) when the inbound MSH-5 is empty. */
  readonly sendingApplication?: string;
  /** Our facility (MSH-4.1) when the inbound MSH-6 is empty. */
  readonly sendingFacility?: string;
}

/** HL7 DTM with seconds and offset, e.g. `20250317093000+0100`. */
export function formatHl7Timestamp(date: Date, timeZone = 'Europe/Paris'): string {
  const dt = DateTime.fromJSDate(date, { zone: timeZone });
  if (!dt.isValid) {
    throw new PasserelleError('ERR_HL7_BUILD', `MSH-7: cannot format the date in time zone '${timeZone}'`, {
      details: { path: 'MSH-7', timeZone },
    });
  }
  return dt.toFormat('yyyyMMddHHmmssZZZ');
}

/** What an ACK needs from the message it answers, parsed or salvaged. */
interface AckSource {
  readonly delimiters: Hl7Delimiters;
  readonly charset: Hl7Charset;
  /** Encoded text of MSH field n (n ≥ 3), as written with `delimiters`. */
  msh(n: number): string | undefined;
  readonly controlId: string | undefined;
  readonly trigger: string | undefined;
  readonly version: string | undefined;
  /** Salvaged from broken input: a recovered value the ACK cannot carry is dropped, not fatal. */
  readonly lenient: boolean;
}

function versionAtLeast(version: string | undefined, major: number, minor: number, patch = 0): boolean {
  // Unknown or unreadable versions get the current layout.
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(version ?? '');
  if (m === null) return true;
  const v = [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] as const;
  if (v[0] !== major) return v[0] > major;
  if (v[1] !== minor) return v[1] > minor;
  return v[2] >= patch;
}

function assemble(src: AckSource, ack: AckContent, options: AckOptions): Hl7EncodedMessage {
  if (!(ACK_CODES as readonly string[]).includes(ack.code)) {
    throw new PasserelleError(
      'ERR_HL7_BUILD',
      `MSA-1: '${String(ack.code).slice(0, 8)}' is not an acknowledgment code (${ACK_CODES.join(', ')})`,
      { details: { path: 'MSA-1' } },
    );
  }
  const b = new Hl7MessageBuilder({ delimiters: src.delimiters, charset: src.charset });
  const d = src.delimiters;
  // Values that come from the inbound message; for salvaged input they may not fit.
  const inbound = (write: () => void): boolean => {
    try {
      write();
      return true;
    } catch (e) {
      if (!src.lenient) throw e;
      return false;
    }
  };
  const copy = (to: number, from: number, fallback?: string): void => {
    const v = src.msh(from);
    if (v !== undefined && v !== '' && inbound(() => b.setEncoded(`MSH-${to}`, v, d, src.charset))) return;
    if (fallback !== undefined) b.set(`MSH-${to}.1`, fallback);
  };
  copy(3, 5, options.sendingApplication);
  copy(4, 6, options.sendingFacility);
  copy(5, 3);
  copy(6, 4);
  b.set(
    'MSH-7',
    typeof options.timestamp === 'string'
      ? options.timestamp
      : formatHl7Timestamp(options.timestamp, options.timeZone),
  );
  b.set('MSH-9.1', 'ACK');
  const trigger = src.trigger;
  if (trigger !== undefined) inbound(() => b.set('MSH-9.2', trigger));
  // MSH-9.3 (message structure) exists from v2.3.1 on.
  if (versionAtLeast(src.version, 2, 3, 1)) b.set('MSH-9.3', 'ACK');
  b.set('MSH-10', options.controlId);
  copy(11, 11, 'P');
  copy(12, 12, '2.5');
  copy(17, 17);
  copy(18, 18);

  b.set('MSA-1', ack.code);
  const controlId = src.controlId;
  if (controlId !== undefined) inbound(() => b.set('MSA-2', controlId));
  const e = ack.error;
  const v25 = versionAtLeast(src.version, 2, 5);
  if (e !== undefined) {
    if (!(e.hl7ErrorCode in HL7_ERROR_CODES)) {
      throw new PasserelleError(
        'ERR_HL7_BUILD',
        `ERR-3: '${String(e.hl7ErrorCode).slice(0, 8)}' is not an HL7 table 0357 code`,
        { details: { path: 'ERR-3' } },
      );
    }
    const text = HL7_ERROR_CODES[e.hl7ErrorCode];
    const loc = e.path === undefined ? undefined : toHl7Path(e.path);
    if (v25) {
      b.appendSegment('ERR');
      if (loc !== undefined) {
        b.set('ERR-2.1', loc.segment);
        b.set('ERR-2.2', String(loc.occurrence ?? 1));
        b.set('ERR-2.3', String(loc.field));
        if (loc.repetition !== '*') b.set('ERR-2.4', String(loc.repetition ?? 1));
        if (loc.component !== undefined) b.set('ERR-2.5', String(loc.component));
        if (loc.subcomponent !== undefined) b.set('ERR-2.6', String(loc.subcomponent));
      }
      b.set('ERR-3.1', e.hl7ErrorCode);
      b.set('ERR-3.2', text);
      b.set('ERR-3.3', 'HL70357');
      b.set('ERR-4', e.severity ?? (ack.code === 'AA' || ack.code === 'CA' ? 'W' : 'E'));
      if (e.message !== undefined) b.set('ERR-8', e.message);
    } else {
      if (e.message !== undefined) b.set('MSA-3', e.message);
      b.appendSegment('ERR');
      if (loc !== undefined) {
        b.set('ERR-1.1', loc.segment);
        b.set('ERR-1.2', String(loc.occurrence ?? 1));
        b.set('ERR-1.3', String(loc.field));
      }
      b.set('ERR-1.4.1', e.hl7ErrorCode);
      b.set('ERR-1.4.2', text);
      b.set('ERR-1.4.3', 'HL70357');
    }
  }
  return b.encode();
}

/** The ACK for a parsed inbound message. */
export function buildAck(inbound: Hl7Message, ack: AckContent, options: AckOptions): Hl7EncodedMessage {
  const h = inbound.header;
  return assemble(
    {
      delimiters: inbound.delimiters,
      charset: inbound.charset,
      // MSH-18 is copied only if it names the charset the message was really decoded with
      // (a link override may have overruled it); the ACK is written in that charset.
      // Nor when it holds the escape character (it is read as written; a copy would re-escape it).
      msh: (n) =>
        n === 18 &&
        (resolveCharset(h.charset ?? '') !== inbound.charset ||
          h.charset?.includes(inbound.delimiters.escape))
          ? undefined
          : inbound.getEncoded(`MSH-${n}`),
      controlId: h.controlId,
      trigger: h.triggerEvent,
      version: h.version,
      lenient: false,
    },
    ack,
    options,
  );
}

/**
 * The ACK for input too broken to parse: code AR by default (CR for enhanced mode), with
 * whatever the first line still tells (delimiters, MSH-3 to MSH-6, MSH-10, trigger, version,
 * charset); if nothing can be recovered, MSA-2 is empty and the delimiters are `|^~\&`.
 * Never throws for any input (only for bad `ack` / `options`).
 */
export function buildRejectAck(
  input: Buffer | Uint8Array | string,
  ack: { readonly code?: 'AR' | 'AE' | 'CR' | 'CE'; readonly error: AckError },
  options: AckOptions,
): Hl7EncodedMessage {
  return assemble(salvage(input), { code: ack.code ?? 'AR', error: ack.error }, options);
}

function salvage(input: Buffer | Uint8Array | string): AckSource {
  const nothing: AckSource = {
    delimiters: DEFAULT_DELIMITERS,
    charset: 'UNICODE UTF-8',
    msh: () => undefined,
    controlId: undefined,
    trigger: undefined,
    version: undefined,
    lenient: true,
  };
  // Only the first line matters, and only its first 64 KiB: broken input may be anything.
  // Leading CR, LF and VT (an MLLP start block left in) are skipped, as is a byte order mark.
  const skip = (c: number | undefined) => c === 13 || c === 10 || c === 0x0b;
  let line: string;
  let lineBytes: Buffer | undefined;
  if (typeof input === 'string') {
    let start = input.charCodeAt(0) === 0xfeff ? 1 : 0;
    while (start < input.length && skip(input.charCodeAt(start))) start++;
    let end = start;
    while (
      end < input.length &&
      end - start < 65536 &&
      input.charCodeAt(end) !== 13 &&
      input.charCodeAt(end) !== 10
    )
      end++;
    line = input.slice(start, end);
  } else if (input instanceof Uint8Array) {
    const buf = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
    let start = buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf ? 3 : 0;
    while (start < buf.length && skip(buf[start])) start++;
    let end = start;
    while (end < buf.length && end - start < 65536 && buf[end] !== 13 && buf[end] !== 10) end++;
    lineBytes = buf.subarray(start, end);
    // Latin-1 maps each byte to one character, so the ASCII delimiters split it exactly as
    // they split the decoded text (UTF-8 multi-byte sequences hold no byte below 0x80).
    line = lineBytes.toString('latin1');
  } else {
    return nothing;
  }

  if (!line.startsWith('MSH') || line.length < 8) return nothing;
  const fieldSep = line.charAt(3);
  let msh2End = line.indexOf(fieldSep, 4);
  if (msh2End === -1) msh2End = line.length;
  let d: Hl7Delimiters;
  try {
    d = delimitersFromHeader(fieldSep, line.slice(4, msh2End));
  } catch {
    return nothing;
  }
  let parts = line.split(fieldSep);
  const firstComponent = (v: string | undefined): string | undefined => {
    const c = v?.split(d.repetition)[0]?.split(d.component)[0];
    return c === undefined || c === '' ? undefined : unescapeHl7(c, d);
  };
  const declared = firstComponent(parts[17]);
  const charset = (declared !== undefined ? resolveCharset(declared) : undefined) ?? 'UNICODE UTF-8';
  // Recovered values must be read in the charset the ACK is written in; if the line does not
  // decode, only pure-ASCII values are kept (they read the same in every supported charset).
  let asciiOnly = false;
  if (lineBytes !== undefined) {
    try {
      parts = decodeBytes(lineBytes, charset, 'MSH').split(fieldSep);
    } catch {
      asciiOnly = true;
    }
  }
  // parts[i] is MSH-(i+1). Keep only what fits an ACK field; values are re-escaped on output.
  const msh = (n: number): string | undefined => {
    const v = parts[n - 1];
    if (v === undefined || v === '' || v.length > 512) return undefined;
    return asciiOnly && !isAscii(v) ? undefined : v;
  };
  const second = (n: number): string | undefined => {
    const c = msh(n)?.split(d.repetition)[0]?.split(d.component)[1];
    return c === undefined || c === '' ? undefined : unescapeHl7(c, d);
  };
  const msh10 = msh(10);
  return {
    delimiters: d,
    charset,
    // Recovered fields pass through the builder, which re-escapes and checks every leaf; one
    // that does not fit the charset is dropped (lenient) rather than failing the rejection.
    // MSH-18 is copied only when it names a charset we write (it then names `charset`).
    // MSH-18 is read as written (never unescaped, §2.15.9.18), so a name holding the escape
    // character (a mangled MSH-2) is not copied: re-escaped, it would name another charset.
    msh: (n) =>
      n === 18 &&
      (declared === undefined || resolveCharset(declared) === undefined || msh(18)?.includes(d.escape))
        ? undefined
        : msh(n),
    controlId: msh10 === undefined ? undefined : unescapeHl7(msh10, d, charset).slice(0, 199),
    trigger: second(9),
    version: firstComponent(msh(12)),
    lenient: true,
  };
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}
