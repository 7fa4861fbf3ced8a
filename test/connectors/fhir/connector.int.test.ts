/**
 * The FHIR connector on its own against the FHIR peer over HTTP on 127.0.0.1 (behind the fault
 * proxy): what each push writes and answers, and how pull pages, resumes and skips. The whole
 * service around it is fhir-connector-sync.test.ts.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type {
  Appointment as FhirAppointment,
  Bundle,
  Communication as FhirCommunication,
  Patient as FhirPatient,
} from '@medplum/fhirtypes';

import { FhirConfig as FhirConfigSchema } from '../../../connectors/fhir/config.js';
import { createFhirConnector, type FhirConfig } from '../../../connectors/fhir/index.js';
import {
  demoPractice,
  type FaultProxy,
  type FhirPeer,
  generatePatients,
  startFaultProxy,
  startFhirPeer,
} from '../../../connectors/fhir/peer/index.js';
import { DEFAULT_CANCEL_REASON, PASSERELLE_ID_SYSTEM } from '../../../connectors/fhir/push.js';
import type { Connector, OutboundChange, PullPage } from '../../../src/connector/contract.js';
import { silentLogger } from '../../../src/log/logger.js';
import { shippedPlan } from '../../../src/mapping/runtime.js';
import { EXT } from '../../../src/model/identifiers.js';
import type { Appointment, CanonicalResource, Communication, Patient } from '../../../src/model/resources.js';
import type { Link } from '../../../src/store/types.js';

const APPOINTMENT_SYSTEM = 'urn:oid:1.2.250.1.999.1.2';

let peer: FhirPeer;
let proxy: FaultProxy;
let polls: number;

function link(id = 'lnk-fhir'): Link {
  return {
    id,
    practiceId: 'prac-1',
    role: 'practice',
    connector: 'fhir',
    name: 'FHIR',
    profile: null,
    config: {},
    secrets: null,
    schedule: null,
    isTest: true,
    enabled: true,
    version: 1,
    createdAt: '',
    updatedAt: '',
  };
}

function connector(config: Partial<FhirConfig> = {}): Connector {
  const parsed = FhirConfigSchema.parse({
    baseUrl: proxy.url,
    timeoutMs: 1000,
    retry: { max: 2, baseDelayMs: 10, maxDelayMs: 100 },
    ...config,
  });
  const plan = shippedPlan('fhir-r4-fr-core');
  return createFhirConnector(parsed, {
    link: link(),
    secrets: null,
    log: silentLogger,
    now: Date.now,
    signal: new AbortController().signal,
    timezone: 'Europe/Paris',
    publicUrl: '',
    mapping: async () => ({ plan, context: { timezone: 'Europe/Paris', testLink: true } }),
    requestPoll: () => {
      polls++;
    },
  });
}

let seq = 0;
function change(
  kind: CanonicalResource['resourceType'],
  data: CanonicalResource,
  extra: Partial<OutboundChange> = {},
): OutboundChange {
  seq++;
  return {
    seq,
    op: 'upsert',
    kind,
    canonicalId: data.id,
    externalId: null,
    expectedVersion: null,
    data,
    base: null,
    idempotencyKey: `key-${seq}`,
    priority: 5,
    ...extra,
  };
}

function booking(id: string, extra: Partial<Appointment> = {}): Appointment {
  return {
    resourceType: 'Appointment',
    id,
    status: 'booked',
    start: '2030-03-11T09:20:00.000Z',
    end: '2030-03-11T09:40:00.000Z',
    slot: [{ reference: 'Slot/slot-1-0-3' }],
    extension: [{ url: EXT.appointmentOperator, valueReference: { display: 'agent-amelie' } }],
    participant: [
      { actor: { reference: 'Practitioner/prat-medecin-1' }, status: 'accepted' },
      { actor: { reference: 'Patient/pat-000003' }, status: 'accepted' },
    ],
    ...extra,
  };
}

async function get<T>(path: string): Promise<{ status: number; body: T }> {
  const res = await fetch(`${peer.url}/${path}`);
  return { status: res.status, body: (await res.json()) as T };
}

beforeAll(async () => {
  peer = await startFhirPeer();
  proxy = await startFaultProxy({ target: peer.url });
});
afterAll(async () => {
  await proxy.close();
  await peer.close();
});
beforeEach(async () => {
  peer.reset();
  await peer.seed(demoPractice(new Date('2030-03-11T00:00:00Z')));
  proxy.clearPlan();
  proxy.stats.reset();
  polls = 0;
});

describe('FHIR connector push', () => {
  it('creates an appointment once however often the creation is pushed: PUT Appointment?identifier=<system>|<canonical id>', async () => {
    const c = connector();
    const data = booking('c0ffee00-0000-4000-8000-000000000001');
    const first = await c.push(change('Appointment', data));
    const again = await c.push(change('Appointment', data));
    expect(first).toMatchObject({ ok: true });
    expect(again).toEqual(first.ok ? { ...first, version: expect.any(String) } : first);
    const found = (
      await get<Bundle<FhirAppointment>>(
        `Appointment?identifier=${encodeURIComponent(`${APPOINTMENT_SYSTEM}|${data.id}`)}`,
      )
    ).body;
    expect(found.total).toBe(1);
    expect(found.entry?.[0]?.resource).toMatchObject({
      status: 'booked',
      extension: [{ url: EXT.appointmentOperator, valueReference: { display: 'agent-amelie' } }],
    });
    expect(proxy.stats.requests.map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual(
      expect.arrayContaining(['PUT /fhir/R4/Appointment 201', 'PUT /fhir/R4/Appointment 200']),
    );
  });

  it('keeps the record’s own business identifier when it has one', async () => {
    const c = connector();
    const data = booking('c0ffee00-0000-4000-8000-000000000002', {
      identifier: [{ system: APPOINTMENT_SYSTEM, value: 'RDV-SEC-42' }],
    });
    const r = await c.push(change('Appointment', data));
    expect(r.ok).toBe(true);
    expect(
      (await get<Bundle>(`Appointment?identifier=${encodeURIComponent(`${APPOINTMENT_SYSTEM}|RDV-SEC-42`)}`))
        .body.total,
    ).toBe(1);
  });

  it('cancels with status cancelled and a reason (the default one when none is given), by If-Match update', async () => {
    const c = connector();
    const current = (await get<FhirAppointment>('Appointment/rdv-1')).body;
    const data = { ...(current as unknown as Appointment), id: 'rdv-1', status: 'cancelled' } as Appointment;
    const r = await c.push(
      change('Appointment', data, {
        op: 'cancel',
        externalId: 'rdv-1',
        expectedVersion: current.meta?.versionId ?? null,
      }),
    );
    expect(r).toMatchObject({ ok: true, externalId: 'rdv-1' });
    expect((await get<FhirAppointment>('Appointment/rdv-1')).body).toMatchObject({
      status: 'cancelled',
      cancelationReason: { text: DEFAULT_CANCEL_REASON },
    });
    expect(proxy.stats.count('DELETE', /Appointment/)).toBe(0);
  });

  it('hands back the server’s current record, mapped through the profile, when the version moved (412)', async () => {
    const c = connector();
    const v1 = (await get<FhirAppointment>('Appointment/rdv-1')).body;
    // The practice edits it in its software.
    const edited = await fetch(`${peer.url}/Appointment/rdv-1`, {
      method: 'PUT',
      headers: { 'content-type': 'application/fhir+json', 'if-match': `W/"${v1.meta?.versionId}"` },
      body: JSON.stringify({ ...v1, comment: 'Vu par le médecin' }),
    });
    const v2 = ((await edited.json()) as FhirAppointment).meta?.versionId;
    const r = await c.push(
      change(
        'Appointment',
        { ...(v1 as unknown as Appointment), id: 'rdv-1', comment: 'Note du secrétariat' },
        { externalId: 'rdv-1', expectedVersion: v1.meta?.versionId ?? null },
      ),
    );
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.code).toBe('ERR_FHIR_PRECONDITION_FAILED');
    expect(r.current).toMatchObject({
      kind: 'Appointment',
      externalId: 'rdv-1',
      version: v2,
      data: { comment: 'Vu par le médecin' },
    });
    expect((await get<FhirAppointment>('Appointment/rdv-1')).body.comment).toBe('Vu par le médecin');
  });

  it('sends again once after a 412 when the server still holds the version it refused', async () => {
    const c = connector();
    const v1 = (await get<FhirAppointment>('Appointment/rdv-2')).body;
    proxy.plan([{ kind: 'status', status: 412, method: 'PUT', path: '/fhir/R4/Appointment/rdv-2' }]);
    const r = await c.push(
      change(
        'Appointment',
        { ...(v1 as unknown as Appointment), id: 'rdv-2', comment: 'Après un 412 parasite' },
        { externalId: 'rdv-2', expectedVersion: v1.meta?.versionId ?? null },
      ),
    );
    expect(r).toMatchObject({ ok: true, externalId: 'rdv-2' });
    expect(proxy.stats.requests.filter((q) => q.method === 'PUT').map((q) => q.status)).toEqual([412, 200]);
    expect((await get<FhirAppointment>('Appointment/rdv-2')).body.comment).toBe('Après un 412 parasite');
  });

  it('writes nothing when the server already holds the change', async () => {
    const c = connector();
    const v1 = (await get<FhirAppointment>('Appointment/rdv-1')).body;
    const r = await c.push(
      change(
        'Appointment',
        { ...(v1 as unknown as Appointment), id: 'rdv-1' },
        { externalId: 'rdv-1', expectedVersion: v1.meta?.versionId ?? null },
      ),
    );
    expect(r).toEqual({ ok: true, externalId: 'rdv-1', version: v1.meta?.versionId });
    expect(proxy.stats.count('PUT', /Appointment/)).toBe(0);
  });

  it('takes a resource deleted on the server as deleted: a cancellation holds, an update hands back a tombstone', async () => {
    const c = connector();
    await fetch(`${peer.url}/Appointment/rdv-2`, { method: 'DELETE' });
    const cancel = await c.push(
      change('Appointment', booking('x', { status: 'cancelled' }), {
        op: 'cancel',
        externalId: 'rdv-2',
        expectedVersion: '1',
      }),
    );
    expect(cancel).toEqual({ ok: true, externalId: 'rdv-2' });
    const move = await c.push(
      change('Appointment', booking('x'), { externalId: 'rdv-2', expectedVersion: '1' }),
    );
    expect(move).toMatchObject({
      ok: false,
      error: { code: 'ERR_FHIR_GONE', retryable: false },
      current: { kind: 'Appointment', externalId: 'rdv-2', deleted: true },
    });
    expect(proxy.stats.count('PUT', /Appointment/)).toBe(0);
  });

  it('writes a call message as a Communication with its priority, created once (If-None-Exist)', async () => {
    const c = connector();
    const message: Communication = {
      resourceType: 'Communication',
      id: 'c0ffee00-0000-4000-8000-00000000a001',
      status: 'completed',
      priority: 'urgent',
      subject: { reference: 'Patient/pat-000001' },
      recipient: [{ reference: 'Practitioner/prat-medecin-1' }],
      sent: '2030-03-10T08:12:00.000Z',
      payload: [{ contentString: 'Douleur thoracique, rappeler vite.' }],
    };
    const first = await c.push(change('Communication', message));
    const again = await c.push(change('Communication', message));
    expect(first.ok && again.ok && first.externalId === again.externalId).toBe(true);
    const found = (
      await get<Bundle<FhirCommunication>>(
        `Communication?identifier=${encodeURIComponent(`${PASSERELLE_ID_SYSTEM.Communication}|${message.id}`)}`,
      )
    ).body;
    expect(found.total).toBe(1);
    expect(found.entry?.[0]?.resource).toMatchObject({
      priority: 'urgent',
      payload: [{ contentString: 'Douleur thoracique, rappeler vite.' }],
    });
    expect(proxy.stats.requests.filter((q) => q.method === 'POST').map((q) => q.status)).toEqual([201, 200]);
  });

  it('creates a secretariat patient proposal with If-None-Exist, with only what the profile maps', async () => {
    const c = connector();
    const proposal: Patient = {
      resourceType: 'Patient',
      id: 'c0ffee00-0000-4000-8000-00000000b001',
      name: [{ use: 'official', family: 'PROPOSITION', given: ['Paula'] }],
      gender: 'female',
      birthDate: '1991-05-05',
      telecom: [{ system: 'phone', use: 'mobile', value: '+33612345678' }],
      extension: [{ url: EXT.origin, valueCode: 'secretariat' }],
    };
    const r = await c.push(change('Patient', proposal));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const created = (await get<FhirPatient>(`Patient/${r.externalId}`)).body;
    expect(created).toMatchObject({
      name: [{ use: 'official', family: 'PROPOSITION', given: ['Paula'] }],
      birthDate: '1991-05-05',
      identifier: [{ system: PASSERELLE_ID_SYSTEM.Patient, value: proposal.id }],
    });
    expect(created.telecom).toEqual([{ system: 'phone', use: 'mobile', value: '+33612345678' }]);
  });

  it('refuses for good what the profile does not write and operations with no FHIR form', async () => {
    const c = connector();
    const practitioner = await c.push(
      change('Practitioner', { resourceType: 'Practitioner', id: 'p1', name: [{ family: 'X' }] }),
    );
    expect(practitioner).toMatchObject({
      ok: false,
      error: {
        code: 'ERR_FHIR_PUSH_REFUSED',
        retryable: false,
        message:
          'upsert Practitioner: profile fhir-r4-fr-core does not write Practitioner to the practice software',
      },
    });
    const reject = await c.push(change('Appointment', booking('x'), { op: 'reject', externalId: 'rdv-1' }));
    expect(reject).toMatchObject({ ok: false, error: { code: 'ERR_FHIR_PUSH_REFUSED' } });
    expect(proxy.stats.requests.filter((q) => q.method !== 'GET')).toEqual([]);
  });
});

describe('FHIR connector pull', () => {
  /** Pulls until the poll ends (hasMore false), like the runtime, keeping each page's cursor. */
  async function pollAll(
    c: Connector,
    cursor: string | null,
  ): Promise<{ pages: PullPage[]; cursor: string | null }> {
    const pages: PullPage[] = [];
    let next = cursor;
    for (let i = 0; i < 200; i++) {
      const page = await (c.pull as NonNullable<Connector['pull']>)(next, 100);
      pages.push(page);
      next = page.next ?? next;
      if (!page.hasMore) break;
    }
    return { pages, cursor: next };
  }
  const ids = (pages: readonly PullPage[], kind: string) =>
    pages.flatMap((p) => p.records.filter((r) => r.kind === kind).map((r) => r.externalId));

  it('loads every kind in dependency order, page by page, each record mapped with its version', async () => {
    const c = connector({ pageSize: 25 });
    const { pages } = await pollAll(c, null);
    const kinds = pages.flatMap((p) => p.records.map((r) => r.kind));
    expect([...new Set(kinds)]).toEqual(['Practitioner', 'Patient', 'Schedule', 'Slot', 'Appointment']);
    expect(ids(pages, 'Slot')).toHaveLength(90);
    expect(new Set(ids(pages, 'Slot')).size).toBe(90);
    const rdv = pages.flatMap((p) => p.records).find((r) => r.externalId === 'rdv-1');
    expect(rdv?.version).toMatch(/./);
    expect(rdv?.data).toMatchObject({
      resourceType: 'Appointment',
      identifier: [{ system: APPOINTMENT_SYSTEM, value: 'RDV000001' }],
      participant: expect.arrayContaining([
        { actor: { reference: 'Patient/pat-000001' }, status: 'accepted' },
      ]),
    });
    // 90 slots in pages of 25: 4 pages, each one GET (the first a search, then `next` links).
    expect(proxy.stats.count('GET', '/fhir/R4/Slot')).toBe(4);
  });

  it('resumes an initial load from its cursor with only the page in flight fetched again', async () => {
    await peer.seed(generatePatients(240, 5000));
    const c = connector({ pageSize: 50, kinds: ['Patient'] });
    const pull = c.pull as NonNullable<Connector['pull']>;
    const p1 = await pull(null, 100);
    const p2 = await pull(p1.next, 100);
    // Page 3 is fetched, then the process dies before the engine commits it.
    await pull(p2.next, 100);
    const fetched = proxy.stats.count('GET', '/fhir/R4/Patient');
    const restarted = connector({ pageSize: 50, kinds: ['Patient'] });
    const { pages } = await pollAll(restarted, p2.next);
    const all = [...ids([p1, p2], 'Patient'), ...ids(pages, 'Patient')];
    expect(all).toHaveLength(250);
    expect(new Set(all).size).toBe(250);
    // 250 patients in pages of 50: 5 pages, and the one in flight again.
    expect(fetched).toBe(3);
    expect(proxy.stats.count('GET', '/fhir/R4/Patient')).toBe(6);
  });

  it('then reads only what changed, by _lastUpdated with an overlap, skipping versions already taken', async () => {
    const c = connector({ pageSize: 20 });
    const { cursor } = await pollAll(c, null);
    const quiet = await pollAll(c, cursor);
    expect(quiet.pages.flatMap((p) => p.records)).toEqual([]);
    // The practice edits two patients and blocks a slot.
    for (const id of ['pat-000002', 'pat-000007']) {
      const p = (await get<FhirPatient>(`Patient/${id}`)).body;
      await fetch(`${peer.url}/Patient/${id}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/fhir+json' },
        body: JSON.stringify({ ...p, telecom: [{ system: 'email', value: `${id}@example.org` }] }),
      });
    }
    const slot = (await get<FhirAppointment>('Slot/slot-2-3-4')).body;
    await fetch(`${peer.url}/Slot/slot-2-3-4`, {
      method: 'PUT',
      headers: { 'content-type': 'application/fhir+json' },
      body: JSON.stringify({ ...slot, status: 'busy-unavailable' }),
    });
    const { pages } = await pollAll(c, quiet.cursor);
    expect(pages.flatMap((p) => p.records.map((r) => `${r.kind}/${r.externalId}`)).sort()).toEqual([
      'Patient/pat-000002',
      'Patient/pat-000007',
      'Slot/slot-2-3-4',
    ]);
  });

  it('moves past resources that all share one _lastUpdated, by the server’s next links', async () => {
    const at = '2026-02-01T10:00:00.000Z';
    await peer.seed(
      generatePatients(70, 7000).map((p) => ({ ...p, meta: { lastUpdated: at, versionId: `v-${p.id}` } })),
    );
    const c = connector({ pageSize: 30, kinds: ['Patient'], overlapSeconds: 0 });
    // A cursor whose high-water mark is just before them: the round meets 70 at one instant.
    const cursor = JSON.stringify({
      v: 1,
      at: 0,
      kinds: { Patient: { hwm: '2026-02-01T09:59:59.000Z', seen: {} } },
    });
    const { pages } = await pollAll(c, cursor);
    const got = ids(pages, 'Patient').filter((id) => id.startsWith('pat-007'));
    expect(got).toHaveLength(70);
    expect(new Set(got).size).toBe(70);
  });

  it('leaves a resource changed after the round began for the next round', async () => {
    const c = connector({ kinds: ['Patient'] });
    const { cursor } = await pollAll(c, null);
    // Stamped an hour ahead of the server's clock (a late commit as a round sees it).
    await peer.seed(
      generatePatients(1, 9000).map((p) => ({
        ...p,
        meta: { lastUpdated: new Date(Date.now() + 3_600_000).toISOString(), versionId: 'late' },
      })),
    );
    const { pages, cursor: after } = await pollAll(c, cursor);
    expect(ids(pages, 'Patient')).toEqual([]);
    const hwm = (JSON.parse(after as string) as { kinds: { Patient: { hwm: string } } }).kinds.Patient.hwm;
    expect(Date.parse(hwm)).toBeLessThanOrEqual(Date.now());
  });

  it('sets aside a resource that breaks FR Core as a message keyed by its version, with the rest of the page applied', async () => {
    await peer.seed([
      {
        resourceType: 'Patient',
        id: 'bad-ins',
        meta: { versionId: 'b1', lastUpdated: '2026-01-01T00:00:00.000Z' },
        identifier: [{ use: 'official', system: 'urn:oid:1.2.250.1.213.1.4.8', value: '285037511234545' }],
        extension: [
          {
            url: 'https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-identity-reliability',
            extension: [{ url: 'identityStatus', valueCoding: { code: 'VALI' } }],
          },
        ],
      } as FhirPatient,
    ]);
    const c = connector({ kinds: ['Patient'] });
    const { pages } = await pollAll(c, null);
    const invalid = pages.flatMap((p) => p.invalid ?? []);
    expect(
      invalid.map((m) => [
        m.dedupe?.key,
        m.dedupe?.messageType,
        m.error.code,
        m.error.issues.map((i) => i.path),
      ]),
    ).toEqual([
      [
        'fhir:Patient/bad-ins/_history/b1',
        'fhir:Patient',
        'ERR_FHIR_EDGE_INVALID',
        ['Patient.identifier[0].value'],
      ],
    ]);
    expect(ids(pages, 'Patient')).toHaveLength(10);
    // Replayed with the profile as it is, it is still refused, for the same reason.
    const again = await (c.remap as NonNullable<Connector['remap']>)({
      body: invalid[0]?.dedupe?.body as Buffer,
      messageType: 'fhir:Patient',
    });
    expect(again.error?.code).toBe('ERR_FHIR_EDGE_INVALID');
  });

  it('asks the runtime for a poll on a Subscription notification', async () => {
    const c = connector({ subscription: { enabled: true, header: 'x-passerelle-secret' } });
    const answer = await (c.receiveHttp as NonNullable<Connector['receiveHttp']>)(
      { headers: {}, query: {}, body: Buffer.from('{"resourceType":"Bundle"}') },
      async () => {
        throw new Error('a hint is not ingested');
      },
    );
    expect(answer.status).toBe(200);
    expect(polls).toBe(1);
  });
});
