/**
 * `npm run build`: writes the console to dist/console for the image, which serves it without
 * esbuild (src/api/console/assets.ts reads dist/console/manifest.json).
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { buildConsole } from '../src/api/console/build.js';
import { projectRoot } from '../src/app/features/console.js';

const root = projectRoot();
const out = join(root, 'dist', 'console');
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const build = await buildConsole(root);
for (const f of build.files) writeFileSync(join(out, f.name), f.contents);
writeFileSync(
  join(out, 'manifest.json'),
  JSON.stringify({
    script: build.script,
    stylesheet: build.stylesheet,
    files: build.files.map((f) => f.name),
  }),
);
process.stdout.write(`console written to ${out} (${build.files.length} files)\n`);
