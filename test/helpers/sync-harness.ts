/**
 * One practice with two links (secretariat and practice software), each played by a memory
 * peer, synced by a real SyncRuntime on a real store (SQLite file or throwaway PostgreSQL
 * database). Polls and dispatch are driven by the test (no timers), time by a test clock; the
 * store and runtime can be closed and reopened on the same data.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';

import { createRegistry } from '../../src/connector/registry.js';
import { createLogger, type Logger } from '../../src/log/logger.js';
import { OID } from '../../src/model/identifiers.js';
import type { CanonicalResource, ResourceKind } from '../../src/model/resources.js';
import { SecretBox } from '../../src/security/secrets.js';
import { openPostgresStore, openSqliteStore, type Store } from '../../src/store/index.js';
import type { StoreSealing } from '../../src/store/sealer.js';
import type { Link } from '../../src/store/types.js';
import type { DispatcherTuning } from '../../src/sync/dispatcher.js';
import type { OwnershipResolver } from '../../src/sync/engine.js';
import { SyncRuntime } from '../../src/sync/runtime.js';
import { memoryConnector, type MemoryPeer, MemoryWorld } from './memory-connector.js';
import { createPgDatabase, type StoreKind, tempDir, testClock } from './stores.js';

export interface SyncHarnessOptions {
  readonly ownership?: OwnershipResolver;
  readonly tuning?: Partial<DispatcherTuning>;
  readonly logger?: Logger;
  /** Start time of the test clock. */
  readonly start?: number;
  /**
   * Patient columns in clear instead of sealed: for tests that scan raw rows for what an erase
   * left behind, which sealing would otherwise hide from them (the store-sealing tests cover sealing).
   */
  readonly unsealed?: boolean;
}

export class SyncHarness {
  readonly world = new MemoryWorld();
  readonly sec: MemoryPeer = this.world.peer('sec');
  readonly prac: MemoryPeer = this.world.peer('prac');
  readonly clock = testClock(Date.parse('2026-11-23T09:00:00.000Z'));
  readonly secrets = new SecretBox(randomBytes(32));
  store!: Store;
  runtime!: SyncRuntime;
  practiceId!: string;
  secLink!: Link;
  pracLink!: Link;

  private constructor(
    readonly kind: StoreKind,
    private readonly location: string,
    private readonly cleanup: () => Promise<void>,
    private readonly options: SyncHarnessOptions,
  ) {
    if (options.start !== undefined) this.clock.set(options.start);
  }

  static async open(kind: StoreKind, options: SyncHarnessOptions = {}): Promise<SyncHarness> {
    let h: SyncHarness;
    if (kind === 'sqlite') {
      const dir = tempDir('passerelle-sync-');
      h = new SyncHarness(kind, join(dir.path, 'passerelle.db'), async () => dir.remove(), options);
    } else {
      const db = await createPgDatabase();
      h = new SyncHarness(kind, db.url, db.drop, options);
    }
    await h.openStore();
    await h.store.migrate();
    h.practiceId = (await h.store.practices.create({ name: 'Cabinet du Test' })).id;
    h.secLink = await h.store.links.create({
      practiceId: h.practiceId,
      role: 'secretariat',
      connector: 'memory',
      name: 'Secrétariat',
      config: { peer: 'sec' },
      isTest: true,
    });
    h.pracLink = await h.store.links.create({
      practiceId: h.practiceId,
      role: 'practice',
      connector: 'memory',
      name: 'Logiciel',
      config: { peer: 'prac' },
      isTest: true,
    });
    await h.startRuntime();
    return h;
  }

  private async openStore(): Promise<void> {
    const sealing: StoreSealing = this.options.unsealed ? { plain: true } : this.secrets.keyring;
    this.store =
      this.kind === 'sqlite'
        ? await openSqliteStore({ path: this.location, now: this.clock, sealing })
        : await openPostgresStore({ url: this.location, poolSize: 6, now: this.clock, sealing });
  }

  private async startRuntime(): Promise<void> {
    this.runtime = new SyncRuntime({
      store: this.store,
      logger: this.options.logger ?? createLogger({ silent: true }),
      secrets: this.secrets,
      registry: createRegistry([memoryConnector(this.world)]),
      autoDispatch: false,
      schedulePolls: false,
      refreshMs: 0,
      dispatcher: { backoff: { baseMs: 1000, capMs: 10_000 }, maxAttempts: 5, ...this.options.tuning },
      ...(this.options.ownership && { ownership: this.options.ownership }),
    });
    await this.runtime.start();
  }

  /** Stops the runtime and closes the store, then opens both again on the same data. */
  async restart(): Promise<void> {
    await this.runtime.stop();
    await this.store.close();
    await this.openStore();
    await this.startRuntime();
  }

  /**
   * Lets backoffs, waits and leases expire and sends everything ready, round after round, until
   * a round delivers nothing more (rows left are failing or waiting on something).
   */
  async dispatch(): Promise<number> {
    const { stats } = this.runtime.dispatcher;
    const progress = () => stats.pushed + stats.skipped + stats.dead + stats.remerged;
    let total = 0;
    for (let round = 0; round < 50; round++) {
      const before = progress();
      this.clock.advance(15 * 60_000);
      total += await this.runtime.dispatcher.drain();
      if (progress() === before) break;
    }
    return total;
  }

  /** One poll cycle: pull both sides, then send everything ready. */
  async cycle(): Promise<void> {
    await this.runtime.pollLink(this.pracLink.id);
    await this.runtime.pollLink(this.secLink.id);
    await this.dispatch();
  }

  /** The id a record of `from` has on the other peer, through the identity map. */
  async counterpart(
    kind: ResourceKind,
    from: 'sec' | 'prac',
    externalId: string,
  ): Promise<string | undefined> {
    const [source, target] = from === 'sec' ? [this.secLink, this.pracLink] : [this.pracLink, this.secLink];
    const canonical = await this.store.identityMap.findCanonical(source.id, kind, externalId);
    return canonical ? (await this.store.identityMap.findExternal(target.id, kind, canonical))[0] : undefined;
  }

  async canonicalId(
    kind: ResourceKind,
    from: 'sec' | 'prac',
    externalId: string,
  ): Promise<string | undefined> {
    return this.store.identityMap.findCanonical(
      (from === 'sec' ? this.secLink : this.pracLink).id,
      kind,
      externalId,
    );
  }

  async dispose(): Promise<void> {
    await this.runtime.stop();
    await this.store.close();
    await this.cleanup();
  }
}

/** A practitioner and an agenda on the practice software; returns the practice's ids. */
export function seedAgenda(prac: MemoryPeer, n = 1): { practitioner: string; schedule: string } {
  const practitioner = prac.create({
    resourceType: 'Practitioner',
    id: 'x',
    identifier: [{ system: OID.idnps, value: `81000000000${n}` }],
    name: [{ use: 'official', family: 'DOCTEUR-ESSAI', given: ['Camille'] }],
  });
  const schedule = prac.create({
    resourceType: 'Schedule',
    id: 'x',
    active: true,
    actor: [{ reference: `Practitioner/${practitioner}` }],
  });
  return { practitioner, schedule };
}

export const at = (day: string, hhmm: string): string => `${day}T${hhmm}:00.000Z`;

export function booking(
  practitioner: string,
  patient: string,
  start: string,
  end: string,
  extra: Partial<CanonicalResource & { resourceType: 'Appointment' }> = {},
): CanonicalResource {
  return {
    resourceType: 'Appointment',
    id: 'x',
    status: 'booked',
    start,
    end,
    participant: [
      { actor: { reference: `Practitioner/${practitioner}` }, status: 'accepted' },
      { actor: { reference: `Patient/${patient}` }, status: 'accepted' },
    ],
    ...extra,
  } as CanonicalResource;
}
