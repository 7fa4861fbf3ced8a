import { readFileSync } from 'node:fs';

import { describe, expect, it } from '@jest/globals';

import { ERROR_CATALOGUE } from '../src/errors.js';

describe('error catalogue', () => {
  it('documents exactly the codes the catalogue defines, with their status and retryability', () => {
    const doc = readFileSync('docs/errors.md', 'utf8');
    const rows = [...doc.matchAll(/^\| `(ERR_[A-Z0-9_]+)` \| (\d{3}) \| (yes|no) \|/gm)].map((m) => [
      m[1],
      Number(m[2]),
      m[3] === 'yes',
    ]);
    const expected = Object.entries(ERROR_CATALOGUE).map(([code, e]) => [code, e.status, e.retryable]);
    expect(rows.sort()).toEqual(expected.sort());
  });

  it('uses the ERR_ prefix and upper snake case for every code', () => {
    for (const code of Object.keys(ERROR_CATALOGUE)) expect(code).toMatch(/^ERR_[A-Z0-9]+(_[A-Z0-9]+)*$/);
  });
});
