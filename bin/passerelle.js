#!/usr/bin/env node
// Runs the compiled CLI when only dist/ is shipped (Docker image), else the TypeScript sources
// through tsx, so `npm ci && npm start` needs no build step.
import { existsSync } from 'node:fs';

const src = new URL('../src/cli/index.ts', import.meta.url);
const dist = new URL('../dist/src/cli/index.js', import.meta.url);
if (!existsSync(src) && existsSync(dist)) {
  await import(dist.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(src.href);
}
