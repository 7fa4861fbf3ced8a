/**
 * The FHIR fixtures and their expected verdicts (test/fixtures/fhir/README.md): structurally
 * valid R4 for Medplum's validator, and the canonical model's verdict (src/model/validate.ts).
 */
import { readdirSync } from 'node:fs';

import { describe, expect, it } from '@jest/globals';
import { validateResource as validateR4 } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';

import { loadFhirDefinitions } from '../../../connectors/fhir/peer/definitions.js';
import { validateResource } from '../../../src/model/validate.js';
import { fixturePath, readFixture } from '../../helpers/fixtures.js';

function load(dir: string, file: string): Resource {
  return JSON.parse(readFixture('fhir', dir, file)) as Resource;
}

/** file → the first issue path the canonical model reports on a normal link (undefined: valid). */
const FR_CORE_VERDICTS: Record<string, { issue?: string; validOnTestLink: boolean }> = {
  'patient-ins.json': { validOnTestLink: true },
  'patient-ins-test-oid.json': { issue: 'Patient.identifier[0].system', validOnTestLink: true },
  'patient-ins-without-vali.json': { issue: 'Patient.identifier[0]', validOnTestLink: false },
  'patient-two-official.json': { issue: 'Patient.identifier[1].use', validOnTestLink: false },
  'patient-ins-bad-key.json': { issue: 'Patient.identifier[0].value', validOnTestLink: false },
  'appointment.json': { validOnTestLink: true },
  'schedule.json': { validOnTestLink: true },
  // The ANS example as published (with `language`): the profile maps it, the model alone refuses the extra element.
  'practitioner-role.json': { issue: 'PractitionerRole', validOnTestLink: false },
  'slot-urgence.json': { validOnTestLink: true },
  'slot-plage-bloquee.json': { validOnTestLink: true },
};

describe('FHIR fixtures', () => {
  loadFhirDefinitions();
  const r4 = readdirSync(fixturePath('fhir', 'r4'));
  const frCore = readdirSync(fixturePath('fhir', 'fr-core'));

  it('has a verdict for every FR Core fixture and seven official R4 examples', () => {
    expect(frCore.sort()).toEqual(Object.keys(FR_CORE_VERDICTS).sort());
    expect(r4.map((f) => load('r4', f).resourceType).sort()).toEqual([
      'Appointment',
      'Communication',
      'Patient',
      'Practitioner',
      'PractitionerRole',
      'Schedule',
      'Slot',
    ]);
  });

  it.each([...r4.map((f) => ['r4', f]), ...frCore.map((f) => ['fr-core', f])])(
    '%s/%s is structurally valid FHIR R4',
    (dir, file) => {
      const errors = validateR4(load(dir as string, file as string)).filter((i) => i.severity === 'error');
      expect(errors).toEqual([]);
    },
  );

  it.each(Object.entries(FR_CORE_VERDICTS))(
    'fr-core/%s gets its expected canonical verdict',
    (file, verdict) => {
      const resource = load('fr-core', file);
      const normal = validateResource(resource);
      if (verdict.issue === undefined) expect(normal.ok).toBe(true);
      else expect(normal.ok ? [] : normal.issues.map((i) => i.path)).toContain(verdict.issue);
      expect(validateResource(resource, { testLink: true }).ok).toBe(verdict.validOnTestLink);
    },
  );

  it('official R4 examples carry elements the canonical subset does not, so they need a mapping first', () => {
    for (const f of r4) expect(validateResource(load('r4', f)).ok).toBe(false);
  });
});
