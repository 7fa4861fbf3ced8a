/**
 * The registry is the only list of connectors: every folder under connectors/ is registered
 * in src/app/connectors.ts, under its folder's name, with a simulator and a README that its
 * definition points to.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from '@jest/globals';

import { defaultConnectorRegistry } from '../../src/app/connectors.js';
import { shippedPlan, shippedProfileNames } from '../../src/mapping/runtime.js';
import { ROOT } from '../helpers/cli.js';

const folders = readdirSync(join(ROOT, 'connectors'), { withFileTypes: true })
  .filter((e) => e.isDirectory())
  .map((e) => e.name)
  .sort();

describe('the shipped connector registry', () => {
  const registry = defaultConnectorRegistry();

  it('registers every folder under connectors/, and nothing else', () => {
    expect(registry.names()).toEqual(folders);
  });

  it.each(folders)(
    '%s has a simulator, a README its definition names, a protocol and a usable default profile',
    (name) => {
      const def = registry.get(name);
      expect(def).toBeDefined();
      if (!def) return;
      expect(def.protocol).toMatch(/\S/);
      expect(def.simulator).toBeDefined();
      expect(def.simulator?.options.length).toBeGreaterThan(0);
      expect(def.docs).toBe(`connectors/${name}/README.md`);
      expect(existsSync(join(ROOT, 'connectors', name, 'README.md'))).toBe(true);
      if (def.defaultProfile !== undefined) {
        expect(shippedProfileNames()).toContain(def.defaultProfile);
        expect(shippedPlan(def.defaultProfile).protocol).toBe(def.protocol);
        expect(registry.profiles().get(name)).toEqual({
          protocol: def.protocol,
          defaultProfile: def.defaultProfile,
        });
      }
    },
  );

  it('gives each simulator its own `passerelle simulate` command', () => {
    const commands = registry.definitions().flatMap((d) => (d.simulator ? [d.simulator.command] : []));
    expect(new Set(commands).size).toBe(commands.length);
  });
});
