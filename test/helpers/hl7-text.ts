/**
 * A documented minimal edit of an HL7 message held as text (`\r` between segments): one field
 * of the segments named `seg` replaced, everything else left as it was. For bytes, use
 * `withField` (connectors/hl7v2/simulator/messages.ts), which edits the first segment only.
 */
export function setField(
  text: string,
  seg: string,
  field: number,
  value: string,
  options: { readonly fieldSep?: string; readonly firstOnly?: boolean } = {},
): string {
  const sep = options.fieldSep ?? '|';
  let done = false;
  return text
    .split('\r')
    .map((s) => {
      if ((options.firstOnly && done) || !s.startsWith(`${seg}${sep}`)) return s;
      done = true;
      const parts = s.split(sep);
      while (parts.length <= field) parts.push('');
      parts[field] = value;
      return parts.join(sep);
    })
    .join('\r');
}
