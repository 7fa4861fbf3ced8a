/**
 * A push to the secretariat platform answered 412 (If-Match failed) and merged again, in the
 * whole service (SQLite and PostgreSQL) against the secretariat simulator on 127.0.0.1, the
 * practice on the in-memory test peer. Regression found by the cluster fault suite: an agent
 * changed appointments on the platform that passerelle had not heard of yet (no webhook, no
 * poll), then the practice moved them. Where the agent had changed only the note, the platform
 * still held the time passerelle last wrote there; the re-merge after the 412 took that
 * unchanged time for a change of the platform's and opened a start/end conflict.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import type { Appointment as PlatformAppointment } from '../../connectors/secretariat/contract.js';
import {
  type SecretariatSimulator,
  startSecretariatSimulator,
} from '../../connectors/secretariat/simulator/index.js';
import { defaultConnectorDefinitions } from '../../src/app/connectors.js';
import { syncModule } from '../../src/app/features/sync.js';
import { createRegistry } from '../../src/connector/registry.js';
import type { Appointment, Patient } from '../../src/model/resources.js';
import { createApiKey } from '../../src/security/api-keys.js';
import type { SyncRuntime } from '../../src/sync/runtime.js';
import { fixturePatients } from '../helpers/fixtures.js';
import { memoryConnector, MemoryWorld } from '../helpers/memory-connector.js';
import { agentEditsAppointment } from '../helpers/secretariat-agent.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { STORE_KINDS } from '../helpers/stores.js';
import { at, booking, seedAgenda } from '../helpers/sync-harness.js';
import { until } from '../helpers/until.js';

const DAY = '2030-03-12';
const MOVED_DAY = '2030-03-14';
const AGENT_DAY = '2030-03-13';
/** A schedule that does not fire during a test: polls are then the test's own. */
const YEARLY = '0 0 1 1 *';
const [, PAUL] = fixturePatients() as [Patient, Patient];

describe.each(STORE_KINDS)('a push answered 412 by the secretariat platform (%s store)', (storeKind) => {
  const world = new MemoryWorld();
  const prac = world.peer('prac');
  const module = syncModule({
    registry: createRegistry([...defaultConnectorDefinitions(), memoryConnector(world)]),
    runtime: { refreshMs: 0 },
    dispatcher: {
      backoff: { baseMs: 50, capMs: 500 },
      idleWakeMs: 100,
      dependencyWaitMs: 20,
      maxAttempts: 8,
    },
  });
  let sim: SecretariatSimulator;
  let t: TestService;
  let runtime: SyncRuntime;
  let practiceId: string;
  let secLinkId: string;
  let pracLinkId: string;
  let practitioner: string;
  let patient: string;
  let hour = 8;

  const onSim = async (pracId: string): Promise<string | undefined> => {
    const canonical = await t.service.store.identityMap.findCanonical(pracLinkId, 'Appointment', pracId);
    return canonical === undefined
      ? undefined
      : (await t.service.store.identityMap.findExternal(secLinkId, 'Appointment', canonical))[0];
  };
  const settled = () =>
    until('the outbox to drain', async () => {
      const [a, b] = [
        await t.service.store.outbox.depth(secLinkId),
        await t.service.store.outbox.depth(pracLinkId),
      ];
      return a.pending + a.leased + b.pending + b.leased === 0;
    });
  const conflictsOf = async (pracId: string) => {
    const canonical = await t.service.store.identityMap.findCanonical(pracLinkId, 'Appointment', pracId);
    return t.service.store.conflicts.list({ recordId: canonical as string, limit: 10 });
  };
  /** An agent changes an appointment through the platform's API (GET, change, PUT with If-Match). */
  const agentPut = (id: string, change: Partial<PlatformAppointment>) =>
    agentEditsAppointment(sim, id, () => change, 'agent-amelie');
  /** A practice booking of 20 minutes on DAY, pushed to the platform: its ids on both sides. */
  const booked = async (): Promise<{ pracApt: string; simApt: string; start: string }> => {
    const start = at(DAY, `${String(hour++).padStart(2, '0')}:00`);
    const pracApt = prac.create(
      booking(practitioner, patient, start, new Date(Date.parse(start) + 20 * 60_000).toISOString(), {
        comment: 'Note du cabinet',
        // As an SIU booking gives it (SCH-11); the platform keeps no duration of its own.
        minutesDuration: 20,
      }),
    );
    await runtime.pollLink(pracLinkId);
    const simApt = (await until('the booking on the platform', () => onSim(pracApt))) as string;
    await settled();
    return { pracApt, simApt, start };
  };
  /** The practice moves its appointment to `start` (20 minutes); the push meets a 412. */
  const practiceMoves = async (pracApt: string, start: string) => {
    prac.edit<Appointment>(pracApt, (a) => ({
      ...a,
      start,
      end: new Date(Date.parse(start) + 20 * 60_000).toISOString(),
    }));
    await runtime.pollLink(pracLinkId);
    await settled();
  };

  beforeAll(async () => {
    sim = await startSecretariatSimulator({ port: 0, host: '127.0.0.1', seed: 'empty' });
    t = await startTestService({ store: storeKind, modules: [module] });
    runtime = module.runtimeOf(t.service.context);
    const integrator = (
      await createApiKey(t.service.store, { role: 'integrator', createdBy: 'test', via: 'test' })
    ).key;
    const created = async (res: Response) => {
      const body = await res.text();
      if (res.status !== 201) throw new Error(`expected HTTP 201, got ${res.status}: ${body}`);
      return (JSON.parse(body) as { id: string }).id;
    };
    practiceId = await created(
      await t.api('/api/v1/practices', { method: 'POST', json: { name: 'Cabinet des Essais' } }),
    );
    const link = async (body: object) =>
      created(
        await t.api('/api/v1/links', {
          method: 'POST',
          key: integrator,
          json: { practiceId, isTest: true, ...body },
        }),
      );
    // No webhook and no scheduled poll: the platform's changes reach passerelle only by the 412.
    secLinkId = await link({
      role: 'secretariat',
      connector: 'secretariat',
      name: 'Télésecrétariat',
      schedule: YEARLY,
      config: {
        baseUrl: sim.url,
        platformPracticeId: sim.practiceId,
        timeoutMs: 2000,
        retry: { maxAttempts: 2, baseDelayMs: 20, maxDelayMs: 200, maxRetryAfterSeconds: 5 },
      },
      secrets: { apiToken: sim.apiToken, webhookSecret: 'whsec_' + Buffer.alloc(32, 7).toString('base64') },
    });
    pracLinkId = await link({
      role: 'practice',
      connector: 'memory',
      name: 'Logiciel du cabinet',
      schedule: YEARLY,
      config: { peer: 'prac' },
    });
    await runtime.refresh();
    practitioner = seedAgenda(prac).practitioner;
    patient = prac.create(structuredClone(PAUL));
    await runtime.pollLink(pracLinkId);
    await until('the practitioner on the platform', () => sim.state.list('practitioner').length === 1);
    await settled();
  }, 60_000);

  afterAll(async () => {
    await t?.dispose();
    await sim?.close();
  });

  it('sends the practice’s new time with the agent’s note kept, and opens no conflict, when the agent changed only the note', async () => {
    const { pracApt, simApt } = await booked();
    await agentPut(simApt, { note: 'Note de l’agent' });
    const moved = at(MOVED_DAY, '09:00');
    await practiceMoves(pracApt, moved);

    expect(sim.state.get('appointment', simApt)).toMatchObject({ note: 'Note de l’agent' });
    expect(Date.parse(sim.state.get('appointment', simApt)?.start ?? '')).toBe(Date.parse(moved));
    expect(prac.get<Appointment>(pracApt)).toMatchObject({ start: moved, comment: 'Note de l’agent' });
    expect(await conflictsOf(pracApt)).toEqual([]);
  });

  it('opens exactly one start/end conflict when the agent and the practice both moved the appointment', async () => {
    const { pracApt, simApt } = await booked();
    await agentPut(simApt, { start: at(AGENT_DAY, '10:00'), end: at(AGENT_DAY, '10:20') });
    await practiceMoves(pracApt, at(MOVED_DAY, '11:00'));

    const conflicts = await conflictsOf(pracApt);
    expect(conflicts).toHaveLength(1);
    expect(conflicts[0]?.fields).toMatchObject([
      {
        path: 'start/end',
        practice: { start: at(MOVED_DAY, '11:00') },
        secretariat: { start: at(AGENT_DAY, '10:00') },
      },
    ]);
  });
});
