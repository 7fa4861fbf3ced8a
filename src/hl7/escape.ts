/**
 * Escape sequences in text data, HL7 v2.5.1 §2.7, always with the message's own delimiters:
 *
 *   \F\ field separator   \S\ component separator   \T\ sub-component separator
 *   \R\ repetition separator   \E\ escape character
 *   \Xhh...\ hexadecimal bytes in the message's character set (§2.7.4), e.g. \X0D\ = CR
 *   \H\ \N\ start / end highlighting (§2.7.2): dropped, plain text has no highlighting
 *   \.br\ \.sp[n]\ \.ce\ line breaks; \.sk[n]\ spaces; \.fi\ \.nf\ \.in[n]\ \.ti[n]\ layout,
 *   dropped (§2.7.6 formatted text commands)
 *
 * Anything else (\Zxx\ local escapes, \Cxxyy\ / \Mxxyyzz\ ISO 2022 switches, unknown or
 * malformed sequences, a lone escape character) is kept literally, so a sender that does not
 * escape a backslash loses nothing.
 */
import { decodeBytes, type Hl7Charset } from './charset.js';
import type { Hl7Delimiters } from './delimiters.js';

/** Upper bound on the expansion of \.sp<n>\ / \.sk<n>\ so hostile input cannot inflate memory. */
const MAX_REPEAT = 100;

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

function decodeHex(seq: string, charset: Hl7Charset): string | undefined {
  const hex = seq.length - 1;
  if (hex === 0 || hex % 2 !== 0) return undefined;
  const bytes = Buffer.allocUnsafe(hex / 2);
  for (let k = 1, b = 0; k < seq.length; k += 2, b++) {
    const hi = hexValue(seq.charCodeAt(k));
    const lo = hexValue(seq.charCodeAt(k + 1));
    if (hi < 0 || lo < 0) return undefined;
    bytes[b] = hi * 16 + lo;
  }
  try {
    return decodeBytes(bytes, charset, 'escape');
  } catch {
    // Bytes that are not valid in the message's charset: keep the sequence as written.
    return undefined;
  }
}

function repeatCount(arg: string): number | undefined {
  const t = arg.trim();
  if (t === '') return 1;
  if (!/^[+-]?\d{1,9}$/.test(t)) return undefined;
  return Math.min(MAX_REPEAT, Math.max(0, Number(t)));
}

function formatting(cmd: string): string | undefined {
  const name = cmd.slice(0, 2);
  const arg = cmd.slice(2);
  switch (name) {
    case 'br':
    case 'ce':
    case 'fi':
    case 'nf':
      if (arg !== '') return undefined;
      return name === 'br' || name === 'ce' ? '\n' : '';
    case 'sp': {
      const n = repeatCount(arg);
      return n === undefined ? undefined : '\n'.repeat(Math.max(1, n));
    }
    case 'sk': {
      const n = repeatCount(arg);
      return n === undefined ? undefined : ' '.repeat(n);
    }
    case 'in':
    case 'ti':
      return repeatCount(arg) === undefined ? undefined : '';
    default:
      return undefined;
  }
}

function resolve(seq: string, d: Hl7Delimiters, charset: Hl7Charset): string | undefined {
  if (seq.length === 1) {
    switch (seq) {
      case 'F':
        return d.field;
      case 'S':
        return d.component;
      case 'T':
        return d.subcomponent;
      case 'R':
        return d.repetition;
      case 'E':
        return d.escape;
      case 'H':
      case 'N':
        return '';
      default:
        return undefined;
    }
  }
  const first = seq.charCodeAt(0);
  if (first === 88 /* X */) return decodeHex(seq, charset);
  if (first === 46 /* . */) return formatting(seq.slice(1));
  return undefined;
}

/** Resolves escape sequences in one leaf value (a component or sub-component). */
export function unescapeHl7(value: string, d: Hl7Delimiters, charset: Hl7Charset = 'UNICODE UTF-8'): string {
  const esc = d.escape;
  let i = value.indexOf(esc);
  if (i === -1) return value;
  let out = '';
  let last = 0;
  while (i !== -1) {
    const j = value.indexOf(esc, i + 1);
    if (j === -1) break; // unterminated: the rest is literal text
    const replacement = resolve(value.slice(i + 1, j), d, charset);
    out += replacement === undefined ? value.slice(last, j + 1) : value.slice(last, i) + replacement;
    last = j + 1;
    i = value.indexOf(esc, last);
  }
  return out + value.slice(last);
}

/**
 * Escapes one leaf value for writing: delimiters become \F\ \S\ \T\ \R\ \E\, and CR / LF become
 * \X0D\ / \X0A\ (a raw CR would end the segment, §2.7.4).
 */
export function escapeHl7(value: string, d: Hl7Delimiters): string {
  const f = d.field.charCodeAt(0);
  const c = d.component.charCodeAt(0);
  const r = d.repetition.charCodeAt(0);
  const e = d.escape.charCodeAt(0);
  const s = d.subcomponent.charCodeAt(0);
  let i = 0;
  for (; i < value.length; i++) {
    const x = value.charCodeAt(i);
    if (x === f || x === c || x === r || x === e || x === s || x === 13 || x === 10) break;
  }
  if (i === value.length) return value;
  const esc = d.escape;
  let out = value.slice(0, i);
  for (; i < value.length; i++) {
    const x = value.charCodeAt(i);
    if (x === e) out += `${esc}E${esc}`;
    else if (x === f) out += `${esc}F${esc}`;
    else if (x === c) out += `${esc}S${esc}`;
    else if (x === s) out += `${esc}T${esc}`;
    else if (x === r) out += `${esc}R${esc}`;
    else if (x === 13) out += `${esc}X0D${esc}`;
    else if (x === 10) out += `${esc}X0A${esc}`;
    else out += value[i];
  }
  return out;
}
