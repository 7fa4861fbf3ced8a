/**
 * Issue 16, point 8: a webhook for an unknown link, an unknown connector, a link of another
 * connector, a disabled link or a link whose connector takes no webhooks gets exactly the
 * answer a bad signature gets (401, same body), so link ids cannot be probed. Through a real
 * HTTP server, with the real secretariat connector and its Standard Webhooks signatures.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { defaultConnectorRegistry } from '../../src/app/connectors.js';
import { mappingModule } from '../../src/app/features/mapping.js';
import { syncModule } from '../../src/app/features/sync.js';
import { createApiKey } from '../../src/security/api-keys.js';
import { generateWebhookSecret, signWebhook } from '../../src/security/webhook-signature.js';
import type { SyncRuntime } from '../../src/sync/runtime.js';
import { nestedJson } from '../helpers/hostile.js';
import { startTestService, type TestService } from '../helpers/service.js';

interface Answer {
  status: number;
  type: string | null;
  body: unknown;
}

describe('webhooks that no running link authenticates', () => {
  const SECRET = generateWebhookSecret();
  let t: TestService;
  let runtime: SyncRuntime;
  let secLinkId: string;
  let disabledLinkId: string;
  let hl7LinkId: string;

  beforeAll(async () => {
    const mapping = mappingModule({ refreshMs: 0 });
    const sync = syncModule({
      registry: defaultConnectorRegistry(),
      ownership: mapping.ownership,
      plans: mapping.plansOf,
      runtime: { refreshMs: 0, schedulePolls: false, autoDispatch: false },
    });
    t = await startTestService({ modules: [mapping, sync] });
    runtime = sync.runtimeOf(t.service.context);
    const integrator = (
      await createApiKey(t.service.store, { role: 'integrator', createdBy: 'test', via: 'test' })
    ).key;
    const practiceId = (
      (await (
        await t.api('/api/v1/practices', { method: 'POST', json: { name: 'Cabinet des Essais' } })
      ).json()) as { id: string }
    ).id;
    const link = async (body: object) => {
      const res = await t.api('/api/v1/links', {
        method: 'POST',
        key: integrator,
        json: { practiceId, isTest: true, ...body },
      });
      const text = await res.text();
      if (res.status !== 201) throw new Error(`link not created: ${res.status} ${text}`);
      return (JSON.parse(text) as { id: string }).id;
    };
    const secretariat = {
      role: 'secretariat',
      connector: 'secretariat',
      config: { baseUrl: 'http://127.0.0.1:9', platformPracticeId: 'cab-essais' },
      secrets: { apiToken: 'jeton', webhookSecret: SECRET },
    };
    secLinkId = await link({ ...secretariat, name: 'Télésecrétariat' });
    disabledLinkId = await link({ ...secretariat, name: 'Ancien télésecrétariat', enabled: false });
    hl7LinkId = await link({
      role: 'practice',
      connector: 'hl7v2',
      name: 'Logiciel du cabinet',
      config: { mllp: { listen: { host: '127.0.0.1', port: 0 } } },
    });
    await runtime.refresh();
    expect([
      runtime.isRunning(secLinkId),
      runtime.isRunning(disabledLinkId),
      runtime.isRunning(hl7LinkId),
    ]).toEqual([true, false, true]);
  });
  afterAll(async () => {
    await t.dispose();
  });

  const post = async (path: string, body: Buffer, headers: Record<string, string> = {}): Promise<Answer> => {
    const res = await fetch(`${t.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body,
    });
    return { status: res.status, type: res.headers.get('content-type'), body: await res.json() };
  };
  const signed = (body: Buffer, secret = SECRET, id = `evt_${Math.random().toString(36).slice(2)}`) => {
    const ts = Math.floor(Date.now() / 1000);
    return {
      'webhook-id': id,
      'webhook-timestamp': String(ts),
      'webhook-signature': signWebhook([secret], id, ts, body),
    };
  };

  it('answers an unknown link, an unknown connector, another connector, a disabled link and a link without webhooks exactly as a bad signature', async () => {
    const body = Buffer.from('{"type":"appointment.upsert"}');
    const forged = signed(body, generateWebhookSecret());
    const badSignature = await post(`/hooks/secretariat/${secLinkId}`, body, forged);
    expect(badSignature).toEqual({
      status: 401,
      type: 'application/problem+json; charset=utf-8',
      body: {
        type: 'https://passerelle.fr/problems/err-webhook-signature',
        title: 'the delivery is not authenticated for this link',
        status: 401,
        code: 'ERR_WEBHOOK_SIGNATURE',
      },
    });
    const others = {
      'no signature headers': await post(`/hooks/secretariat/${secLinkId}`, body),
      'unknown link': await post('/hooks/secretariat/no-such-link', body, forged),
      'unknown connector': await post(`/hooks/nosuchconnector/${secLinkId}`, body, forged),
      'another connector': await post(`/hooks/fhir/${secLinkId}`, body, forged),
      'disabled link': await post(`/hooks/secretariat/${disabledLinkId}`, body, signed(body)),
      'connector without webhooks': await post(`/hooks/hl7v2/${hl7LinkId}`, body, forged),
    };
    for (const answer of Object.values(others)) expect(answer).toEqual(badSignature);
  });

  it('still takes a delivery signed with the link’s secret, even one nested 5,000 deep (stored as invalid, not a 500)', async () => {
    const plain = Buffer.from('{}');
    expect((await post(`/hooks/secretariat/${secLinkId}`, plain, signed(plain))).status).toBe(200);
    const deep = Buffer.from(nestedJson(5000));
    const answer = await post(`/hooks/secretariat/${secLinkId}`, deep, signed(deep));
    expect(answer.status).toBe(200);
    expect(await t.service.store.deadLetters.count({ status: 'open', linkId: secLinkId })).toBe(2);
  });
});
