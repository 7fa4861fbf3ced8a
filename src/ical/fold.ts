/**
 * Line folding, RFC 5545 §3.1: a content line longer than 75 octets is split, each continuation
 * starting with one space, never inside a UTF-8 sequence. ical-generator's calendar `toString()`
 * folds the whole calendar with a TextEncoder per character, which is where its 1.5 s for 10,000
 * events goes (shared/libraries.md §4); events are folded here, once, when they are rendered.
 */
const MAX_OCTETS = 75;

function utf8Length(codePoint: number): number {
  return codePoint < 0x80 ? 1 : codePoint < 0x800 ? 2 : codePoint < 0x10000 ? 3 : 4;
}

export function foldLine(line: string): string {
  // Fast path: at most 75 UTF-16 units that are all ASCII, or a byte length within the limit.
  if (line.length <= MAX_OCTETS / 4 || Buffer.byteLength(line) <= MAX_OCTETS) return line;
  let out = '';
  let octets = 0;
  for (const ch of line) {
    const n = utf8Length(ch.codePointAt(0) as number);
    if (octets + n > MAX_OCTETS) {
      out += '\r\n ';
      octets = 1; // the leading space of the continuation line
    }
    out += ch;
    octets += n;
  }
  return out;
}

/** Folds every line of CRLF-separated text. */
export function foldText(text: string): string {
  return text
    .split('\r\n')
    .map((l) => foldLine(l))
    .join('\r\n');
}
