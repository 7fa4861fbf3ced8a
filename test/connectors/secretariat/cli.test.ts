import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from '@jest/globals';

import { BIN, cleanEnv, ROOT, runCli } from '../../helpers/cli.js';
import { tempDir } from '../../helpers/stores.js';

/** Starts `passerelle simulate secretariat …` and resolves with its URL once it prints it. */
function startSimulate(
  args: string[],
): Promise<{ child: ChildProcess; url: string; output: () => string; exited: Promise<number | null> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'simulate', 'secretariat', ...args], {
      cwd: ROOT,
      env: cleanEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`simulate did not start in time:\n${out}`));
    }, 30_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m && out.includes('token:')) {
        clearTimeout(timer);
        resolve({ child, url: m[1] as string, output: () => out, exited });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`simulate exited with ${code}:\n${out}`));
    });
  });
}

describe('passerelle simulate secretariat', () => {
  const dir = tempDir('secretariat-cli-');
  afterAll(() => dir.remove());

  it('runs the simulator alone on a free port with the demo seed, prints its URL, keeps its state and stops on SIGTERM', async () => {
    const state = join(dir.path, 'sim-state.json');
    const first = await startSimulate(['--port', '0', '--seed', 'demo', '--state', state]);
    let practitioners: { items: unknown[] };
    try {
      expect(first.output()).toContain('practice cab-demo, seed demo');
      const res = await fetch(`${first.url}/v1/practices/cab-demo/practitioners`, {
        headers: { authorization: 'Bearer sim-token' },
      });
      expect(res.status).toBe(200);
      practitioners = (await res.json()) as { items: unknown[] };
      expect(practitioners.items).toHaveLength(2);
      const booked = await fetch(`${first.url}/v1/practices/cab-demo/messages`, {
        method: 'POST',
        headers: {
          authorization: 'Bearer sim-token',
          'x-agent-id': 'agent-cli',
          'idempotency-key': 'cli-1',
          'content-type': 'application/json',
        },
        body: JSON.stringify({
          priority: 'urgent',
          callerName: 'Un appelant',
          callbackNumber: null,
          reason: null,
          text: 'Urgence de test.',
          patientId: null,
          practitionerId: null,
          takenAt: '2026-11-23T09:00:00Z',
        }),
      });
      expect(booked.status).toBe(201);
    } finally {
      first.child.kill('SIGTERM');
    }
    expect(await first.exited).toBe(0);
    expect(existsSync(state)).toBe(true);

    const second = await startSimulate(['--port', '0', '--state', state]);
    try {
      const res = await fetch(`${second.url}/v1/practices/cab-demo/messages`, {
        headers: { authorization: 'Bearer sim-token' },
      });
      const messages = (await res.json()) as { items: { text: string }[] };
      expect(messages.items.map((m) => m.text)).toContain('Urgence de test.');
      const again = await fetch(`${second.url}/v1/practices/cab-demo/practitioners`, {
        headers: { authorization: 'Bearer sim-token' },
      });
      expect(((await again.json()) as { items: unknown[] }).items).toHaveLength(2);
    } finally {
      second.child.kill('SIGTERM');
    }
    expect(await second.exited).toBe(0);
  });

  it('refuses a bad port or seed with a usage error', async () => {
    const port = await runCli(['simulate', 'secretariat', '--port', 'http'], { cwd: ROOT });
    expect([port.code, port.stderr]).toEqual([2, expect.stringContaining('--port must be 0-65535')]);
    const seed = await runCli(['simulate', 'secretariat', '--seed', 'full'], { cwd: ROOT });
    expect(seed.code).toBe(2);
    expect(seed.stderr).toContain('demo, empty');
  });
});
