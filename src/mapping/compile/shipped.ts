/**
 * Where the shipped profiles live (mappings/<name>.yaml at the package root). Apart from
 * runtime.ts so the loader can resolve `extends: <shipped name>` without importing the runtime
 * (which imports the loader).
 */
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { PasserelleError } from '../../errors.js';

let dir: string | undefined;
/** The shipped profiles folder: `mappings/` at the package root (found from this file, src/ or dist/src/). */
export function mappingsDir(): string {
  if (dir) return dir;
  let d = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(d, 'mappings', 'schema.json'))) return (dir = join(d, 'mappings'));
    d = dirname(d);
  }
  throw new PasserelleError(
    'ERR_CONFIG_FILE_UNREADABLE',
    'cannot find the mappings/ folder of shipped profiles',
  );
}

/** Names of the shipped profiles (mappings/*.yaml; examples/ is not shipped to links). */
export function shippedProfileNames(): string[] {
  return readdirSync(mappingsDir())
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => f.slice(0, -'.yaml'.length))
    .sort();
}
