/** `passerelle purge` and `passerelle patient export|erase` against a real SQLite store. */
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { openConfiguredStore } from '../../src/app/open-store.js';
import { loadConfig } from '../../src/config/load.js';
import type { Patient } from '../../src/model/resources.js';
import type { PatientExport } from '../../src/privacy/patient-data.js';
import type { PurgeReport } from '../../src/privacy/retention.js';
import type { JsonObject, Store } from '../../src/store/index.js';
import { runCliInProcess } from '../helpers/cli.js';
import { fixturePatients } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/stores.js';

const paul = fixturePatients()[1] as Patient;

describe('passerelle purge and passerelle patient', () => {
  const dir = tempDir('passerelle-privacy-cli-');
  const storePath = join(dir.path, 'data', 'passerelle.db');
  /** The store as the CLI opens it: same file, same sealing and audit keys (created by migrate). */
  const openAsCli = (now?: () => number): Promise<Store> =>
    openConfiguredStore(
      loadConfig({ env: { PASSERELLE_STORE_SQLITE_PATH: storePath }, cwd: dir.path }).config,
      { cwd: dir.path, ...(now && { now }) },
    );

  beforeAll(async () => {
    expect((await runCliInProcess(['migrate'], { cwd: dir.path })).code).toBe(0);
    // Written 40 days ago: past the default 30 days of message bodies.
    const store = await openAsCli(() => Date.now() - 40 * 86_400_000);
    await store.practices.create({ id: 'cab-cli', name: 'Cabinet en ligne de commande' });
    await store.links.create({
      id: 'cab-cli-sec',
      practiceId: 'cab-cli',
      role: 'secretariat',
      connector: 'secretariat',
      name: 'sec',
    });
    await store.inbox.accept({
      linkId: 'cab-cli-sec',
      dedupeKey: 'd1',
      bodyHash: 'h1',
      messageType: 'patient.updated',
      body: Buffer.from(JSON.stringify(paul)),
      status: 'processed',
    });
    await store.resources.put({
      id: 'pat-cli',
      practiceId: 'cab-cli',
      kind: 'Patient',
      data: { ...paul, id: 'pat-cli' } as unknown as JsonObject,
      origin: 'practice',
      expectedVersion: 0,
      patientId: 'pat-cli',
    });
    await store.identityMap.set({
      linkId: 'cab-cli-sec',
      kind: 'Patient',
      externalId: 'sec-pat-9',
      canonicalId: 'pat-cli',
      practiceId: 'cab-cli',
    });
    await store.close();
  }, 60_000);
  afterAll(() => {
    dir.remove();
  });

  it('purges what is past its retention and prints the counts per data class', async () => {
    const r = await runCliInProcess(['purge', '--json'], { cwd: dir.path });
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as PurgeReport;
    expect(report.removed).toMatchObject({ inboundBodies: 1, outboundPayloads: 0, auditEvents: 0 });
    const text = await runCliInProcess(['purge'], { cwd: dir.path });
    expect(text.stdout).toMatch(/inboundBodies +0 removed/);
  });

  it('exports a patient named by its id on a link as JSON on stdout', async () => {
    const r = await runCliInProcess(
      ['patient', 'export', 'sec-pat-9', '--link', 'cab-cli-sec', '--practice', 'cab-cli'],
      { cwd: dir.path },
    );
    expect(r.code).toBe(0);
    const exported = JSON.parse(r.stdout) as PatientExport;
    expect(exported.patientId).toBe('pat-cli');
    expect((exported.patient.data as unknown as Patient).name?.[0]?.family).toBe('DEMONSTRATION');
  });

  it('erases a patient only with --yes, and audits it with actor cli', async () => {
    const refused = await runCliInProcess(['patient', 'erase', 'pat-cli', '--practice', 'cab-cli'], {
      cwd: dir.path,
    });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--yes');
    const r = await runCliInProcess(['patient', 'erase', 'pat-cli', '--practice', 'cab-cli', '--yes'], {
      cwd: dir.path,
    });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ patientId: 'pat-cli', removed: { patientRecords: 1 } });
    const store = await openAsCli();
    try {
      expect(await store.resources.get('pat-cli')).toBeUndefined();
      expect((await store.audit.list({ patientId: 'pat-cli' })).map((e) => [e.action, e.actor])).toEqual([
        ['patient.export', 'cli'],
        ['patient.erase', 'cli'],
      ]);
    } finally {
      await store.close();
    }
  });

  it('answers an unknown patient with a one-line error and a non-zero exit', async () => {
    const r = await runCliInProcess(['patient', 'export', 'nobody', '--practice', 'cab-cli'], {
      cwd: dir.path,
    });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});
