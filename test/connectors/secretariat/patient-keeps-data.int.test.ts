/**
 * Issue 18, point 2: the secretariat gets what its contract can hold; the rest is kept for the
 * practice's side. The FHIR R4 official example Patient (test/fixtures/fhir/r4/patient-example.json)
 * is put in the practice software (the FHIR peer) with an IPP, a title and six given names; it
 * reaches the secretariat simulator over real HTTP with what the platform can hold; an agent then
 * changes its mobile phone. What the platform has no place for — the IPP, the title, the sixth
 * given name, the maiden and nickname names, the MR identifier — must still be in the practice
 * software afterwards, with no conflict, no refusal and nothing written back to the platform
 * (the regression of commit 214a123, "cannot hold", for the new fields).
 */
import { readFileSync } from 'node:fs';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Patient as FhirPatient } from '@medplum/fhirtypes';

import { type FhirWorld, startFhirWorld, until } from '../../helpers/fhir-world.js';
import { fixturePath } from '../../helpers/fixtures.js';
import { agentEditsContact } from '../../helpers/secretariat-agent.js';

const DAY0 = new Date('2030-03-11T00:00:00Z');

describe('a patient with more than the secretariat can hold, between an agent and the FHIR practice software', () => {
  let w: FhirWorld;
  let patient: FhirPatient;
  const onFhir = async (id: string) => (await w.fhir<FhirPatient>('GET', `Patient/${id}`)).body;

  beforeAll(async () => {
    w = await startFhirWorld({ store: 'sqlite', day0: DAY0 });
    await w.runtime.pollLink(w.fhirLinkId);
    await until('the agenda on the secretariat', () => w.sim.state.list('slot').length === 90);
    await w.settled();
    await w.runtime.pollLink(w.secLinkId);
    await w.settled();
    // Edits of the official example, each for a field the platform cannot hold: the practice's
    // IPP (the system of the world's own patients), a title, six given names; the phones in
    // international form (a profile for French practices reads national numbers as French).
    const example = JSON.parse(
      readFileSync(fixturePath('fhir', 'r4', 'patient-example.json'), 'utf8'),
    ) as FhirPatient;
    const ipp = (await onFhir('pat-000003')).identifier?.find((i) => i.value === 'IPP000003');
    patient = {
      ...example,
      id: 'pat-keep-0001',
      identifier: [...(example.identifier ?? []), { ...ipp, value: 'IPP000901' }],
      name: [
        {
          use: 'official',
          family: 'CHALMERS',
          given: ['Peter', 'James', 'Paul', 'Jean', 'Luc', 'Marc'],
          prefix: ['Mr'],
        },
        { use: 'usual', given: ['Jim'] },
        { use: 'maiden', family: 'Windsor', given: ['Peter', 'James'] },
        { use: 'nickname', given: ['Jimmy'] },
      ],
      telecom: [
        { system: 'phone', value: '+61355556473', use: 'work' },
        { system: 'phone', value: '+61334105613', use: 'mobile' },
        { system: 'email', value: 'peter.chalmers@example.org' },
      ],
    };
    expect((await w.fhir('PUT', `Patient/${patient.id}`, patient)).status).toBeLessThan(300);
    await w.runtime.pollLink(w.fhirLinkId);
    await w.settled();
  }, 90_000);

  afterAll(async () => {
    await w.dispose();
  });

  it('gives the secretariat what its contract holds: five given names, the phones with their use, the e-mail', async () => {
    const simId = await until('the patient on the platform', () => w.onSim('Patient', 'pat-keep-0001'));
    const onPlatform = w.sim.state.get('patient', simId);
    expect(onPlatform?.identity).toMatchObject({
      family: 'CHALMERS',
      given: ['Peter', 'James', 'Paul', 'Jean', 'Luc'],
      usedFamily: null,
      sex: 'male',
      birthDate: '1974-12-25',
    });
    expect(onPlatform?.contact.phones).toEqual([
      { number: '+61334105613', use: 'mobile' },
      { number: '+61355556473', use: 'work' },
    ]);
    expect(onPlatform?.contact.email).toBe('peter.chalmers@example.org');
  });

  it('keeps in the practice software what the platform cannot hold when an agent changes the mobile phone, writing nothing back to the platform', async () => {
    const simId = (await w.onSim('Patient', 'pat-keep-0001')) as string;
    const edited = await agentEditsContact(w.sim, simId, (c) => ({
      ...c,
      phones: c.phones.map((p) => (p.use === 'mobile' ? { ...p, number: '+33601020399' } : p)),
    }));
    await until('the new mobile in the practice software', async () =>
      (await onFhir('pat-keep-0001')).telecom?.some((t) => t.value === '+33601020399'),
    );
    await w.settled();
    const after = await onFhir('pat-keep-0001');
    // The MR identifier untouched; the IPP typed PI as the profile writes it (FR Core).
    expect(after.identifier).toEqual([
      patient.identifier?.[0],
      {
        ...patient.identifier?.[1],
        type: expect.objectContaining({ coding: [expect.objectContaining({ code: 'PI' })] }),
      },
    ]);
    expect(after.name).toEqual(patient.name);
    expect(after.telecom).toEqual([
      { system: 'phone', value: '+61355556473', use: 'work' },
      { system: 'phone', value: '+33601020399', use: 'mobile' },
      { system: 'email', value: 'peter.chalmers@example.org' },
    ]);
    expect([after.gender, after.birthDate]).toEqual(['male', '1974-12-25']);
    const canonical = await w.t.service.store.identityMap.findCanonical(
      w.fhirLinkId,
      'Patient',
      'pat-keep-0001',
    );
    expect(await w.t.service.store.conflicts.list({ recordId: canonical as string, limit: 10 })).toEqual([]);
    expect(w.sim.state.get('patient', simId)?.version).toBe(edited.version);
  });
});
