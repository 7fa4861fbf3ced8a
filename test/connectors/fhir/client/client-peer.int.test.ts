/**
 * The FHIR client against the real peer over HTTP on 127.0.0.1, through the fault proxy:
 * round trips, paging, and what each injected fault does (retried or not, waits recorded
 * through an injected sleep, never wall time).
 */
import { Writable } from 'node:stream';

import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type { Appointment, Patient } from '@medplum/fhirtypes';

import {
  createFhirClient,
  type FhirClient,
  type FhirClientOptions,
} from '../../../../connectors/fhir/client/index.js';
import {
  type FaultProxy,
  type FhirPeer,
  startFaultProxy,
  startFhirPeer,
} from '../../../../connectors/fhir/peer/index.js';
import { isPasserelleError, type PasserelleError } from '../../../../src/errors.js';
import { createLogger } from '../../../../src/log/logger.js';

const IPP = 'urn:oid:1.2.250.1.999.1.1';
const RDV = 'urn:oid:1.2.250.1.999.1.2';
const NOW = Date.parse('2026-11-23T09:00:00.000Z');

let peer: FhirPeer;
let proxy: FaultProxy;
let sleeps: number[];

function client(overrides: Partial<FhirClientOptions> = {}): FhirClient {
  return createFhirClient({
    baseUrl: proxy.url,
    timeoutMs: 2000,
    retry: { max: 3, baseDelayMs: 100, maxDelayMs: 5000 },
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    now: () => NOW,
    random: () => 0.5,
    ...overrides,
  });
}

function patient(ipp: string, extra: Partial<Patient> = {}): Patient {
  return {
    resourceType: 'Patient',
    identifier: [{ system: IPP, value: ipp }],
    name: [{ family: 'FICTIF', given: ['Test'] }],
    ...extra,
  };
}

async function failure(p: Promise<unknown>): Promise<PasserelleError> {
  try {
    await p;
  } catch (e) {
    if (isPasserelleError(e)) return e;
    throw e;
  }
  throw new Error('expected a failure');
}

beforeAll(async () => {
  peer = await startFhirPeer();
  proxy = await startFaultProxy({ target: peer.url });
});
afterAll(async () => {
  await proxy.close();
  await peer.close();
});
beforeEach(() => {
  peer.reset();
  proxy.stats.reset();
  proxy.clearPlan();
  proxy.setShare(undefined);
  sleeps = [];
});

describe('FHIR client against the peer', () => {
  it('creates, reads, updates with If-Match, updates conditionally, reads history and deletes, with versions from ETags', async () => {
    const c = client();
    const created = await c.create(patient('IPP1'), { ifNoneExist: { identifier: `${IPP}|IPP1` } });
    expect(created.status).toBe(201);
    expect(created.created).toBe(true);
    expect(created.id).toBe(created.resource?.id);
    expect(created.versionId).toBe(created.resource?.meta?.versionId);
    expect(created.location).toContain(`/Patient/${created.id}/_history/`);
    const id = created.id as string;

    const again = await c.create(patient('IPP1'), { ifNoneExist: { identifier: `${IPP}|IPP1` } });
    expect(again).toMatchObject({ status: 200, created: false, id });

    const read = await c.read<Patient>('Patient', id);
    expect(read.etag).toBe(`W/"${created.versionId}"`);
    const updated = await c.update(
      { ...read.resource, id, gender: 'female' },
      { ifMatch: read.versionId as string },
    );
    expect(updated.status).toBe(200);
    expect(updated.versionId).not.toBe(read.versionId);

    const stale = await failure(
      c.update({ ...read.resource, id, gender: 'male' }, { ifMatch: read.versionId as string }),
    );
    expect(stale.code).toBe('ERR_FHIR_PRECONDITION_FAILED');
    expect(stale.details['httpStatus']).toBe(412);

    const appt: Appointment = {
      resourceType: 'Appointment',
      identifier: [{ system: RDV, value: 'RDV1' }],
      status: 'booked',
      start: '2026-12-01T09:00:00Z',
      end: '2026-12-01T09:20:00Z',
      participant: [{ actor: { reference: `Patient/${id}` }, status: 'accepted' }],
    };
    const first = await c.conditionalUpdate(appt, { identifier: `${RDV}|RDV1` });
    const second = await c.conditionalUpdate(
      { ...appt, status: 'cancelled' },
      { identifier: `${RDV}|RDV1` },
      { ifMatch: first.versionId as string },
    );
    expect(first.created).toBe(true);
    expect(second).toMatchObject({ created: false, id: first.id });

    const history = await c.history('Patient', id);
    expect(history.resource.entry).toHaveLength(2);
    expect(
      (await c.vread<Patient>('Patient', id, created.versionId as string)).resource.gender,
    ).toBeUndefined();

    expect((await c.delete('Patient', id)).status).toBe(200);
    const gone = await failure(c.read('Patient', id));
    expect(gone.code).toBe('ERR_FHIR_OPERATION_OUTCOME');
    expect(gone.details['httpStatus']).toBe(410);
    expect((await c.capabilities()).resource.fhirVersion).toBe('4.0.1');
  });

  it('follows next links through the proxy and returns every match once (searchAll over 3 pages)', async () => {
    await peer.seed(Array.from({ length: 25 }, (_, i) => ({ ...patient(`IPP${i}`), id: `p${i}` })));
    const all = await client().searchAll<Patient>('Patient', { _count: 10 });
    expect(all).toHaveLength(25);
    expect(new Set(all.map((p) => p.id)).size).toBe(25);
    expect(proxy.stats.count('GET', '/fhir/R4/Patient')).toBe(3);
  });

  it('waits the Retry-After seconds of a 429, then succeeds', async () => {
    await peer.seed([{ ...patient('IPP1'), id: 'p1' }]);
    proxy.plan([{ kind: 'status', status: 429, retryAfter: 7, method: 'GET', path: '/fhir/R4/Patient/p1' }]);
    const r = await client({ retry: { max: 3, baseDelayMs: 100, maxDelayMs: 10_000 } }).read('Patient', 'p1');
    expect(r.status).toBe(200);
    expect(sleeps).toEqual([7000]);
    expect(proxy.stats.count('GET', '/fhir/R4/Patient/p1')).toBe(2);
    expect(proxy.stats.forwarded('GET', '/fhir/R4/Patient/p1')).toBe(1);
  });

  it('reads Retry-After as an HTTP date against the injected clock, and caps long waits', async () => {
    await peer.seed([{ ...patient('IPP1'), id: 'p1' }]);
    proxy.plan([
      { kind: 'status', status: 503, retryAfter: new Date(NOW + 4000).toUTCString() },
      { kind: 'status', status: 429, retryAfter: 3600 },
    ]);
    await client().read('Patient', 'p1');
    expect(sleeps).toEqual([4000, 5000]);
  });

  it('backs off as usual when Retry-After is neither delay-seconds nor an HTTP-date', async () => {
    await peer.seed([{ ...patient('IPP1'), id: 'p1' }]);
    // Date.parse reads "-3" as a date in 2001: taken as one, it would retry at once.
    proxy.plan([{ kind: 'status', status: 503, retryAfter: '-3' }]);
    await client().read('Patient', 'p1');
    expect(sleeps).toEqual([75]);
  });

  it('retries 500s with exponential backoff and jitter', async () => {
    await peer.seed([{ ...patient('IPP1'), id: 'p1' }]);
    proxy.plan([{ kind: 'status', status: 500, times: 2 }]);
    const r = await client().search('Patient', { identifier: `${IPP}|IPP1` });
    expect(r.resource.total).toBe(1);
    // random() = 0.5: half of each step plus a quarter: 100 → 75, 200 → 150.
    expect(sleeps).toEqual([75, 150]);
    expect(proxy.stats.count('GET', '/fhir/R4/Patient')).toBe(3);
  });

  it('gives up after retry.max retries with a retryable typed error', async () => {
    proxy.plan([{ kind: 'status', status: 503, times: 5 }]);
    const e = await failure(
      client({ retry: { max: 2, baseDelayMs: 100, maxDelayMs: 5000 } }).read('Patient', 'p1'),
    );
    expect(e.code).toBe('ERR_FHIR_OPERATION_OUTCOME');
    expect(e.retryable).toBe(true);
    expect(e.details['httpStatus']).toBe(503);
    expect(proxy.stats.count('GET', '/fhir/R4/Patient/p1')).toBe(3);
    expect(proxy.pending()).toBe(2);
  });

  it('times out a hanging request through AbortSignal, then retries it', async () => {
    await peer.seed([{ ...patient('IPP1'), id: 'p1' }]);
    proxy.plan([{ kind: 'hang', maxMs: 5000 }]);
    const r = await client({ timeoutMs: 300 }).read('Patient', 'p1');
    expect(r.status).toBe(200);
    expect(sleeps).toHaveLength(1);
    expect(proxy.stats.requests.map((q) => q.outcome)).toEqual(['hang', 'forwarded']);
  });

  it('retries a dropped connection on a read as a network error', async () => {
    await peer.seed([{ ...patient('IPP1'), id: 'p1' }]);
    proxy.plan([{ kind: 'reset' }]);
    expect((await client().read('Patient', 'p1')).status).toBe(200);
    expect(sleeps).toHaveLength(1);
  });

  it('hands a 412 on PUT to the caller as a typed error without retrying', async () => {
    await peer.seed([{ ...patient('IPP1'), id: 'p1' }]);
    proxy.plan([{ kind: 'status', status: 412, method: 'PUT' }]);
    const e = await failure(
      client().update({ ...patient('IPP1', { gender: 'male' }), id: 'p1' }, { ifMatch: 'whatever' }),
    );
    expect(e.code).toBe('ERR_FHIR_PRECONDITION_FAILED');
    expect(e.retryable).toBe(false);
    expect(e.message).toBe(
      'FHIR update Patient failed: HTTP 412 (processing: Precondition Failed (injected))',
    );
    expect(proxy.stats.count('PUT', '/fhir/R4/Patient/p1')).toBe(1);
    expect(sleeps).toEqual([]);
  });

  it('never retries a plain create, even on 503 or a timeout, so nothing is created twice', async () => {
    proxy.plan([{ kind: 'status', status: 503 }]);
    const e = await failure(client().create(patient('IPP1')));
    expect(e.retryable).toBe(true);
    proxy.plan([{ kind: 'hang', maxMs: 5000 }]);
    const t = await failure(client({ timeoutMs: 300 }).create(patient('IPP1')));
    expect(t.code).toBe('ERR_FHIR_TIMEOUT');
    expect(proxy.stats.count('POST', '/fhir/R4/Patient')).toBe(2);
    expect(sleeps).toEqual([]);
  });

  it('retries a conditional create, which lands exactly once', async () => {
    proxy.plan([
      { kind: 'status', status: 500 },
      { kind: 'status', status: 502 },
    ]);
    const r = await client().create(patient('IPP1'), { ifNoneExist: { identifier: `${IPP}|IPP1` } });
    expect(r.created).toBe(true);
    expect(proxy.stats.count('POST', '/fhir/R4/Patient')).toBe(3);
    expect((await client().search('Patient', { identifier: `${IPP}|IPP1` })).resource.total).toBe(1);
  });

  it('logs method, resource type, status and duration, never the search URL or its values', async () => {
    const chunks: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _enc, done) {
        chunks.push(chunk.toString());
        done();
      },
    });
    const logger = createLogger({ stream, level: 'debug' });
    proxy.plan([{ kind: 'status', status: 500 }]);
    await client({ logger }).search('Patient', {
      identifier: `${IPP}|IPP-SECRET-4242`,
      family: 'SECRETNAME',
    });
    await new Promise((r) => setImmediate(r));
    const lines = chunks
      .join('')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.length).toBeGreaterThanOrEqual(3);
    expect(
      lines.some(
        (l) =>
          l['message'] === 'fhir request' &&
          l['method'] === 'GET' &&
          l['resourceType'] === 'Patient' &&
          l['status'] === 200 &&
          typeof l['durationMs'] === 'number',
      ),
    ).toBe(true);
    expect(lines.some((l) => l['message'] === 'fhir request retried' && l['status'] === 500)).toBe(true);
    const all = chunks.join('');
    for (const leak of ['SECRET', 'identifier=', '127.0.0.1', '?']) expect(all).not.toContain(leak);
  });

  it('injects a seeded share of faults identically on each run, and the client rides through it', async () => {
    await peer.seed([{ ...patient('IPP1'), id: 'p1' }]);
    const run = async (): Promise<string[]> => {
      proxy.stats.reset();
      proxy.setShare({
        rate: 0.4,
        faults: [
          { kind: 'status', status: 503 },
          { kind: 'status', status: 429, retryAfter: 1 },
        ],
        seed: 42,
      });
      const c = client({ retry: { max: 10, baseDelayMs: 10, maxDelayMs: 5000 } });
      for (let i = 0; i < 10; i++) expect((await c.read('Patient', 'p1')).status).toBe(200);
      return proxy.stats.requests.map((r) => `${r.outcome}:${r.status ?? ''}`);
    };
    const first = await run();
    const second = await run();
    expect(second).toEqual(first);
    expect(first.filter((o) => o.startsWith('forwarded'))).toHaveLength(10);
    expect(first.length).toBeGreaterThan(10);
  });
});
