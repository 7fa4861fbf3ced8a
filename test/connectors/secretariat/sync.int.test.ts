/**
 * The secretariat connector and the sync engine together, for real (issue 4): the whole service
 * (default modules, on SQLite and on PostgreSQL) on 127.0.0.1, the secretariat simulator on
 * 127.0.0.1 sending signed webhooks to `<service>/hooks/secretariat/<link id>` through a
 * recording relay (so a test can replay the exact bytes), a practice whose secretariat link is
 * created through the admin API with its secrets, and a practice-side link on the in-memory
 * test peer, so the test sees what reaches the practice software.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import type { Message } from '../../../connectors/secretariat/contract.js';
import { patientFromCanonical } from '../../../connectors/secretariat/mapping.js';
import { encodeCursor } from '../../../connectors/secretariat/simulator/app.js';
import {
  type SecretariatSimulator,
  startSecretariatSimulator,
} from '../../../connectors/secretariat/simulator/index.js';
import { defaultConnectorDefinitions } from '../../../src/app/connectors.js';
import { icalModule } from '../../../src/app/features/ical.js';
import { syncModule } from '../../../src/app/features/sync.js';
import { createRegistry } from '../../../src/connector/registry.js';
import type {
  Appointment,
  Communication,
  Patient,
  ResourceKind,
  Slot,
} from '../../../src/model/resources.js';
import { createApiKey } from '../../../src/security/api-keys.js';
import { generateWebhookSecret, signWebhook } from '../../../src/security/webhook-signature.js';
import type { SyncRuntime } from '../../../src/sync/runtime.js';
import { fixturePatients } from '../../helpers/fixtures.js';
import { memoryConnector, MemoryWorld } from '../../helpers/memory-connector.js';
import { startTestService, type TestService } from '../../helpers/service.js';
import { tempDir } from '../../helpers/stores.js';
import { at, booking, seedAgenda } from '../../helpers/sync-harness.js';
import { until } from '../../helpers/until.js';

const DAY = '2030-03-12';
const SLOTS = 6;
const [, PAUL, LUCIE] = fixturePatients() as [Patient, Patient, Patient];
/** A schedule that does not fire during a test: polls are then the test's own. */
const YEARLY = '0 0 1 1 *';

interface Delivery {
  readonly webhookId: string;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
  readonly status: number;
  readonly answer: string;
}

/** Passes each webhook on to passerelle unchanged and keeps its exact bytes and the answer. */
async function startRelay(): Promise<{
  url: string;
  deliveries: Delivery[];
  setTarget(url: string): void;
  close(): Promise<void>;
}> {
  const deliveries: Delivery[] = [];
  let target = '';
  const server: Server = createServer((req, res) => {
    void (async () => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const body = Buffer.concat(chunks);
      const headers: Record<string, string> = {};
      for (const name of ['content-type', 'webhook-id', 'webhook-timestamp', 'webhook-signature']) {
        const v = req.headers[name];
        if (typeof v === 'string') headers[name] = v;
      }
      try {
        const r = await fetch(target, { method: 'POST', headers, body });
        const answer = await r.text();
        deliveries.push({ webhookId: headers['webhook-id'] ?? '', headers, body, status: r.status, answer });
        res
          .writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? 'application/json' })
          .end(answer);
      } catch {
        res.writeHead(502).end();
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    deliveries,
    setTarget: (url) => (target = url),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const proposal = (p: Patient) => {
  const { identity, contact } = patientFromCanonical(p);
  return {
    identity: {
      family: identity.family,
      given: identity.given,
      usedFamily: null,
      birthDate: identity.birthDate,
      sex: identity.sex,
    },
    ins: null,
    contact,
  };
};

describe.each(['sqlite', 'postgres'] as const)(
  'secretariat ⇄ passerelle over real HTTP (%s store)',
  (storeKind) => {
    const dir = tempDir('passerelle-secsync-');
    const stateFile = join(dir.path, 'simulator.json');
    const world = new MemoryWorld();
    const prac = world.peer('prac');
    const SECRET = generateWebhookSecret();
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
    let relay: Awaited<ReturnType<typeof startRelay>>;
    let t: TestService;
    let runtime: SyncRuntime;
    let integrator: string;
    let practiceId: string;
    let secLinkId: string;
    let pracLinkId: string;
    let pracPractitioner: string;
    const pracSlots: string[] = [];

    const json = async <T>(res: Response, status: number): Promise<T> => {
      const body = await res.text();
      if (res.status !== status) throw new Error(`expected HTTP ${status}, got ${res.status}: ${body}`);
      return (body ? JSON.parse(body) : undefined) as T;
    };
    const hookUrl = () => `${t.url}/hooks/secretariat/${secLinkId}`;
    const postHook = (headers: Record<string, string>, body: Buffer) =>
      fetch(hookUrl(), { method: 'POST', headers, body });
    /** The id on the simulator of a practice-software record, through the identity map. */
    const onSim = async (kind: ResourceKind, pracId: string): Promise<string | undefined> => {
      const canonical = await t.service.store.identityMap.findCanonical(pracLinkId, kind, pracId);
      return canonical === undefined
        ? undefined
        : (await t.service.store.identityMap.findExternal(secLinkId, kind, canonical))[0];
    };
    const onPrac = async (kind: ResourceKind, simId: string): Promise<string | undefined> => {
      const canonical = await t.service.store.identityMap.findCanonical(secLinkId, kind, simId);
      return canonical === undefined
        ? undefined
        : (await t.service.store.identityMap.findExternal(pracLinkId, kind, canonical))[0];
    };
    const simSlot = async (i: number) => (await onSim('Slot', pracSlots[i] as string)) as string;
    const webhookIdOf = (type: string, id: string, version = 1) =>
      `evt_${sim.state.changes().find((c) => c.type === type && c.id === id && c.version === version)?.seq}`;
    const pracMessages = (text: string) =>
      prac.list<Communication>('Communication').filter((c) => c.payload[0]?.contentString === text);
    const patchLink = async (patch: object) => {
      await json(
        await t.api(`/api/v1/links/${secLinkId}`, { method: 'PATCH', key: integrator, json: patch }),
        200,
      );
      await runtime.refresh();
    };
    const settled = () =>
      until('the outbox to drain', async () => {
        const [a, b] = [
          await t.service.store.outbox.depth(secLinkId),
          await t.service.store.outbox.depth(pracLinkId),
        ];
        return a.pending + a.leased + b.pending + b.leased === 0;
      });

    beforeAll(async () => {
      sim = await startSecretariatSimulator({ port: 0, host: '127.0.0.1', stateFile, seed: 'empty' });
      relay = await startRelay();
      t = await startTestService({ store: storeKind, modules: [module, icalModule()] });
      runtime = module.runtimeOf(t.service.context);
      integrator = (
        await createApiKey(t.service.store, { role: 'integrator', createdBy: 'test', via: 'test' })
      ).key;
      practiceId = (
        await json<{ id: string }>(
          await t.api('/api/v1/practices', { method: 'POST', json: { name: 'Cabinet des Essais' } }),
          201,
        )
      ).id;
      const link = async (body: object) =>
        (
          await json<{ id: string }>(
            await t.api('/api/v1/links', {
              method: 'POST',
              key: integrator,
              json: { practiceId, isTest: true, ...body },
            }),
            201,
          )
        ).id;
      secLinkId = await link({
        role: 'secretariat',
        connector: 'secretariat',
        name: 'Télésecrétariat',
        config: {
          baseUrl: sim.url,
          platformPracticeId: sim.practiceId,
          timeoutMs: 1000,
          retry: { maxAttempts: 2, baseDelayMs: 20, maxDelayMs: 200, maxRetryAfterSeconds: 5 },
        },
        secrets: { apiToken: sim.apiToken, webhookSecret: SECRET },
      });
      pracLinkId = await link({
        role: 'practice',
        connector: 'memory',
        name: 'Logiciel du cabinet',
        config: { peer: 'prac' },
      });
      relay.setTarget(hookUrl());
      sim.setWebhook({ url: relay.url, secrets: [SECRET], retryDelaysMs: [50, 200] });
      await runtime.refresh();

      pracPractitioner = seedAgenda(prac).practitioner;
      const schedule = prac.list('Schedule')[0]?.id as string;
      for (let i = 0; i < SLOTS; i++) {
        const start = at(
          DAY,
          `${String(8 + Math.floor(i / 2)).padStart(2, '0')}:${i % 2 === 0 ? '00' : '30'}`,
        );
        const end = new Date(Date.parse(start) + 30 * 60_000).toISOString();
        pracSlots.push(
          prac.create({
            resourceType: 'Slot',
            id: 'x',
            schedule: { reference: `Schedule/${schedule}` },
            status: 'free',
            start,
            end,
          } as Slot),
        );
      }
      await runtime.pollLink(pracLinkId);
      await until(
        'the agenda on the secretariat',
        () => sim.state.list('slot').length === SLOTS && sim.state.list('practitioner').length === 1,
      );
      await settled();
    }, 60_000);

    afterAll(async () => {
      await t.dispose();
      await sim.close();
      await relay.close();
      dir.remove();
    });

    it('runs the secretariat link from the default registry and polls its feed every 30 s unless the link says otherwise', async () => {
      expect(module.registry?.names()).toEqual(expect.arrayContaining(['secretariat', 'memory']));
      const status = await json<{ state: string; health: { ok: boolean }; nextPollAt: string }>(
        await t.api(`/api/v1/links/${secLinkId}/status`),
        200,
      );
      expect(status).toMatchObject({ state: 'running', health: { ok: true } });
      expect(Date.parse(status.nextPollAt) - Date.now()).toBeLessThanOrEqual(30_000);
      // The practice's agenda reached the platform as the practice's: slots free, the practitioner's RPPS.
      expect(sim.state.list('practitioner')[0]?.rpps).toBe('10000000001');
      expect(sim.state.list('slot').every((s) => s.status === 'free')).toBe(true);
      await patchLink({ schedule: YEARLY });
      const after = await json<{ nextPollAt: string }>(await t.api(`/api/v1/links/${secLinkId}/status`), 200);
      // node-cron runs it in the practice's zone: 1 January, midnight in Paris.
      const paris = new Intl.DateTimeFormat('en-CA', {
        timeZone: 'Europe/Paris',
        month: '2-digit',
        day: '2-digit',
        hour: '2-digit',
        minute: '2-digit',
        hourCycle: 'h23',
      });
      expect(paris.format(new Date(after.nextPollAt))).toBe('01-01, 00:00');
    });

    it('delivers an agent’s booking, through a signed webhook committed before it is answered, to the practice software once', async () => {
      const agent = sim.agent('agent-amelie');
      const patient = await agent.proposePatient(proposal(LUCIE));
      const slot0 = await simSlot(0);
      const apt = await agent.book({ slotId: slot0, patientId: patient.id, note: 'Renouvellement.' });
      await sim.webhooksIdle();
      const delivered = relay.deliveries.find((d) => d.webhookId === webhookIdOf('appointment', apt.id));
      expect(delivered?.status).toBe(200);
      expect(JSON.parse(delivered?.answer ?? '{}')).toMatchObject({ outcome: 'applied' });
      // Answered after the commit: the booking is already known when the platform gets its 200.
      expect(await t.service.store.identityMap.findCanonical(secLinkId, 'Appointment', apt.id)).toBeDefined();

      const pracApt = await until('the booking in the practice software', async () =>
        onPrac('Appointment', apt.id),
      );
      const held = prac.get<Appointment>(pracApt);
      expect(held).toMatchObject({
        status: 'booked',
        start: at(DAY, '08:00'),
        slot: [{ reference: `Slot/${pracSlots[0]}` }],
      });
      expect(held.participant.map((p) => p.actor?.reference)).toEqual([
        `Practitioner/${pracPractitioner}`,
        `Patient/${await onPrac('Patient', patient.id)}`,
      ]);

      // The feed brings the same changes again: nothing more reaches the practice software.
      await runtime.pollLink(secLinkId);
      await settled();
      expect(
        prac.pushes.filter((p) => p.change.kind === 'Appointment' && p.effect === 'created'),
      ).toHaveLength(1);
      expect(prac.duplicateCreations()).toEqual([]);
      // No echo to the platform, and the agent's hold on the slot stands.
      expect(
        sim.state
          .changes()
          .filter((c) => c.id === apt.id)
          .map((c) => c.origin),
      ).toEqual(['agent']);
      expect(sim.state.get('slot', slot0)?.status).toBe('busy');
    });

    it('answers 401 to a forged or altered webhook and stores nothing of it', async () => {
      const inboxBefore = (await t.service.store.inbox.list({ linkId: secLinkId, limit: 1000 })).length;
      const messagesBefore = (await t.service.store.resources.list({ practiceId, kind: 'Communication' }))
        .length;
      const forged: Message = {
        id: 'msg-forged',
        version: 1,
        updatedAt: new Date().toISOString(),
        priority: 'urgent',
        callerName: 'Inconnu',
        callbackNumber: null,
        reason: null,
        text: 'Message forgé.',
        patientId: null,
        practitionerId: null,
        takenAt: new Date().toISOString(),
        agentId: 'agent-x',
        status: 'new',
        acknowledgedAt: null,
      };
      const body = Buffer.from(
        JSON.stringify({
          type: 'message.upsert',
          timestamp: forged.updatedAt,
          practiceId: sim.practiceId,
          data: {
            seq: 999_999,
            type: 'message',
            id: forged.id,
            version: 1,
            op: 'upsert',
            origin: 'agent',
            data: forged,
          },
        }),
      );
      const ts = Math.floor(Date.now() / 1000);
      const bad = await postHook(
        {
          'content-type': 'application/json',
          'webhook-id': 'evt_forged',
          'webhook-timestamp': String(ts),
          'webhook-signature': signWebhook([generateWebhookSecret()], 'evt_forged', ts, body),
        },
        body,
      );
      // The connector's answer goes out as it is: status, problem+json header, body.
      expect(bad.status).toBe(401);
      expect(bad.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(await bad.json()).toMatchObject({ code: 'ERR_WEBHOOK_SIGNATURE' });

      // A real delivery with one byte changed.
      const real = relay.deliveries.find((d) => d.status === 200) as Delivery;
      const altered = Buffer.from(real.body);
      altered.writeUInt8(altered.readUInt8(altered.length - 2) ^ 1, altered.length - 2);
      expect((await postHook(real.headers, altered)).status).toBe(401);
      expect((await postHook({ 'content-type': 'application/json' }, body)).status).toBe(401);

      expect((await t.service.store.inbox.list({ linkId: secLinkId, limit: 1000 })).length).toBe(inboxBefore);
      expect((await t.service.store.resources.list({ practiceId, kind: 'Communication' })).length).toBe(
        messagesBefore,
      );
      expect(
        await t.service.store.identityMap.findCanonical(secLinkId, 'Communication', 'msg-forged'),
      ).toBeUndefined();
      expect(pracMessages('Message forgé.')).toEqual([]);
    });

    it('applies a webhook delivered twice once: the platform’s duplicate and a replay of the identical bytes', async () => {
      sim.setFaults({ duplicateWebhookShare: 1 });
      const m = await sim.agent('agent-bruno').leaveMessage({
        callerName: 'Paul DEMONSTRATION',
        text: 'Rappeler pour les résultats.',
        priority: 'urgent',
      });
      await sim.webhooksIdle();
      sim.setFaults({ duplicateWebhookShare: 0 });
      const id = webhookIdOf('message', m.id);
      const both = relay.deliveries.filter((d) => d.webhookId === id);
      expect(both.map((d) => d.status)).toEqual([200, 200]);
      expect(both[0]?.body.equals(both[1]?.body as Buffer)).toBe(true);
      // The second copy gets the first answer back from the inbox.
      expect(JSON.parse(both[1]?.answer ?? '{}')).toEqual(JSON.parse(both[0]?.answer ?? ''));

      const again = await postHook(both[0]?.headers as Record<string, string>, both[0]?.body as Buffer);
      expect(again.status).toBe(200);
      expect(await again.json()).toEqual({ webhookId: id, outcome: 'applied' });
      await settled();
      expect(pracMessages('Rappeler pour les résultats.')).toHaveLength(1);
      expect(
        prac.pushes.filter((p) => p.change.kind === 'Communication' && p.effect === 'created'),
      ).toHaveLength(1);
      expect(
        (await t.service.store.inbox.list({ linkId: secLinkId, limit: 1000 })).filter(
          (e) => e.dedupeKey === `webhook:${id}`,
        ),
      ).toHaveLength(1);
    });

    it('refuses a webhook whose timestamp is more than 10 minutes off; the feed brings the change later', async () => {
      sim.setFaults({ webhookTimestampSkewSeconds: -700 });
      const m = await sim
        .agent('agent-bruno')
        .leaveMessage({ callerName: 'Lucie ESSAI', text: 'Demande de certificat.' });
      await sim.webhooksIdle();
      sim.setFaults({ webhookTimestampSkewSeconds: 0 });
      const id = webhookIdOf('message', m.id);
      const tries = relay.deliveries.filter((d) => d.webhookId === id);
      expect(tries.map((d) => [d.status, (JSON.parse(d.answer) as { code: string }).code])).toEqual(
        Array(3).fill([401, 'ERR_WEBHOOK_TIMESTAMP']),
      );
      // A real delivery signed again 11 minutes in the past: authentic, but stale.
      const real = relay.deliveries.find((d) => d.status === 200) as Delivery;
      const old = Math.floor(Date.now() / 1000) - 660;
      const stale = await postHook(
        {
          ...real.headers,
          'webhook-timestamp': String(old),
          'webhook-signature': signWebhook([SECRET], real.webhookId, old, real.body),
        },
        real.body,
      );
      expect([stale.status, ((await stale.json()) as { code: string }).code]).toEqual([
        401,
        'ERR_WEBHOOK_TIMESTAMP',
      ]);
      expect(
        (await t.service.store.inbox.list({ linkId: secLinkId, limit: 1000 })).some(
          (e) => e.dedupeKey === `webhook:${id}`,
        ),
      ).toBe(false);
      expect(pracMessages('Demande de certificat.')).toEqual([]);

      await runtime.pollLink(secLinkId);
      await until(
        'the message in the practice software',
        () => pracMessages('Demande de certificat.').length === 1,
      );
    });

    it('pushes a practice booking through 429 (Retry-After) and 500s, and the platform applies it once', async () => {
      const before = sim.state.counters;
      const patient = prac.create(structuredClone(PAUL));
      const slot1 = await simSlot(1);
      const pracApt = prac.create(
        booking(pracPractitioner, patient, at(DAY, '08:30'), at(DAY, '09:00'), {
          slot: [{ reference: `Slot/${pracSlots[1]}` }],
        }),
      );
      // The patient goes first (the booking refers to it): 429 with Retry-After, 500, then 503.
      sim.setFaults({ script: [{ status: 429, retryAfter: '1' }, { status: 500 }, { status: 503 }] });
      await runtime.pollLink(pracLinkId);
      const simApt = await until(
        'the booking on the platform',
        async () => onSim('Appointment', pracApt),
        30_000,
      );
      await settled();
      const after = sim.state.counters;
      expect([after.faults429 - before.faults429, after.faults500 - before.faults500]).toEqual([1, 2]);
      // One patient, one appointment, booked into the practice's slot.
      expect(sim.state.list('patient').filter((p) => p.identity.family === 'DEMONSTRATION')).toHaveLength(1);
      expect(sim.state.list('appointment').filter((a) => a.slotId === slot1)).toHaveLength(1);
      expect(sim.state.get('appointment', simApt)).toMatchObject({
        status: 'booked',
        slotId: slot1,
        patientId: await onSim('Patient', patient),
      });
      expect(await t.service.store.deadLetters.count({ status: 'open', linkId: secLinkId })).toBe(0);
    });

    it('neither copies nor refuses a practice booking whose answer was lost while its webhook came back first', async () => {
      const before = sim.state.counters;
      const patient = prac.list<Patient>('Patient').find((p) => p.name?.[0]?.family === 'DEMONSTRATION')
        ?.id as string;
      const slot3 = await simSlot(3);
      const pracApt = prac.create(
        booking(pracPractitioner, patient, at(DAY, '09:30'), at(DAY, '10:00'), {
          slot: [{ reference: `Slot/${pracSlots[3]}` }],
        }),
      );
      // The first write is applied 1.5 s late, after the client gave up (1 s); the client's second
      // attempt is slower still: the platform's webhook of the booking reaches passerelle before any
      // answer does, and a third attempt gets the stored answer for the Idempotency-Key.
      sim.setFaults({ script: [{ latencyMs: 1500 }, { latencyMs: 3000 }] });
      await runtime.pollLink(pracLinkId);
      const simApt = await until(
        'the booking on the platform',
        async () => onSim('Appointment', pracApt),
        30_000,
      );
      await until(
        'the slow second attempt answered from the idempotency store',
        () => sim.state.counters.idempotentReplays - before.idempotentReplays >= 2,
        10_000,
      );
      await sim.webhooksIdle();
      const echo = relay.deliveries.find((d) => d.webhookId === webhookIdOf('appointment', simApt));
      expect(echo?.status).toBe(200);
      // Still booked (passerelle did not take its own booking for an agent's and refuse it), once.
      await runtime.pollLink(secLinkId);
      await settled();
      expect(sim.state.get('appointment', simApt)?.status).toBe('booked');
      expect(sim.state.list('appointment').filter((a) => a.slotId === slot3)).toHaveLength(1);
      expect(prac.list<Appointment>('Appointment').filter((a) => a.start === at(DAY, '09:30'))).toHaveLength(
        1,
      );
      expect(prac.duplicateCreations()).toEqual([]);
    });

    it('catches up by its scheduled poll of the change feed when every webhook is dropped', async () => {
      sim.setFaults({ dropWebhookShare: 1 });
      await patchLink({ schedule: '* * * * * *' });
      const status = await json<{ nextPollAt: string }>(
        await t.api(`/api/v1/links/${secLinkId}/status`),
        200,
      );
      expect(Date.parse(status.nextPollAt) - Date.now()).toBeLessThanOrEqual(1500);
      const dropped = sim.state.counters.webhooksDropped;
      const deliveries = relay.deliveries.length;
      const agent = sim.agent('agent-amelie');
      const patient = sim.state.list('patient').find((p) => p.identity.family === 'ESSAI') as { id: string };
      const apt = await agent.book({ slotId: await simSlot(2), patientId: patient.id });
      await agent.leaveMessage({ callerName: 'Lucie ESSAI', text: 'Arrivera avec 10 minutes de retard.' });
      await sim.webhooksIdle();
      expect(sim.state.counters.webhooksDropped - dropped).toBeGreaterThanOrEqual(3);
      expect(relay.deliveries.length).toBe(deliveries);
      await until('the dropped booking in the practice software', async () => onPrac('Appointment', apt.id));
      await until(
        'the dropped message in the practice software',
        () => pracMessages('Arrivera avec 10 minutes de retard.').length === 1,
      );
      await patchLink({ schedule: YEARLY });
      sim.setFaults({ dropWebhookShare: 0 });
    });

    it('refuses back to the secretariat a booking into a slot the practice blocked meanwhile, with the reason in French', async () => {
      const slot4 = await simSlot(4);
      const requests = sim.state.counters.requests;
      // The block reaches the platform slowly, and an agent books the slot in the meantime.
      sim.setFaults({ script: [{ latencyMs: 800 }] });
      prac.edit<Slot>(pracSlots[4] as string, (s) => ({
        ...s,
        status: 'busy-unavailable',
        comment: 'Formation',
      }));
      await runtime.pollLink(pracLinkId);
      await until('the block on its way to the platform', () => sim.state.counters.requests > requests);
      const patient = sim.state.list('patient').find((p) => p.identity.family === 'ESSAI') as { id: string };
      const apt = await sim.agent('agent-bruno').book({ slotId: slot4, patientId: patient.id });
      await sim.webhooksIdle();
      const refused = await until('the refusal on the platform', () => {
        const a = sim.state.get('appointment', apt.id);
        return a?.status === 'refused' ? a : undefined;
      });
      expect(refused.refusal?.code).toBe('ERR_SYNC_SLOT_UNAVAILABLE');
      expect(refused.refusal?.message).toMatch(
        /^Rendez-vous refusé : le créneau du .+ est bloqué par le cabinet/,
      );
      const answer = relay.deliveries.find((d) => d.webhookId === webhookIdOf('appointment', apt.id));
      expect(JSON.parse(answer?.answer ?? '{}')).toMatchObject({ outcome: 'rejected' });
      await until(
        'the slot blocked on the platform',
        () => sim.state.get('slot', slot4)?.status === 'blocked',
      );
      await settled();
      expect(await onPrac('Appointment', apt.id)).toBeUndefined();
      expect(
        prac.list<Appointment>('Appointment').filter((a) => a.start === sim.state.get('slot', slot4)?.start),
      ).toEqual([]);
    });

    it('sets aside one change of a pulled page that breaks the contract, applies the rest, and keeps polling', async () => {
      sim.setFaults({ dropWebhookShare: 1 });
      const agent = sim.agent('agent-amelie');
      const broken = await agent.leaveMessage({ callerName: 'Appelant', text: 'Message abîmé en route.' });
      await agent.leaveMessage({ callerName: 'Appelant', text: 'Message intact.' });
      await sim.webhooksIdle();
      // The platform's feed now carries a message that breaks the contract.
      await sim.close();
      const state = JSON.parse(readFileSync(stateFile, 'utf8')) as {
        changes: { id: string; data: Record<string, unknown> }[];
      };
      const entry = state.changes.find((c) => c.id === broken.id) as { data: Record<string, unknown> };
      entry.data['priority'] = 'whenever';
      writeFileSync(stateFile, JSON.stringify(state));
      sim = await startSecretariatSimulator({ port: 0, host: '127.0.0.1', stateFile });
      sim.setWebhook({ url: relay.url, secrets: [SECRET], retryDelaysMs: [50, 200] });
      // A new URL drops the link's secrets unless they come with it (issue 16): they come with it.
      await patchLink({
        config: { baseUrl: sim.url, platformPracticeId: sim.practiceId, timeoutMs: 1000 },
        secrets: { apiToken: sim.apiToken, webhookSecret: SECRET },
      });

      const first = await runtime.pollLink(secLinkId);
      expect(first).toMatchObject({ acquired: true, invalid: 1 });
      expect(first.error).toBeUndefined();
      await until(
        'the intact message in the practice software',
        () => pracMessages('Message intact.').length === 1,
      );
      expect(pracMessages('Message abîmé en route.')).toEqual([]);
      const dead = await json<{ items: { id: string; reasonCode: string; source: string }[] }>(
        await t.api(`/api/v1/dead-letters?linkId=${secLinkId}&status=open`),
        200,
      );
      expect(dead.items.map((d) => [d.source, d.reasonCode])).toEqual([
        ['inbox', 'ERR_SECRETARIAT_BAD_RESPONSE'],
      ]);
      // Pulled again (a cursor set back before it), it is not set aside twice; polling goes on past it.
      const seq = sim.state.changes().find((c) => c.id === broken.id)?.seq as number;
      await t.service.store.cursors.set(secLinkId, 'default', encodeCursor(sim.practiceId, seq - 1));
      expect(await runtime.pollLink(secLinkId)).toMatchObject({ acquired: true, invalid: 0 });
      const later = await sim
        .agent('agent-amelie')
        .leaveMessage({ callerName: 'Appelant', text: 'Message suivant.' });
      await sim.webhooksIdle();
      const next = await runtime.pollLink(secLinkId);
      expect(next).toMatchObject({ acquired: true, invalid: 0 });
      expect(next.applied).toBeGreaterThanOrEqual(1);
      await until('the next message in the practice software', async () => onPrac('Communication', later.id));
      expect(await t.service.store.deadLetters.count({ status: 'open', linkId: secLinkId })).toBe(1);
      // Replayed as it stands it is still invalid: it stays for an operator.
      const replay = await json<{ outcome: string }>(
        await t.api(`/api/v1/dead-letters/${dead.items[0]?.id}/replay`, { method: 'POST', key: integrator }),
        200,
      );
      expect(replay.outcome).toBe('invalid');
      sim.setFaults({ dropWebhookShare: 0 });
    });
  },
);
