/** The demo's fictitious patients read as names, and the console shows them by initials (issue 19). */
import { describe, expect, it } from '@jest/globals';
import type { Patient } from '@medplum/fhirtypes';

import { demoPatientName, fhirPracticeSeed } from '../../src/demo/demo-data.js';
import { withInitials } from '../../src/demo/traffic.js';

describe('the demo patients', () => {
  const patients = fhirPracticeSeed(new Date('2026-12-07T08:00:00Z')).filter(
    (r): r is Patient => r.resourceType === 'Patient',
  );

  it('have names a person reads, letters only and plainly fictitious, never numbered', () => {
    expect(patients.length).toBeGreaterThanOrEqual(10);
    for (const p of patients) {
      const name = p.name?.find((n) => n.use === 'official') ?? p.name?.[0];
      expect(name?.family).toMatch(/^[A-ZÉÈ][A-ZÉÈ -]+$/);
      expect(name?.given?.[0]).toMatch(/^[A-ZÉ][a-zéèëï]+(-[A-Z][a-zéèëï]+)?$/);
    }
    const names = patients.map((p) => `${p.name?.[0]?.given?.[0]} ${p.name?.[0]?.family}`);
    expect(new Set(names).size).toBe(names.length);
  });

  it('appear on the console by their initials, such as « L. E. », never with a digit', () => {
    for (const p of patients)
      expect(withInitials(p)).toMatch(/^ \([A-ZÉ]\.(-[A-Z]\.)? [A-ZÉ]\.(-[A-Z]\.)?\)$/);
    expect(withInitials({ resourceType: 'Patient', name: [demoPatientName(0, 'female')] })).toBe(' (L. E.)');
    expect(withInitials({ resourceType: 'Patient' })).toBe('');
  });
});
