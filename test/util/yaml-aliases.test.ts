/**
 * Issue 16, point 8: a YAML alias bomb ("billion laughs") in a config file or a mapping profile
 * is refused with the position of the alias at fault, instead of an unhandled ReferenceError.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from '@jest/globals';

import { loadConfig } from '../../src/config/load.js';
import { isPasserelleError, type PasserelleError } from '../../src/errors.js';
import { loadProfileText } from '../../src/mapping/compile/loader.js';
import { aliasBomb } from '../helpers/hostile.js';
import { tempDir } from '../helpers/stores.js';

const dir = tempDir('passerelle-yaml-');
afterAll(() => dir.remove());

function configErrorOf(text: string): PasserelleError {
  const file = join(dir.path, 'passerelle.yaml');
  writeFileSync(file, text);
  try {
    loadConfig({ file, env: {} });
  } catch (e) {
    if (isPasserelleError(e)) return e;
    throw e;
  }
  throw new Error('expected the config to be refused');
}

describe('YAML aliases', () => {
  it('refuses an alias bomb in a config file with ERR_CONFIG_INVALID at the line of the alias that trips the limit', () => {
    const e = configErrorOf(`http:\n  port: 8080\n${aliasBomb()}`);
    expect(e.code).toBe('ERR_CONFIG_INVALID');
    // One *l2 stands for 81 aliased nodes (9 × 9): the second one on the l3 line passes 100.
    expect(e.issues.map((i) => [i.path, i.location])).toEqual([
      ['(yaml)', `${join(dir.path, 'passerelle.yaml')}:6:14`],
    ]);
    expect(e.issues[0]?.message).toMatch(/^too many aliases: \*l2 here would expand past 100 aliased nodes/);
  });

  it('refuses an alias to an anchor that is not defined before it, with its position', () => {
    const e = configErrorOf('http:\n  host: *nowhere\n');
    expect(e.issues.map((i) => [i.location, i.message])).toEqual([
      [
        `${join(dir.path, 'passerelle.yaml')}:2:9`,
        'alias *nowhere refers to no anchor &nowhere defined before it',
      ],
    ]);
  });

  it('still reads a config that uses a few aliases', () => {
    const file = join(dir.path, 'aliases.yaml');
    writeFileSync(file, 'http:\n  host: &h 127.0.0.1\nlog:\n  level: &lvl info\n');
    expect(loadConfig({ file, env: {} }).config.http.host).toBe('127.0.0.1');
  });

  it('reports an alias bomb in a mapping profile as an ERR_MAPPING_YAML issue with profile:line:column', () => {
    const r = loadProfileText(`protocol: hl7v2\nversion: '2.5'\n${aliasBomb()}`, { label: 'profile' });
    expect(r.ok).toBe(false);
    expect(r.ok ? [] : r.issues.map((i) => [i.code, i.path, i.location])).toEqual([
      ['ERR_MAPPING_YAML', '(yaml)', 'profile:6:14'],
    ]);
  });
});
