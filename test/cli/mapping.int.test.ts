/**
 * `passerelle mapping validate | test` as an integrator runs them, through the real binary.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from '@jest/globals';

import { ROOT, runCliInProcess } from '../helpers/cli.js';
import { fixturePath } from '../helpers/fixtures.js';

const hl7Samples = readdirSync(fixturePath('hl7'))
  .filter((f) => f.endsWith('.hl7'))
  .sort()
  .map((f) => fixturePath('hl7', f));
const fhirSamples = ['fr-core', 'r4'].flatMap((d) =>
  readdirSync(fixturePath('fhir', d))
    .filter((f) => f.endsWith('.json'))
    .map((f) => fixturePath('fhir', d, f)),
);
const communication = fixturePath('mappings', 'samples', 'communication-urgent.json');
const profile = (name: string) => join(ROOT, 'mappings', `${name}.yaml`);

/** One sample's sections in the output of `mapping test` with several inputs. */
function section(stdout: string, sample: string): string {
  const start = stdout.indexOf(`#### ${sample}\n`);
  const next = stdout.indexOf('#### ', start + 5);
  return stdout.slice(start, next < 0 ? undefined : next);
}

describe('passerelle mapping validate', () => {
  it.each(['hl7v2-ihe-pam-fr', 'hl7v2-generic-2.5', 'fhir-r4-fr-core'])(
    'accepts the shipped %s profile',
    async (name) => {
      const r = await runCliInProcess(['mapping', 'validate', profile(name)], { cwd: ROOT });
      expect([r.code, r.stderr]).toEqual([0, '']);
      expect(r.stdout).toMatch(
        new RegExp(`: valid (hl7v2 2\\.5|fhir-r4 4\\.0\\.1) profile ${name.replace('.', '\\.')} \\(`),
      );
    },
  );

  it('prints every error of a malformed profile with file:line:column and exits 1', async () => {
    const file = 'test/fixtures/mappings/malformed/19-several-problems.yaml';
    const r = await runCliInProcess(['mapping', 'validate', file], { cwd: ROOT });
    expect(r.code).toBe(1);
    const expected = readFileSync(
      fixturePath('mappings', 'malformed', '19-several-problems.expected'),
      'utf8',
    )
      .trimEnd()
      .replace(/^19-several-problems\.yaml/gm, file);
    expect(r.stderr).toBe(`${expected}\npasserelle: ${file}: 3 errors\n`);
    expect(r.stdout).toBe('');
  });

  it("names the typo'd canonical path the way the issue asks", async () => {
    const file = 'test/fixtures/mappings/malformed/02-canonical-typo.yaml';
    const r = await runCliInProcess(['mapping', 'validate', file], { cwd: ROOT });
    expect(r.stderr.split('\n')[0]).toBe(
      `${file}:22:29 Appointment.fields[3].to: unknown canonical path Appointment.strat (did you mean start?)`,
    );
  });
});

describe('passerelle mapping test', () => {
  it('prints the canonical result, the rendering and the field table for every HL7 sample (IHE PAM France)', async () => {
    const r = await runCliInProcess(
      ['mapping', 'test', profile('hl7v2-ihe-pam-fr'), '--test-link', '--input', ...hl7Samples],
      { cwd: ROOT },
    );
    expect([r.code, r.stderr]).toEqual([0, '']);
    for (const sample of hl7Samples) {
      const s = section(r.stdout, sample);
      expect([
        sample,
        s.includes('\n== canonical ('),
        s.includes('\n== outbound rendering ('),
        /\nrule +\| protocol path +\| canonical path +\| status\n/.test(s),
      ]).toEqual([sample, true, true, true]);
      expect(s).toMatch(/\n\d+ mapped, \d+ defaulted, \d+ unmapped, 0 error\n/);
    }
    const s12 = section(
      r.stdout,
      hl7Samples.find((f) => f.endsWith('siu-s12-new-appointment.hl7')) as string,
    );
    expect(s12).toContain('== outbound rendering (SIU^S12, created)\nMSH|^~\\&|PASSERELLE|SECRETARIAT|');
    expect(s12).toMatch(/\nSCH\|\|RDV000123\|/);
    expect(s12).toMatch(/\nstart +\| TQ1-7 +\| Appointment\.start +\| mapped\n/);
    expect(s12).toMatch(/\n\(not in profile\) +\| PV1-3 +\| — +\| unmapped/);
  });

  it('prints every sample the generic profile accepts, ADT^A47 included', async () => {
    const r = await runCliInProcess(
      ['mapping', 'test', profile('hl7v2-generic-2.5'), '--test-link', '--input', ...hl7Samples],
      { cwd: ROOT },
    );
    expect([r.code, r.stderr.trim()]).toEqual([0, '']);
    expect(r.stdout.match(/\n== fields \(to-canonical\)\n/g)).toHaveLength(hl7Samples.length);
  });

  it('prints every FHIR sample, with the invalid NIR key refused by the canonical model', async () => {
    const r = await runCliInProcess(
      ['mapping', 'test', profile('fhir-r4-fr-core'), '--test-link', '--input', ...fhirSamples],
      { cwd: ROOT },
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /patient-ins-bad-key\.json: ERR_MAPPING_RECORD_INVALID: Patient\.identifier\[1\]\.value: not a valid INS matricule/,
    );
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stdout.match(/\n== fields \(to-canonical\)\n/g)).toHaveLength(fhirSamples.length);
    const appt = section(
      r.stdout,
      fhirSamples.find((f) => f.endsWith('r4/appointment-example.json')) as string,
    );
    expect(appt).toContain(
      '"div": "<div xmlns=\\"http://www.w3.org/1999/xhtml\\">Brian MRI results discussion</div>"',
    );
    expect(appt).toMatch(/\n\(not in profile\) +\| priority +\| — +\| unmapped/);
  });

  it('refuses the INS test OID without --test-link, naming the path', async () => {
    const r = await runCliInProcess(
      [
        'mapping',
        'test',
        profile('hl7v2-ihe-pam-fr'),
        '--input',
        fixturePath('hl7', 'adt-a28-create.hl7'),
        fixturePath('hl7', 'adt-a04-registration-crlf.hl7'),
      ],
      { cwd: ROOT },
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /adt-a04-registration-crlf\.hl7: ERR_MAPPING_RECORD_INVALID: Patient\.identifier\[1\]\.system: INS test\/demo OID urn:oid:1\.2\.250\.1\.213\.1\.4\.10 is accepted only on a link marked as test\n$/,
    );
    expect(r.stdout).toContain('(none: the sample did not map cleanly)');
  });

  it.each([
    ['hl7v2-ihe-pam-fr', 'MDM^T02', /\nOBX\|1\|ST\|PRIORITE\^Priorité du message\^L\|\|URGENT\|/],
    ['hl7v2-generic-2.5', 'ORU^R01', /\nOBR\|1\|\|msg-urgent-0042\|CALLMSG\^Call message\^L\|U\|/],
    ['fhir-r4-fr-core', 'Communication', /"priority": "urgent"/],
  ])('renders the canonical call message from-canonical with %s as %s', async (name, type, line) => {
    const r = await runCliInProcess(
      ['mapping', 'test', profile(name), '--direction', 'from-canonical', '--input', communication],
      { cwd: ROOT },
    );
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(r.stdout).toContain(`== outbound rendering (${type}, created)`);
    expect(r.stdout).toMatch(line);
    expect(r.stdout).toMatch(/\n== fields \(from-canonical\)\nrule +\| protocol path/);
  });

  it('says when a sample cannot be read', async () => {
    const r = await runCliInProcess(['mapping', 'test', profile('hl7v2-ihe-pam-fr'), '--input', 'nope.hl7'], {
      cwd: ROOT,
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('passerelle: cannot read --input nope.hl7: ENOENT\n');
  });
});
