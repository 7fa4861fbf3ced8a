/**
 * `passerelle simulate hl7`: the practice-software simulator as a command, on real sockets.
 * It acknowledges what it receives (and misbehaves when asked), and sends fixtures or a script
 * to passerelle's listener.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { MllpClient } from '../../../../connectors/hl7v2/mllp/client.js';
import { silentLogger } from '../../../../src/log/logger.js';
import { BIN, cleanEnv, ROOT, runCli } from '../../../helpers/cli.js';
import { fixturePath } from '../../../helpers/fixtures.js';
import {
  hl7Fixture,
  type Hl7LinkHarness,
  listenConfig,
  startHl7Link,
  withControlId,
} from '../../../helpers/hl7.js';
import { tempDir } from '../../../helpers/stores.js';

interface Running {
  readonly child: ChildProcess;
  readonly port: number;
  output(): string;
  /** Resolves when the output contains `text`. */
  printed(text: string): Promise<void>;
  readonly exited: Promise<number | null>;
}

function simulate(args: string[]): Promise<Running> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'simulate', 'hl7', ...args], {
      cwd: ROOT,
      env: cleanEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const watchers: (() => void)[] = [];
    const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`simulate hl7 did not start in time:\n${out}`));
    }, 30_000);
    const printed = (text: string) =>
      new Promise<void>((res, rej) => {
        const t = setTimeout(() => rej(new Error(`"${text}" not printed:\n${out}`)), 15_000);
        const check = () => (out.includes(text) ? (clearTimeout(t), res()) : watchers.push(check));
        check();
      });
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      for (const w of watchers.splice(0)) w();
      const m = /listening on mllp:\/\/[\d.]+:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, port: Number(m[1]), output: () => out, printed, exited });
      }
    });
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`simulate hl7 exited with ${code}:\n${out}`));
    });
  });
}

describe('passerelle simulate hl7', () => {
  const dir = tempDir('passerelle-hl7-sim-cli-');
  let h: Hl7LinkHarness;
  beforeAll(async () => {
    h = await startHl7Link({ config: listenConfig() });
  });
  afterAll(async () => {
    await h.dispose();
    dir.remove();
  });

  it('acknowledges what it receives with the code asked for, prints each message, and stops on SIGTERM', async () => {
    const sim = await simulate(['--port', '0', '--answer', 'AE']);
    const client = new MllpClient({
      host: '127.0.0.1',
      port: sim.port,
      ackTimeoutMs: 5000,
      log: silentLogger,
    });
    try {
      const answer = await client.send(withControlId(hl7Fixture('siu-s12-new-appointment'), 'CLI-SIM-1'), {
        controlId: 'CLI-SIM-1',
      });
      expect(answer.code).toBe('AE');
      await sim.printed('received SIU^S12 MSH-10=CLI-SIM-1 via mllp answered AE');
    } finally {
      await client.close();
      sim.child.kill('SIGTERM');
    }
    expect(await sim.exited).toBe(0);
  });

  it('runs a script against passerelle’s listener and prints each ACK', async () => {
    const script = join(dir.path, 'demo.script');
    writeFileSync(
      script,
      `# a deletion, then a new patient three times (MSH-10 suffixed -1, -2, -3)\nsend ${fixturePath('hl7', 'siu-s17-delete-v23.hl7')}\npause 10\nsend ${fixturePath('hl7', 'adt-a28-create.hl7')} x3\n`,
    );
    const sim = await simulate(['--port', '0', '--send-to', `127.0.0.1:${h.port}`, '--script', script]);
    try {
      await sim.printed('sent MSH-10=MSG-20250317-000203-3 -> CA');
      expect(sim.output()).toContain('sent MSH-10=MSG-20250316-000105 -> AA');
      expect(sim.output()).toContain('sent MSH-10=MSG-20250317-000203-1 -> CA');
    } finally {
      sim.child.kill('SIGTERM');
    }
    expect(await sim.exited).toBe(0);
    const keys = (await h.store.inbox.list({ linkId: h.link.id })).map((e) => e.dedupeKey.split('|').pop());
    expect(keys).toEqual(
      expect.arrayContaining([
        'MSG-20250316-000105',
        'MSG-20250317-000203-1',
        'MSG-20250317-000203-2',
        'MSG-20250317-000203-3',
      ]),
    );
  });

  it('refuses --send without a target, with a usage error', async () => {
    const r = await runCli(['simulate', 'hl7', '--send', fixturePath('hl7', 'adt-a28-create.hl7')], {
      cwd: ROOT,
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--send and --script need --send-to');
  });
});
