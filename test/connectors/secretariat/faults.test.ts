import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';

import {
  type SecretariatSimulator,
  startSecretariatSimulator,
} from '../../../connectors/secretariat/simulator/index.js';
import type { OutboundChange, PushResult } from '../../../src/connector/contract.js';
import type { Patient } from '../../../src/model/resources.js';
import { fixturePatients } from '../../helpers/fixtures.js';
import { testClock } from '../../helpers/stores.js';
import { connectorFor, eventually, recordingSleep } from './helpers.js';

const PAUL = fixturePatients()[1] as Patient;
let seq = 0;
function createPatient(key = `fault-${++seq}`): OutboundChange {
  return {
    seq,
    op: 'upsert',
    kind: 'Patient',
    canonicalId: `canon-${seq}`,
    externalId: null,
    expectedVersion: null,
    data: PAUL,
    base: null,
    idempotencyKey: key,
    priority: 0,
  };
}
function failed(r: PushResult) {
  if (r.ok) throw new Error('expected a failed push');
  return r.error;
}

describe('secretariat client under faults (real HTTP, injected sleep)', () => {
  let sim: SecretariatSimulator;

  beforeAll(async () => {
    sim = await startSecretariatSimulator({ seed: 'empty' });
  });
  afterEach(() => sim.setFaults({ rate429Share: 0, error500Share: 0, latencyMs: 0, script: [] }));
  afterAll(async () => {
    await sim.close();
  });

  it('waits exactly the Retry-After of each 429, then delivers the write once', async () => {
    const rec = recordingSleep();
    const c = connectorFor(sim, { deps: { sleep: rec.sleep, random: () => 0.5 } });
    const before = sim.state.list('patient').length;
    sim.setFaults({
      script: [
        { status: 429, retryAfter: '3' },
        { status: 429, retryAfter: '1' },
      ],
    });
    const r = await c.push(createPatient());
    expect(r.ok).toBe(true);
    expect(rec.waits).toEqual([3000, 1000]);
    expect(sim.state.list('patient').length).toBe(before + 1);
  });

  it('honours a Retry-After given as an HTTP-date, against the link clock', async () => {
    const clock = testClock(Date.parse('2026-11-23T09:00:00Z'));
    const rec = recordingSleep();
    const c = connectorFor(sim, { ctx: { now: clock }, deps: { sleep: rec.sleep } });
    sim.setFaults({ script: [{ status: 429, retryAfter: 'Mon, 23 Nov 2026 09:00:05 GMT' }] });
    expect((await c.push(createPatient())).ok).toBe(true);
    expect(rec.waits).toEqual([5000]);
  });

  it('waits whole seconds, rounded up, for an HTTP-date that falls between two clock seconds', async () => {
    const clock = testClock(Date.parse('2026-11-23T09:00:00.400Z'));
    const rec = recordingSleep();
    const c = connectorFor(sim, { ctx: { now: clock }, deps: { sleep: rec.sleep } });
    sim.setFaults({ script: [{ status: 429, retryAfter: 'Mon, 23 Nov 2026 09:00:05 GMT' }] });
    expect((await c.push(createPatient())).ok).toBe(true);
    expect(rec.waits).toEqual([5000]);
  });

  it('caps a Retry-After longer than the policy allows', async () => {
    const rec = recordingSleep();
    const c = connectorFor(sim, {
      config: { retry: { maxAttempts: 3, baseDelayMs: 250, maxDelayMs: 30_000, maxRetryAfterSeconds: 60 } },
      deps: { sleep: rec.sleep },
    });
    sim.setFaults({ script: [{ status: 429, retryAfter: '86400' }] });
    expect((await c.push(createPatient())).ok).toBe(true);
    expect(rec.waits).toEqual([60_000]);
  });

  it('retries 500s with exponential backoff and full jitter, then delivers the write once', async () => {
    const rec = recordingSleep();
    const c = connectorFor(sim, { deps: { sleep: rec.sleep, random: () => 0.5 } });
    const before = sim.state.list('patient').length;
    sim.setFaults({ script: [{ status: 500 }, { status: 503 }, { status: 500 }] });
    const r = await c.push(createPatient());
    expect(r.ok).toBe(true);
    // base 250 ms: 0.5 × [250, 500, 1000]
    expect(rec.waits).toEqual([125, 250, 500]);
    expect(sim.state.list('patient').length).toBe(before + 1);
  });

  it('delivers every write exactly once through a seeded mix of 429s and 500s', async () => {
    const rec = recordingSleep();
    const c = connectorFor(sim, {
      config: { retry: { maxAttempts: 10, baseDelayMs: 250, maxDelayMs: 30_000, maxRetryAfterSeconds: 120 } },
      deps: { sleep: rec.sleep },
    });
    const before = sim.state.list('patient').length;
    const faultsBefore = sim.state.counters.faults429 + sim.state.counters.faults500;
    sim.setFaults({ seed: 42, rate429Share: 0.3, error500Share: 0.2, retryAfter: '2' });
    const changes = Array.from({ length: 12 }, () => createPatient());
    const results = [];
    for (const ch of changes) results.push(await c.push(ch));
    // A retried change, as the outbox would send it again: same key, no second patient.
    results.push(await c.push(changes[0] as OutboundChange));
    expect(results.every((r) => r.ok)).toBe(true);
    expect(sim.state.list('patient').length).toBe(before + 12);
    expect(sim.state.counters.faults429 + sim.state.counters.faults500 - faultsBefore).toBe(rec.waits.length);
    expect(rec.waits.length).toBeGreaterThan(0);
    expect(rec.waits.filter((w) => w === 2000).length).toBeGreaterThan(0);
  });

  it('gives up after the last attempt with a retryable ERR_SECRETARIAT_HTTP that carries the Retry-After', async () => {
    const rec = recordingSleep();
    const c = connectorFor(sim, {
      config: { retry: { maxAttempts: 3, baseDelayMs: 250, maxDelayMs: 30_000, maxRetryAfterSeconds: 120 } },
      deps: { sleep: rec.sleep },
    });
    sim.setFaults({
      script: [
        { status: 429, retryAfter: '7' },
        { status: 429, retryAfter: '7' },
        { status: 429, retryAfter: '7' },
      ],
    });
    const e = failed(await c.push(createPatient()));
    expect([e.code, e.retryable, e.retryAfterSeconds, e.details['status']]).toEqual([
      'ERR_SECRETARIAT_HTTP',
      true,
      7,
      429,
    ]);
    expect(rec.waits).toEqual([7000, 7000]);
  });

  it('times out a slow answer and retries with the same Idempotency-Key: one patient, however the attempts interleave', async () => {
    const rec = recordingSleep();
    const c = connectorFor(sim, { config: { timeoutMs: 200 }, deps: { sleep: rec.sleep, random: () => 0 } });
    const before = sim.state.list('patient').length;
    const replays = sim.state.counters.idempotentReplays;
    // The first attempt is processed after 600 ms, when the client has long given up on it.
    sim.setFaults({ script: [{ latencyMs: 600 }] });
    const r = await c.push(createPatient());
    expect(r.ok).toBe(true);
    // At least the first attempt timed out; on a loaded machine a later one may too.
    expect(rec.waits.length).toBeGreaterThanOrEqual(1);
    // Every attempt is processed in the end (bodies are read before the delay): one creates,
    // every other one is answered from the idempotency store.
    await eventually(
      () => sim.state.counters.idempotentReplays === replays + rec.waits.length,
      'the late attempts to be answered from the idempotency store',
    );
    expect(sim.state.list('patient').length).toBe(before + 1);
  });

  it('reports a retryable ERR_SECRETARIAT_TIMEOUT when every attempt times out', async () => {
    const rec = recordingSleep();
    const c = connectorFor(sim, {
      config: {
        timeoutMs: 150,
        retry: { maxAttempts: 2, baseDelayMs: 250, maxDelayMs: 30_000, maxRetryAfterSeconds: 120 },
      },
      deps: { sleep: rec.sleep },
    });
    sim.setFaults({ latencyMs: 400 });
    const e = failed(await c.push(createPatient()));
    expect([e.code, e.retryable]).toEqual(['ERR_SECRETARIAT_TIMEOUT', true]);
    expect(rec.waits).toHaveLength(1);
  });

  it('reports a retryable ERR_SECRETARIAT_HTTP when the platform cannot be reached', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((r) => closed.close(() => r()));
    const rec = recordingSleep();
    const c = connectorFor(sim, {
      config: {
        baseUrl: `http://127.0.0.1:${port}`,
        retry: { maxAttempts: 2, baseDelayMs: 250, maxDelayMs: 30_000, maxRetryAfterSeconds: 120 },
      },
      deps: { sleep: rec.sleep },
    });
    const e = failed(await c.push(createPatient()));
    expect([e.code, e.retryable, e.details['networkCode']]).toEqual([
      'ERR_SECRETARIAT_HTTP',
      true,
      'ECONNREFUSED',
    ]);
    const health = await c.health();
    expect(health.ok).toBe(false);
    expect(health.checks.find((ch) => ch.name === 'platform')).toEqual({
      name: 'platform',
      ok: false,
      detail: 'ERR_SECRETARIAT_HTTP',
    });
  });
});
