/**
 * Scenario 4 (issue 9): the secretariat changes a patient's phone while the practice changes the
 * same patient's address. Patient contact details are "last writer wins, field by field"
 * (design.md), and the two changes touch different fields: both sides must end up with both
 * changes, with no conflict, no refusal and nothing parked. passerelle runs as a child process;
 * the test acts only as the practice's users (FHIR server), an agent (platform API) and an
 * operator (admin API).
 */
import { join } from 'node:path';

import { describe, expect, it } from '@jest/globals';
import type { Address, Patient as FhirPatient } from '@medplum/fhirtypes';

import { type PhiNeedle, scanFilesForPhi, scanForPhi, sqliteStoreFiles } from '../helpers/phi-scan.js';
import { agentEditsContact } from '../helpers/secretariat-agent.js';
import { activityDelta, NO_APPOINTMENTS, NO_CONFLICTS } from './activity.js';
import { simPatient } from './lookups.js';
import { outboxWaiting, worldPerFile } from './scenario-hooks.js';
import type { FhirPractice } from './world.js';

const PATIENT = 'pat-000003';
const FAMILY = 'FICTIF-000003';
const OLD_PHONE = '+33140000003';
const NEW_PHONE = '+33601020303';
const OLD_ADDRESS: Address = {
  use: 'home',
  line: ['1 rue Ancienne'],
  city: 'Testville',
  postalCode: '75012',
  country: 'FR',
};
const NEW_ADDRESS: Address = {
  use: 'home',
  line: ['5 rue des Essais', 'Bâtiment B'],
  city: 'Essaiville',
  postalCode: '69003',
  country: 'FR',
};

/** A user of the practice software edits the patient (GET, change, PUT with If-Match). */
async function practiceEdits(
  fhir: FhirPractice,
  id: string,
  change: (p: FhirPatient) => FhirPatient,
): Promise<void> {
  const current = await fhir.fhir<FhirPatient>('GET', `Patient/${id}`);
  const res = await fhir.fhir<FhirPatient>('PUT', `Patient/${id}`, change(current.body), {
    'if-match': current.etag ?? '',
  });
  if (res.status !== 200) throw new Error(`the practice software refused the edit: HTTP ${res.status}`);
}

const phonesOf = (p: FhirPatient) =>
  (p.telecom ?? []).filter((t) => t.system === 'phone').map((t) => t.value);

describe('scenario 4: contact details changed on both sides at once', () => {
  const world = worldPerFile();

  it('converges the practice software and the secretariat on the agent’s new phone and the practice’s new address', async () => {
    const w = world();
    const { fhir } = w;
    const sim = fhir.secretariat;
    const before = await w.activity(fhir.id);

    // The patient has a phone and an address on both sides to begin with.
    await practiceEdits(fhir, PATIENT, (p) => ({
      ...p,
      telecom: [{ system: 'phone', value: OLD_PHONE, use: 'home' }],
      address: [OLD_ADDRESS],
    }));
    await fhir.notify();
    const platformId = await w.until('the patient’s contact details on the secretariat', () => {
      const p = simPatient(sim, FAMILY);
      return p.contact.address?.lines[0] === OLD_ADDRESS.line?.[0] &&
        p.contact.phones[0]?.number === OLD_PHONE
        ? p.id
        : undefined;
    });
    await w.settled(fhir);

    // Both sides change the patient before passerelle has seen either change of the other: the
    // practice software is unreachable for passerelle meanwhile (its polls and writes fail).
    fhir.cut();
    await practiceEdits(fhir, PATIENT, (p) => ({ ...p, address: [NEW_ADDRESS] }));
    await agentEditsContact(sim, platformId, (c) => ({
      ...c,
      phones: [{ number: NEW_PHONE, use: 'mobile' }],
    }));
    await w.until(
      'the agent’s change waiting for the practice software',
      async () => (await outboxWaiting(w, fhir.practiceLinkId)) > 0,
    );
    fhir.restore();
    await fhir.notify();

    await w.until(
      'both changes in the practice software',
      async () => {
        const p = (await fhir.fhir<FhirPatient>('GET', `Patient/${PATIENT}`)).body;
        return phonesOf(p).includes(NEW_PHONE) && p.address?.[0]?.line?.[0] === NEW_ADDRESS.line?.[0];
      },
      45_000,
    );
    await w.until('both changes on the secretariat', () => {
      const p = sim.state.get('patient', platformId);
      return (
        p !== undefined &&
        p.contact.phones.some((ph) => ph.number === NEW_PHONE) &&
        p.contact.address?.lines[0] === NEW_ADDRESS.line?.[0]
      );
    });
    await w.settled(fhir);

    // Converged, and stays so once every write and its echo has gone round.
    const onFhir = (await fhir.fhir<FhirPatient>('GET', `Patient/${PATIENT}`)).body;
    expect(phonesOf(onFhir)).toEqual([NEW_PHONE]);
    expect(onFhir.address).toEqual([NEW_ADDRESS]);
    expect(onFhir.name).toEqual([{ use: 'official', family: FAMILY, given: ['Dominique'] }]);
    const onPlatform = sim.state.get('patient', platformId);
    expect(onPlatform?.contact.phones).toEqual([{ number: NEW_PHONE, use: 'mobile' }]);
    expect(onPlatform?.contact.address).toEqual({
      lines: NEW_ADDRESS.line,
      postalCode: NEW_ADDRESS.postalCode,
      city: NEW_ADDRESS.city,
      country: 'FR',
    });
    expect(onPlatform?.identity.family).toBe(FAMILY);

    // Two different fields: nothing for an operator, nothing refused, nothing parked.
    const conflicts = await w.json<{ items: unknown[] }>(`/api/v1/conflicts?practiceId=${fhir.id}`);
    expect(conflicts.items).toEqual([]);
    const deadLetters = await w.json<{ items: unknown[] }>(`/api/v1/dead-letters?practiceId=${fhir.id}`);
    expect(deadLetters.items).toEqual([]);
    const delta = activityDelta(before, await w.activity(fhir.id));
    expect(delta.conflicts).toEqual(NO_CONFLICTS);
    expect(delta.appointments).toEqual(NO_APPOINTMENTS);
    expect(delta.deadLetters).toEqual({ total: 0, openNow: 0 });
  }, 90_000);

  it('leaves none of that patient’s name, phones or address readable in passerelle’s store file, its WAL or its logs (issue 16)', () => {
    const w = world();
    const national = (e164: string) => `0${e164.slice(3)}`;
    const needles: PhiNeedle[] = [
      FAMILY,
      'Dominique',
      OLD_PHONE,
      NEW_PHONE,
      national(OLD_PHONE),
      national(NEW_PHONE),
      ...(OLD_ADDRESS.line ?? []),
      ...(NEW_ADDRESS.line ?? []),
    ].map((value) => ({
      kind: 'name',
      patientId: PATIENT,
      value,
    }));
    // The patient went both ways through passerelle above: the store holds it, sealed.
    expect(scanFilesForPhi(sqliteStoreFiles(join(w.dir, 'data', 'passerelle.db')), needles)).toEqual([]);
    const logs = w.logs();
    expect(logs.length).toBeGreaterThan(0);
    expect(
      scanForPhi([{ name: 'passerelle logs', data: logs.map((l) => JSON.stringify(l)).join('\n') }], needles),
    ).toEqual([]);
  });
});
