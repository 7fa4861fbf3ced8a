/**
 * Practitioner mappings in the sync engine, between two in-memory peers, on both stores: an
 * appointment naming a practitioner id its link never made known is applied without it and
 * held (it used to be dead-lettered, ERR_SYNC_UNKNOWN_REFERENCE); the practitioner arriving
 * later from that link decides the mapping and releases it.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';

import type { Appointment, Patient, Practitioner } from '../../src/model/resources.js';
import { fixturePatients } from '../helpers/fixtures.js';
import { STORE_KINDS } from '../helpers/stores.js';
import { at, booking, seedAgenda, SyncHarness } from '../helpers/sync-harness.js';

const DAY = '2026-11-26';
const jeanne = fixturePatients()[0] as Patient;

describe.each(STORE_KINDS)('practitioner mappings in the sync engine (%s store)', (kind) => {
  let h: SyncHarness;
  let secPractitioner: string;

  beforeEach(async () => {
    h = await SyncHarness.open(kind);
    const agenda = seedAgenda(h.prac);
    await h.cycle();
    secPractitioner = (await h.counterpart('Practitioner', 'prac', agenda.practitioner)) as string;
  });
  afterEach(async () => {
    await h.dispose();
  });

  it('holds a practice appointment whose practitioner comes later, and releases it when the practitioner arrives', async () => {
    const patient = h.prac.create(structuredClone(jeanne));
    const appt = h.prac.create(booking('DR-LATER', patient, at(DAY, '10:00'), at(DAY, '10:20')));
    const first = await h.prac.deliver({ ids: [patient, appt] });
    expect(first.outcome).toBe('applied');
    expect(first.flags).toEqual(expect.arrayContaining(['practitioner-unmapped', 'created']));
    await h.dispatch();
    // The patient went on; the appointment waits for its practitioner.
    expect(h.sec.list('Patient')).toHaveLength(1);
    expect(h.sec.list('Appointment')).toEqual([]);
    expect(
      (await h.store.practitionerMappings.list({ linkId: h.pracLink.id })).map((m) => [
        m.localId,
        m.status,
        m.held,
      ]),
    ).toEqual([['DR-LATER', 'open', 1]]);

    const later: Practitioner = {
      resourceType: 'Practitioner',
      id: 'x',
      identifier: [{ system: 'urn:oid:1.2.250.1.71.4.2.1', value: '810000000009' }],
      name: [{ family: 'DOCTEUR-TARDIF' }],
    };
    h.prac.create(later, 'DR-LATER');
    expect((await h.prac.deliver({ ids: ['DR-LATER'] })).outcome).toBe('applied');
    const [mapping] = await h.store.practitionerMappings.list({ linkId: h.pracLink.id });
    expect([mapping?.status, mapping?.resolution, mapping?.resolvedBy, mapping?.held]).toEqual([
      'mapped',
      'created',
      `link:${h.pracLink.id}`,
      0,
    ]);
    await h.dispatch();
    const [secAppt] = h.sec.list<Appointment>('Appointment');
    const secLater = await h.counterpart('Practitioner', 'prac', 'DR-LATER');
    expect(secLater).toBeDefined();
    expect(secAppt?.participant.map((p) => p.actor?.reference)).toEqual(
      expect.arrayContaining([`Practitioner/${secLater as string}`]),
    );
  });

  it('holds a secretariat booking naming a practitioner passerelle does not know, instead of dead-lettering it', async () => {
    const secPatient = h.sec.create(structuredClone(jeanne));
    await h.sec.deliver({ ids: [secPatient] });
    const booked = h.sec.create(booking('sec-ghost', secPatient, at(DAY, '11:00'), at(DAY, '11:20')));
    const result = await h.sec.deliver({ ids: [booked] });
    expect([result.outcome, result.flags]).toEqual([
      'applied',
      expect.arrayContaining(['practitioner-unmapped']),
    ]);
    expect(await h.store.deadLetters.list({ linkId: h.secLink.id })).toEqual([]);
    await h.dispatch();
    expect(h.prac.list('Appointment')).toEqual([]);
    expect(
      (await h.store.practitionerMappings.list({ linkId: h.secLink.id, status: 'open' })).map(
        (m) => m.localId,
      ),
    ).toEqual(['sec-ghost']);

    // The operator says it is the practice's practitioner: the booking reaches the practice software.
    const known = (await h.canonicalId('Practitioner', 'sec', secPractitioner)) as string;
    const decided = await h.runtime.operator.resolvePractitionerMapping(
      h.secLink.id,
      'sec-ghost',
      { practitionerId: known },
      { id: 'test' },
    );
    expect(decided.released).toHaveLength(1);
    await h.dispatch();
    const [pracAppt] = h.prac.list<Appointment>('Appointment');
    expect(pracAppt?.participant.map((p) => p.actor?.reference)).toEqual(
      expect.arrayContaining([
        `Practitioner/${(await h.counterpart('Practitioner', 'sec', secPractitioner)) ?? ''}`,
      ]),
    );
  });
});
