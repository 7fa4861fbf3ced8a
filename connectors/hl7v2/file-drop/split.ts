/**
 * Splits the bytes of a dropped file into HL7 messages. Practice software writes one message
 * per file or several, with CR (HL7 v2.5.1 §2.5.1), LF or CRLF after each segment, sometimes
 * inside a batch envelope (FHS/BHS … BTS/FTS, §2.10.3).
 *
 * - A message starts at each line that starts with `MSH` and a field separator.
 * - Batch envelope lines (FHS, BHS, BTS, FTS) end the message before them and are dropped.
 * - Each message's bytes are kept exactly as written (its line endings included): they are
 *   hashed and stored as received.
 * - Anything else outside a message (a stray line before the first MSH) is reported as
 *   `stray` byte ranges, so the file is not silently taken as fully processed.
 */

export interface SplitFile {
  readonly messages: readonly Buffer[];
  /** Bytes that belong to no message and are not a batch envelope or a blank line. */
  readonly strayBytes: number;
}

const CR = 0x0d;
const LF = 0x0a;

function isAlnum(b: number | undefined): boolean {
  return (
    b !== undefined && ((b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a))
  );
}

function startsWith(bytes: Buffer, at: number, name: string): boolean {
  return (
    bytes[at] === name.charCodeAt(0) &&
    bytes[at + 1] === name.charCodeAt(1) &&
    bytes[at + 2] === name.charCodeAt(2)
  );
}

export function splitMessages(bytes: Buffer): SplitFile {
  const messages: Buffer[] = [];
  let strayBytes = 0;
  let current = -1; // start of the message being collected
  let at = bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  const close = (end: number) => {
    if (current >= 0) messages.push(bytes.subarray(current, end));
    current = -1;
  };
  while (at < bytes.length) {
    let end = at;
    while (end < bytes.length && bytes[end] !== CR && bytes[end] !== LF) end++;
    // Line is [at, end); the terminator (CR, LF or CRLF) follows.
    let next = end;
    if (bytes[next] === CR) next++;
    if (bytes[next] === LF) next++;
    if (next === end) next = end + 1;
    const blank = end === at;
    if (!blank && startsWith(bytes, at, 'MSH') && end - at >= 4 && !isAlnum(bytes[at + 3])) {
      close(at);
      current = at;
    } else if (
      !blank &&
      ['FHS', 'BHS', 'BTS', 'FTS'].some((n) => startsWith(bytes, at, n)) &&
      (end - at === 3 || !isAlnum(bytes[at + 3]))
    ) {
      close(at);
    } else if (current < 0 && !blank) {
      strayBytes += end - at;
    }
    at = next;
  }
  close(bytes.length);
  return { messages, strayBytes };
}
