/**
 * The corpus of malformed profiles (test/fixtures/mappings/malformed, README there): each file
 * must be refused with exactly the lines kept beside it — location, path in the profile, and
 * what is wrong — and nothing else.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';

import { describe, expect, it } from '@jest/globals';

import { formatIssues } from '../../../src/errors.js';
import { parseHl7 } from '../../../src/hl7/index.js';
import { loadProfile, toCanonical } from '../../../src/mapping/index.js';
import { fixturePath } from '../../helpers/fixtures.js';

const dir = fixturePath('mappings', 'malformed');
const cases = readdirSync(dir)
  .filter((f) => f.endsWith('.yaml'))
  .sort();
const expected = (file: string) =>
  readFileSync(`${dir}/${file.replace(/\.yaml$/, '.expected')}`, 'utf8').trimEnd();

describe('malformed mapping profiles', () => {
  it('has at least ten cases, each with its expected message', () => {
    expect(cases.length).toBeGreaterThanOrEqual(10);
    for (const f of cases) expect(existsSync(`${dir}/${f.replace(/\.yaml$/, '.expected')}`)).toBe(true);
  });

  it.each(cases.filter((f) => !existsSync(`${dir}/${f.replace(/\.yaml$/, '.hl7')}`)))(
    '%s is refused with its exact errors',
    (file) => {
      const r = loadProfile(`${dir}/${file}`, { label: file });
      expect(r.ok).toBe(false);
      if (r.ok) return;
      const errors = r.issues.filter((i) => i.severity === 'error');
      expect(formatIssues(errors)).toBe(expected(file));
      for (const e of errors) expect(e.code).toMatch(/^ERR_MAPPING_[A-Z_]+$/);
    },
  );

  it.each(cases.filter((f) => existsSync(`${dir}/${f.replace(/\.yaml$/, '.hl7')}`)))(
    '%s loads, and its sample fails with the exact mapping error',
    (file) => {
      const r = loadProfile(`${dir}/${file}`, { label: file });
      if (!r.ok) throw new Error(formatIssues(r.issues));
      const out = toCanonical(r.plan, parseHl7(readFileSync(`${dir}/${file.replace(/\.yaml$/, '.hl7')}`)));
      expect(out.ok).toBe(false);
      expect(out.records).toHaveLength(1);
      expect(`${out.error?.code}: ${out.error?.message}`).toBe(expected(file));
      expect(out.report.find((x) => x.status === 'error')).toMatchObject({
        rule: 'status',
        protocolPath: 'SCH-25.1',
        canonicalPath: 'status',
        code: 'ERR_MAPPING_UNMAPPED_CODE',
      });
    },
  );

  it('names the unknown key and suggests the known one', () => {
    const r = loadProfile(`${dir}/01-unknown-key.yaml`, { label: 'x.yaml' });
    expect(r.ok ? [] : r.issues.map((i) => [i.code, i.path, i.message])).toEqual([
      [
        'ERR_MAPPING_UNKNOWN_KEY',
        'Appointment.fields[1].tranform',
        'unknown key tranform (did you mean transform?)',
      ],
    ]);
  });

  it('reports every problem of a profile at once, in file order', () => {
    const r = loadProfile(`${dir}/19-several-problems.yaml`, { label: 'p.yaml' });
    expect(r.ok ? [] : r.issues.map((i) => i.code)).toEqual([
      'ERR_MAPPING_BAD_TIMEZONE',
      'ERR_MAPPING_VALUE_MAP',
      'ERR_MAPPING_UNKNOWN_FIELD',
    ]);
  });

  it('reports a missing file as an issue, not a crash', () => {
    const r = loadProfile(`${dir}/does-not-exist.yaml`, { label: 'missing.yaml' });
    expect(r.ok ? [] : r.issues).toEqual([
      {
        severity: 'error',
        code: 'ERR_MAPPING_YAML',
        path: '(file)',
        message: 'cannot read the profile: ENOENT',
        location: 'missing.yaml',
      },
    ]);
  });
});
