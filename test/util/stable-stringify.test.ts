import { describe, expect, it } from '@jest/globals';

import { contentHash, stableStringify } from '../../src/store/index.js';

/** The definition stableStringify had before it was made faster: the output must not move (stored hashes). */
function reference(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(reference).join(',')}]`;
  const keys = Object.keys(value as object)
    .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${reference((value as Record<string, unknown>)[k])}`).join(',')}}`;
}

// eslint-disable-next-line no-sparse-arrays
const sparse = [, 1, , 'x'];
const samples: unknown[] = [
  null,
  undefined,
  0,
  -1.5,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  true,
  '',
  'Lefèvre "Dupont"\n\u2028',
  [],
  {},
  [undefined, null, 1, 'a', { b: undefined }],
  sparse,
  { z: 1, a: [3, { y: undefined, x: 'é', '': 0 }], m: { nested: { deeper: [[], {}] } }, u: undefined },
  {
    resourceType: 'Patient',
    id: 'p1',
    name: [{ family: 'Martin', given: ['Élise', 'Anne'] }],
    birthDate: '1980-02-03',
    telecom: [{ system: 'phone', value: '0601020304' }],
  },
  { 'b\u0000': 1, B: 2, a: 3, '10': 4, '9': 5, é: 6 },
  new Date(0),
];

describe('stableStringify', () => {
  it('gives the same text as its plain definition for every kind of JSON value', () => {
    for (const v of samples) expect(stableStringify(v)).toBe(reference(v));
  });

  it('orders object keys and leaves undefined members out', () => {
    expect(stableStringify({ b: 1, a: undefined, c: [undefined] })).toBe('{"b":1,"c":[null]}');
  });

  it('hashes the same content the same way whatever the key order', () => {
    expect(contentHash({ a: 1, b: [{ y: 2, x: 1 }] })).toBe(contentHash({ b: [{ x: 1, y: 2 }], a: 1 }));
  });
});
