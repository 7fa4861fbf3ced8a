/**
 * Pages pulled ahead (PullPage.ahead, issue 22 point 3): the runtime starts the next pull of an
 * initial load once a page's records are applied, so the peer serves it while that page
 * commits — and never earlier, so a crash still costs the page committing and at most the one
 * in flight. The committed cursor is read through a second SQLite connection at the start of
 * each pull: what a process killed at that instant would resume from.
 */
import { randomBytes } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import Database from 'better-sqlite3';

import type { Connector, ConnectorDefinition } from '../../src/connector/contract.js';
import { createRegistry } from '../../src/connector/registry.js';
import { PasserelleError } from '../../src/errors.js';
import { silentLogger } from '../../src/log/logger.js';
import type { Patient } from '../../src/model/resources.js';
import { SecretBox } from '../../src/security/secrets.js';
import type { Link } from '../../src/store/types.js';
import { DEFAULT_STREAM, SyncRuntime } from '../../src/sync/runtime.js';
import { fixturePatients } from '../helpers/fixtures.js';
import { type MemoryConfig, memoryConnector, MemoryWorld } from '../helpers/memory-connector.js';
import { openTestStore, type TestStore } from '../helpers/stores.js';

interface PullSeen {
  readonly cursor: string | null;
  /** The cursor committed when this pull started. */
  readonly committed: string | null;
}

describe('pages pulled ahead', () => {
  let t: TestStore;
  let runtime: SyncRuntime;
  let reader: Database.Database;
  const world = new MemoryWorld();
  /** What the wrapped connector does: mark its pages `ahead`, fail one pull. */
  const behaviour = { ahead: true, failAt: null as string | null };
  const seen: PullSeen[] = [];
  const committed = (linkId: string): string | null =>
    (
      reader
        .prepare('SELECT cursor FROM cursors WHERE link_id = ? AND stream = ?')
        .get(linkId, DEFAULT_STREAM) as { cursor: string | null } | undefined
    )?.cursor ?? null;

  /** The memory connector with pages of one record, each marked `ahead` when asked. */
  function aheadConnector(): ConnectorDefinition<MemoryConfig> {
    const inner = memoryConnector(world);
    return {
      ...inner,
      create(config, ctx): Connector {
        const c = inner.create(config, ctx);
        const pull = c.pull?.bind(c) as NonNullable<Connector['pull']>;
        return {
          ...c,
          async pull(cursor) {
            seen.push({ cursor, committed: committed(ctx.link.id) });
            if (cursor !== null && cursor === behaviour.failAt) {
              behaviour.failAt = null;
              throw new PasserelleError('ERR_CONNECTOR_UNAVAILABLE', 'peer unreachable');
            }
            const page = await pull(cursor, 1);
            return behaviour.ahead ? { ...page, ahead: true } : page;
          },
        };
      },
    };
  }

  async function linkTo(peer: string): Promise<Link> {
    const practiceId = (await t.store.practices.create({ name: `Cabinet ${peer}` })).id;
    const link = await t.store.links.create({
      practiceId,
      role: 'practice',
      connector: 'memory',
      name: 'Logiciel',
      config: { peer },
      isTest: true,
    });
    const p = world.peer(peer);
    // The three fixture patients: three pages of one record.
    fixturePatients().forEach((patient, i) =>
      p.create({ ...structuredClone(patient as Patient), id: `${peer}-${i}` }),
    );
    return link;
  }

  let aheadLink: Link;
  let plainLink: Link;
  beforeAll(async () => {
    t = await openTestStore('sqlite');
    aheadLink = await linkTo('ahead');
    plainLink = await linkTo('plain');
    runtime = new SyncRuntime({
      store: t.store,
      logger: silentLogger,
      secrets: new SecretBox(randomBytes(32)),
      registry: createRegistry([aheadConnector()]),
      schedulePolls: false,
      refreshMs: 0,
      autoDispatch: false,
    });
    await runtime.start();
    reader = new Database(t.location, { readonly: true });
  });
  afterAll(async () => {
    reader.close();
    await runtime.stop();
    await t.dispose();
  });

  it('starts the next pull while the page before it commits, and after a failed pull fetches only that page again', async () => {
    const link = aheadLink;
    behaviour.ahead = true;
    behaviour.failAt = '2';
    seen.length = 0;
    const first = await runtime.pollLink(link.id);
    // Pages 1 and 2 committed; the pull after page 2, started during its commit, failed.
    expect(first).toMatchObject({ pages: 2, applied: 2, error: { code: 'ERR_CONNECTOR_UNAVAILABLE' } });
    expect(committed(link.id)).toBe('2');
    const second = await runtime.pollLink(link.id);
    expect(second).toMatchObject({ pages: 1, applied: 1 });
    expect(second.error).toBeUndefined();
    expect(seen.map((s) => s.cursor)).toEqual([null, '1', '2', '2']);
    // Each pull ahead started before the page it follows was committed: the one before it was.
    expect(seen.map((s) => s.committed)).toEqual([null, null, '1', '2']);
    const patients = await t.store.resources.list({ practiceId: link.practiceId, kind: 'Patient' });
    expect(patients).toHaveLength(3);
  });

  it('starts the next pull after the commit when a page does not allow it', async () => {
    const link = plainLink;
    behaviour.ahead = false;
    seen.length = 0;
    expect(await runtime.pollLink(link.id)).toMatchObject({ pages: 3, applied: 3 });
    expect(seen.map((s) => s.cursor)).toEqual([null, '1', '2']);
    expect(seen.map((s) => s.committed)).toEqual([null, '1', '2']);
  });
});
