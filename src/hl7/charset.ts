/**
 * Character sets of HL7 v2 messages (MSH-18, HL7 table 0211) and of links that do not send
 * MSH-18. HL7 v2.5.1 §2.15.9.18: when MSH-18 is empty the message is in the link's agreed
 * single-byte character set (ASCII unless agreed otherwise); French practice software commonly
 * sends `8859/1` or `UNICODE UTF-8`, and some send Windows-1252 without saying so.
 *
 * Single-byte sets are decoded with our own tables, not TextDecoder: on Node 20,
 * `new TextDecoder('windows-1252')` decodes 0x80–0x9F as C1 controls (0x80 → U+0080, not €).
 * Decoding never guesses: bytes that are not valid in the declared set are a typed error
 * (ERR_HL7_CHARSET), never U+FFFD replacement, so nothing is silently lost.
 */
import { isUtf8 } from 'node:buffer';

import { PasserelleError } from '../errors.js';

/** The character sets passerelle reads and writes, by their HL7 table 0211 names. */
export const HL7_CHARSETS = ['ASCII', '8859/1', '8859/15', 'UNICODE UTF-8', 'windows-1252'] as const;
export type Hl7Charset = (typeof HL7_CHARSETS)[number];

const ALIASES: Readonly<Record<string, Hl7Charset>> = {
  ASCII: 'ASCII',
  'US-ASCII': 'ASCII',
  '8859/1': '8859/1',
  'ISO-8859-1': '8859/1',
  'ISO8859-1': '8859/1',
  LATIN1: '8859/1',
  '8859/15': '8859/15',
  'ISO-8859-15': '8859/15',
  LATIN9: '8859/15',
  'UNICODE UTF-8': 'UNICODE UTF-8',
  'UTF-8': 'UNICODE UTF-8',
  UTF8: 'UNICODE UTF-8',
  // Not an HL7 table 0211 value: only for a link's default / override setting.
  'WINDOWS-1252': 'windows-1252',
  CP1252: 'windows-1252',
};

/** Maps an MSH-18 value or a link setting to a supported charset; undefined if unsupported. */
export function resolveCharset(name: string): Hl7Charset | undefined {
  return ALIASES[name.trim().toUpperCase()];
}

/** Like resolveCharset, but throws ERR_HL7_CHARSET naming where the name came from. */
export function requireCharset(name: string, source: string): Hl7Charset {
  const c = resolveCharset(name);
  if (c === undefined) {
    // Charset names are protocol values, not patient data.
    throw new PasserelleError(
      'ERR_HL7_CHARSET',
      `${source}: character set '${name.slice(0, 40)}' is not supported (supported: ${HL7_CHARSETS.join(', ')})`,
      {
        details: { source, charset: name.slice(0, 40) },
      },
    );
  }
  return c;
}

// Windows-1252 bytes 0x80–0x9F (WHATWG encoding index); the five undefined bytes map to the C1
// control of the same value, as WHATWG does.
const CP1252_HIGH = [
  0x20ac, 0x81, 0x201a, 0x192, 0x201e, 0x2026, 0x2020, 0x2021, 0x2c6, 0x2030, 0x160, 0x2039, 0x152, 0x8d,
  0x17d, 0x8f, 0x90, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, 0x2dc, 0x2122, 0x161, 0x203a,
  0x153, 0x9d, 0x17e, 0x178,
];
// ISO 8859-15 differs from 8859-1 in eight positions.
const LATIN9_DIFF: Readonly<Record<number, number>> = {
  0xa4: 0x20ac,
  0xa6: 0x160,
  0xa8: 0x161,
  0xb4: 0x17d,
  0xb8: 0x17e,
  0xbc: 0x152,
  0xbd: 0x153,
  0xbe: 0x178,
};

function table(charset: 'windows-1252' | '8859/15'): { decode: Uint16Array; encode: Map<number, number> } {
  const decode = new Uint16Array(256);
  for (let b = 0; b < 256; b++) decode[b] = b;
  if (charset === 'windows-1252') CP1252_HIGH.forEach((cp, i) => (decode[0x80 + i] = cp));
  else for (const [b, cp] of Object.entries(LATIN9_DIFF)) decode[Number(b)] = cp;
  const encode = new Map<number, number>();
  decode.forEach((cp, b) => encode.set(cp, b));
  return { decode, encode };
}
const TABLES = { 'windows-1252': table('windows-1252'), '8859/15': table('8859/15') };

function decodeSingleByte(bytes: Uint8Array, map: Uint16Array): string {
  let out = '';
  // Chunks keep String.fromCharCode's argument list small.
  for (let i = 0; i < bytes.length; i += 4096) {
    const end = Math.min(bytes.length, i + 4096);
    const codes = new Array<number>(end - i);
    for (let j = i; j < end; j++) codes[j - i] = map[bytes[j] as number] as number;
    out += String.fromCharCode(...codes);
  }
  return out;
}

/**
 * Offset of the first byte that does not start a well-formed UTF-8 sequence (RFC 3629 §4,
 * the table of well-formed byte sequences). Only called after isUtf8() said no, to name the
 * offset in the error message; a linear scan, since validity of prefixes is not monotonic
 * (a prefix that cuts a character in two is invalid while the whole is fine).
 */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  const cont = (i: number, lo = 0x80, hi = 0xbf): boolean => {
    const b = bytes[i];
    return b !== undefined && b >= lo && b <= hi;
  };
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i] as number;
    let n: number;
    if (b <= 0x7f) n = 1;
    else if (b >= 0xc2 && b <= 0xdf) n = cont(i + 1) ? 2 : 0;
    else if (b === 0xe0) n = cont(i + 1, 0xa0) && cont(i + 2) ? 3 : 0;
    else if (b === 0xed) n = cont(i + 1, 0x80, 0x9f) && cont(i + 2) ? 3 : 0;
    else if (b >= 0xe1 && b <= 0xef) n = cont(i + 1) && cont(i + 2) ? 3 : 0;
    else if (b === 0xf0) n = cont(i + 1, 0x90) && cont(i + 2) && cont(i + 3) ? 4 : 0;
    else if (b >= 0xf1 && b <= 0xf3) n = cont(i + 1) && cont(i + 2) && cont(i + 3) ? 4 : 0;
    else if (b === 0xf4) n = cont(i + 1, 0x80, 0x8f) && cont(i + 2) && cont(i + 3) ? 4 : 0;
    else n = 0;
    if (n === 0) return i;
    i += n;
  }
  return -1;
}

/**
 * Decodes message bytes. Throws ERR_HL7_CHARSET naming the byte offset (never the bytes) when
 * they are not valid in `charset`; `offsetBase` is added to that offset when `bytes` is a slice
 * of what was received (after a byte order mark).
 */
export function decodeBytes(
  bytes: Uint8Array,
  charset: Hl7Charset,
  source = 'message',
  offsetBase = 0,
): string {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (charset) {
    case 'UNICODE UTF-8':
      if (!isUtf8(buf)) {
        const offset = offsetBase + firstInvalidUtf8(buf);
        throw new PasserelleError(
          'ERR_HL7_CHARSET',
          `${source}: bytes are not valid UTF-8 (first bad byte at offset ${offset}); set the link's default character set if the sender omits MSH-18`,
          {
            details: { source, charset, offset },
          },
        );
      }
      return buf.toString('utf8');
    case 'ASCII': {
      const found = buf.findIndex((b) => b > 0x7f);
      if (found !== -1) {
        const bad = offsetBase + found;
        throw new PasserelleError(
          'ERR_HL7_CHARSET',
          `${source}: byte at offset ${bad} is not ASCII; the sender's MSH-18 says ASCII (override the link's character set if it lies)`,
          {
            details: { source, charset, offset: bad },
          },
        );
      }
      return buf.toString('latin1');
    }
    case '8859/1':
      return buf.toString('latin1');
    case '8859/15':
    case 'windows-1252':
      return decodeSingleByte(buf, TABLES[charset].decode);
    default:
      return charset satisfies never;
  }
}

/** Index of the first character `charset` cannot carry, or -1. */
export function unencodableIndex(text: string, charset: Hl7Charset): number {
  switch (charset) {
    case 'UNICODE UTF-8':
      // Lone surrogates cannot be written as UTF-8.
      return findLoneSurrogate(text);
    case 'ASCII':
      for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return i;
      return -1;
    case '8859/1':
      for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0xff) return i;
      return -1;
    case '8859/15':
    case 'windows-1252': {
      const enc = TABLES[charset].encode;
      for (let i = 0; i < text.length; i++) if (!enc.has(text.charCodeAt(i))) return i;
      return -1;
    }
    default:
      return charset satisfies never;
  }
}

function findLoneSurrogate(text: string): number {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const n = text.charCodeAt(i + 1);
      if (n >= 0xdc00 && n <= 0xdfff) {
        i++;
        continue;
      }
      return i;
    }
    if (c >= 0xdc00 && c <= 0xdfff) return i;
  }
  return -1;
}

/** Encodes text; callers check `unencodableIndex` first (the builder does, per field). */
export function encodeText(text: string, charset: Hl7Charset): Buffer {
  switch (charset) {
    case 'UNICODE UTF-8':
      return Buffer.from(text, 'utf8');
    case 'ASCII':
    case '8859/1':
      return Buffer.from(text, 'latin1');
    case '8859/15':
    case 'windows-1252': {
      const enc = TABLES[charset].encode;
      const out = Buffer.allocUnsafe(text.length);
      for (let i = 0; i < text.length; i++) out[i] = enc.get(text.charCodeAt(i)) ?? 0x3f;
      return out;
    }
    default:
      return charset satisfies never;
  }
}
