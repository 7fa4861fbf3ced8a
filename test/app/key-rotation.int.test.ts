/**
 * `passerelle key rotate` on both stores, through the command only: stopped after a number of
 * batches, run again to finish, after which the previous key is no longer needed. And the files
 * the command line creates for the embedded store are readable by their owner only.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { Keyring } from '../../src/security/sealing.js';
import { SecretBox } from '../../src/security/secrets.js';
import { openPostgresStore, openSqliteStore, type Store } from '../../src/store/index.js';
import { BIN, cleanEnv, runCli } from '../helpers/cli.js';
import { fixturePatients } from '../helpers/fixtures.js';
import { scanForPhi, sqliteStoreFiles } from '../helpers/phi-scan.js';
import { createPgDatabase, STORE_KINDS, tempDir } from '../helpers/stores.js';

const keyA = randomBytes(32);
const keyB = randomBytes(32);
/** The audit chain's key, the same for the commands and the test's own store (kept outside the store). */
const auditKey = randomBytes(32);
const patients = fixturePatients();

describe.each(STORE_KINDS)('passerelle key rotate (%s)', (kind) => {
  const dir = tempDir('passerelle-key-rotate-');
  let pg: { url: string; drop: () => Promise<void> } | undefined;
  const dbPath = join(dir.path, 'data', 'passerelle.db');
  const storeEnv = (): Record<string, string> =>
    kind === 'postgres'
      ? {
          PASSERELLE_STORE_DRIVER: 'postgres',
          PASSERELLE_STORE_POSTGRES_URL: (pg as { url: string }).url,
          PASSERELLE_AUDIT_KEY: auditKey.toString('base64'),
        }
      : { PASSERELLE_AUDIT_KEY: auditKey.toString('base64') };
  const open = (keyring: Keyring): Promise<Store> =>
    kind === 'sqlite'
      ? openSqliteStore({ path: dbPath, sealing: keyring, auditKey })
      : openPostgresStore({ url: (pg as { url: string }).url, poolSize: 2, sealing: keyring, auditKey });
  const rotate = (...args: string[]) =>
    runCli(['key', 'rotate', ...args], {
      cwd: dir.path,
      env: {
        ...storeEnv(),
        PASSERELLE_SECURITY_ENCRYPTION_KEY: keyB.toString('base64'),
        PASSERELLE_SECURITY_PREVIOUS_ENCRYPTION_KEYS: keyA.toString('base64'),
      },
      timeoutMs: 60_000,
    });

  beforeAll(async () => {
    if (kind === 'postgres') pg = await createPgDatabase();
    const migrated = await runCli(['migrate'], {
      cwd: dir.path,
      env: { ...storeEnv(), PASSERELLE_SECURITY_ENCRYPTION_KEY: keyA.toString('base64') },
      timeoutMs: 60_000,
    });
    expect(migrated.code).toBe(0);
    const store = await open(new Keyring(keyA));
    try {
      await store.practices.create({ id: 'cab-rot', name: 'Cabinet' });
      const box = new SecretBox(keyA);
      await store.links.create({
        id: 'lnk-rot',
        practiceId: 'cab-rot',
        role: 'practice',
        connector: 'hl7v2',
        name: 'HL7',
        secrets: box.sealJson({ password: 'p4ss' }, 'lnk-rot'),
      });
      for (const p of patients) {
        await store.resources.put({
          id: `rot-${p.id}`,
          practiceId: 'cab-rot',
          kind: 'Patient',
          data: p as unknown as Record<string, unknown>,
          origin: 'practice',
        });
        await store.outbox.enqueue({
          practiceId: 'cab-rot',
          linkId: 'lnk-rot',
          kind: 'Patient',
          recordId: `rot-${p.id}`,
          op: 'update',
          payload: p as unknown as Record<string, unknown>,
          idempotencyKey: `rot-${p.id}`,
        });
      }
    } finally {
      await store.close();
    }
  }, 90_000);
  afterAll(async () => {
    await pg?.drop();
    dir.remove();
  });

  it('stops after --max-batches, resumes on the next run, and leaves nothing that needs the previous key', async () => {
    const stopped = await rotate('--batch-size', '1', '--max-batches', '2');
    expect(stopped).toMatchObject({ code: 0 });
    expect(stopped.stdout).toContain('run passerelle key rotate again to resume');

    const resumed = await rotate('--batch-size', '2');
    expect(resumed).toMatchObject({ code: 0 });
    expect(resumed.stdout).toContain('complete: nothing is sealed under another key');

    const store = await open(new Keyring(keyB));
    try {
      for (const p of patients)
        expect((await store.resources.get(`rot-${p.id}`))?.data['name']).toEqual(p.name);
      expect((await store.outbox.list({ linkId: 'lnk-rot' })).map((o) => o.payload['telecom'])).toEqual(
        patients.map((p) => p.telecom),
      );
      const link = await store.links.require('lnk-rot');
      expect(new SecretBox(keyB).openJson(link.secrets as string, 'lnk-rot')).toEqual({ password: 'p4ss' });
      const audited = await store.audit.list({ action: 'key.rotate' });
      expect(audited.map((e) => e.details['complete'])).toEqual([false, true]);
      expect(scanForPhi([{ name: 'audit', data: JSON.stringify(audited) }])).toEqual([]);
    } finally {
      await store.close();
    }
  }, 120_000);

  it('finishes a rotation killed (SIGKILL) after a committed batch when run again', async () => {
    const keyC = randomBytes(32);
    const seeded = await open(new Keyring(keyB));
    try {
      for (let i = 0; i < 20; i++) {
        const p = patients[i % patients.length] as (typeof patients)[number];
        await seeded.resources.put({
          id: `kill-${i}`,
          practiceId: 'cab-rot',
          kind: 'Patient',
          data: p as unknown as Record<string, unknown>,
          origin: 'practice',
        });
      }
    } finally {
      await seeded.close();
    }
    const env = {
      ...storeEnv(),
      PASSERELLE_SECURITY_ENCRYPTION_KEY: keyC.toString('base64'),
      PASSERELLE_SECURITY_PREVIOUS_ENCRYPTION_KEYS: keyB.toString('base64'),
    };
    const child = spawn(process.execPath, [BIN, 'key', 'rotate', '--batch-size', '1'], {
      cwd: dir.path,
      env: cleanEnv(env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    // Killed as soon as it reports its first committed batch, wherever it is then.
    child.stderr.on('data', (d: Buffer) => {
      if (d.toString().includes('batch committed')) child.kill('SIGKILL');
    });
    await exited;

    const again = await runCli(['key', 'rotate'], { cwd: dir.path, env, timeoutMs: 60_000 });
    expect(again).toMatchObject({ code: 0 });
    expect(again.stdout).toContain('complete: nothing is sealed under another key');
    const store = await open(new Keyring(keyC));
    try {
      for (let i = 0; i < 20; i++)
        expect((await store.resources.get(`kill-${i}`))?.data['name']).toEqual(
          patients[i % patients.length]?.name,
        );
      expect(
        new SecretBox(keyC).openJson((await store.links.require('lnk-rot')).secrets as string, 'lnk-rot'),
      ).toEqual({ password: 'p4ss' });
    } finally {
      await store.close();
    }
  }, 120_000);

  if (kind === 'sqlite') {
    it('creates the data folder 0700, and the database, WAL, shared-memory and key files 0600', async () => {
      const fresh = tempDir('passerelle-modes-');
      try {
        expect((await runCli(['migrate'], { cwd: fresh.path, timeoutMs: 60_000 })).code).toBe(0);
        const data = join(fresh.path, 'data');
        expect((statSync(data).mode & 0o777).toString(8)).toBe('700');
        // The WAL and shared-memory files are gone once the last connection closes: those left are checked.
        const files = [...sqliteStoreFiles(join(data, 'passerelle.db')), join(data, 'secret.key')].filter(
          (f) => existsSync(f),
        );
        expect(files).toEqual(
          expect.arrayContaining([join(data, 'passerelle.db'), join(data, 'secret.key')]),
        );
        for (const file of files) {
          expect([file, (statSync(file).mode & 0o777).toString(8)]).toEqual([file, '600']);
        }
      } finally {
        fresh.remove();
      }
    }, 90_000);
  }
});
