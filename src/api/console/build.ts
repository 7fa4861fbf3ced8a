/**
 * Builds the console (console/, Preact + TSX) into memory with esbuild. The service runs from
 * sources (`npm start` through tsx) and builds at start, so `npm ci && npm start` needs no build
 * step and a test always serves the code it sees; `npm run build` writes the same files to
 * dist/console for the image, which has no esbuild (docs/console.md).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export interface BuiltFile {
  /** Name under /console/assets/, content-hashed (`app-3F2K….js`). */
  readonly name: string;
  readonly contents: Uint8Array;
}

export interface ConsoleBuild {
  readonly files: readonly BuiltFile[];
  readonly script: string;
  readonly stylesheet: string | null;
}

export const CONSOLE_ENTRY = 'console/main.tsx';

export function consoleSourcesPresent(root: string): boolean {
  return existsSync(join(root, CONSOLE_ENTRY));
}

export async function buildConsole(root: string): Promise<ConsoleBuild> {
  // Imported only here: the shipped image serves dist/console and has no esbuild.
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    absWorkingDir: root,
    entryPoints: { app: CONSOLE_ENTRY },
    bundle: true,
    minify: true,
    format: 'esm',
    target: ['es2022'],
    platform: 'browser',
    jsx: 'automatic',
    jsxImportSource: 'preact',
    entryNames: '[name]-[hash]',
    outdir: 'console-out',
    write: false,
    legalComments: 'none',
    charset: 'utf8',
    logLevel: 'silent',
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  const files = result.outputFiles.map((f) => ({
    name: f.path.slice(f.path.lastIndexOf('/') + 1),
    contents: f.contents,
  }));
  const script = files.find((f) => f.name.endsWith('.js'))?.name;
  if (!script) throw new Error('console build produced no script');
  return { files, script, stylesheet: files.find((f) => f.name.endsWith('.css'))?.name ?? null };
}
