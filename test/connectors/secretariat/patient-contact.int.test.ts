/**
 * Patient contact details between an agent and the practice software (FHIR peer), in the whole
 * service over real HTTP. Regressions found by the e2e scenario 4 (issue 9):
 * - an agent's phone change was taken as the platform removing the practice's IPP (which the
 *   platform cannot hold): a refusal was recorded and the patient written back for nothing;
 * - the agent's change, pulled again from the platform's feed after passerelle had written a
 *   newer version there, was applied once more and undid the practice's newer address.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Address, Patient as FhirPatient } from '@medplum/fhirtypes';

import { type FhirWorld, startFhirWorld, until } from '../../helpers/fhir-world.js';
import { agentEditsContact } from '../../helpers/secretariat-agent.js';

const DAY0 = new Date('2030-03-11T00:00:00Z');

describe('patient contact details between an agent and the FHIR practice software', () => {
  let w: FhirWorld;
  const platformId = (fhirId: string) =>
    until(`patient ${fhirId} on the platform`, () => w.onSim('Patient', fhirId)) as Promise<string>;
  const onFhir = async (id: string) => (await w.fhir<FhirPatient>('GET', `Patient/${id}`)).body;
  const practiceEdits = async (id: string, change: (p: FhirPatient) => FhirPatient) => {
    const current = await w.fhir<FhirPatient>('GET', `Patient/${id}`);
    expect(
      (await w.fhir('PUT', `Patient/${id}`, change(current.body), { 'if-match': current.etag ?? '' })).status,
    ).toBe(200);
  };
  const conflictsOf = async (fhirId: string) => {
    const canonical = await w.t.service.store.identityMap.findCanonical(w.fhirLinkId, 'Patient', fhirId);
    return w.t.service.store.conflicts.list({ recordId: canonical as string, limit: 10 });
  };

  beforeAll(async () => {
    w = await startFhirWorld({ store: 'sqlite', day0: DAY0 });
    await w.runtime.pollLink(w.fhirLinkId);
    await until('the agenda on the secretariat', () => w.sim.state.list('slot').length === 90);
    await w.settled();
    await w.runtime.pollLink(w.secLinkId);
    await w.settled();
  }, 60_000);

  afterAll(async () => {
    await w.dispose();
  });

  it('takes an agent’s phone change of a patient the practice knows by its IPP without refusing anything or writing back to the platform', async () => {
    const simId = await platformId('pat-000003');
    const edited = await agentEditsContact(w.sim, simId, (c) => ({
      ...c,
      phones: [{ number: '+33601020303', use: 'mobile' }],
    }));
    await until('the phone in the practice software', async () =>
      (await onFhir('pat-000003')).telecom?.some((t) => t.value === '+33601020303'),
    );
    await w.settled();
    expect((await onFhir('pat-000003')).identifier?.map((i) => i.value)).toEqual(['IPP000003']);
    expect(await conflictsOf('pat-000003')).toEqual([]);
    expect(w.sim.state.get('patient', simId)?.version).toBe(edited.version);
  });

  it('does not let an agent’s change pulled again from the feed undo the practice’s newer change', async () => {
    const simId = await platformId('pat-000004');
    const address: Address = {
      use: 'home',
      line: ['5 rue des Essais'],
      city: 'Essaiville',
      postalCode: '69003',
      country: 'FR',
    };
    await agentEditsContact(w.sim, simId, (c) => ({
      ...c,
      phones: [{ number: '+33601020304', use: 'mobile' }],
    }));
    await until('the phone in the practice software', async () =>
      (await onFhir('pat-000004')).telecom?.some((t) => t.value === '+33601020304'),
    );
    await w.settled();
    // The practice then sets the address; passerelle writes a newer version on the platform.
    await practiceEdits('pat-000004', (p) => ({ ...p, address: [address] }));
    await w.runtime.pollLink(w.fhirLinkId);
    await until(
      'the address on the platform',
      () => w.sim.state.get('patient', simId)?.contact.address?.city === 'Essaiville',
    );
    await w.settled();
    // The feed still lists the agent's change (webhooks do not move the feed's cursor).
    const pulled = await w.runtime.pollLink(w.secLinkId);
    expect(pulled).toMatchObject({ acquired: true });
    await w.settled();
    expect((await onFhir('pat-000004')).address).toEqual([address]);
    expect(w.sim.state.get('patient', simId)?.contact).toMatchObject({
      phones: [{ number: '+33601020304', use: 'mobile' }],
      address: { city: 'Essaiville' },
    });
    expect(await conflictsOf('pat-000004')).toEqual([]);
  });
});
