import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = join(ROOT, 'bin', 'passerelle.js');

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Environment for child processes: ours minus any PASSERELLE_* config the developer may have set. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (!k.startsWith('PASSERELLE_') || k === 'PASSERELLE_PG_URL') env[k] = v;
  return { ...env, ...extra };
}

/**
 * Runs `passerelle <args>` in this process (src/cli/main.ts), with its stdout, stderr and exit
 * code captured: what a process would print and exit with, without a cold `tsx` start per
 * command. The working directory is `cwd` during the run and the environment is `cleanEnv(env)`;
 * runs must not overlap (jest runs a file's tests one at a time). Behaviours that need a real
 * process (signals, the exit of the process itself, long-running commands) use runCli/startServe.
 */
export async function runCliInProcess(
  args: string[],
  options: { cwd: string; env?: Record<string, string> },
): Promise<CliResult> {
  const { main } = await import('../../src/cli/main.js');
  let stdout = '';
  let stderr = '';
  const cwd = process.cwd();
  const umask = process.umask();
  process.chdir(options.cwd);
  try {
    const code = await main(args, {
      stdout: (text) => (stdout += text),
      stderr: (text) => (stderr += text),
      env: cleanEnv(options.env),
    });
    return { code, stdout, stderr };
  } finally {
    process.chdir(cwd);
    process.umask(umask);
  }
}

/** Runs `passerelle <args>` in a child process to completion (bounded by `timeoutMs`). */
export function runCli(
  args: string[],
  options: { cwd: string; env?: Record<string, string>; timeoutMs?: number },
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: options.cwd,
      env: cleanEnv(options.env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`passerelle ${args.join(' ')} did not finish in time; stderr: ${stderr}`));
    }, options.timeoutMs ?? 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export interface ServingProcess {
  readonly child: ChildProcess;
  readonly url: string;
  readonly adminKey: string | undefined;
  output(): string;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
}

/** Starts `passerelle serve` and resolves once it prints where it listens. */
export function startServe(options: {
  cwd: string;
  env?: Record<string, string>;
  args?: string[];
  timeoutMs?: number;
}): Promise<ServingProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'serve', ...(options.args ?? [])], {
      cwd: options.cwd,
      env: cleanEnv({ PASSERELLE_HTTP_PORT: '0', ...options.env }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`serve did not start in time:\n${out}`));
    }, options.timeoutMs ?? 60_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /listening on (https?:\/\/\S+)/.exec(out);
      if (m && /\n/.test(out.slice(out.indexOf('listening on')))) {
        // Wait for the banner's key line if one is coming.
        setTimeout(() => {
          clearTimeout(timer);
          const key = /first admin API key \(shown once, store it now\): (psk_\S+)/.exec(out)?.[1];
          resolve({ child, url: m[1] as string, adminKey: key, output: () => out, exited });
        }, 50);
        child.stdout?.off('data', onData);
        child.stdout?.on('data', (x: Buffer) => (out += x.toString()));
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code} before listening:\n${out}`));
    });
  });
}
