/**
 * Webhook received → committed → pushed to the other side: latency of the whole sync path
 * through the running service, p50/p99, beside a baseline measured in the same run: one
 * signature check + one durable commit + one loopback HTTP round trip, done back to back.
 *
 * The secretariat side is real: the secretariat simulator on 127.0.0.1, where an agent takes a
 * call message; the clock starts when the platform commits it. The simulator signs the webhook
 * (Standard Webhooks, HMAC-SHA256) and posts it to `/hooks/secretariat/<link>`; the secretariat
 * connector checks the signature on the raw bytes and maps the change, the engine commits it
 * with its outbox row in one durable transaction, the dispatcher (woken in-process) pushes it
 * over loopback HTTP to the practice-side peer; the clock stops when that push arrives.
 */
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';

import type { WebhookPayload } from '../../connectors/secretariat/contract.js';
import { startSecretariatSimulator } from '../../connectors/secretariat/simulator/index.js';
import { defaultConnectorDefinitions } from '../../src/app/connectors.js';
import { syncModule } from '../../src/app/features/sync.js';
import { createRegistry } from '../../src/connector/registry.js';
import { generateWebhookSecret, signWebhook, verifyWebhook } from '../../src/security/webhook-signature.js';
import { HttpPeer, httpPeerConnector } from '../helpers/http-peer.js';
import { startTestService } from '../helpers/service.js';
import { openTestStore, STORE_KINDS } from '../helpers/stores.js';
import { until } from '../helpers/until.js';
import { type Bench, type BenchResult, percentile } from './harness.js';

const N = 300;
const WARMUP = 30;
const SECRET = generateWebhookSecret();

const text = (i: number) =>
  `Merci de rappeler le secrétariat au sujet du rendez-vous (message de test ${i}).`;

/** A webhook body as the platform sends it for a new call message. */
function webhookBody(i: number): Buffer {
  const at = new Date().toISOString();
  const data = {
    id: `msg-${i}`,
    version: 1,
    updatedAt: at,
    priority: 'routine',
    callerName: 'Appelant',
    callbackNumber: null,
    reason: null,
    text: text(i),
    patientId: null,
    practitionerId: null,
    takenAt: at,
    agentId: 'agent-banc',
    status: 'new',
    acknowledgedAt: null,
  };
  const payload: WebhookPayload = {
    type: 'message.upsert',
    timestamp: at,
    practiceId: 'cab-banc',
    data: { seq: i + 1, type: 'message', id: `msg-${i}`, version: 1, op: 'upsert', origin: 'agent', data },
  };
  return Buffer.from(JSON.stringify(payload));
}

const stats = (samples: number[]) => {
  const sorted = [...samples].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
};

async function measuredPath(kind: 'sqlite' | 'postgres'): Promise<number[]> {
  const sim = await startSecretariatSimulator({ port: 0, host: '127.0.0.1', seed: 'empty' });
  const peer = new HttpPeer();
  await peer.listen();
  const module = syncModule({
    registry: createRegistry([...defaultConnectorDefinitions(), httpPeerConnector]),
    runtime: { schedulePolls: false, refreshMs: 0 },
  });
  const t = await startTestService({
    store: kind,
    modules: [module],
    env: { PASSERELLE_HTTP_ACCESS_LOG: 'false' },
  });
  try {
    const store = t.service.store;
    const runtime = module.runtimeOf(t.service.context);
    const practiceId = (await store.practices.create({ name: 'Banc d’essai' })).id;
    const secretariatLink = await store.links.create({
      id: 'bench-sec',
      practiceId,
      role: 'secretariat',
      connector: 'secretariat',
      name: 'Télésecrétariat',
      config: { baseUrl: sim.url, platformPracticeId: sim.practiceId },
      secrets: t.service.context.secrets.sealJson(
        { apiToken: sim.apiToken, webhookSecret: SECRET },
        'bench-sec',
      ),
    });
    const practiceLink = await store.links.create({
      practiceId,
      role: 'practice',
      connector: 'http-peer',
      name: 'Logiciel',
      config: { url: peer.url },
    });
    await runtime.refresh();
    sim.setWebhook({ url: `${t.url}/hooks/secretariat/${secretariatLink.id}`, secrets: [SECRET] });
    const agent = sim.agent('agent-banc');
    const send = async (i: number) => {
      let start = 0;
      sim.events.once('change', () => (start = performance.now()));
      const pushed = new Promise<number>((resolve) => (peer.onRequest = () => resolve(performance.now())));
      await agent.leaveMessage({ callerName: 'Appelant', text: text(i) });
      const end = await pushed;
      // The platform then marks the message delivered, which travels too: let it settle first.
      peer.onRequest = undefined;
      await sim.webhooksIdle();
      await until('the sync path to settle', async () => {
        const d = await store.outbox.depth(practiceLink.id);
        return d.pending + d.leased === 0;
      });
      return end - start;
    };
    for (let i = 0; i < WARMUP; i++) await send(-1 - i);
    const samples: number[] = [];
    for (let i = 0; i < N; i++) samples.push(await send(i));
    if (sim.state.counters.webhooksFailed > 0) throw new Error('a webhook was refused');
    return samples;
  } finally {
    await t.dispose();
    await peer.close();
    await sim.close();
  }
}

async function baseline(kind: 'sqlite' | 'postgres'): Promise<number[]> {
  const t = await openTestStore(kind);
  const peer = new HttpPeer();
  await peer.listen();
  try {
    const practiceId = (await t.store.practices.create({ name: 'Banc d’essai' })).id;
    const link = await t.store.links.create({
      practiceId,
      role: 'secretariat',
      connector: 'memory',
      name: 'x',
    });
    const once = async (i: number) => {
      const body = webhookBody(i);
      const id = `evt_${i + 1_000_000}`;
      const headers = {
        'webhook-id': id,
        'webhook-timestamp': String(Math.floor(Date.now() / 1000)),
        'webhook-signature': '',
      };
      headers['webhook-signature'] = signWebhook([SECRET], id, Number(headers['webhook-timestamp']), body);
      const start = performance.now();
      verifyWebhook(headers, body, { secrets: [SECRET], now: Date.now() });
      await t.store.batch((tx) =>
        tx.inbox.accept({
          linkId: link.id,
          dedupeKey: `webhook:${id}`,
          bodyHash: createHash('sha256').update(body).digest('hex'),
          messageType: 'message.upsert',
          body,
        }),
      );
      const res = await fetch(`${peer.url}/push`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          idempotencyKey: `k-${i}`,
          externalId: null,
          data: JSON.parse(body.toString()),
        }),
      });
      await res.arrayBuffer();
      return performance.now() - start;
    };
    for (let i = 0; i < WARMUP; i++) await once(-1 - i);
    const samples: number[] = [];
    for (let i = 0; i < N; i++) samples.push(await once(i));
    return samples;
  } finally {
    await peer.close();
    await t.dispose();
  }
}

const bench: Bench = {
  name: 'sync: webhook received → committed → pushed to the other side',
  async run() {
    const results: BenchResult[] = [];
    for (const kind of STORE_KINDS) {
      const path = stats(await measuredPath(kind));
      const base = stats(await baseline(kind));
      results.push({
        name: `${kind}: latency p50`,
        measured: {
          label:
            'secretariat commit → signed webhook → verify → commit → outbox → push (loopback), sequential',
          value: path.p50,
          unit: 'ms',
        },
        baseline: {
          label: 'one signature check + one durable commit + one loopback round trip',
          value: base.p50,
          unit: 'ms',
        },
        higherIsBetter: false,
        notes: [
          `p99: measured ${path.p99.toFixed(2)} ms, baseline ${base.p99.toFixed(2)} ms (ratio ${(path.p99 / base.p99).toFixed(2)}×)`,
          `${N} sequential deliveries after ${WARMUP} warm-up`,
        ],
      });
    }
    return results;
  },
};
export default bench;
