/**
 * The hl7v2 entry of the product registry (`passerelle serve`): each link translates through its
 * mapping profile (connectors/hl7v2/profile-translator.ts). A link whose profile cannot be
 * loaded, or is not an HL7 profile, is reported failed with ERR_CONNECTOR_CONFIG_INVALID naming
 * `profile`; a link without a profile runs its connector's default one.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import type { Hl7v2Link } from '../../../connectors/hl7v2/index.js';
import { defaultConnectorRegistry } from '../../../src/app/connectors.js';
import { createLogger } from '../../../src/log/logger.js';
import { SecretBox } from '../../../src/security/secrets.js';
import { SyncRuntime } from '../../../src/sync/runtime.js';
import { hl7Fixture, parseAck, RawMllpSocket } from '../../helpers/hl7.js';
import { openTestStore, type TestStore } from '../../helpers/stores.js';

describe('hl7v2 in the product registry', () => {
  let t: TestStore;
  let runtime: SyncRuntime;
  let practiceId: string;
  const link = (name: string, profile: string | null, isTest = true) =>
    t.store.links.create({
      practiceId,
      role: 'practice',
      connector: 'hl7v2',
      name,
      profile,
      isTest,
      config: { mllp: { listen: { host: '127.0.0.1', port: 0 } } },
    });

  beforeAll(async () => {
    t = await openTestStore('sqlite');
    practiceId = (await t.store.practices.create({ name: 'Cabinet' })).id;
    runtime = new SyncRuntime({
      store: t.store,
      logger: createLogger({ silent: true }),
      secrets: new SecretBox(Buffer.alloc(32, 1)),
      registry: defaultConnectorRegistry(),
      schedulePolls: false,
      refreshMs: 0,
      autoDispatch: false,
    });
    await runtime.start();
  });
  afterAll(async () => {
    await runtime.stop();
    await t.dispose();
  });

  it('reports a link whose profile does not exist as failed, naming the profile and the shipped ones', async () => {
    const l = await link('Logiciel X', 'logiciel-x');
    await runtime.refresh();
    const status = await runtime.status(l.id);
    expect([status.state, status.errorCode]).toEqual(['failed', 'ERR_CONNECTOR_CONFIG_INVALID']);
    expect(status.errors).toHaveLength(1);
    expect(status.errors[0]?.path).toBe('profile');
    expect(status.errors[0]?.message).toMatch(
      /^no shipped mapping profile logiciel-x; shipped: .*hl7v2-ihe-pam-fr/,
    );
    expect(runtime.isRunning(l.id)).toBe(false);
  });

  it('refuses a profile of another protocol', async () => {
    const l = await link('Logiciel FHIR', 'fhir-r4-fr-core');
    await runtime.refresh();
    const status = await runtime.status(l.id);
    expect([status.state, status.errorCode]).toEqual(['failed', 'ERR_CONNECTOR_CONFIG_INVALID']);
    expect(status.errors).toEqual([
      { path: 'profile', message: 'profile fhir-r4-fr-core is fhir-r4, not hl7v2' },
    ]);
  });

  it('runs a link without a profile on the default IHE PAM France profile and applies what it maps', async () => {
    const l = await link('Logiciel', null);
    await runtime.refresh();
    expect((await runtime.status(l.id)).state).toBe('running');
    const socket = await RawMllpSocket.connect((runtime.connectorOf(l.id) as Hl7v2Link).mllpPort as number);
    try {
      const ack = parseAck(await socket.request(hl7Fixture('siu-s12-new-appointment')));
      // IHE PAM France asks for an accept ACK (MSH-15 AL) and no application ACK (MSH-16 NE).
      expect([ack.code, ack.acknowledges]).toEqual(['CA', 'MSG-20250316-000101']);
    } finally {
      socket.destroy();
    }
    const kinds = ['Practitioner', 'Patient', 'Appointment'] as const;
    const mapped = await Promise.all(
      kinds.map((k) =>
        t.store.identityMap.findCanonical(
          l.id,
          k,
          { Practitioner: '819999900012', Patient: 'IPP000101', Appointment: 'RDV000123' }[k],
        ),
      ),
    );
    expect(mapped.every((id) => id !== undefined)).toBe(true);
    const appointment = await t.store.resources.get(mapped[2] as string);
    expect(appointment?.data).toMatchObject({
      status: 'booked',
      start: '2025-03-17T08:30:00.000Z',
      end: '2025-03-17T08:50:00.000Z',
      minutesDuration: 20,
    });
  });
});
