/** `passerelle mapping test --message <id>`: a stored message mapped with its link's current profile, by the CLI on the store file. */
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { openConfiguredStore } from '../../src/app/open-store.js';
import { loadConfig } from '../../src/config/load.js';
import { runCliInProcess } from '../helpers/cli.js';
import { hl7Fixture } from '../helpers/hl7.js';
import { tempDir } from '../helpers/stores.js';

describe('passerelle mapping test --message', () => {
  const dir = tempDir('passerelle-messages-cli-');
  const storePath = join(dir.path, 'data', 'passerelle.db');
  let id = '';

  beforeAll(async () => {
    // The store as the CLI opens it: same file, same sealing and audit keys.
    const store = await openConfiguredStore(
      loadConfig({ env: { PASSERELLE_STORE_SQLITE_PATH: storePath }, cwd: dir.path }).config,
      { cwd: dir.path },
    );
    try {
      await store.migrate();
      await store.practices.create({ id: 'cab-msg', name: 'Cabinet' });
      await store.links.create({
        id: 'cab-msg-hl7',
        practiceId: 'cab-msg',
        role: 'practice',
        connector: 'hl7v2',
        name: 'Logiciel',
        isTest: true,
        config: {},
      });
      const body = hl7Fixture('siu-s12-new-appointment');
      const stored = await store.inbox.accept({
        linkId: 'cab-msg-hl7',
        dedupeKey: 'LOGICIEL-CABINET|CABINET-TEST|MSG-20250316-000101',
        bodyHash: 'h1',
        messageType: 'SIU^S12',
        body,
        status: 'processed',
      });
      id = `in-${stored.entry.id}`;
    } finally {
      await store.close();
    }
  }, 60_000);
  afterAll(() => dir.remove());

  it("prints the canonical records and the field table of the stored message, mapped with the link's running profile", async () => {
    const r = await runCliInProcess(['mapping', 'test', '--message', id], {
      cwd: dir.path,
      env: { PASSERELLE_STORE_SQLITE_PATH: storePath },
    });
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(r.stdout).toMatch(/^== profile hl7v2-ihe-pam-fr \(shipped\)/);
    expect(r.stdout).toContain('"kind": "Appointment"');
    expect(r.stdout).toMatch(/SCH-2/);
  });
});
