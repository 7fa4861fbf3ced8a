/**
 * Issue 18, point 3: a vendor's variant of a shipped profile is a ten-line file that extends it.
 * The variant maps real messages (test/fixtures/hl7/real/, test/fixtures/hl7/) exactly like its
 * parent except for the rule it overrides, and `passerelle mapping test` shows where each rule
 * came from.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from '@jest/globals';

import { parseHl7 } from '../../../src/hl7/index.js';
import { loadProfile, requirePlan, shippedPlan, toCanonical } from '../../../src/mapping/index.js';
import type { Appointment } from '../../../src/model/resources.js';
import { ROOT, runCli } from '../../helpers/cli.js';
import { fixturePath } from '../../helpers/fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'passerelle-variant-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Ten lines: the appointment's comment is upper-cased (the one rule this vendor changes). */
const VARIANT = [
  '# yaml-language-server: $schema=../schema.json',
  '# A sender whose secretariat wants the appointment comment in capitals.',
  'name: vendor-upper-note',
  'extends: hl7v2-generic-2.5',
  'Appointment:',
  '  fields:',
  '    - name: note',
  '      from: "NTE[1]-3"',
  '      to: comment',
  '      transform: upper',
].join('\n');

const parent = shippedPlan('hl7v2-generic-2.5');
const file = join(dir, 'vendor-upper-note.yaml');
writeFileSync(file, `${VARIANT}\n`);
const variant = requirePlan(loadProfile(file));

const real = ['pkb-siu-s12-v24.hl7', 'hapi-orsos-siu-s14-v23.hl7', 'hapi-docs-adt-a01-v24.hl7'].map((f) =>
  fixturePath('hl7', 'real', f),
);
const ours = [
  'siu-s12-new-appointment.hl7',
  'siu-s15-cancel-latin1.hl7',
  'adt-a28-create.hl7',
  'adt-a40-merge.hl7',
].map((f) => fixturePath('hl7', f));

describe('a ten-line variant of hl7v2-generic-2.5', () => {
  it('is ten lines', () => {
    expect(VARIANT.split('\n')).toHaveLength(10);
  });

  it.each([...real, ...ours])(
    'maps %s exactly like its parent but for the comment it upper-cases',
    (sample) => {
      const message = parseHl7(readFileSync(sample));
      const mine = toCanonical(variant, message, { testLink: true });
      const theirs = toCanonical(parent, message, { testLink: true });
      const upperNote = theirs.records.map((r) => {
        const comment = r.kind === 'Appointment' ? (r.data as Appointment).comment : undefined;
        return comment === undefined ? r : { ...r, data: { ...r.data, comment: comment.toUpperCase() } };
      });
      expect([mine.ok, mine.records, mine.issues]).toEqual([theirs.ok, upperNote, theirs.issues]);
    },
  );

  it('changes the comment of a real SIU that has one', () => {
    const r = toCanonical(variant, parseHl7(readFileSync(real[0] as string)), {});
    expect((r.records.find((x) => x.kind === 'Appointment')?.data as Appointment).comment).toBe('MY COMMENT');
  });
});

describe('passerelle mapping test on a profile that extends another', () => {
  it('shows, for every rule, the profile it comes from', async () => {
    const example = join(ROOT, 'mappings', 'examples', 'hl7v2-generic-vendor-variant.yaml');
    const r = await runCli(['mapping', 'test', example, '--input', real[0] as string], { cwd: ROOT });
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(r.stdout).toMatch(/\nrule +\| profile +\| protocol path +\| canonical path +\| status\n/);
    expect(r.stdout).toMatch(
      /\nnote +\| example-vendor-variant +\| NTE\[2\]-3 +\| Appointment\.comment +\| unmapped \(no value\)\n/,
    );
    expect(r.stdout).toMatch(
      /\nstart +\| hl7v2-generic-2\.5 +\| SCH-11\.4 +\| Appointment\.start +\| mapped\n/,
    );
    // The variant's constant, used by the parent's rule.
    expect(r.stdout).toMatch(
      /\npatient-id +\| hl7v2-generic-2\.5 +\| PID-3\[1\]\.1 +\| Patient\.identifier\[system=urn:oid:1\.2\.250\.1\.999\.7\.1\]\.value +\| mapped\n/,
    );
    expect(r.stdout).not.toMatch(/\nemail +\|/);
  });
});
