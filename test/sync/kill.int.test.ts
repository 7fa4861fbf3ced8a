/**
 * Crash safety of the dispatcher against the real secretariat path: passerelle runs in a child
 * process and pushes N practice patients to the secretariat simulator over HTTP; it is
 * SIGKILLed while a write is in flight (the simulator applies it after the client is gone, so
 * the answer never comes back), twice. After a restart every change is on the platform, and
 * none twice: the re-sent write carries the same Idempotency-Key, and the simulator answers it
 * from its idempotency store instead of applying it again (checked on the keys it saw).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import {
  type SecretariatSimulator,
  startSecretariatSimulator,
} from '../../connectors/secretariat/simulator/index.js';
import { defaultConnectorDefinitions } from '../../src/app/connectors.js';
import { createRegistry } from '../../src/connector/registry.js';
import { createLogger } from '../../src/log/logger.js';
import type { Patient } from '../../src/model/resources.js';
import { SecretBox } from '../../src/security/secrets.js';
import { openSqliteStore, type Store } from '../../src/store/index.js';
import type { Link } from '../../src/store/types.js';
import { SyncEngine } from '../../src/sync/engine.js';
import { cleanEnv, ROOT } from '../helpers/cli.js';
import { HttpPeer, httpPeerConnector } from '../helpers/http-peer.js';
import { tempDir } from '../helpers/stores.js';
import { untilWith } from '../helpers/until.js';

const N = 24;

interface Child {
  readonly process: ChildProcess;
  readonly ready: Promise<void>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
}

function startChild(db: string, key: Buffer): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test', 'helpers', 'sync-child.ts')], {
    cwd: ROOT,
    env: cleanEnv({ SYNC_DB: db, SYNC_KEY: key.toString('base64') }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready')) resolve();
    });
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', () => reject(new Error(`child exited before ready:\n${out}`)));
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { process: child, ready, exited, output: () => out };
}

function within<T>(what: string, p: Promise<T>, ms = 30_000): Promise<T> {
  return Promise.race([
    p,
    new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`timed out: ${what}`)), ms).unref()),
  ]);
}

const until = untilWith({ ms: 30_000, everyMs: 10 });

describe('restart after a kill mid-dispatch to the secretariat', () => {
  const dir = tempDir('passerelle-kill-');
  const db = join(dir.path, 'passerelle.db');
  const key = randomBytes(32);
  /** The practice software: it sends the patients and must get nothing back (no echo). */
  const practice = new HttpPeer();
  let sim: SecretariatSimulator;
  let secLink: Link;

  beforeAll(async () => {
    sim = await startSecretariatSimulator({
      port: 0,
      host: '127.0.0.1',
      stateFile: join(dir.path, 'simulator.json'),
      seed: 'empty',
    });
    await practice.listen();
    // The practice's new patients are committed first, in this process: N writes for the secretariat.
    const store: Store = await openSqliteStore({ path: db, sealing: new SecretBox(key).keyring });
    await store.migrate();
    const practiceId = (await store.practices.create({ name: 'Cabinet' })).id;
    secLink = await store.links.create({
      id: 'kill-secretariat',
      practiceId,
      role: 'secretariat',
      connector: 'secretariat',
      name: 'Télésecrétariat',
      config: {
        baseUrl: sim.url,
        platformPracticeId: sim.practiceId,
        timeoutMs: 10_000,
        retry: { maxAttempts: 2, baseDelayMs: 20, maxDelayMs: 200 },
      },
      secrets: new SecretBox(key).sealJson({ apiToken: sim.apiToken }, 'kill-secretariat'),
    });
    const pracLink = await store.links.create({
      practiceId,
      role: 'practice',
      connector: 'http-peer',
      name: 'Logiciel',
      config: { url: practice.url },
    });
    const engine = new SyncEngine({
      store,
      registry: createRegistry([...defaultConnectorDefinitions(), httpPeerConnector]),
      log: createLogger({ silent: true }),
    });
    for (let i = 0; i < N; i++) {
      const patient: Patient = {
        resourceType: 'Patient',
        id: `p${i}`,
        name: [{ use: 'official', family: `FICTIF${String.fromCharCode(65 + i)}`, given: ['Test'] }],
        gender: 'other',
        birthDate: `1990-01-${String(i + 1).padStart(2, '0')}`,
      };
      const result = await engine.ingest(
        pracLink,
        {
          dedupe: { key: `adt-${i}`, bodyHash: `h${i}`, messageType: 'test', body: null },
          records: [{ kind: 'Patient', externalId: `p${i}`, version: '1', data: patient }],
        },
        'receiver',
      );
      expect(result.outcome).toBe('applied');
    }
    expect((await store.outbox.depth(secLink.id)).pending).toBe(N);
    await store.close();
  });
  afterAll(async () => {
    await sim.close();
    await practice.close();
    dir.remove();
  });

  /** Writes the simulator applied or answered from its idempotency store. */
  const writesHandled = () => sim.state.idempotencyKeys().reduce((n, k) => n + 1 + k.replays, 0);

  it('puts every patient on the platform once, by its idempotency key, after two SIGKILLs and a graceful stop', async () => {
    for (const hangOn of [3, 9]) {
      const seen = sim.state.counters.requests;
      // The hangOn-th write from now waits 600 ms in the simulator, then is applied: the child is dead by then.
      sim.setFaults({
        script: [...Array<{ latencyMs: number }>(hangOn - 1).fill({ latencyMs: 0 }), { latencyMs: 600 }],
      });
      const child = startChild(db, key);
      await within('child ready', child.ready);
      await until('a write in flight', () => sim.state.counters.requests >= seen + hangOn);
      const handled = writesHandled();
      child.process.kill('SIGKILL');
      expect(await within('child killed', child.exited)).toEqual({ code: null, signal: 'SIGKILL' });
      // The write the dead child sent is still applied by the platform: its answer goes nowhere.
      await until('the cut-off write handled after the kill', () => writesHandled() === handled + 1);
    }
    expect(sim.state.list('patient').length).toBeLessThan(N);

    const last = startChild(db, key);
    await within('child ready', last.ready);
    await until(`${N} patients on the platform`, () => sim.state.list('patient').length === N);
    last.process.kill('SIGTERM');
    expect(await within('graceful stop', last.exited)).toEqual({ code: 0, signal: null });
    expect(last.output()).toContain('stopped');

    // One key per change, each applied once (201); the two writes cut off were sent again with
    // their key and answered from the idempotency store.
    const keys = sim.state.idempotencyKeys();
    expect(keys).toHaveLength(N);
    expect(keys.every((k) => k.status === 201)).toBe(true);
    expect(keys.reduce((n, k) => n + k.replays, 0)).toBeGreaterThanOrEqual(2);
    expect(sim.state.changes().filter((c) => c.type === 'patient')).toHaveLength(N);
    expect(new Set(sim.state.list('patient').map((p) => p.identity.family)).size).toBe(N);
    expect(practice.requests).toEqual([]);

    const store = await openSqliteStore({ path: db, sealing: new SecretBox(key).keyring });
    try {
      expect(await store.outbox.depth(secLink.id)).toEqual({ pending: 0, leased: 0, done: N, dead: 0 });
      expect(
        (await store.outbox.list({ linkId: secLink.id, limit: 100 })).map((o) => o.idempotencyKey).sort(),
      ).toEqual(keys.map((k) => k.key).sort());
      expect(await store.deadLetters.count()).toBe(0);
      // The identity map knows each patient's id on the platform, once.
      const mapped = await Promise.all(
        (await store.resources.list({ practiceId: secLink.practiceId, kind: 'Patient' })).map((r) =>
          store.identityMap.findExternal(secLink.id, 'Patient', r.id),
        ),
      );
      expect(mapped.map((m) => m.length)).toEqual(Array(N).fill(1));
    } finally {
      await store.close();
    }
  }, 90_000);
});
