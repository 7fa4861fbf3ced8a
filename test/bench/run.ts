/* Runs every test/bench/*.bench.ts (or those whose file name contains argv[2]) and prints ratios. */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { type Bench, formatResult } from './harness.js';

const here = dirname(fileURLToPath(import.meta.url));
const filter = process.argv[2];
const files = readdirSync(here)
  .filter((f) => f.endsWith('.bench.ts') && (!filter || f.includes(filter)))
  .sort();

let failed = false;
for (const file of files) {
  const mod = (await import(pathToFileURL(join(here, file)).href)) as { default: Bench };
  process.stdout.write(`\n== ${mod.default.name} (${file})\n`);
  try {
    for (const r of await mod.default.run()) process.stdout.write(`${formatResult(r)}\n`);
  } catch (e) {
    failed = true;
    process.stdout.write(`  FAILED: ${(e as Error).stack ?? String(e)}\n`);
  }
}
process.exit(failed ? 1 : 0);
