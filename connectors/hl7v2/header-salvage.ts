/**
 * What the first line of a message still tells when the codec refuses the whole message (bad
 * segment, bad bytes for its charset…): enough to store it under its dedupe key (MSH-3, MSH-4,
 * MSH-10) and to answer in the right acknowledgment mode (MSH-15, MSH-16). Values are the
 * encoded field texts, read byte for byte as Latin-1 (every byte one character, so ASCII
 * delimiters split exactly); they are used as keys, never shown.
 */

export interface SalvagedHeader {
  /** MSH-3, MSH-4 and MSH-10 as written (encoded). */
  readonly sendingApplication: string;
  readonly sendingFacility: string;
  readonly controlId: string | undefined;
  readonly acceptAckType: string | undefined;
  readonly applicationAckType: string | undefined;
  /** `MSH-9.1^MSH-9.2`, when readable. */
  readonly messageType: string | undefined;
}

/** Reads the MSH line at the start of `raw` (after a BOM, blank lines or a stray <VT>); undefined without one. */
export function salvageHeader(raw: Buffer): SalvagedHeader | undefined {
  let start = raw.length >= 3 && raw[0] === 0xef && raw[1] === 0xbb && raw[2] === 0xbf ? 3 : 0;
  while (start < raw.length && (raw[start] === 13 || raw[start] === 10 || raw[start] === 0x0b)) start++;
  let end = start;
  const limit = Math.min(raw.length, start + 65536);
  while (end < limit && raw[end] !== 13 && raw[end] !== 10) end++;
  const line = raw.toString('latin1', start, end);
  if (!line.startsWith('MSH') || line.length < 8) return undefined;
  const fieldSep = line.charAt(3);
  const componentSep = line.charAt(4);
  if (/[A-Za-z0-9\s]/.test(fieldSep) || fieldSep === componentSep) return undefined;
  const parts = line.split(fieldSep);
  // parts[i] is MSH-(i+1); MSH-1 is the separator itself.
  const field = (n: number): string | undefined => {
    const v = parts[n - 1];
    return v === undefined || v === '' || v.length > 512 ? undefined : v;
  };
  const type = field(9)?.split(componentSep);
  const code = type?.[0];
  return {
    sendingApplication: field(3) ?? '',
    sendingFacility: field(4) ?? '',
    controlId: field(10)?.slice(0, 199),
    acceptAckType: field(15)?.split(componentSep)[0],
    applicationAckType: field(16)?.split(componentSep)[0],
    messageType: code ? (type?.[1] ? `${code}^${type[1]}` : code) : undefined,
  };
}
