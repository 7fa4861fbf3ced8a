/**
 * Byte-level edits of HL7 messages for the simulator and the tests: replace one field of the
 * first segment of a name without decoding or re-encoding anything else (the bytes are read as
 * Latin-1, one character per byte, so every other byte comes back exactly as it was).
 */

/** `raw` with field `field` of the first `segment` replaced by `value` (already encoded). */
export function withField(raw: Buffer, segment: string, field: number, value: string): Buffer {
  const text = raw.toString('latin1');
  const lineStart = segment === 'MSH' ? text.indexOf('MSH') : findSegment(text, segment);
  if (lineStart < 0) throw new Error(`no ${segment} segment`);
  let lineEnd = lineStart;
  while (lineEnd < text.length && text[lineEnd] !== '\r' && text[lineEnd] !== '\n') lineEnd++;
  const mshStart = text.indexOf('MSH');
  const sep = text.charAt(mshStart + 3);
  const parts = text.slice(lineStart, lineEnd).split(sep);
  // MSH-1 is the separator itself: MSH-n is parts[n - 1]; for other segments SEG-n is parts[n].
  const index = segment === 'MSH' ? field - 1 : field;
  while (parts.length <= index) parts.push('');
  parts[index] = value;
  return Buffer.from(text.slice(0, lineStart) + parts.join(sep) + text.slice(lineEnd), 'latin1');
}

function findSegment(text: string, segment: string): number {
  let at = 0;
  for (;;) {
    const i = text.indexOf(segment, at);
    if (i < 0) return -1;
    if (i === 0 || text[i - 1] === '\r' || text[i - 1] === '\n') return i;
    at = i + 1;
  }
}

/** `raw` with MSH-10 set to `controlId`. */
export function withControlId(raw: Buffer, controlId: string): Buffer {
  return withField(raw, 'MSH', 10, controlId);
}

/** MSH-10 as written, read from the bytes (undefined when the first line is not an MSH). */
export function controlIdOf(raw: Buffer): string | undefined {
  const text = raw.toString('latin1', 0, Math.min(raw.length, 4096));
  const start = text.indexOf('MSH');
  if (start < 0) return undefined;
  const end = text.slice(start).search(/[\r\n]/);
  const line = end < 0 ? text.slice(start) : text.slice(start, start + end);
  const v = line.split(line.charAt(3))[9];
  return v === '' ? undefined : v;
}
