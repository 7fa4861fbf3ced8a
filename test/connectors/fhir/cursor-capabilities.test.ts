/**
 * The poll cursor's format and its overlap-window bookkeeping, and how a CapabilityStatement is
 * read (connectors/fhir/cursor.ts, capabilities.ts).
 */
import { describe, expect, it } from '@jest/globals';
import type { CapabilityStatement } from '@medplum/fhirtypes';

import { readCapabilities } from '../../../connectors/fhir/capabilities.js';
import {
  decodeCursor,
  emptyCursor,
  encodeCursor,
  pruneSeen,
  SEEN_CAP,
} from '../../../connectors/fhir/cursor.js';
import { buildCapabilityStatement, loadFhirDefinitions } from '../../../connectors/fhir/peer/index.js';

describe('FHIR poll cursor', () => {
  it('starts empty, round-trips, and refuses what it cannot read with a hint to reset it', () => {
    expect(decodeCursor(null)).toEqual(emptyCursor());
    const c = {
      ...emptyCursor(),
      at: 2,
      cap: '2030-01-01T00:00:00.999Z',
      kinds: { Patient: { hwm: '2030-01-01T00:00:00.000Z', seen: { p1: ['v1', 1] as [string, number] } } },
    };
    expect(decodeCursor(encodeCursor(c))).toEqual(c);
    expect(() => decodeCursor('{not json')).toThrow(/not JSON; reset the link's cursor/);
    expect(() => decodeCursor('{"v":2,"at":0,"kinds":{}}')).toThrow(/unknown format/);
  });

  it('keeps the versions inside the overlap window, at most SEEN_CAP of the newest', () => {
    expect(pruneSeen({ old: ['a', 1000], edge: ['b', 2000], fresh: ['c', 3000] }, 2000)).toEqual({
      edge: ['b', 2000],
      fresh: ['c', 3000],
    });
    const many = Object.fromEntries(
      Array.from({ length: SEEN_CAP + 50 }, (_, i) => [`p${i}`, [`v${i}`, i] as [string, number]]),
    );
    const kept = pruneSeen(many, 0);
    expect(Object.keys(kept)).toHaveLength(SEEN_CAP);
    expect(kept['p0']).toBeUndefined();
    expect(kept[`p${SEEN_CAP + 49}`]).toEqual([`v${SEEN_CAP + 49}`, SEEN_CAP + 49]);
  });
});

describe('CapabilityStatement', () => {
  it('reads the peer’s statement: interactions, search parameters, conditional writes, If-Match, no Subscription', () => {
    loadFhirDefinitions();
    const caps = readCapabilities(
      buildCapabilityStatement('http://127.0.0.1/fhir/R4', ['Patient', 'Appointment'], new Date(0)),
    );
    expect([caps.fhirVersion, caps.software]).toEqual([
      '4.0.1',
      'passerelle-fhir-peer (Medplum fhir-router) 4.5.2',
    ]);
    expect([caps.has('Appointment'), caps.has('Slot')]).toEqual([true, false]);
    expect([
      caps.interaction('Appointment', 'search-type'),
      caps.interaction('Appointment', 'history-instance'),
      caps.interaction('Appointment', 'history-type'),
    ]).toEqual([true, true, false]);
    expect([
      caps.searchParam('Appointment', '_lastUpdated'),
      caps.searchParam('Appointment', 'identifier'),
      caps.searchParam('Appointment', 'nonsense'),
    ]).toEqual([true, true, false]);
    expect([
      caps.conditionalUpdate('Appointment'),
      caps.conditionalCreate('Patient'),
      caps.versionedUpdate('Patient'),
      caps.restHookSubscriptions(),
    ]).toEqual([true, true, true, false]);
  });

  it('counts parameters declared for the whole server, and reads nothing into a type it does not list', () => {
    const cs: CapabilityStatement = {
      resourceType: 'CapabilityStatement',
      status: 'active',
      date: '2030-01-01',
      kind: 'instance',
      fhirVersion: '4.0.1',
      format: ['json'],
      rest: [
        {
          mode: 'server',
          searchParam: [{ name: '_lastUpdated', type: 'date' }],
          resource: [
            { type: 'Slot', interaction: [{ code: 'search-type' }] },
            { type: 'Subscription', interaction: [{ code: 'create' }] },
          ],
        },
      ],
    };
    const caps = readCapabilities(cs);
    expect([
      caps.searchParam('Slot', '_lastUpdated'),
      caps.searchParam('Appointment', '_lastUpdated'),
      caps.conditionalCreate('Slot'),
      caps.versionedUpdate('Slot'),
      caps.restHookSubscriptions(),
    ]).toEqual([true, false, false, false, true]);
  });
});
