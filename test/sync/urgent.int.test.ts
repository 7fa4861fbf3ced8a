/**
 * Urgent call messages acknowledged or escalated (issue 21 point 2), end to end: the secretariat
 * simulator (an agent takes an urgent message), the FHIR peer (the practice software), the
 * whole service on a real SQLite store, a real HTTP gateway standing for the practice's SMS
 * service, and an injected clock shared by the service and the simulator: no sleeps.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Communication as FhirCommunication } from '@medplum/fhirtypes';

import { reportsModule } from '../../src/app/features/reports.js';
import { type UrgentModule, urgentModule } from '../../src/app/features/urgent.js';
import { createApiKey } from '../../src/security/api-keys.js';
import { generateWebhookSecret, verifyWebhook } from '../../src/security/webhook-signature.js';
import { UrgentEscalation } from '../../src/sync/urgent.js';
import { type FhirWorld, startFhirWorld, until } from '../helpers/fhir-world.js';
import { testClock } from '../helpers/stores.js';

interface GatewayCall {
  readonly headers: Record<string, string | undefined>;
  readonly raw: Buffer;
  readonly body: { messageId: string; ackUrl: string; text: string; type: string };
}

async function startGateway(): Promise<{
  url: string;
  calls: GatewayCall[];
  status: { code: number };
  close(): Promise<void>;
}> {
  const calls: GatewayCall[] = [];
  const status = { code: 204 };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      calls.push({
        headers: req.headers as Record<string, string | undefined>,
        raw,
        body: JSON.parse(raw.toString('utf8')) as GatewayCall['body'],
      });
      res.statusCode = status.code;
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/sms`,
    calls,
    status,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

const MIN = 60_000;

describe('urgent call messages: acknowledged or escalated', () => {
  const start = Date.now();
  const clock = testClock(start);
  const secret = generateWebhookSecret();
  let w: FhirWorld;
  let urgent!: UrgentModule;
  let gateway: Awaited<ReturnType<typeof startGateway>>;
  let escalation: UrgentEscalation;
  let otherPractice: string;
  let keyA: string;
  let keyB: string;

  const json = async <T>(res: Response, status: number): Promise<T> => {
    const body = await res.text();
    if (res.status !== status) throw new Error(`expected HTTP ${status}, got ${res.status}: ${body}`);
    return (body ? JSON.parse(body) : undefined) as T;
  };
  const store = () => w.t.service.store;

  /** An agent takes an urgent message; resolves with its platform and canonical ids once the practice software has it. */
  async function urgentMessage(text: string): Promise<{ simId: string; id: string; fhirId: string }> {
    const m = await w.sim.agent('agent-bruno').leaveMessage({
      callerName: 'Appelant',
      text,
      priority: 'urgent',
      takenAt: new Date(clock()).toISOString(),
    });
    const fhirId = (await until('the message on the FHIR server', () =>
      w.onFhir('Communication', m.id),
    )) as string;
    await w.settled();
    const id = (await store().identityMap.findCanonical(w.secLinkId, 'Communication', m.id)) as string;
    return { simId: m.id, id, fhirId };
  }
  const timeline = async (id: string, key?: string) =>
    json<{
      message: { state: string; step: number; acknowledgedVia: string | null };
      events: { kind: string; outcome: string }[];
    }>(
      await w.t.api(`/api/v1/practices/${w.practiceId}/urgent-messages/${id}`, { ...(key && { key }) }),
      200,
    );
  const callsFor = (id: string) => gateway.calls.filter((c) => c.body.messageId === id);

  beforeAll(async () => {
    gateway = await startGateway();
    w = await startFhirWorld({
      day0: new Date(clock()),
      now: clock,
      extraModules: (sync) => {
        urgent = urgentModule({ sync, schedule: false });
        return [urgent, reportsModule({ scheduleDigests: false })];
      },
    });
    escalation = urgent.escalationOf(w.t.service.context);
    const practice = await json<{ version: number }>(await w.t.api(`/api/v1/practices/${w.practiceId}`), 200);
    await json(
      await w.t.api(`/api/v1/practices/${w.practiceId}`, {
        method: 'PATCH',
        headers: { 'if-match': `"${practice.version}"` },
        json: {
          settings: {
            urgentAck: { delayMinutes: 15, callbackAfterMinutes: 10, gateway: { url: gateway.url, secret } },
          },
        },
      }),
      200,
    );
    otherPractice = (
      await json<{ id: string }>(
        await w.t.api('/api/v1/practices', { method: 'POST', json: { name: 'Cabinet voisin' } }),
        201,
      )
    ).id;
    keyA = (
      await createApiKey(store(), {
        role: 'viewer',
        practiceId: w.practiceId,
        createdBy: 'test',
        via: 'test',
      })
    ).key;
    keyB = (
      await createApiKey(store(), {
        role: 'viewer',
        practiceId: otherPractice,
        createdBy: 'test',
        via: 'test',
      })
    ).key;
  }, 60_000);
  afterAll(async () => {
    await w?.dispose();
    await gateway?.close();
  });

  it('shows the gateway secret as hasSecret only', async () => {
    const p = await json<{ settings: { urgentAck: { gateway: Record<string, unknown> } } }>(
      await w.t.api(`/api/v1/practices/${w.practiceId}`),
      200,
    );
    expect(p.settings.urgentAck.gateway).toEqual({ url: gateway.url, hasSecret: true });
  });

  it('refuses a plain-http gateway outside loopback, naming the field', async () => {
    const p = await json<{ version: number }>(await w.t.api(`/api/v1/practices/${otherPractice}`), 200);
    const res = await w.t.api(`/api/v1/practices/${otherPractice}`, {
      method: 'PATCH',
      headers: { 'if-match': `"${p.version}"` },
      json: { settings: { urgentAck: { gateway: { url: 'http://sms.example.org/hook' } } } },
    });
    const body = await json<{ error: { code: string; details: { issues: { path: string }[] } } }>(res, 400);
    expect(body.error.code).toBe('ERR_VALIDATION');
    expect(body.error.details.issues[0]?.path).toBe('body.settings.urgentAck.gateway.url');
  });

  it('stops the escalation of an urgent message the practice acknowledges in its software in time', async () => {
    const m = await urgentMessage('Rappeler pour résultats, urgent.');
    await escalation.runOnce();
    expect((await timeline(m.id)).message).toMatchObject({ state: 'waiting', step: 0 });

    clock.advance(5 * MIN);
    const read = await w.fhir<FhirCommunication>('GET', `Communication/${m.fhirId}`);
    const put = await w.fhir<FhirCommunication>(
      'PUT',
      `Communication/${m.fhirId}`,
      { ...read.body, status: 'completed', received: new Date(clock()).toISOString() },
      { 'if-match': read.etag as string },
    );
    expect(put.status).toBe(200);
    await w.runtime.pollLink(w.fhirLinkId);
    await escalation.runOnce();
    clock.advance(30 * MIN);
    await escalation.runOnce();

    const t = await timeline(m.id);
    expect(t.message).toMatchObject({ state: 'acknowledged', step: 0, acknowledgedVia: 'practice-software' });
    expect(t.events.map((e) => e.kind)).toEqual(['tracked', 'acknowledged']);
    expect(callsFor(m.id)).toHaveLength(0);
  });

  let escalated: { simId: string; id: string; ackUrl: string };

  it('escalates an unacknowledged urgent message: the signed gateway webhook after the delay, then the secretariat callback, each recorded', async () => {
    const m = await urgentMessage('Malaise, rappeler.');
    await escalation.runOnce();
    clock.advance(14 * MIN);
    await escalation.runOnce();
    expect(callsFor(m.id)).toHaveLength(0);

    clock.advance(2 * MIN);
    await escalation.runOnce();
    const [call] = callsFor(m.id);
    expect(call).toBeDefined();
    // Signed as Standard Webhooks, with the practice's secret.
    expect(() => verifyWebhook(call!.headers, call!.raw, { secrets: [secret], now: clock() })).not.toThrow();
    expect(call!.body).toMatchObject({ type: 'urgent-message.unacknowledged', messageId: m.id });
    expect(call!.body.text).toContain('Message urgent du secrétariat non acquitté');
    expect(call!.body.ackUrl).toMatch(new RegExp(`^${w.t.url}/ack/urgent/`));
    expect((await timeline(m.id)).message).toMatchObject({ state: 'waiting', step: 1 });

    // The service restarts: a new escalation over the same store carries on.
    const again = new UrgentEscalation({
      store: store(),
      secrets: w.t.service.context.secrets,
      logger: w.t.service.context.logger,
      publicUrl: () => w.t.url,
      connectorOf: (linkId) => w.runtime.connectorOf(linkId),
    });
    clock.advance(9 * MIN);
    await again.runOnce();
    expect((await timeline(m.id)).message.step).toBe(1);
    clock.advance(2 * MIN);
    await again.runOnce();
    expect(callsFor(m.id)).toHaveLength(1);

    const t = await timeline(m.id);
    expect(t.message).toMatchObject({ state: 'waiting', step: 2 });
    expect(t.events.map((e) => `${e.kind}:${e.outcome}`)).toEqual([
      'tracked:ok',
      'gateway-webhook:ok',
      'secretariat-callback:ok',
    ]);
    const callbacks = await json<{ items: { messageId: string; status: string; reason: string }[] }>(
      await fetch(`${w.sim.url}/v1/practices/${w.sim.practiceId}/callback-requests`, {
        headers: { authorization: `Bearer ${w.sim.apiToken}` },
      }),
      200,
    );
    expect(callbacks.items).toEqual([
      expect.objectContaining({
        messageId: m.simId,
        status: 'open',
        reason: 'urgent-message-unacknowledged',
      }),
    ]);
    const audit = await store().audit.list({ limit: 200 });
    expect(audit.filter((e) => e.resourceId === m.id).map((e) => `${e.action}:${e.outcome}`)).toEqual(
      expect.arrayContaining(['urgent.escalate.gateway:success', 'urgent.escalate.callback:success']),
    );
    escalated = { ...m, ackUrl: call!.body.ackUrl };
  });

  it('acknowledges through the signed link once: the page asks first, a tampered link and a second use are refused', async () => {
    const page = await fetch(escalated.ackUrl);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('J’ai pris connaissance du message');
    expect((await timeline(escalated.id)).message.state).toBe('waiting');

    const token = escalated.ackUrl.slice(escalated.ackUrl.lastIndexOf('/') + 1);
    const [payload, sig] = token.split('.') as [string, string];
    const forged = Buffer.from(
      JSON.stringify({
        ...JSON.parse(Buffer.from(payload, 'base64url').toString()),
        e: clock() + 10 * 24 * 60 * MIN,
      }),
    ).toString('base64url');
    const tampered = await fetch(`${w.t.url}/ack/urgent/${forged}.${sig}`, { method: 'POST' });
    expect(tampered.status).toBe(403);
    expect(tampered.headers.get('x-error-code')).toBe('ERR_URGENT_LINK_INVALID');
    expect(await tampered.text()).toContain('n’est pas valide');

    const ok = await fetch(escalated.ackUrl, { method: 'POST' });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('Message acquitté');
    const t = await timeline(escalated.id);
    expect(t.message).toMatchObject({ state: 'acknowledged', acknowledgedVia: 'signed-link' });

    const second = await fetch(escalated.ackUrl, { method: 'POST' });
    expect(second.status).toBe(403);
    expect(await second.text()).toContain('déjà servi');
  });

  it('keeps each practice to its own urgent messages on every route', async () => {
    const m = await urgentMessage('Rappeler le cabinet voisin ? non.');
    await escalation.runOnce();
    const base = `/api/v1/practices/${w.practiceId}/urgent-messages`;
    expect((await w.t.api(base, { key: keyB })).status).toBe(403);
    expect((await w.t.api(`${base}/${m.id}`, { key: keyB })).status).toBe(403);
    expect((await w.t.api(`${base}/${m.id}/acknowledge`, { method: 'POST', key: keyB })).status).toBe(403);
    // Under the other practice's own path, the message does not exist.
    expect(
      (
        await w.t.api(`/api/v1/practices/${otherPractice}/urgent-messages/${m.id}/acknowledge`, {
          method: 'POST',
          key: keyB,
        })
      ).status,
    ).toBe(404);
    expect((await timeline(m.id)).message.state).toBe('waiting');

    const list = await json<{ items: { id: string }[] }>(await w.t.api(base, { key: keyA }), 200);
    expect(list.items.map((i) => i.id)).toContain(m.id);
    const acked = await json<{ message: { state: string; acknowledgedVia: string }; already: boolean }>(
      await w.t.api(`${base}/${m.id}/acknowledge`, { method: 'POST', key: keyA }),
      200,
    );
    expect(acked).toMatchObject({
      message: { state: 'acknowledged', acknowledgedVia: 'api' },
      already: false,
    });
    const again = await json<{ already: boolean }>(
      await w.t.api(`${base}/${m.id}/acknowledge`, { method: 'POST', key: keyA }),
      200,
    );
    expect(again.already).toBe(true);
  });

  it('refuses an expired acknowledgement link', async () => {
    const m = await urgentMessage('Rappeler, urgent.');
    await escalation.runOnce();
    clock.advance(16 * MIN);
    await escalation.runOnce();
    const [call] = callsFor(m.id);
    expect(call).toBeDefined();
    clock.advance(241 * MIN);
    const res = await fetch(call!.body.ackUrl, { method: 'POST' });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('a expiré');
    expect((await timeline(m.id)).message.state).toBe('waiting');
  });

  it('counts time to acknowledgement p50/p95 and escalations in the activity report and its CSV', async () => {
    const from = new Date(start - 60 * MIN).toISOString();
    const to = new Date(clock() + 60 * MIN).toISOString();
    const q = `practice=${w.practiceId}&from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`;
    const report = await json<{ urgentAcknowledgement: Record<string, number | null> }>(
      await w.t.api(`/api/v1/reports/activity?${q}`),
      200,
    );
    // Acknowledged after 0 s (API), 300 s (practice software) and 1620 s (signed link); one still waiting.
    expect(report.urgentAcknowledgement).toEqual({
      urgent: 4,
      acknowledged: 3,
      escalated: 2,
      callbacks: 1,
      ackP50Seconds: 300,
      ackP95Seconds: 1620,
    });
    const csv = await (await w.t.api(`/api/v1/reports/activity?${q}&format=csv`)).text();
    expect(csv).toContain('Urgences : acquittement et escalade');
    expect(csv).toContain('4;3;2;1;300;1620');
  });
});
