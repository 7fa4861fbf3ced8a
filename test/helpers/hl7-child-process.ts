/**
 * Runs test/helpers/hl7-child.ts (passerelle's sync runtime with one hl7v2 link on a SQLite
 * file) in a child process, for the tests that kill it (hl7-kill, hl7-accept-on-commit).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';

import { cleanEnv, ROOT } from './cli.js';

export interface Hl7Child {
  readonly process: ChildProcess;
  readonly port: Promise<number>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves when the child prints a line starting with `prefix`. */
  line(prefix: string): Promise<string>;
}

/** `fault`: see hl7-child.ts. The link maps with its shipped profile. */
export function startHl7Child(db: string, linkId: string, fault = ''): Hl7Child {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test', 'helpers', 'hl7-child.ts')], {
    cwd: ROOT,
    env: cleanEnv({ HL7_DB: db, HL7_LINK: linkId, HL7_FAULT: fault }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const listeners: (() => void)[] = [];
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    for (const l of listeners.splice(0)) l();
  });
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const line = (prefix: string) =>
    new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`child did not print "${prefix}" in time:\n${out}`)),
        30_000,
      );
      const check = () => {
        const found = out.split('\n').find((l) => l.startsWith(prefix));
        if (found) {
          clearTimeout(timer);
          resolve(found);
        } else listeners.push(check);
      };
      void exited.then(() =>
        setImmediate(
          () => listeners.length > 0 && !out.includes(prefix) && reject(new Error(`child exited:\n${out}`)),
        ),
      );
      check();
    });
  const port = line('listening ').then((l) => Number(l.split(' ')[1]));
  return { process: child, port, exited, line };
}
