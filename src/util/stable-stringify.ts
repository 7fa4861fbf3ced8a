import { createHash } from 'node:crypto';

/**
 * Content hash of a JSON value, independent of key order: the basis of echo suppression
 * (design rule 6) and of "did anything change".
 */
export function contentHash(value: unknown): string {
  return createHash('sha256').update(stableStringify(value)).digest('hex');
}

/**
 * JSON with object keys sorted and undefined members left out (array holes stay empty, as
 * `map` + `join` left them). Hashed for every record written, so built by appending to one
 * string rather than through intermediate arrays.
 */
export function stableStringify(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ',';
      if (i in value) out += stableStringify(value[i]);
    }
    return `${out}]`;
  }
  const keys = Object.keys(value).sort();
  let out = '{';
  for (const k of keys) {
    const v = (value as Record<string, unknown>)[k];
    if (v === undefined) continue;
    if (out.length > 1) out += ',';
    out += `${JSON.stringify(k)}:${stableStringify(v)}`;
  }
  return `${out}}`;
}
