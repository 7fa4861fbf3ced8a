/** putVersioned: the versioned write agenda rules, coverage windows and consignes share. */
import { describe, expect, it } from '@jest/globals';

import { putVersioned } from '../../../src/store/repos/versioned.js';

/** One document kept in memory; `race` lets another writer slip in between the read and the write. */
function doc(start?: { version: number; text: string }) {
  let stored = start;
  const conflicts: number[] = [];
  let race: (() => void) | undefined;
  const put = (text: string, expectedVersion: number | undefined) =>
    putVersioned({
      current: async () => stored,
      expectedVersion,
      conflict: (inForce) => {
        conflicts.push(inForce);
        return new Error(`stale, ${inForce} in force`);
      },
      write: async (version, current) => {
        race?.();
        race = undefined;
        if ((stored?.version ?? 0) !== (current?.version ?? 0)) return false;
        stored = { version, text };
        return true;
      },
    });
  return {
    put,
    get: () => stored,
    conflicts,
    raceWith: (text: string) => (race = () => (stored = { version: (stored?.version ?? 0) + 1, text })),
  };
}

describe('putVersioned', () => {
  it('creates version 1 when nothing is stored and expectedVersion is 0', async () => {
    const d = doc();
    await expect(d.put('a', 0)).resolves.toEqual({ version: 1, previous: undefined });
    expect(d.get()).toEqual({ version: 1, text: 'a' });
  });

  it('replaces the version in force and hands back what it replaced', async () => {
    const d = doc({ version: 3, text: 'a' });
    await expect(d.put('b', 3)).resolves.toEqual({ version: 4, previous: { version: 3, text: 'a' } });
    expect(d.get()).toEqual({ version: 4, text: 'b' });
  });

  it('writes over whatever is there without expectedVersion (last writer wins)', async () => {
    const d = doc({ version: 7, text: 'a' });
    await expect(d.put('b', undefined)).resolves.toMatchObject({ version: 8 });
  });

  it('refuses a stale expectedVersion before writing, naming the version in force', async () => {
    const d = doc({ version: 2, text: 'a' });
    await expect(d.put('b', 1)).rejects.toThrow('stale, 2 in force');
    await expect(d.put('b', 0)).rejects.toThrow('stale, 2 in force');
    expect(d.get()).toEqual({ version: 2, text: 'a' });
  });

  it('reports a writer that lost the race between read and write as a conflict on the next version', async () => {
    const d = doc({ version: 2, text: 'a' });
    d.raceWith('other');
    await expect(d.put('b', 2)).rejects.toThrow('stale, 3 in force');
    expect(d.get()).toEqual({ version: 3, text: 'other' });
    expect(d.conflicts).toEqual([3]);
  });
});
