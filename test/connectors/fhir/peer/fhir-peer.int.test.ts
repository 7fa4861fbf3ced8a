/**
 * The interaction table of connectors/fhir/README.md, row by row, over HTTP on 127.0.0.1
 * against the Medplum-backed peer. Raw fetch, so each header and status is seen as sent.
 */
import { readdirSync } from 'node:fs';

import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type {
  Appointment,
  Bundle,
  CapabilityStatement,
  OperationOutcome,
  Patient,
  Resource,
} from '@medplum/fhirtypes';

import { type FhirPeer, runFhirPeerCli, startFhirPeer } from '../../../../connectors/fhir/peer/index.js';
import { fixturePath, readFixture } from '../../../helpers/fixtures.js';

let peer: FhirPeer;

interface Reply<T> {
  status: number;
  headers: Headers;
  body: T;
}

async function call<T = Resource>(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Reply<T>> {
  const res = await fetch(`${peer.url}/${path}`, {
    method,
    headers: {
      accept: 'application/fhir+json',
      ...(body !== undefined && { 'content-type': 'application/fhir+json' }),
      ...headers,
    },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: (text ? JSON.parse(text) : undefined) as T };
}

const IPP = 'urn:oid:1.2.250.1.999.1.1';
const RDV = 'urn:oid:1.2.250.1.999.1.2';

function patient(ipp: string, extra: Partial<Patient> = {}): Patient {
  return {
    resourceType: 'Patient',
    identifier: [{ system: IPP, value: ipp }],
    name: [{ family: 'FICTIF', given: ['Test'] }],
    ...extra,
  };
}

function appointment(value: string, start: string, extra: Partial<Appointment> = {}): Appointment {
  const end = new Date(Date.parse(start) + 20 * 60_000).toISOString();
  return {
    resourceType: 'Appointment',
    identifier: [{ system: RDV, value }],
    status: 'booked',
    start,
    end,
    participant: [{ actor: { reference: 'Practitioner/prat-1' }, status: 'accepted' }],
    ...extra,
  };
}

function ids(bundle: Bundle): string[] {
  return (bundle.entry ?? []).map((e) => e.resource?.id as string);
}

function issueCodes(outcome: OperationOutcome): string[] {
  return outcome.issue.map((i) => i.code);
}

beforeAll(async () => {
  peer = await startFhirPeer();
});
afterAll(async () => {
  await peer.close();
});
beforeEach(() => {
  peer.reset();
});

describe('FHIR peer over HTTP', () => {
  it('serves a CapabilityStatement listing the interactions and search parameters that work, and no Subscription', async () => {
    const { status, body } = await call<CapabilityStatement>('GET', 'metadata');
    expect(status).toBe(200);
    expect(body.fhirVersion).toBe('4.0.1');
    const appt = body.rest?.[0]?.resource?.find((r) => r.type === 'Appointment');
    expect(appt?.interaction?.map((i) => i.code).sort()).toEqual([
      'create',
      'delete',
      'history-instance',
      'read',
      'search-type',
      'update',
      'vread',
    ]);
    expect(appt).toMatchObject({
      versioning: 'versioned-update',
      conditionalCreate: true,
      conditionalUpdate: true,
      conditionalRead: 'not-match',
    });
    expect(appt?.searchParam?.map((p) => p.name)).toEqual(
      expect.arrayContaining(['identifier', 'date', '_lastUpdated', 'status', 'patient']),
    );
    expect(body.rest?.[0]?.resource?.map((r) => r.type)).not.toContain('Subscription');
    expect(body.rest?.[0]?.interaction ?? []).toEqual([]);
  });

  it('creates with a server-assigned id and answers 201 with Location, ETag and Last-Modified', async () => {
    const { status, headers, body } = await call<Patient>('POST', 'Patient', {
      ...patient('IPP1'),
      id: 'client-chosen',
    });
    expect(status).toBe(201);
    expect(body.id).toBeDefined();
    expect(body.id).not.toBe('client-chosen');
    expect(headers.get('etag')).toBe(`W/"${body.meta?.versionId}"`);
    expect(headers.get('location')).toBe(`${peer.url}/Patient/${body.id}/_history/${body.meta?.versionId}`);
    expect(Date.parse(headers.get('last-modified') as string)).toBe(
      Math.floor(Date.parse(body.meta?.lastUpdated as string) / 1000) * 1000,
    );
    expect(headers.get('content-type')).toMatch(/^application\/fhir\+json/);
  });

  it('reads a resource with its ETag, and answers 304 to If-None-Match with the current version', async () => {
    const created = (await call<Patient>('POST', 'Patient', patient('IPP1'))).body;
    const read = await call<Patient>('GET', `Patient/${created.id}`);
    expect(read.status).toBe(200);
    expect(read.body.identifier?.[0]?.value).toBe('IPP1');
    expect(read.headers.get('etag')).toBe(`W/"${created.meta?.versionId}"`);
    const notModified = await call('GET', `Patient/${created.id}`, undefined, {
      'If-None-Match': `W/"${created.meta?.versionId}"`,
    });
    expect(notModified.status).toBe(304);
    const stale = await call('GET', `Patient/${created.id}`, undefined, { 'If-None-Match': 'W/"other"' });
    expect(stale.status).toBe(200);
    expect((await call<OperationOutcome>('GET', 'Patient/unknown-id')).status).toBe(404);
  });

  it('updates to a new version, keeps the old one for vread, and creates on PUT to a new id (201)', async () => {
    const v1 = (await call<Patient>('POST', 'Patient', patient('IPP1'))).body;
    const v2 = await call<Patient>('PUT', `Patient/${v1.id}`, {
      ...patient('IPP1', { gender: 'female' }),
      id: v1.id,
    });
    expect(v2.status).toBe(200);
    expect(v2.body.meta?.versionId).not.toBe(v1.meta?.versionId);
    expect(v2.headers.get('etag')).toBe(`W/"${v2.body.meta?.versionId}"`);
    const old = await call<Patient>('GET', `Patient/${v1.id}/_history/${v1.meta?.versionId}`);
    expect(old.status).toBe(200);
    expect(old.body.gender).toBeUndefined();
    expect(old.headers.get('etag')).toBe(`W/"${v1.meta?.versionId}"`);
    const fresh = await call<Patient>('PUT', 'Patient/chosen-id', { ...patient('IPP2'), id: 'chosen-id' });
    expect(fresh.status).toBe(201);
    expect(fresh.body.id).toBe('chosen-id');
    expect((await call('PUT', `Patient/${v1.id}`, { ...patient('IPP1'), id: 'mismatch' })).status).toBe(400);
  });

  it('honours If-Match on update: 412 for a stale version, 200 for the current one, 400 for a malformed tag', async () => {
    const v1 = (await call<Patient>('POST', 'Patient', patient('IPP1'))).body;
    const v2 = (
      await call<Patient>('PUT', `Patient/${v1.id}`, { ...patient('IPP1', { gender: 'male' }), id: v1.id })
    ).body;
    const stale = await call<OperationOutcome>(
      'PUT',
      `Patient/${v1.id}`,
      { ...patient('IPP1', { gender: 'female' }), id: v1.id },
      { 'If-Match': `W/"${v1.meta?.versionId}"` },
    );
    expect(stale.status).toBe(412);
    expect(stale.body.resourceType).toBe('OperationOutcome');
    expect((await call<Patient>('GET', `Patient/${v1.id}`)).body.gender).toBe('male');
    const ok = await call<Patient>(
      'PUT',
      `Patient/${v1.id}`,
      { ...patient('IPP1', { gender: 'female' }), id: v1.id },
      { 'If-Match': `W/"${v2.meta?.versionId}"` },
    );
    expect(ok.status).toBe(200);
    expect(ok.body.gender).toBe('female');
    expect(
      (await call('PUT', `Patient/${v1.id}`, { ...patient('IPP1'), id: v1.id }, { 'If-Match': 'no-quotes' }))
        .status,
    ).toBe(400);
  });

  it('makes a conditional create with If-None-Exist: 201 when nothing matches, 200 with the existing one when one does, 412 for several', async () => {
    const first = await call<Patient>('POST', 'Patient', patient('IPP1'), {
      'If-None-Exist': `identifier=${IPP}|IPP1`,
    });
    expect(first.status).toBe(201);
    const again = await call<Patient>('POST', 'Patient', patient('IPP1'), {
      'If-None-Exist': `identifier=${IPP}|IPP1`,
    });
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(first.body.id);
    expect((await call<Bundle>('GET', `Patient?identifier=${IPP}|IPP1`)).body.total).toBe(1);
    await call('POST', 'Patient', patient('IPP1'));
    expect(
      (await call('POST', 'Patient', patient('IPP1'), { 'If-None-Exist': `identifier=${IPP}|IPP1` })).status,
    ).toBe(412);
  });

  it('makes a conditional update by business identifier: creates, then updates the same id, 412 on several matches or a stale If-Match', async () => {
    const query = `Appointment?identifier=${encodeURIComponent(`${RDV}|RDV1`)}`;
    const created = await call<Appointment>('PUT', query, appointment('RDV1', '2026-12-01T09:00:00Z'));
    expect(created.status).toBe(201);
    const updated = await call<Appointment>(
      'PUT',
      query,
      appointment('RDV1', '2026-12-01T09:00:00Z', { status: 'cancelled' }),
    );
    expect(updated.status).toBe(200);
    expect(updated.body.id).toBe(created.body.id);
    expect(updated.body.meta?.versionId).not.toBe(created.body.meta?.versionId);
    const stale = await call(
      'PUT',
      query,
      appointment('RDV1', '2026-12-01T09:00:00Z', { status: 'noshow' }),
      { 'If-Match': `W/"${created.body.meta?.versionId}"` },
    );
    expect(stale.status).toBe(412);
    const fresh = await call<Appointment>(
      'PUT',
      query,
      appointment('RDV1', '2026-12-01T09:00:00Z', { status: 'noshow' }),
      { 'If-Match': `W/"${updated.body.meta?.versionId}"` },
    );
    expect(fresh.status).toBe(200);
    expect(fresh.body.status).toBe('noshow');
    await call('POST', 'Appointment', appointment('RDV1', '2026-12-02T09:00:00Z'));
    expect((await call('PUT', query, appointment('RDV1', '2026-12-01T09:00:00Z'))).status).toBe(412);
  });

  it('deletes: 200, then 410 Gone on read and history, 200 again on a repeated delete', async () => {
    const p = (await call<Patient>('POST', 'Patient', patient('IPP1'))).body;
    expect((await call('DELETE', `Patient/${p.id}`)).status).toBe(200);
    expect((await call('GET', `Patient/${p.id}`)).status).toBe(410);
    expect((await call('GET', `Patient/${p.id}/_history`)).status).toBe(410);
    expect((await call('DELETE', `Patient/${p.id}`)).status).toBe(200);
    expect((await call<Bundle>('GET', 'Patient')).body.total).toBe(0);
    expect((await call('DELETE', 'Patient/never-existed')).status).toBe(404);
  });

  it('deletes conditionally when exactly one resource matches', async () => {
    const p = (await call<Patient>('POST', 'Patient', patient('IPP1'))).body;
    expect((await call('DELETE', `Patient?identifier=${IPP}|IPP1`)).status).toBe(200);
    expect((await call('GET', `Patient/${p.id}`)).status).toBe(410);
    await call('POST', 'Patient', patient('IPP2'));
    await call('POST', 'Patient', patient('IPP2'));
    expect((await call('DELETE', `Patient?identifier=${IPP}|IPP2`)).status).toBe(412);
  });

  it('returns instance history newest first, and refuses type- and system-level history with not-supported', async () => {
    const v1 = (await call<Patient>('POST', 'Patient', patient('IPP1'))).body;
    await call('PUT', `Patient/${v1.id}`, { ...patient('IPP1', { gender: 'male' }), id: v1.id });
    const v3 = (
      await call<Patient>('PUT', `Patient/${v1.id}`, { ...patient('IPP1', { gender: 'female' }), id: v1.id })
    ).body;
    const history = await call<Bundle<Patient>>('GET', `Patient/${v1.id}/_history`);
    expect(history.status).toBe(200);
    expect(history.body.type).toBe('history');
    expect(history.body.entry?.map((e) => e.resource?.meta?.versionId)).toHaveLength(3);
    expect(history.body.entry?.[0]?.resource?.meta?.versionId).toBe(v3.meta?.versionId);
    expect(history.body.entry?.[2]?.resource?.meta?.versionId).toBe(v1.meta?.versionId);
    for (const path of ['Patient/_history', '_history']) {
      const r = await call<OperationOutcome>('GET', path);
      expect(r.status).toBe(400);
      expect(issueCodes(r.body)).toEqual(['not-supported']);
    }
  });

  it('searches by token (identifier system|value) and by _lastUpdated=gt', async () => {
    const a = (await call<Patient>('POST', 'Patient', patient('IPP1'))).body;
    const b = (await call<Patient>('POST', 'Patient', patient('IPP2'))).body;
    const byId = await call<Bundle>('GET', `Patient?identifier=${encodeURIComponent(`${IPP}|IPP1`)}`);
    expect(ids(byId.body)).toEqual([a.id]);
    expect(byId.body.entry?.[0]?.fullUrl).toBe(`${peer.url}/Patient/${a.id}`);
    expect(byId.body.entry?.[0]?.search?.mode).toBe('match');
    await peer.seed([
      { ...patient('IPP3'), id: 'at-10h', meta: { versionId: 'a', lastUpdated: '2026-01-01T10:00:00.000Z' } },
      { ...patient('IPP4'), id: 'at-11h', meta: { versionId: 'b', lastUpdated: '2026-01-01T11:00:00.000Z' } },
    ]);
    const since = await call<Bundle>(
      'GET',
      `Patient?_lastUpdated=gt${encodeURIComponent('2026-01-01T10:00:00.000Z')}&_lastUpdated=lt2026-06-01`,
    );
    expect(ids(since.body)).toEqual(['at-11h']);
    // Resources written over HTTP carry the server's time, later than the seeded ones.
    const recent = await call<Bundle>(
      'GET',
      `Patient?_lastUpdated=gt${encodeURIComponent('2026-01-01T11:00:00.000Z')}&_sort=_lastUpdated`,
    );
    expect(ids(recent.body).sort()).toEqual([a.id, b.id].sort());
  });

  it('searches Appointment by date range and sorts by date both ways', async () => {
    const times = [
      '2026-12-03T10:00:00Z',
      '2026-12-01T10:00:00+01:00',
      '2026-12-02T08:00:00Z',
      '2027-01-05T08:00:00Z',
    ];
    for (const [i, t] of times.entries()) await call('POST', 'Appointment', appointment(`RDV${i}`, t));
    const dec = await call<Bundle<Appointment>>(
      'GET',
      'Appointment?date=ge2026-12-01&date=lt2026-12-31&_sort=date',
    );
    expect(dec.body.entry?.map((e) => e.resource?.start)).toEqual([times[1], times[2], times[0]]);
    const desc = await call<Bundle<Appointment>>('GET', 'Appointment?_sort=-date');
    expect(desc.body.entry?.map((e) => e.resource?.start)).toEqual([times[3], times[0], times[2], times[1]]);
  });

  it('searches by string (anywhere in the value), by reference, and with :missing and token :not', async () => {
    await peer.seed([
      { ...patient('IPP1', { gender: 'male', name: [{ family: 'DURAND' }] }), id: 'm1' },
      { ...patient('IPP2', { gender: 'female', name: [{ family: 'LEDURANDIN' }] }), id: 'f1' },
      { ...patient('IPP3', { name: [{ family: 'MARTIN' }] }), id: 'u1' },
      {
        ...appointment('RDV1', '2026-12-01T09:00:00Z', {
          participant: [{ actor: { reference: 'Patient/f1' }, status: 'accepted' }],
        }),
        id: 'a1',
      },
    ]);
    const sorted = async (q: string): Promise<string[]> => ids((await call<Bundle>('GET', q)).body).sort();
    expect(await sorted('Patient?family=durand')).toEqual(['f1', 'm1']);
    expect(await sorted('Patient?gender:missing=true')).toEqual(['u1']);
    expect(await sorted('Patient?gender:not=male')).toEqual(['f1', 'u1']);
    expect(await sorted('Appointment?patient=Patient/f1')).toEqual(['a1']);
    expect(await sorted('Appointment?patient=Patient/m1')).toEqual([]);
  });

  it('pages with _count through next links until the last page, each resource once', async () => {
    await peer.seed(
      Array.from({ length: 45 }, (_, i) => ({ ...patient(`IPP${i}`), id: `p${String(i).padStart(3, '0')}` })),
    );
    let page = await call<Bundle>('GET', 'Patient?_count=10&_sort=_id');
    const seen: string[] = [];
    let pages = 0;
    for (;;) {
      pages += 1;
      expect(page.status).toBe(200);
      expect(page.body.total).toBe(45);
      seen.push(...ids(page.body));
      const next = page.body.link?.find((l) => l.relation === 'next')?.url;
      if (!next) break;
      expect(next.startsWith(peer.url)).toBe(true);
      page = await call<Bundle>('GET', next.slice(peer.url.length + 1));
    }
    expect(pages).toBe(5);
    expect(seen).toHaveLength(45);
    expect(new Set(seen).size).toBe(45);
    expect(seen[0]).toBe('p000');
    expect(page.body.link?.find((l) => l.relation === 'previous')?.url).toContain('_offset=30');
  });

  it('applies a default page size of 20 and caps _count at 1000', async () => {
    await peer.seed(Array.from({ length: 1005 }, (_, i) => ({ ...patient(`IPP${i}`), id: `p${i}` })));
    const plain = await call<Bundle>('GET', 'Patient');
    expect(plain.body.entry).toHaveLength(20);
    const big = await call<Bundle>('GET', 'Patient?_count=5000');
    expect(big.body.entry).toHaveLength(1000);
    expect(big.body.link?.find((l) => l.relation === 'self')?.url).toContain('_count=1000');
    expect(big.body.link?.find((l) => l.relation === 'next')?.url).toContain('_offset=1000');
  });

  it('refuses what it does not implement instead of ignoring it: _include, unknown parameters, modifiers, Subscription', async () => {
    const include = await call<OperationOutcome>('GET', 'Appointment?_include=Appointment:patient');
    expect(include.status).toBe(400);
    expect(issueCodes(include.body)).toEqual(['not-supported']);
    expect((await call('GET', 'Patient?shoe-size=42')).status).toBe(400);
    expect((await call('GET', 'Patient?identifier:of-type=x')).status).toBe(400);
    expect((await call('GET', 'Patient?organization.name=x')).status).toBe(400);
    const sub = await call('POST', 'Subscription', {
      resourceType: 'Subscription',
      status: 'requested',
      reason: 'x',
      criteria: 'Appointment?',
      channel: { type: 'rest-hook', endpoint: 'http://127.0.0.1:9/hook' },
    });
    expect(sub.status).toBe(404);
    expect((await call('POST', '', { resourceType: 'Bundle', type: 'transaction', entry: [] })).status).toBe(
      400,
    );
  });

  it('rejects a resource with an unknown element or a wrong body type with an OperationOutcome', async () => {
    const bad = await call<OperationOutcome>('POST', 'Patient', { ...patient('IPP1'), shoeSize: 42 });
    expect(bad.status).toBe(400);
    expect(bad.body.issue[0]?.expression).toEqual(['Patient.shoeSize']);
    expect((await call('POST', 'Patient', { resourceType: 'Practitioner' })).status).toBe(400);
    const res = await fetch(`${peer.url}/Patient`, {
      method: 'POST',
      headers: { 'content-type': 'application/fhir+json' },
      body: '{not json',
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as OperationOutcome).resourceType).toBe('OperationOutcome');
  });

  it('honours Prefer: return=minimal with headers only', async () => {
    const r = await call('POST', 'Patient', patient('IPP1'), { Prefer: 'return=minimal' });
    expect(r.status).toBe(201);
    expect(r.body).toBeUndefined();
    expect(r.headers.get('location')).toMatch(/\/Patient\/[^/]+\/_history\/[^/]+$/);
  });

  it('stores the official R4 and FR Core examples by PUT and reads them back unchanged apart from meta', async () => {
    for (const dir of ['r4', 'fr-core']) {
      for (const file of readdirSync(fixturePath('fhir', dir))) {
        const resource = JSON.parse(readFixture('fhir', dir, file)) as Resource;
        const put = await call('PUT', `${resource.resourceType}/${resource.id}`, resource);
        expect([file, put.status]).toEqual([file, 201]);
        const { body } = await call<Resource>('GET', `${resource.resourceType}/${resource.id}`);
        const { meta: _meta, ...rest } = body;
        expect(rest).toEqual(resource);
      }
    }
  });

  it('with history off, refuses every _history and lists neither vread nor history-instance', async () => {
    const plain = await startFhirPeer({ history: false });
    try {
      const at = async (method: string, path: string, body?: unknown) => {
        const res = await fetch(`${plain.url}/${path}`, {
          method,
          headers: { 'content-type': 'application/fhir+json' },
          ...(body !== undefined && { body: JSON.stringify(body) }),
        });
        return { status: res.status, body: (await res.json()) as Resource };
      };
      const cs = (await at('GET', 'metadata')).body as CapabilityStatement;
      const entry = cs.rest?.[0]?.resource?.find((r) => r.type === 'Patient');
      expect(entry?.interaction?.map((i) => i.code)).toEqual([
        'read',
        'update',
        'delete',
        'create',
        'search-type',
      ]);
      expect(entry?.readHistory).toBe(false);
      const p = (await at('POST', 'Patient', patient('IPP1'))).body as Patient;
      for (const path of [
        `Patient/${p.id}/_history`,
        `Patient/${p.id}/_history/${p.meta?.versionId}`,
        'Patient/_history',
      ]) {
        const r = await at('GET', path);
        expect(r.status).toBe(400);
        expect(issueCodes(r.body as OperationOutcome)).toEqual(['not-supported']);
      }
      expect((await at('GET', `Patient/${p.id}`)).status).toBe(200);
    } finally {
      await plain.close();
    }
  });

  it('starts the demo peer the CLI runs, seeded with an agenda, blocked and urgent slots and bookings', async () => {
    const demo = await runFhirPeerCli({ port: 0, now: () => new Date('2026-11-23T08:00:00Z') });
    try {
      const get = async (q: string): Promise<Bundle> =>
        (await (await fetch(`${demo.url}/${q}`)).json()) as Bundle;
      expect((await get('Practitioner')).total).toBe(2);
      expect((await get('Appointment?status=booked')).total).toBe(2);
      expect((await get('Slot?schedule=Schedule/agenda-1&status=busy-unavailable')).total).toBe(3);
      expect(
        (await get('Slot?appointment-type=http://terminology.hl7.org/CodeSystem/v2-0276|EMERGENCY&_count=0'))
          .total,
      ).toBe(10);
    } finally {
      await demo.close();
    }
  });
});
