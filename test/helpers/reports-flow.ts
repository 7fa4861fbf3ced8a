/**
 * The whole service (sync + reports modules) on a real store, with two memory peers as the
 * secretariat platform and the practice software, a test clock, and the practice and its links
 * created through the HTTP API. Polls and dispatch are driven by the test; time moves only when
 * the test says so, so delivery delays are exact.
 */
import { type ReportsModule, reportsModule } from '../../src/app/features/reports.js';
import { syncModule } from '../../src/app/features/sync.js';
import { createRegistry } from '../../src/connector/registry.js';
import type { Logger } from '../../src/log/logger.js';
import type { Appointment, CanonicalResource, Communication, Patient } from '../../src/model/resources.js';
import type { ResourceKind } from '../../src/model/resources.js';
import type { SyncRuntime } from '../../src/sync/runtime.js';
import { fixturePatients } from './fixtures.js';
import { memoryConnector, type MemoryPeer, MemoryWorld } from './memory-connector.js';
import { startTestService, type TestService } from './service.js';
import { type StoreKind, testClock } from './stores.js';
import { booking, seedAgenda } from './sync-harness.js';

export const paul = fixturePatients()[1] as Patient;
export const jeanne = fixturePatients()[0] as Patient;

export async function json<T>(res: Response, status: number): Promise<T> {
  const body = await res.text();
  if (res.status !== status) throw new Error(`expected HTTP ${status}, got ${res.status}: ${body}`);
  return (body ? JSON.parse(body) : undefined) as T;
}

export interface FlowOptions {
  readonly store: StoreKind;
  readonly start: string;
  readonly timezone?: string;
  readonly env?: Record<string, string>;
  readonly scheduleDigests?: boolean;
  readonly logger?: Logger;
}

export class ReportsFlow {
  readonly world = new MemoryWorld();
  readonly sec: MemoryPeer = this.world.peer('sec');
  readonly prac: MemoryPeer = this.world.peer('prac');
  readonly clock;
  readonly reports: ReportsModule;
  t!: TestService;
  runtime!: SyncRuntime;
  practiceId!: string;
  secLinkId!: string;
  pracLinkId!: string;

  private constructor(readonly options: FlowOptions) {
    this.clock = testClock(Date.parse(options.start));
    this.reports = reportsModule({ scheduleDigests: options.scheduleDigests ?? false, refreshMs: 0 });
  }

  static async start(options: FlowOptions): Promise<ReportsFlow> {
    const f = new ReportsFlow(options);
    const sync = syncModule({
      registry: createRegistry([memoryConnector(f.world)]),
      runtime: { autoDispatch: false, schedulePolls: false, refreshMs: 0 },
      dispatcher: { backoff: { baseMs: 1000, capMs: 10_000 }, maxAttempts: 3, dependencyWaitMs: 1000 },
    });
    f.t = await startTestService({
      store: options.store,
      modules: [sync, f.reports],
      now: f.clock,
      ...(options.env && { env: options.env }),
      ...(options.logger && { logger: options.logger }),
    });
    f.runtime = sync.runtimeOf(f.t.service.context);
    f.practiceId = (
      await json<{ id: string }>(
        await f.t.api('/api/v1/practices', {
          method: 'POST',
          json: { name: 'Cabinet des Érables', timezone: options.timezone ?? 'Europe/Paris' },
        }),
        201,
      )
    ).id;
    const link = (body: object) =>
      f.t.api('/api/v1/links', {
        method: 'POST',
        json: { practiceId: f.practiceId, isTest: true, connector: 'memory', ...body },
      });
    f.secLinkId = (
      await json<{ id: string }>(
        await link({ role: 'secretariat', name: 'Secrétariat', config: { peer: 'sec' } }),
        201,
      )
    ).id;
    f.pracLinkId = (
      await json<{ id: string }>(
        await link({ role: 'practice', name: 'Logiciel du cabinet', config: { peer: 'prac' } }),
        201,
      )
    ).id;
    await f.runtime.refresh();
    return f;
  }

  get store() {
    return this.t.service.store;
  }

  /** Sends what is ready now, without moving the clock (delivery delays stay exact). */
  async drainNow(): Promise<void> {
    await this.runtime.dispatcher.drain();
  }

  /** Lets waits expire one minute at a time and sends everything, until nothing moves. */
  async settle(): Promise<void> {
    const { stats } = this.runtime.dispatcher;
    const progress = () => stats.pushed + stats.skipped + stats.dead + stats.remerged + stats.deferred;
    for (let round = 0; round < 20; round++) {
      const before = progress();
      await this.runtime.dispatcher.drain();
      if (progress() === before) break;
      this.clock.advance(60_000);
    }
  }

  async pollPractice(): Promise<void> {
    await this.runtime.pollLink(this.pracLinkId);
  }

  /** The peer's records sent to passerelle as one received message (a webhook, in effect). */
  async secDeliver(ids: string[]): Promise<string> {
    return (await this.sec.deliver({ ids })).outcome;
  }

  async canonical(kind: ResourceKind, from: 'sec' | 'prac', externalId: string): Promise<string> {
    const id = await this.store.identityMap.findCanonical(
      from === 'sec' ? this.secLinkId : this.pracLinkId,
      kind,
      externalId,
    );
    if (!id) throw new Error(`no canonical ${kind} for ${from} ${externalId}`);
    return id;
  }

  /** The id a canonical record has on a peer. */
  async on(peer: 'sec' | 'prac', kind: ResourceKind, canonicalId: string): Promise<string> {
    const [id] = await this.store.identityMap.findExternal(
      peer === 'sec' ? this.secLinkId : this.pracLinkId,
      kind,
      canonicalId,
    );
    if (!id) throw new Error(`${kind} ${canonicalId} is not on ${peer}`);
    return id;
  }

  /** Two practitioners with their agendas on the practice software, synced to the secretariat. */
  async seedPractitioners(): Promise<{
    c1: string;
    c2: string;
    sec1: string;
    sec2: string;
    schedule1: string;
  }> {
    const a = seedAgenda(this.prac, 1);
    const b = seedAgenda(this.prac, 2);
    await this.pollPractice();
    await this.settle();
    const c1 = await this.canonical('Practitioner', 'prac', a.practitioner);
    const c2 = await this.canonical('Practitioner', 'prac', b.practitioner);
    return {
      c1,
      c2,
      sec1: await this.on('sec', 'Practitioner', c1),
      sec2: await this.on('sec', 'Practitioner', c2),
      schedule1: a.schedule,
    };
  }

  secBooking(
    practitioner: string,
    patient: string,
    start: string,
    end: string,
    extra: Partial<Appointment> = {},
  ): string {
    return this.sec.create(booking(practitioner, patient, start, end, extra));
  }

  secMessage(
    patient: string,
    practitioner: string,
    priority: Communication['priority'],
    sent?: string,
  ): string {
    const message: Communication = {
      resourceType: 'Communication',
      id: 'x',
      status: 'completed',
      priority,
      subject: { reference: `Patient/${patient}` },
      recipient: [{ reference: `Practitioner/${practitioner}` }],
      payload: [{ contentString: 'Rappeler le patient' }],
      ...(sent && { sent }),
    };
    return this.sec.create(message as CanonicalResource);
  }

  async dispose(): Promise<void> {
    await this.t.dispose();
  }
}
