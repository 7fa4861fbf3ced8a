/** The README's « Command line » list and the CLI's commands cannot drift apart (issue 19). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from '@jest/globals';

import { commandPaths } from '../../src/cli/main.js';
import { ROOT } from '../helpers/cli.js';

/** The command of each `passerelle …` line of the README's « Command line » block. */
function readmeCommands(paths: readonly string[]): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const block = /## Command line\n[\s\S]*?```\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
  const lines = block.split('\n').filter((l) => l.startsWith('passerelle '));
  // The longest command path a line starts with ("ical token create", not "ical").
  const byLength = [...paths].sort((a, b) => b.length - a.length);
  return lines.map(
    (l) =>
      byLength.find((p) => l === `passerelle ${p}` || l.startsWith(`passerelle ${p} `)) ?? `unknown: ${l}`,
  );
}

describe('the command line list of the README', () => {
  it('names every command of the CLI, and nothing that is not one', () => {
    const paths = commandPaths();
    expect(paths).toEqual(
      expect.arrayContaining(['serve', 'apikey create', 'ical token rotate', 'simulate hl7']),
    );
    const listed = readmeCommands(paths);
    expect(listed.filter((l) => l.startsWith('unknown: '))).toEqual([]);
    expect([...new Set(listed)].sort()).toEqual([...paths].sort());
  });
});
