import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import cron from 'node-cron';

import definition, {
  createSecretariatConnector,
  DEFAULT_POLL_SCHEDULE,
  SecretariatConfig,
} from '../../../connectors/secretariat/index.js';
import { appointmentToCanonical, REFUSAL_SYSTEM } from '../../../connectors/secretariat/mapping.js';
import {
  type SecretariatSimulator,
  startSecretariatSimulator,
} from '../../../connectors/secretariat/simulator/index.js';
import type {
  Connector,
  ExternalRecord,
  OutboundChange,
  PushResult,
} from '../../../src/connector/contract.js';
import { isPasserelleError } from '../../../src/errors.js';
import { URGENT_SLOT_CODE, V2_0276_SYSTEM } from '../../../src/model/identifiers.js';
import type {
  Appointment,
  CanonicalResource,
  Communication,
  Patient,
  Slot,
} from '../../../src/model/resources.js';
import { validateResource } from '../../../src/model/validate.js';
import { signWebhook } from '../../../src/security/webhook-signature.js';
import { fixturePatients, identifyingValues } from '../../helpers/fixtures.js';
import {
  capturedLogger,
  connectorContext,
  connectorFor,
  engineStandIn,
  NEW_SECRET,
  recordingSleep,
  startHookServer,
} from './helpers.js';

let seq = 1000;
function change(partial: Partial<OutboundChange> & Pick<OutboundChange, 'kind' | 'data'>): OutboundChange {
  seq += 1;
  return {
    seq,
    op: 'upsert',
    canonicalId: `canon-${seq}`,
    externalId: null,
    expectedVersion: null,
    base: null,
    idempotencyKey: `change-${seq}`,
    priority: 0,
    ...partial,
  };
}
function ok(r: PushResult): { externalId: string; version?: string } {
  if (!r.ok) throw new Error(`push failed: ${r.error.code} ${r.error.message}`);
  return r;
}
async function pullAll(
  c: Connector,
  from: string | null,
): Promise<{ records: ExternalRecord[]; next: string | null }> {
  const records: ExternalRecord[] = [];
  let page = await (c.pull as NonNullable<Connector['pull']>)(from, 20);
  records.push(...page.records);
  while (page.hasMore) {
    page = await (c.pull as NonNullable<Connector['pull']>)(page.next, 20);
    records.push(...page.records);
  }
  return { records, next: page.next };
}
const [JEANNE, PAUL, LUCIE] = fixturePatients() as [Patient, Patient, Patient];

describe('secretariat connector against the simulator', () => {
  let sim: SecretariatSimulator;
  let connector: Connector;

  beforeAll(async () => {
    sim = await startSecretariatSimulator({ seed: 'demo' });
    connector = connectorFor(sim, {
      config: {
        appointmentTypes: [
          {
            id: 'vaccination',
            label: 'Vaccination',
            durationMinutes: 10,
            instructions: 'Apporter le carnet de vaccination.',
            practitionerIds: [],
            active: true,
          },
        ],
      },
    });
  });
  afterAll(async () => {
    await connector.stop();
    await sim.close();
  });

  it('is declared as "secretariat", pulls, receives and pushes every kind, and polls every 30 s by default', () => {
    expect(definition.name).toBe('secretariat');
    expect(definition.capabilities).toMatchObject({ pull: true, receive: true });
    expect([...definition.capabilities.push].sort()).toEqual([
      'Appointment',
      'Communication',
      'Patient',
      'Practitioner',
      'Schedule',
      'Slot',
    ]);
    expect(DEFAULT_POLL_SCHEDULE).toBe('*/30 * * * * *');
    expect(cron.validate(DEFAULT_POLL_SCHEDULE)).toBe(true);
  });

  it('validates its config strictly, with defaults, and names a bad key', () => {
    const c = definition.configSchema.parse({
      baseUrl: 'https://api.secretariat.example',
      platformPracticeId: 'cab-1',
    });
    expect(c).toMatchObject({
      timeoutMs: 10_000,
      retry: { maxAttempts: 5, baseDelayMs: 250, maxDelayMs: 30_000, maxRetryAfterSeconds: 120 },
      appointmentTypes: [],
    });
    const bad = SecretariatConfig.safeParse({
      baseUrl: 'ftp://x',
      platformPracticeId: 'cab-1',
      timeOutMs: 5,
    });
    expect(bad.success).toBe(false);
    expect(
      bad.error?.issues.map((i) => i.path.join('.') || (i as { keys?: string[] }).keys?.join(',')),
    ).toEqual(expect.arrayContaining(['baseUrl', 'timeOutMs']));
  });

  it('refuses to start without an API token or with a malformed webhook secret', () => {
    const config = SecretariatConfig.parse({ baseUrl: sim.url, platformPracticeId: sim.practiceId });
    for (const secrets of [
      null,
      { webhookSecret: NEW_SECRET },
      { apiToken: 'sim-token', webhookSecret: 'hunter2' },
    ]) {
      let code: string | undefined;
      try {
        createSecretariatConnector(config, connectorContext({ secrets }));
      } catch (e) {
        code = isPasserelleError(e) ? e.code : 'other';
      }
      expect(code).toBe('ERR_SECRETARIAT_CREDENTIALS');
    }
  });

  it('pulls the whole feed in pages, maps every record validly, and resumes from its cursor', async () => {
    const { records, next } = await pullAll(connector, null);
    const kinds = new Set(records.map((r) => r.kind));
    // Slots are the practice's: the platform's changes to them (holds for bookings) are not news.
    expect(kinds).toEqual(new Set(['Practitioner', 'Schedule', 'Patient', 'Appointment', 'Communication']));
    for (const r of records)
      expect({
        id: r.externalId,
        issues: ((x) => (x.ok ? [] : x.issues))(validateResource(r.data, { testLink: true })),
      }).toEqual({ id: r.externalId, issues: [] });
    const slot = sim.state.list('slot').find((s) => s.status === 'free');
    const apt = await sim.agent('agent-amelie').book({ slotId: slot?.id as string });
    const after = await pullAll(connector, next);
    expect(
      sim.state
        .changes()
        .slice(-2)
        .map((c) => `${c.type}/${c.id}/${c.origin}`),
    ).toEqual([`slot/${slot?.id}/agent`, `appointment/${apt.id}/agent`]);
    expect(after.records.map((r) => `${r.kind}/${r.externalId}`)).toEqual([`Appointment/${apt.id}`]);
  });

  it('hands over only the last change of a resource in a page: an agent’s change written over by passerelle since is not replayed', async () => {
    const { next: before } = await pullAll(connector, null);
    const slot = sim.state.list('slot').find((s) => s.status === 'free');
    const agent = sim.agent('agent-amelie');
    const apt = await agent.book({ slotId: slot?.id as string, note: 'Note de l’agent' });
    // passerelle writes the appointment over (an operator chose the practice's note) before the
    // next poll: with the practice's token, so the feed says origin "integration".
    const res = await fetch(`${sim.url}/v1/practices/${sim.practiceId}/appointments/${apt.id}`, {
      method: 'PUT',
      headers: {
        authorization: `Bearer ${sim.apiToken}`,
        'content-type': 'application/json',
        'if-match': `"${apt.version}"`,
      },
      body: JSON.stringify({
        practitionerId: apt.practitionerId,
        patientId: apt.patientId,
        slotId: apt.slotId,
        appointmentTypeId: apt.appointmentTypeId,
        start: apt.start,
        end: apt.end,
        note: 'Note du cabinet',
        status: 'booked',
      }),
    });
    expect(res.status).toBe(200);
    const aptRecords = (records: ExternalRecord[]) =>
      records.filter((r) => r.externalId === apt.id).map((r) => `${r.kind}/${r.version}`);
    expect(
      sim.state
        .changes()
        .filter((c) => c.id === apt.id)
        .map((c) => `${c.version}/${c.origin}`),
    ).toEqual(['1/agent', '2/integration']);
    expect(aptRecords((await pullAll(connector, before)).records)).toEqual([]);

    // The agent changes it again: that last change is news, and only it.
    await agent.arrived(apt.id);
    expect(aptRecords((await pullAll(connector, before)).records)).toEqual(['Appointment/3']);
  });

  it('publishes the practice’s appointment types and instructions for agents once, before pulling', async () => {
    expect(sim.state.get('appointment-type', 'vaccination')).toMatchObject({
      instructions: 'Apporter le carnet de vaccination.',
      version: 2,
    });
    await (connector.pull as NonNullable<Connector['pull']>)(null, 1);
    expect(sim.state.get('appointment-type', 'vaccination')?.version).toBe(2);
  });

  it('creates a patient, updates it with If-Match, and hands back the platform’s record on a version conflict', async () => {
    const created = ok(await connector.push(change({ kind: 'Patient', data: PAUL })));
    expect(created.version).toBe('1');
    const moved: Patient = { ...PAUL, telecom: [{ system: 'phone', value: '+33145678999', use: 'home' }] };
    const updated = ok(
      await connector.push(
        change({ kind: 'Patient', data: moved, externalId: created.externalId, expectedVersion: '1' }),
      ),
    );
    expect(updated.version).toBe('2');
    expect(sim.state.get('patient', created.externalId)?.contact.phones).toEqual([
      { number: '+33145678999', use: 'home' },
    ]);

    const stale = await connector.push(
      change({ kind: 'Patient', data: PAUL, externalId: created.externalId, expectedVersion: '1' }),
    );
    expect(stale.ok).toBe(false);
    if (stale.ok) return;
    expect([stale.error.code, stale.error.retryable]).toEqual(['ERR_SECRETARIAT_VERSION_CONFLICT', false]);
    expect(stale.current).toMatchObject({ kind: 'Patient', externalId: created.externalId, version: '2' });
    expect((stale.current?.data as Patient).telecom).toEqual([
      { system: 'phone', value: '+33145678999', use: 'home' },
    ]);
  });

  it('applies a re-sent change once: same key, same answer, no second patient', async () => {
    const before = sim.state.list('patient').length;
    const ch = change({ kind: 'Patient', data: JEANNE });
    const a = ok(await connector.push(ch));
    const b = ok(await connector.push(ch));
    expect(b).toEqual(a);
    expect(sim.state.list('patient').length).toBe(before + 1);
  });

  it('refuses a booking back to the agent: the appointment shows refused with the reason, and the slot is free again', async () => {
    const slot = sim.state.list('slot').find((s) => s.status === 'free');
    const apt = await sim.agent('agent-bruno').book({ slotId: slot?.id as string, patientId: null });
    const r = ok(
      await connector.push(
        change({
          op: 'reject',
          kind: 'Appointment',
          data: {
            resourceType: 'Appointment',
            id: apt.id,
            status: 'booked',
            participant: [{ actor: { reference: `Practitioner/${apt.practitionerId}` }, status: 'accepted' }],
          },
          externalId: apt.id,
          expectedVersion: String(apt.version),
          reason: {
            code: 'slot-blocked',
            message: 'Le cabinet a bloqué ce créneau : proposer un autre horaire.',
          },
        }),
      ),
    );
    expect(r.version).toBe('2');
    expect(sim.state.get('appointment', apt.id)).toMatchObject({
      status: 'refused',
      refusal: {
        code: 'slot-blocked',
        message: 'Le cabinet a bloqué ce créneau : proposer un autre horaire.',
      },
    });
    expect(sim.state.get('slot', slot?.id as string)?.status).toBe('free');
    const mapped = appointmentToCanonical(
      sim.state.get('appointment', apt.id) as NonNullable<ReturnType<typeof sim.state.get<'appointment'>>>,
    );
    expect(mapped.cancelationReason?.coding).toEqual([{ system: REFUSAL_SYSTEM, code: 'slot-blocked' }]);
    // passerelle's own write is in the feed, marked as the integration's, and not handed back to
    // it; nor is the booking it refused, which that write supersedes.
    expect(
      sim.state
        .changes()
        .filter((c) => c.id === apt.id)
        .map((c) => c.origin),
    ).toEqual(['agent', 'integration']);
    const pulled = await (connector.pull as NonNullable<Connector['pull']>)(null, 500);
    expect(
      pulled.records.filter((x) => x.externalId === apt.id).map((x) => (x.data as Appointment).status),
    ).toEqual([]);
  });

  it('books from the practice side, moves the booking, records arrival, then cancels it with the practice’s reason', async () => {
    const [slotA, slotB] = sim.state
      .list('slot')
      .filter((s) => s.status === 'free' && s.practitionerId === 'prac-000001');
    const patient = sim.state.list('patient')[0];
    if (!slotA || !slotB || !patient) throw new Error('demo seed lacks data');
    const appointment = (slot: typeof slotA, status: Appointment['status']): Appointment => ({
      resourceType: 'Appointment',
      id: 'canon-apt',
      status,
      start: slot.start,
      end: slot.end,
      slot: [{ reference: `Slot/${slot.id}` }],
      participant: [
        { actor: { reference: 'Practitioner/prac-000001' }, status: 'accepted' },
        { actor: { reference: `Patient/${patient.id}` }, status: 'accepted' },
      ],
    });
    const created = ok(
      await connector.push(change({ kind: 'Appointment', data: appointment(slotA, 'booked') })),
    );
    expect(sim.state.get('appointment', created.externalId)).toMatchObject({
      bookedBy: null,
      status: 'booked',
      slotId: slotA.id,
    });
    const moved = ok(
      await connector.push(
        change({
          kind: 'Appointment',
          data: appointment(slotB, 'arrived'),
          externalId: created.externalId,
          expectedVersion: created.version as string,
        }),
      ),
    );
    expect(sim.state.get('appointment', created.externalId)).toMatchObject({
      status: 'arrived',
      slotId: slotB.id,
      start: slotB.start,
    });
    expect([sim.state.get('slot', slotA.id)?.status, sim.state.get('slot', slotB.id)?.status]).toEqual([
      'free',
      'busy',
    ]);
    const cancel = change({
      op: 'cancel',
      kind: 'Appointment',
      data: appointment(slotB, 'cancelled'),
      externalId: created.externalId,
      expectedVersion: moved.version as string,
      reason: { code: 'practice', message: 'Le médecin est absent.' },
    });
    ok(await connector.push(cancel));
    expect(sim.state.get('appointment', created.externalId)).toMatchObject({
      status: 'cancelled',
      cancelReason: 'Le médecin est absent.',
    });
    // Cancelling again (another change, another key) finds it cancelled already: done, not an error.
    ok(
      await connector.push({
        ...cancel,
        seq: cancel.seq + 1,
        idempotencyKey: `${cancel.idempotencyKey}-again`,
        expectedVersion: null,
      }),
    );
  });

  it('blocks a slot, reserves one to urgencies, and deletes one (the feed gets a tombstone)', async () => {
    const [s1, s2] = sim.state.list('slot').filter((s) => s.status === 'free');
    if (!s1 || !s2) throw new Error('no free slots');
    const asCanonical = (s: typeof s1, status: Slot['status'], urgent = false): Slot => ({
      resourceType: 'Slot',
      id: `canon-${s.id}`,
      schedule: { reference: `Schedule/${s.scheduleId}` },
      status,
      start: s.start,
      end: s.end,
      ...(urgent && { appointmentType: { coding: [{ system: V2_0276_SYSTEM, code: URGENT_SLOT_CODE }] } }),
    });
    ok(
      await connector.push(
        change({
          kind: 'Slot',
          data: asCanonical(s1, 'busy-unavailable'),
          externalId: s1.id,
          expectedVersion: String(s1.version),
        }),
      ),
    );
    expect(sim.state.get('slot', s1.id)?.status).toBe('blocked');
    ok(
      await connector.push(
        change({
          kind: 'Slot',
          data: asCanonical(s2, 'free', true),
          externalId: s2.id,
          expectedVersion: String(s2.version),
        }),
      ),
    );
    expect(sim.state.get('slot', s2.id)?.status).toBe('urgent-only');
    const { next } = await pullAll(connector, null);
    ok(
      await connector.push(
        change({
          op: 'delete',
          kind: 'Slot',
          data: asCanonical(s2, 'free', true),
          externalId: s2.id,
          expectedVersion: String(s2.version + 1),
        }),
      ),
    );
    expect(sim.state.get('slot', s2.id)).toBeUndefined();
    expect(sim.state.changes().at(-1)).toMatchObject({
      type: 'slot',
      id: s2.id,
      op: 'delete',
      origin: 'integration',
    });
    // passerelle's own writes (and slot changes) are not news to it.
    const after = await pullAll(connector, next);
    expect(after.records).toEqual([]);
  });

  it('acknowledges a call message for the practice', async () => {
    const m = sim.state.list('message').find((x) => x.status !== 'acknowledged');
    if (!m) throw new Error('no message');
    const ack: Communication = {
      resourceType: 'Communication',
      id: 'canon-msg',
      status: 'completed',
      priority: m.priority,
      payload: [{ contentString: m.text }],
      received: '2026-11-23T10:15:00+01:00',
    };
    ok(
      await connector.push(
        change({ kind: 'Communication', data: ack, externalId: m.id, expectedVersion: String(m.version) }),
      ),
    );
    expect(sim.state.get('message', m.id)).toMatchObject({
      status: 'acknowledged',
      acknowledgedAt: '2026-11-23T09:15:00.000Z',
    });
  });

  it('refuses, without retry, what the contract cannot carry', async () => {
    const msg: Communication = {
      resourceType: 'Communication',
      id: 'x',
      status: 'completed',
      priority: 'routine',
      payload: [{ contentString: 'Bonjour' }],
    };
    const cases: OutboundChange[] = [
      change({ kind: 'Communication', data: msg }),
      change({ op: 'delete', kind: 'Patient', data: LUCIE, externalId: 'pat-000001' }),
      change({
        kind: 'Practitioner',
        data: { resourceType: 'Practitioner', id: 'p', name: [{ family: 'SANS-RPPS' }] },
      }),
    ];
    for (const ch of cases) {
      const r = await connector.push(ch);
      expect(r.ok ? 'ok' : [r.error.code, r.error.retryable]).toEqual(['ERR_SECRETARIAT_UNSUPPORTED', false]);
    }
  });

  it('reports health: platform reachable and webhook secret configured', async () => {
    expect(await connector.health()).toEqual({
      ok: true,
      checks: [
        { name: 'platform', ok: true },
        { name: 'webhook-secret', ok: true },
      ],
    });
  });

  it('never writes fixture patient data to its log, whatever happens', async () => {
    const { log, text } = capturedLogger();
    const rec = recordingSleep();
    const c = connectorFor(sim, { ctx: { log }, deps: { sleep: rec.sleep } });
    const engine = engineStandIn();
    const hooks = await startHookServer(c, engine.handler);
    try {
      sim.setWebhook({ url: hooks.url, secrets: [NEW_SECRET], retryDelaysMs: [10] });
      const created = ok(await c.push(change({ kind: 'Patient', data: JEANNE })));
      ok(
        await c.push(
          change({
            kind: 'Patient',
            data: { ...JEANNE, birthDate: '1985-03-15' },
            externalId: created.externalId,
            expectedVersion: '1',
          }),
        ),
      );
      await c.push(
        change({ kind: 'Patient', data: JEANNE, externalId: created.externalId, expectedVersion: '1' }),
      );
      sim.setFaults({ script: [{ status: 500 }, { status: 429, retryAfter: '1' }] });
      ok(await c.push(change({ kind: 'Patient', data: LUCIE })));
      await c.push(change({ kind: 'Patient', data: { ...PAUL, name: [{ family: 'DEMONSTRATION' }] } }));
      await sim.agent().leaveMessage({
        callerName: 'Jeanne FICTIVE',
        callbackNumber: '+33612345678',
        text: 'Rappeler Jeanne FICTIVE au +33612345678, née le 1985-03-14.',
      });
      await sim.webhooksIdle();
      const ts = Math.floor(Date.now() / 1000);
      const body = Buffer.from(JSON.stringify({ patient: JEANNE }));
      await fetch(hooks.url, {
        method: 'POST',
        body,
        headers: {
          'webhook-id': 'evt_x',
          'webhook-timestamp': String(ts),
          'webhook-signature': signWebhook([NEW_SECRET], 'evt_x', ts, body),
        },
      });
      await fetch(hooks.url, {
        method: 'POST',
        body,
        headers: { 'webhook-id': 'evt_y', 'webhook-timestamp': String(ts), 'webhook-signature': 'v1,AAAA' },
      });
      await pullAll(c, null);
    } finally {
      sim.setWebhook(null);
      await hooks.close();
    }
    const logged = text();
    expect(logged).toContain('secretariat change written');
    expect(logged).toContain('webhook received');
    expect(logged).toContain('webhook refused');
    expect(logged).toContain('secretariat request will be retried');
    const leaks = fixturePatients()
      .flatMap(identifyingValues)
      .filter((v) => logged.includes(v));
    expect(leaks).toEqual([]);
    const records: CanonicalResource[] = engine.calls.flatMap((m) => m.records.map((r) => r.data));
    expect(records.some((r) => r.resourceType === 'Communication')).toBe(true);
  });
});
