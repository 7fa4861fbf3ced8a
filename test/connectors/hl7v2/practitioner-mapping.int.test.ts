/**
 * Issue 18 point 1, the practitioner mapping: an hl7v2 link set to `newPractitioners: map`
 * creates no practitioner for an id it names for the first time. A real SIU^S14 (HAPI's ORSOS
 * message, test/fixtures/hl7/real/README.md; its SCH-2 and first AIP edited per case) goes over
 * MLLP through the shipped generic profile, the real connector and sync engine, on both stores:
 * the appointment is applied without the practitioner, held back from the secretariat, flagged
 * `practitioner-unmapped`, and the (link, id) opens ONE review however many messages name it.
 * An operator maps it once; the held appointments get the practitioner and go to the
 * secretariat, and later messages with that id map without a review.
 */
import { readFileSync } from 'node:fs';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { profileTranslatorFactory } from '../../../connectors/hl7v2/index.js';
import { FR_IDENTIFIER_TYPE_SYSTEM, OID } from '../../../src/model/identifiers.js';
import type { Appointment, Practitioner } from '../../../src/model/resources.js';
import type { Link } from '../../../src/store/types.js';
import { fixturePath } from '../../helpers/fixtures.js';
import {
  type Hl7LinkHarness,
  listenConfig,
  parseAck,
  RawMllpSocket,
  startHl7Link,
  withControlId,
} from '../../helpers/hl7.js';
import { setField } from '../../helpers/hl7-text.js';
import { memoryConnector, MemoryWorld } from '../../helpers/memory-connector.js';
import { STORE_KINDS } from '../../helpers/stores.js';

const ORSOS = readFileSync(fixturePath('hl7', 'real', 'hapi-orsos-siu-s14-v23.hl7'), 'latin1');
/** The practitioner the practice already has (fictitious RPPS of the ANS test range). */
const KNOWN = 'prac-known';
const RPPS = '10000000001';

describe.each(STORE_KINDS)('practitioner mapping of an hl7v2 link (%s store)', (kind) => {
  let h: Hl7LinkHarness;
  let socket: RawMllpSocket;
  let secretariat: Link;
  let seq = 0;

  beforeAll(async () => {
    h = await startHl7Link({
      kind,
      config: listenConfig({ newPractitioners: 'map' }),
      profile: 'hl7v2-generic-2.5',
      connectorOptions: { translator: profileTranslatorFactory() },
      extra: [memoryConnector(new MemoryWorld())],
      before: async (store, practiceId) => {
        secretariat = await store.links.create({
          practiceId,
          role: 'secretariat',
          connector: 'memory',
          name: 'Secrétariat',
          config: { peer: 'sec' },
          isTest: true,
        });
        const known: Practitioner = {
          resourceType: 'Practitioner',
          id: KNOWN,
          active: true,
          name: [{ family: 'FICTIF', given: ['Alice'] }],
          identifier: [
            {
              use: 'official',
              system: OID.idnps,
              value: `8${RPPS}`,
              type: { coding: [{ system: FR_IDENTIFIER_TYPE_SYSTEM, code: 'IDNPS' }] },
            },
          ],
        };
        await store.resources.put({
          id: KNOWN,
          practiceId,
          kind: 'Practitioner',
          data: known as never,
          origin: 'practice',
          expectedVersion: 0,
        });
      },
    });
    socket = await RawMllpSocket.connect(h.port);
  }, 30_000);
  afterAll(async () => {
    socket?.destroy();
    await h?.dispose();
  });

  const send = async (text: string): Promise<string | undefined> =>
    parseAck(await socket.request(withControlId(Buffer.from(text, 'latin1'), `MAP-${kind}-${++seq}`))).code;
  const appointment = async (externalId: string): Promise<Appointment> => {
    const id = await h.store.identityMap.findCanonical(h.link.id, 'Appointment', externalId);
    if (id === undefined) throw new Error(`no appointment ${externalId} on the link`);
    return (await h.store.resources.get(id))?.data as unknown as Appointment;
  };
  const practitionerOf = (a: Appointment): string | undefined =>
    a.participant.find((p) => p.actor?.reference?.startsWith('Practitioner/'))?.actor?.reference;
  /** The outcome flags of the link's message with that control id. */
  const messageFlags = async (n: number): Promise<readonly string[]> => {
    const entries = await h.store.inbox.list({ linkId: h.link.id, limit: 1000 });
    const entry = entries.find((e) => e.dedupeKey.endsWith(`|MAP-${kind}-${n}`));
    return entry?.flags ?? [];
  };
  const forwarded = async (appointmentId: string) =>
    (await h.store.outbox.list({ linkId: secretariat.id, recordId: appointmentId })).filter(
      (r) => r.kind === 'Appointment',
    );

  it('applies three appointments naming an unknown practitioner id, holds them, flags each message and opens one review', async () => {
    for (const n of [1, 2, 3]) {
      expect(await send(setField(ORSOS, 'SCH', 2, `HELD-${n}`, { firstOnly: true }))).toBe('AA');
      expect(await messageFlags(seq)).toEqual(expect.arrayContaining(['practitioner-unmapped', 'created']));
    }
    for (const n of [1, 2, 3]) {
      const a = await appointment(`HELD-${n}`);
      expect([a.status, a.start, practitionerOf(a)]).toEqual([
        'booked',
        '2010-04-07T14:10:00.000Z',
        undefined,
      ]);
      const [event] = await h.store.audit.list({ resourceId: a.id as string, action: 'sync.apply' });
      expect((event?.details as { flags?: string[] }).flags).toContain('practitioner-unmapped');
      // Held back: the secretariat would not know whose agenda it is in.
      expect(await forwarded(a.id as string)).toEqual([]);
    }
    // No practitioner was made of the id: the practice keeps the one it has.
    expect(await h.store.identityMap.findCanonical(h.link.id, 'Practitioner', '51873')).toBeUndefined();
    expect(
      (await h.store.resources.list({ practiceId: h.link.practiceId, kind: 'Practitioner' })).map(
        (r) => r.id,
      ),
    ).toEqual([KNOWN]);
    const open = await h.store.practitionerMappings.list({ linkId: h.link.id, status: 'open' });
    expect(open.map((m) => [m.localId, m.held])).toEqual([['51873', 3]]);
    // What the message said of the practitioner, for the operator.
    expect((open[0]?.proposal as { name?: { family?: string }[] } | null)?.name?.[0]?.family).toBe('FICTIF');
  });

  it('maps the id once by RPPS: the held appointments get the practitioner and go to the secretariat', async () => {
    const decided = await h.runtime.operator.resolvePractitionerMapping(
      h.link.id,
      '51873',
      { rpps: RPPS },
      { id: 'key:ops', role: 'integrator' },
    );
    expect([decided.status, decided.practitionerId, decided.resolution, decided.released.length]).toEqual([
      'mapped',
      KNOWN,
      'rpps',
      3,
    ]);
    for (const n of [1, 2, 3]) {
      const a = await appointment(`HELD-${n}`);
      expect(practitionerOf(a)).toBe(`Practitioner/${KNOWN}`);
      const rows = await forwarded(a.id as string);
      expect(
        rows.map((r) => [r.payload['cause'], practitionerOf(r.payload['data'] as unknown as Appointment)]),
      ).toEqual([['practitioner-mapping', `Practitioner/${KNOWN}`]]);
    }
    expect(await h.store.practitionerMappings.held(h.link.id, '51873')).toEqual([]);
    const events = await h.store.audit.list({ action: 'practitioner-mapping.resolve' });
    expect(events.map((e) => [e.actor, e.resourceId, (e.details as { localId?: string }).localId])).toEqual([
      ['key:ops', KNOWN, '51873'],
    ]);
    await expect(
      h.runtime.operator.resolvePractitionerMapping(
        h.link.id,
        '51873',
        { practitionerId: KNOWN },
        { id: 'key:ops' },
      ),
    ).rejects.toMatchObject({ code: 'ERR_CONFLICT' });
  });

  it('maps a later message naming that id without a review, and forwards it', async () => {
    expect(await send(setField(ORSOS, 'SCH', 2, 'LATER', { firstOnly: true }))).toBe('AA');
    expect(await messageFlags(seq)).not.toContain('practitioner-unmapped');
    const a = await appointment('LATER');
    expect(practitionerOf(a)).toBe(`Practitioner/${KNOWN}`);
    expect(await forwarded(a.id as string)).toHaveLength(1);
    expect(await h.store.practitionerMappings.list({ linkId: h.link.id, status: 'open' })).toEqual([]);
    // Still the practice's one practitioner, its RPPS kept.
    const practitioners = await h.store.resources.list({
      practiceId: h.link.practiceId,
      kind: 'Practitioner',
    });
    expect(practitioners.map((r) => r.id)).toEqual([KNOWN]);
    expect((practitioners[0]?.data as unknown as Practitioner).identifier).toEqual(
      expect.arrayContaining([expect.objectContaining({ system: OID.idnps, value: `8${RPPS}` })]),
    );
  });

  it('creates a practitioner the practice did not have, from what the message said of it', async () => {
    expect(
      await send(
        setField(setField(ORSOS, 'SCH', 2, 'NEWDOC', { firstOnly: true }), 'AIP', 3, 'DR-NEW^NOUVEAU^JEAN', {
          firstOnly: true,
        }),
      ),
    ).toBe('AA');
    expect(practitionerOf(await appointment('NEWDOC'))).toBeUndefined();
    const decided = await h.runtime.operator.resolvePractitionerMapping(
      h.link.id,
      'DR-NEW',
      { create: true },
      { id: 'key:ops' },
    );
    expect([decided.resolution, decided.released.length]).toEqual(['created', 1]);
    const created = (await h.store.resources.get(decided.practitionerId as string))
      ?.data as unknown as Practitioner;
    expect(created.name?.[0]?.family).toBe('NOUVEAU');
    expect(practitionerOf(await appointment('NEWDOC'))).toBe(`Practitioner/${decided.practitionerId}`);
    // The secretariat learns the practitioner with the appointment.
    expect(
      (await h.store.outbox.list({ linkId: secretariat.id, recordId: decided.practitionerId as string }))
        .length,
    ).toBe(1);
  });
});

/**
 * A link that creates its new practitioners (the default) can still name one it does not know
 * without a record of it: its `defaultPractitioner` given to an SIU naming none (HL7's PKB
 * message, whose AIP names nobody by id). That appointment used to be refused (AE) and
 * dead-lettered (ERR_SYNC_UNKNOWN_REFERENCE); it is applied, held and reviewed instead.
 */
describe.each(STORE_KINDS)('an unknown default practitioner of an hl7v2 link (%s store)', (kind) => {
  let h: Hl7LinkHarness;
  let socket: RawMllpSocket;
  const PKB = readFileSync(fixturePath('hl7', 'real', 'pkb-siu-s12-v24.hl7'), 'latin1');

  beforeAll(async () => {
    h = await startHl7Link({
      kind,
      config: listenConfig({ defaultPractitioner: 'DR-UNKNOWN' }),
      profile: 'hl7v2-generic-2.5',
      connectorOptions: { translator: profileTranslatorFactory() },
    });
    socket = await RawMllpSocket.connect(h.port);
  }, 30_000);
  afterAll(async () => {
    socket?.destroy();
    await h?.dispose();
  });

  it('applies the appointment without it, flagged, and opens its mapping review instead of dead-lettering the message', async () => {
    expect(
      parseAck(await socket.request(withControlId(Buffer.from(PKB, 'latin1'), `DEFMAP-${kind}`))).code,
    ).toBe('AA');
    const id = await h.store.identityMap.findCanonical(h.link.id, 'Appointment', 'ID123');
    expect(id).toBeDefined();
    const [entry] = await h.store.inbox.list({ linkId: h.link.id });
    expect(entry?.flags).toEqual(expect.arrayContaining(['practitioner-defaulted', 'practitioner-unmapped']));
    expect(await h.store.deadLetters.list({ linkId: h.link.id })).toEqual([]);
    expect(
      (await h.store.practitionerMappings.list({ linkId: h.link.id })).map((m) => [
        m.localId,
        m.status,
        m.held,
      ]),
    ).toEqual([['DR-UNKNOWN', 'open', 1]]);
  });
});
