import { createHash } from 'node:crypto';

/**
 * PHI never reaches a log line (design rule 10). Three layers, because no single one is enough:
 * 1. keys: any value under a key that names patient data is replaced;
 * 2. shapes: FHIR resources shrink to `{resourceType, id}`, HL7 messages to their size and hash;
 * 3. free text: error messages and stacks are scrubbed of NIR/INS numbers, phone numbers,
 *    e-mail addresses, birth-date-like dates and URL query strings (FHIR searches hold PHI).
 * The convention stays: put ids in meta, never names or values in messages.
 */

export const REDACTED = '[REDACTED]';

const PHI_KEYS = new Set(
  [
    'name',
    'names',
    'family',
    'given',
    'prefix',
    'birthname',
    'usedname',
    'birthdate',
    'dob',
    'birthplace',
    'gender',
    'sex',
    'nir',
    'ins',
    'insnir',
    'insnia',
    'ipp',
    'ssn',
    'telecom',
    'phone',
    'mobile',
    'fax',
    'email',
    'mail',
    'address',
    'line',
    'street',
    'city',
    'postalcode',
    'zip',
    'text',
    'note',
    'notes',
    'comment',
    'reason',
    'description',
    'body',
    'raw',
    'payload',
    'content',
    'contentstring',
    'message_body',
    'hl7',
    'resource',
    'patient',
    'caller',
    'callername',
    'callback',
    'callbackphone',
    'data',
    'identifier',
    'value',
    'patientinstruction',
    'diagnostics',
    'query',
    'search',
  ].map((k) => k.toLowerCase()),
);

/** Keys whose values are safe even though they look like the above (ids, types, counts). */
const SAFE_KEYS = new Set([
  'message',
  'level',
  'timestamp',
  'service',
  'requestid',
  'code',
  'status',
  'method',
  'route',
  'path',
]);

const NIR =
  /\b[12][ ]?[0-9]{2}[ ]?(0[1-9]|1[0-2]|[2-9][0-9])[ ]?(2[AB]|[0-9]{2})[ ]?[0-9]{3}[ ]?[0-9]{3}([ ]?[0-9]{2})?\b/g;
const PHONE = /(\+33[ .-]?[1-9]|\b0[1-9])([ .-]?[0-9]{2}){4}\b/g;
const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g;
const DATE_ONLY =
  /\b(19|20)[0-9]{2}-[01][0-9]-[0-3][0-9](?![T0-9])|\b[0-3][0-9]\/[01][0-9]\/(19|20)[0-9]{2}\b|\b(19|20)[0-9]{2}[01][0-9][0-3][0-9]\b(?![0-9])/g;
const QUERY = /(\?|&)[^\s"'#]*/g;
const HL7_SEGMENT = /(^|[\r\n])(MSH|PID|PV1|NK1|SCH|AIS|AIG|AIL|AIP|NTE|OBX|TXA|EVN|MRG|PD1)\|[^\r\n]*/g;

export function scrubText(text: string): string {
  return text
    .replace(HL7_SEGMENT, (_m, pre: string, seg: string) => `${pre}${seg}|${REDACTED}`)
    .replace(QUERY, (m) => `${m[0]}${REDACTED}`)
    .replace(EMAIL, REDACTED)
    .replace(NIR, REDACTED)
    .replace(PHONE, REDACTED)
    .replace(DATE_ONLY, REDACTED);
}

function hl7Summary(s: string): string {
  return `[HL7 message redacted: ${Buffer.byteLength(s)} bytes, sha256:${createHash('sha256').update(s).digest('hex').slice(0, 16)}]`;
}

function redactValue(value: unknown, seen: WeakSet<object>, depth: number): unknown {
  if (typeof value === 'string') {
    if (/^(MSH|FHS|BHS)\|/.test(value) || value.startsWith('\x0bMSH|')) return hl7Summary(value);
    return scrubText(value);
  }
  if (value === null || typeof value !== 'object') return value;
  if (Buffer.isBuffer(value)) return `[${value.length} bytes redacted]`;
  if (seen.has(value)) return '[Circular]';
  if (depth > 8) return '[Truncated]';
  seen.add(value);
  if (value instanceof Error) return redactError(value, seen, depth);
  if (Array.isArray(value)) return value.map((v) => redactValue(v, seen, depth + 1));
  const obj = value as Record<string, unknown>;
  if (typeof obj['resourceType'] === 'string') {
    return {
      resourceType: obj['resourceType'],
      ...(typeof obj['id'] === 'string' && { id: obj['id'] }),
      redacted: true,
    };
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    const lk = k.toLowerCase();
    out[k] =
      PHI_KEYS.has(lk) && !SAFE_KEYS.has(lk) && v !== undefined && v !== null
        ? REDACTED
        : redactValue(v, seen, depth + 1);
  }
  return out;
}

function redactError(err: Error, seen: WeakSet<object>, depth: number): Record<string, unknown> {
  const e = err as Error & { code?: unknown; details?: unknown; issues?: unknown; status?: unknown };
  const out: Record<string, unknown> = { name: err.name, message: scrubText(err.message) };
  if (e.code !== undefined) out['code'] = e.code;
  if (e.status !== undefined) out['status'] = e.status;
  if (e.details !== undefined) out['details'] = redactValue(e.details, seen, depth + 1);
  if (e.issues !== undefined) out['issues'] = redactValue(e.issues, seen, depth + 1);
  if (err.stack) out['stack'] = scrubText(err.stack);
  if (err.cause !== undefined) out['cause'] = redactValue(err.cause, seen, depth + 1);
  return out;
}

/** Returns a redacted deep copy of log metadata; the caller's objects are left untouched. */
export function redactMeta(meta: Record<string, unknown>): Record<string, unknown> {
  const seen = new WeakSet<object>();
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(meta)) {
    const lk = k.toLowerCase();
    if (SAFE_KEYS.has(lk)) out[k] = typeof v === 'string' ? scrubText(v) : v;
    else if (PHI_KEYS.has(lk) && v !== undefined && v !== null) out[k] = REDACTED;
    else out[k] = redactValue(v, seen, 0);
  }
  return out;
}
