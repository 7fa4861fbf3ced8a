/**
 * Outbox rows leased by a process that was killed (issue 9, e2e scenario 8): the restarted
 * service takes them back at once instead of waiting for the lease to run out, because a dead
 * process cannot be pushing them; a lease of another host, or of a process still running, is
 * left to run out.
 */
import { spawn } from 'node:child_process';
import { hostname } from 'node:os';

import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';

import type { Patient } from '../../src/model/resources.js';
import { fixturePatients } from '../helpers/fixtures.js';
import { SyncHarness } from '../helpers/sync-harness.js';

const [jeanne, paul] = fixturePatients() as [Patient, Patient];

/** The pid of a process that ran and exited: no process of this host runs under it now. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => child.on('exit', resolve));
  return child.pid as number;
}

describe('outbox leases of a stopped instance', () => {
  let h: SyncHarness;
  beforeEach(async () => {
    h = await SyncHarness.open('sqlite');
  });
  afterEach(async () => {
    await h.dispose();
  });

  it('takes back at once the rows a killed process of this host had leased, and leaves other hosts’ leases to run out', async () => {
    h.sec.create(structuredClone(jeanne));
    await h.sec.deliver();
    const killed = await h.store.outbox.lease({
      owner: `${hostname()}:${await deadPid()}:0a1b2c3d`,
      limit: 10,
      leaseMs: 60_000,
    });
    expect(killed).toHaveLength(1);
    h.sec.create(structuredClone(paul));
    await h.sec.deliver();
    const elsewhere = await h.store.outbox.lease({
      owner: `another-host:${process.pid}:0a1b2c3d`,
      limit: 10,
      leaseMs: 60_000,
    });
    expect(elsewhere).toHaveLength(1);
    h.sec.create({
      ...structuredClone(paul),
      name: [{ use: 'official', family: 'AUTRE', given: ['Paul'] }],
      identifier: [],
    });
    await h.sec.deliver();
    const running = await h.store.outbox.lease({
      owner: `${hostname()}:${process.pid}:0a1b2c3d`,
      limit: 10,
      leaseMs: 60_000,
    });
    expect(running).toHaveLength(1);

    expect(await h.runtime.dispatcher.reclaimAbandoned()).toBe(1);
    // No time passes: only the killed process's row is delivered.
    await h.runtime.dispatcher.drain();
    expect(h.prac.list('Patient').map((p) => (p as Patient).name?.[0]?.family)).toEqual([
      jeanne.name?.[0]?.family,
    ]);
    expect(await h.store.outbox.depth(h.pracLink.id)).toMatchObject({ pending: 0, leased: 2 });
  });
});
