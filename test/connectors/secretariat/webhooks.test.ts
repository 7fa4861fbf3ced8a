import { createHash } from 'node:crypto';

import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';

import {
  type SecretariatSimulator,
  startSecretariatSimulator,
  type WebhookEvent,
} from '../../../connectors/secretariat/simulator/index.js';
import type { Connector } from '../../../src/connector/contract.js';
import type { Appointment as CanonicalAppointment } from '../../../src/model/resources.js';
import { signWebhook } from '../../../src/security/webhook-signature.js';
import {
  connectorFor,
  engineStandIn,
  eventually,
  type HookServer,
  NEW_SECRET,
  OLD_SECRET,
  startHookServer,
} from './helpers.js';

describe('secretariat webhooks over real HTTP: simulator → receiveHttp → engine', () => {
  let sim: SecretariatSimulator;
  let connector: Connector;
  let hooks: HookServer;
  const engine = engineStandIn();
  const events: WebhookEvent[] = [];

  beforeAll(async () => {
    sim = await startSecretariatSimulator({ seed: 'demo' });
    connector = connectorFor(sim);
    hooks = await startHookServer(connector, engine.handler);
    sim.setWebhook({ url: hooks.url, secrets: [NEW_SECRET], retryDelaysMs: [20, 20] });
    sim.events.on('webhook', (e) => events.push(e));
  });
  afterEach(async () => {
    await sim.webhooksIdle();
    sim.setFaults({ dropWebhookShare: 0, duplicateWebhookShare: 0, webhookTimestampSkewSeconds: 0 });
    sim.setWebhook({ url: hooks.url, secrets: [NEW_SECRET], retryDelaysMs: [20, 20] });
  });
  afterAll(async () => {
    await sim.close();
    await hooks.close();
    await connector.stop();
  });

  const freeSlot = () => {
    const slot = sim.state.list('slot').find((s) => s.status === 'free');
    if (!slot) throw new Error('no free slot left in the demo seed');
    return slot;
  };
  /** Handler calls carrying version 1 of a record (a message's later "delivered" update is another change). */
  const callsFor = (id: string) =>
    engine.calls.filter((m) => m.records.some((r) => r.externalId === id && r.version === '1'));
  const webhookIdOf = (id: string) => `evt_${sim.state.changes().find((c) => c.id === id)?.seq}`;

  it('hands an agent booking to the engine once, keyed webhook:<webhook-id>, mapped, and answers 200 after the commit', async () => {
    const apt = await sim
      .agent('agent-amelie')
      .book({ slotId: freeSlot().id, appointmentTypeId: 'consultation' });
    await sim.webhooksIdle();
    const [message] = callsFor(apt.id);
    const change = sim.state.changes().find((c) => c.type === 'appointment' && c.id === apt.id);
    expect(message?.dedupe?.key).toBe(`webhook:evt_${change?.seq}`);
    expect(message?.dedupe?.messageType).toBe('appointment.upsert');
    const raw = hooks.received.find((r) => r.headers['webhook-id'] === `evt_${change?.seq}`);
    expect(message?.dedupe?.body?.equals(raw?.body as Buffer)).toBe(true);
    expect(message?.dedupe?.bodyHash).toBe(
      createHash('sha256')
        .update(raw?.body as Buffer)
        .digest('hex'),
    );
    const record = message?.records[0];
    expect(record).toMatchObject({ kind: 'Appointment', externalId: apt.id, version: '1' });
    expect((record?.data as CanonicalAppointment).extension?.[0]?.valueReference?.display).toBe(
      'agent-amelie',
    );
    expect(raw?.answer).toEqual({
      status: 200,
      headers: { 'Content-Type': 'application/json' },
      body: { webhookId: `evt_${change?.seq}`, outcome: 'applied' },
    });
    expect(events.find((e) => e.webhookId === `evt_${change?.seq}`)).toMatchObject({
      outcome: 'delivered',
      status: 200,
      attempt: 1,
    });
  });

  it('answers 401 to a bad or missing signature and hands nothing to the engine', async () => {
    const before = engine.calls.length;
    const ts = Math.floor(Date.now() / 1000);
    const body = Buffer.from('{"this is": not even JSON');
    const forged = await fetch(hooks.url, {
      method: 'POST',
      body,
      headers: {
        'content-type': 'application/json',
        'webhook-id': 'evt_forged',
        'webhook-timestamp': String(ts),
        'webhook-signature': signWebhook(
          [`whsec_${Buffer.alloc(32, 9).toString('base64')}`],
          'evt_forged',
          ts,
          body,
        ),
      },
    });
    expect(forged.status).toBe(401);
    expect(await forged.json()).toMatchObject({ status: 401, code: 'ERR_WEBHOOK_SIGNATURE' });
    const unsigned = await fetch(hooks.url, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json' },
    });
    expect(unsigned.status).toBe(401);
    expect(engine.calls.length).toBe(before);
  });

  it('refuses a correctly signed delivery whose timestamp is more than 10 minutes old, without calling the engine', async () => {
    const before = engine.calls.length;
    sim.setFaults({ webhookTimestampSkewSeconds: -601 });
    const m = await sim.agent().leaveMessage({ callerName: 'Un appelant', text: 'Message en retard.' });
    await sim.webhooksIdle();
    const seq = sim.state.changes().find((c) => c.id === m.id)?.seq;
    const attempts = events.filter((e) => e.webhookId === `evt_${seq}`);
    expect(attempts.map((e) => [e.outcome, e.status])).toEqual([
      ['retrying', 401],
      ['retrying', 401],
      ['failed', 401],
    ]);
    const answers = hooks.received
      .filter((r) => r.headers['webhook-id'] === `evt_${seq}`)
      .map((r) => (r.answer.body as { code: string }).code);
    expect(answers).toEqual(['ERR_WEBHOOK_TIMESTAMP', 'ERR_WEBHOOK_TIMESTAMP', 'ERR_WEBHOOK_TIMESTAMP']);
    expect(engine.calls.length).toBe(before);
  });

  it('accepts deliveries signed with the previous secret alone, or with both, during a rotation', async () => {
    sim.setWebhook({ url: hooks.url, secrets: [OLD_SECRET], retryDelaysMs: [20] });
    const a = await sim
      .agent()
      .leaveMessage({ callerName: 'Un appelant', text: 'Signé avec l’ancien secret.' });
    await sim.webhooksIdle();
    sim.setWebhook({ url: hooks.url, secrets: [NEW_SECRET, OLD_SECRET], retryDelaysMs: [20] });
    const b = await sim
      .agent()
      .leaveMessage({ callerName: 'Un appelant', text: 'Signé avec les deux secrets.' });
    await sim.webhooksIdle();
    expect(callsFor(a.id)).toHaveLength(1);
    expect(callsFor(b.id)).toHaveLength(1);
    const sig =
      hooks.received.find((r) => r.headers['webhook-id'] === webhookIdOf(b.id))?.headers[
        'webhook-signature'
      ] ?? '';
    expect(sig.split(' ')).toHaveLength(2);
  });

  it('gives a replayed delivery the same dedupe key, and the first answer back', async () => {
    const m = await sim.agent().leaveMessage({ callerName: 'Un appelant', text: 'À rejouer.' });
    await sim.webhooksIdle();
    const first = hooks.received.find((r) => r.headers['webhook-id'] === webhookIdOf(m.id));
    if (!first) throw new Error('the delivery did not arrive');
    const replay = await fetch(hooks.url, { method: 'POST', body: first.body, headers: first.headers });
    expect(replay.status).toBe(200);
    expect(await replay.json()).toEqual(first.answer.body);
    const calls = callsFor(m.id);
    expect(calls).toHaveLength(2);
    expect(calls[1]?.dedupe?.key).toBe(calls[0]?.dedupe?.key);
    expect(engine.committed.size).toBe(new Set(engine.calls.map((c) => c.dedupe?.key)).size);
  });

  it('sends a duplicated webhook under one webhook-id, which the engine sees as one dedupe key', async () => {
    sim.setFaults({ duplicateWebhookShare: 1 });
    const m = await sim.agent().leaveMessage({ callerName: 'Un appelant', text: 'Envoyé deux fois.' });
    await sim.webhooksIdle();
    const calls = callsFor(m.id);
    expect(calls).toHaveLength(2);
    expect(new Set(calls.map((c) => c.dedupe?.key)).size).toBe(1);
    expect(events.some((e) => e.duplicate === true && e.outcome === 'delivered')).toBe(true);
  });

  it('loses nothing when webhooks are dropped: the change feed still has every change', async () => {
    const cursor = (await (connector.pull as NonNullable<Connector['pull']>)(null, 500)).next;
    let page = await (connector.pull as NonNullable<Connector['pull']>)(cursor, 500);
    while (page.hasMore) page = await (connector.pull as NonNullable<Connector['pull']>)(page.next, 500);
    sim.setFaults({ dropWebhookShare: 1 });
    const before = engine.calls.length;
    const apt = await sim.agent().book({ slotId: freeSlot().id });
    const m = await sim.agent().leaveMessage({ callerName: 'Un appelant', text: 'Webhook perdu.' });
    await sim.webhooksIdle();
    expect(engine.calls.length).toBe(before);
    const pulled = await (connector.pull as NonNullable<Connector['pull']>)(page.next, 500);
    expect(pulled.records.map((r) => r.externalId)).toEqual(expect.arrayContaining([apt.id, m.id]));
  });

  it('hands a signed delivery that is not a change to the engine as ERR_WEBHOOK_PAYLOAD, and acknowledges it once stored', async () => {
    const ts = Math.floor(Date.now() / 1000);
    const body = Buffer.from(
      '{"type":"appointment.upsert","timestamp":"2026-11-23T09:00:00Z","practiceId":"cab-demo","data":{"seq":1}}',
    );
    const res = await fetch(hooks.url, {
      method: 'POST',
      body,
      headers: {
        'content-type': 'application/json',
        'webhook-id': 'evt_malformed',
        'webhook-timestamp': String(ts),
        'webhook-signature': signWebhook([NEW_SECRET], 'evt_malformed', ts, body),
      },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ webhookId: 'evt_malformed', outcome: 'invalid' });
    const call = engine.calls.find((c) => c.dedupe?.key === 'webhook:evt_malformed');
    expect(call?.error?.code).toBe('ERR_WEBHOOK_PAYLOAD');
    expect(call?.records).toEqual([]);
    expect(call?.dedupe?.body?.equals(body)).toBe(true);
  });

  it('answers 503 with Retry-After when the engine could not commit, so the platform delivers again', async () => {
    engine.failNext(1);
    const m = await sim.agent().leaveMessage({ callerName: 'Un appelant', text: 'Livré au second essai.' });
    await sim.webhooksIdle();
    const seq = sim.state.changes().find((c) => c.id === m.id)?.seq;
    const tries = hooks.received.filter((r) => r.headers['webhook-id'] === `evt_${seq}`);
    expect(tries.map((t) => t.answer.status)).toEqual([503, 200]);
    expect(tries[0]?.answer.headers?.['Retry-After']).toBe('1');
    await eventually(
      () => sim.state.get('message', m.id)?.status === 'delivered',
      'the message to be marked delivered',
    );
  });
});
