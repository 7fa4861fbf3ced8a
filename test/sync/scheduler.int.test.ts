/**
 * Scheduled polls: one node-cron task per link from the link's schedule, never two polls of
 * one link at once (in one process: noOverlap; across instances sharing PostgreSQL: the store
 * lease), node-cron's warnings in our log, and a stop that waits for the poll in flight.
 */
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';

import { afterEach, describe, expect, it } from '@jest/globals';

import { createRegistry } from '../../src/connector/registry.js';
import { createLogger, type Logger } from '../../src/log/logger.js';
import type { Patient } from '../../src/model/resources.js';
import { SecretBox } from '../../src/security/secrets.js';
import type { Store } from '../../src/store/index.js';
import { SyncRuntime } from '../../src/sync/runtime.js';
import { fixturePatients } from '../helpers/fixtures.js';
import { memoryConnector, MemoryWorld } from '../helpers/memory-connector.js';
import { openTestStore, type TestStore } from '../helpers/stores.js';
import { untilWith } from '../helpers/until.js';

const until = untilWith({ ms: 15_000 });

function runtimeFor(store: Store, world: MemoryWorld, logger: Logger, schedulePolls = true): SyncRuntime {
  return new SyncRuntime({
    store,
    logger,
    secrets: new SecretBox(randomBytes(32)),
    registry: createRegistry([memoryConnector(world)]),
    schedulePolls,
    refreshMs: 0,
    autoDispatch: false,
  });
}

describe('scheduled polls', () => {
  let t: TestStore | undefined;
  const runtimes: SyncRuntime[] = [];
  afterEach(async () => {
    for (const r of runtimes.splice(0)) await r.stop();
    await t?.dispose();
    t = undefined;
  });

  async function practiceWithLink(kind: 'sqlite' | 'postgres', schedule: string | null) {
    t = await openTestStore(kind);
    const practiceId = (await t.store.practices.create({ name: 'Cabinet' })).id;
    const link = await t.store.links.create({
      practiceId,
      role: 'practice',
      connector: 'memory',
      name: 'Logiciel',
      config: { peer: 'prac' },
      schedule,
      isTest: true,
    });
    return { store: t.store, link };
  }

  it('polls each link on its own cron schedule and never runs two polls of one link at once', async () => {
    const lines: string[] = [];
    const logger = createLogger({
      level: 'debug',
      stream: new Writable({ write: (c: Buffer, _e, done) => (lines.push(c.toString()), done()) }),
    });
    const world = new MemoryWorld();
    const prac = world.peer('prac');
    const { store, link } = await practiceWithLink('sqlite', '* * * * * *'); // every second
    prac.create(structuredClone(fixturePatients()[0] as Patient));
    prac.pullDelayMs = 1600; // slower than the schedule: ticks must be skipped, not stacked
    const runtime = runtimeFor(store, world, logger);
    runtimes.push(runtime);
    await runtime.start();
    expect((await runtime.status(link.id)).nextPollAt).not.toBeNull();
    await until(
      'the patient pulled by a scheduled poll',
      async () => (await store.identityMap.findCanonical(link.id, 'Patient', 'prac-1')) !== undefined,
    );
    await until('three polls', () => prac.pulls >= 3, 20_000);
    expect(prac.maxActivePulls).toBe(1);
    // node-cron's overlap warning went to our JSON log, not to the console.
    expect(lines.some((l) => l.includes('node-cron') && l.includes('overlap'))).toBe(true);
  }, 30_000);

  it('lets only one of two instances sharing PostgreSQL poll a link at a time', async () => {
    const world = new MemoryWorld();
    const prac = world.peer('prac');
    const { store, link } = await practiceWithLink('postgres', null);
    prac.create(structuredClone(fixturePatients()[0] as Patient));
    prac.pullDelayMs = 300;
    const a = runtimeFor(store, world, createLogger({ silent: true }), false);
    const b = runtimeFor(store, world, createLogger({ silent: true }), false);
    runtimes.push(a, b);
    await a.start();
    await b.start();
    const [ra, rb] = await Promise.all([a.pollLink(link.id), b.pollLink(link.id)]);
    expect([ra.acquired, rb.acquired].sort()).toEqual([false, true]);
    expect(prac.maxActivePulls).toBe(1);
    expect(ra.applied + rb.applied).toBe(1);
  });

  it('finishes the poll in flight when stopped, committing its page and cursor', async () => {
    const world = new MemoryWorld();
    const prac = world.peer('prac');
    const { store, link } = await practiceWithLink('sqlite', null);
    prac.create(structuredClone(fixturePatients()[1] as Patient));
    prac.pullDelayMs = 400;
    const runtime = runtimeFor(store, world, createLogger({ silent: true }), false);
    await runtime.start();
    const polling = runtime.pollLink(link.id);
    await until('the pull to start', () => prac.activePulls === 1);
    const order: string[] = [];
    await Promise.all([
      runtime.stop().then(() => order.push('stopped')),
      polling.then(() => order.push('polled')),
    ]);
    expect(order).toEqual(['polled', 'stopped']);
    expect((await polling).applied).toBe(1);
    expect((await store.cursors.get(link.id, 'default'))?.cursor).toBe('1');
    expect(await runtime.pollLink(link.id)).toMatchObject({ acquired: false });
  });
});
