/** `passerelle practitioners list|map`: the practitioner mapping review from the CLI, in French, on the store file. */
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { openConfiguredStore } from '../../src/app/open-store.js';
import { loadConfig } from '../../src/config/load.js';
import { OID } from '../../src/model/identifiers.js';
import type { Appointment } from '../../src/model/resources.js';
import { runCliInProcess } from '../helpers/cli.js';
import { tempDir } from '../helpers/stores.js';

describe('passerelle practitioners', () => {
  const dir = tempDir('passerelle-practitioners-cli-');
  const storePath = join(dir.path, 'data', 'passerelle.db');
  const env = { PASSERELLE_STORE_SQLITE_PATH: storePath };
  const open = () => openConfiguredStore(loadConfig({ env, cwd: dir.path }).config, { cwd: dir.path });

  beforeAll(async () => {
    const store = await open();
    try {
      await store.migrate();
      await store.practices.create({ id: 'cab-cli', name: 'Cabinet' });
      await store.links.create({
        id: 'cab-cli-hl7',
        practiceId: 'cab-cli',
        role: 'practice',
        connector: 'hl7v2',
        name: 'Logiciel',
        isTest: true,
        config: {},
      });
      await store.resources.put({
        id: 'doc-1',
        practiceId: 'cab-cli',
        kind: 'Practitioner',
        origin: 'practice',
        expectedVersion: 0,
        data: {
          resourceType: 'Practitioner',
          id: 'doc-1',
          identifier: [{ system: OID.idnps, value: '810000000001' }],
          name: [{ family: 'FICTIF' }],
        },
      });
      const appointment: Appointment = {
        resourceType: 'Appointment',
        id: 'apt-1',
        status: 'booked',
        start: '2030-01-07T08:00:00.000Z',
        end: '2030-01-07T08:20:00.000Z',
        participant: [{ status: 'accepted' }],
      };
      await store.resources.put({
        id: 'apt-1',
        practiceId: 'cab-cli',
        kind: 'Appointment',
        origin: 'practice',
        expectedVersion: 0,
        data: appointment as never,
      });
      await store.practitionerMappings.open({
        practiceId: 'cab-cli',
        linkId: 'cab-cli-hl7',
        localId: 'DR1',
        proposal: { name: [{ family: 'FICTIF', given: ['Alice'] }] },
      });
      await store.practitionerMappings.hold({
        practiceId: 'cab-cli',
        linkId: 'cab-cli-hl7',
        localId: 'DR1',
        appointmentId: 'apt-1',
      });
    } finally {
      await store.close();
    }
  }, 60_000);
  afterAll(() => dir.remove());

  it('lists the ids waiting for a mapping, in French', async () => {
    const r = await runCliInProcess(['practitioners', 'list', '--practice', 'cab-cli'], {
      cwd: dir.path,
      env,
    });
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(r.stdout).toContain('Praticiens à rapprocher (1) :');
    expect(r.stdout).toMatch(
      /lien cab-cli-hl7\tidentifiant « DR1 » \(FICTIF Alice\)\tà rapprocher, 1 rendez-vous en attente/,
    );
  });

  it('refuses two decisions at once', async () => {
    const r = await runCliInProcess(
      ['practitioners', 'map', 'DR1', '--link', 'cab-cli-hl7', '--practitioner', 'doc-1', '--create'],
      { cwd: dir.path, env },
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('exactly one of');
  });

  it('maps by RPPS: the held appointment gets the practitioner, audited as the CLI', async () => {
    const r = await runCliInProcess(
      ['practitioners', 'map', 'DR1', '--link', 'cab-cli-hl7', '--rpps', '10000000001'],
      { cwd: dir.path, env },
    );
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(r.stdout).toContain(
      'Identifiant « DR1 » du lien cab-cli-hl7 rapproché du praticien doc-1 (par RPPS).',
    );
    expect(r.stdout).toContain('1 rendez-vous en attente complété(s)');
    const store = await open();
    try {
      const a = (await store.resources.get('apt-1'))?.data as unknown as Appointment;
      expect(a.participant).toEqual([{ actor: { reference: 'Practitioner/doc-1' }, status: 'accepted' }]);
      expect(await store.identityMap.findCanonical('cab-cli-hl7', 'Practitioner', 'DR1')).toBe('doc-1');
      expect(
        (await store.audit.list({ action: 'practitioner-mapping.resolve' })).map((e) => e.actor),
      ).toEqual(['cli']);
    } finally {
      await store.close();
    }
    const all = await runCliInProcess(['practitioners', 'list', '--all'], { cwd: dir.path, env });
    expect(all.stdout).toContain('rapproché du praticien doc-1 (par RPPS, par cli)');
    expect((await runCliInProcess(['practitioners', 'list'], { cwd: dir.path, env })).stdout).toContain(
      'Aucun praticien à rapprocher.',
    );
  });
});
