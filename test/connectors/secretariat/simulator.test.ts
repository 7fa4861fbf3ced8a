import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { SecretariatClient } from '../../../connectors/secretariat/client.js';
import type { ChangesPage, PatientInput } from '../../../connectors/secretariat/contract.js';
import { patientFromCanonical } from '../../../connectors/secretariat/mapping.js';
import {
  AgentRequestError,
  type SecretariatSimulator,
  startSecretariatSimulator,
} from '../../../connectors/secretariat/simulator/index.js';
import { isPasserelleError, type PasserelleError } from '../../../src/errors.js';
import { silentLogger } from '../../../src/log/logger.js';
import { fixturePatients } from '../../helpers/fixtures.js';
import { tempDir } from '../../helpers/stores.js';
import { recordingSleep } from './helpers.js';

const [jeanne, paul] = fixturePatients();
const JEANNE: PatientInput = patientFromCanonical(jeanne as NonNullable<typeof jeanne>);
const PAUL: PatientInput = patientFromCanonical(paul as NonNullable<typeof paul>);

function clientFor(sim: SecretariatSimulator, token = sim.apiToken): SecretariatClient {
  return new SecretariatClient({
    baseUrl: sim.url,
    practiceId: sim.practiceId,
    apiToken: token,
    timeoutMs: 5000,
    log: silentLogger,
    sleep: recordingSleep().sleep,
  });
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

describe('secretariat simulator: contract conformance over HTTP', () => {
  const dir = tempDir('secretariat-sim-');
  let sim: SecretariatSimulator;
  let client: SecretariatClient;

  beforeAll(async () => {
    sim = await startSecretariatSimulator({ seed: 'demo', stateFile: join(dir.path, 'state.json') });
    client = clientFor(sim);
  });
  afterAll(async () => {
    await sim.close();
    dir.remove();
  });

  it('seeds the demo practice: RPPS practitioners, appointment types with instructions, urgent-only and blocked slots, fixture patients, appointments, messages', async () => {
    const practitioners = await client.list('practitioner');
    expect(practitioners.map((p) => p.rpps)).toEqual(expect.arrayContaining(['19900000011', '19900000022']));
    const types = await client.list('appointment-type');
    expect(types.find((t) => t.id === 'urgence-du-jour')?.instructions).toMatch(/15/);
    const slots = await client.list('slot');
    expect(new Set(slots.map((s) => s.status))).toEqual(new Set(['free', 'busy', 'blocked', 'urgent-only']));
    const patients = await client.list('patient');
    expect(patients.map((p) => p.identity.family)).toEqual(
      expect.arrayContaining(['FICTIVE', 'DEMONSTRATION', 'ESSAI']),
    );
    expect(patients.find((p) => p.identity.family === 'ESSAI')?.ins).toBeNull();
    const appointments = await client.list('appointment');
    expect(appointments.map((a) => a.status).sort()).toEqual(['booked', 'booked', 'cancelled']);
    expect(appointments.every((a) => a.bookedBy?.startsWith('agent-'))).toBe(true);
    const messages = await client.list('message');
    expect(messages.map((m) => m.priority).sort()).toEqual(['routine', 'urgent']);
  });

  it('creates with POST and replays the stored answer for the same Idempotency-Key, never a second resource', async () => {
    const before = (await client.list('patient')).length;
    const replaysBefore = sim.state.counters.idempotentReplays;
    const first = await client.create('patient', PAUL, 'key-create-paul');
    const again = await client.create('patient', PAUL, 'key-create-paul');
    expect(first.status).toBe(201);
    expect(again).toMatchObject({ status: 201, replayed: true, data: first.data, etag: first.etag });
    expect(first.replayed).toBe(false);
    expect((await client.list('patient')).length).toBe(before + 1);
    expect(sim.state.counters.idempotentReplays).toBe(replaysBefore + 1);
  });

  it('refuses an Idempotency-Key reused for another request with 422 idempotency-key-reused', async () => {
    await client.create('patient', JEANNE, 'key-reuse');
    const e = await failure(client.create('patient', PAUL, 'key-reuse'));
    expect(e.code).toBe('ERR_SECRETARIAT_REJECTED');
    expect(e.details).toMatchObject({ status: 422, problemCode: 'idempotency-key-reused' });
  });

  it('refuses a POST without Idempotency-Key with 400 problem+json', async () => {
    const res = await fetch(`${sim.url}/v1/practices/${sim.practiceId}/patients`, {
      method: 'POST',
      headers: { authorization: `Bearer ${sim.apiToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(PAUL),
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await res.json()).toMatchObject({
      status: 400,
      code: 'idempotency-key-required',
      type: expect.stringMatching(/^https:\/\//),
      title: expect.any(String),
    });
  });

  it('updates with If-Match, answers 412 with the current ETag to a stale version, and 428 without If-Match', async () => {
    const created = (await client.create('patient', JEANNE, 'key-if-match')).data;
    const moved = { ...JEANNE, contact: { ...JEANNE.contact, email: 'nouvelle.adresse@example.org' } };
    const updated = await client.update('patient', created.id, moved, created.version, 'key-if-match-1');
    expect(updated.data.version).toBe(created.version + 1);
    expect(updated.etag).toBe(`"${created.version + 1}"`);

    const stale = await failure(
      client.update('patient', created.id, JEANNE, created.version, 'key-if-match-2'),
    );
    expect(stale.code).toBe('ERR_SECRETARIAT_VERSION_CONFLICT');
    const raw = await fetch(`${sim.url}/v1/practices/${sim.practiceId}/patients/${created.id}`, {
      method: 'PUT',
      headers: {
        authorization: `Bearer ${sim.apiToken}`,
        'content-type': 'application/json',
        'if-match': `"${created.version}"`,
      },
      body: JSON.stringify(JEANNE),
    });
    expect([raw.status, raw.headers.get('etag')]).toEqual([412, `"${created.version + 1}"`]);
    const none = await fetch(`${sim.url}/v1/practices/${sim.practiceId}/patients/${created.id}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${sim.apiToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(JEANNE),
    });
    expect(none.status).toBe(428);
  });

  it('names invalid fields by JSON pointer in a 422, and the client does not retry it', async () => {
    const waits = recordingSleep();
    const c = new SecretariatClient({
      baseUrl: sim.url,
      practiceId: sim.practiceId,
      apiToken: sim.apiToken,
      timeoutMs: 5000,
      log: silentLogger,
      sleep: waits.sleep,
    });
    const e = await failure(
      c.create(
        'patient',
        { ...PAUL, contact: { ...PAUL.contact, phones: [{ number: 'x', use: 'mobile' }] } },
        'key-invalid',
      ),
    );
    expect(e.code).toBe('ERR_SECRETARIAT_REJECTED');
    expect(e.retryable).toBe(false);
    expect(e.issues.map((i) => i.path)).toEqual(['/contact/phones/0/number']);
    expect(waits.waits).toEqual([]);
  });

  it('answers 404 for an unknown resource and refuses a wrong token (ERR_SECRETARIAT_AUTH)', async () => {
    expect((await failure(client.get('appointment', 'apt-999999'))).details).toMatchObject({
      status: 404,
      problemCode: 'not-found',
    });
    expect((await failure(clientFor(sim, 'wrong-token').list('patient'))).code).toBe('ERR_SECRETARIAT_AUTH');
  });

  it('books an agent appointment into a free slot, which turns busy, and refuses a blocked slot with 409 slot-unavailable', async () => {
    const slots = await client.list('slot');
    const free = slots.find((s) => s.status === 'free');
    const blocked = slots.find((s) => s.status === 'blocked');
    if (!free || !blocked) throw new Error('demo seed lacks slots');
    const agent = sim.agent('agent-claire');
    const apt = await agent.book({ slotId: free.id, appointmentTypeId: 'consultation' });
    expect(apt).toMatchObject({
      status: 'booked',
      bookedBy: 'agent-claire',
      start: free.start,
      end: free.end,
      slotId: free.id,
    });
    expect((await client.get('slot', free.id)).data.status).toBe('busy');
    await expect(agent.book({ slotId: blocked.id })).rejects.toEqual(
      new AgentRequestError(409, 'slot-unavailable'),
    );
  });

  it('gives an urgent-only slot back to urgencies when its booking is cancelled', async () => {
    const urgent = (await client.list('slot')).find((s) => s.status === 'urgent-only');
    if (!urgent) throw new Error('demo seed lacks an urgent-only slot');
    const agent = sim.agent('agent-claire');
    const apt = await agent.book({ slotId: urgent.id, appointmentTypeId: 'urgence-du-jour' });
    expect((await client.get('slot', urgent.id)).data.status).toBe('busy');
    const cancelled = await agent.cancel(apt.id, 'Le patient ira aux urgences.');
    expect(cancelled).toMatchObject({ status: 'cancelled', cancelReason: 'Le patient ira aux urgences.' });
    expect((await client.get('slot', urgent.id)).data.status).toBe('urgent-only');
  });

  it('lets agents take messages and mark them urgent, but not change what the practice owns (403)', async () => {
    const agent = sim.agent('agent-claire');
    const m = await agent.leaveMessage({ callerName: 'Un appelant', text: 'Rappeler le cabinet.' });
    expect((await agent.markUrgent(m.id)).priority).toBe('urgent');
    const slot = (await client.list('slot'))[0];
    if (!slot) throw new Error('no slot');
    const res = await fetch(`${sim.url}/v1/practices/${sim.practiceId}/slots/${slot.id}`, {
      method: 'PUT',
      headers: {
        authorization: `Bearer ${sim.apiToken}`,
        'x-agent-id': 'agent-claire',
        'content-type': 'application/json',
        'if-match': `"${slot.version}"`,
      },
      body: JSON.stringify({
        scheduleId: slot.scheduleId,
        start: slot.start,
        end: slot.end,
        status: 'free',
        comment: null,
      }),
    });
    expect(res.status).toBe(403);
  });

  it('pages the change feed in order and resumes from a stored cursor without gaps or repeats', async () => {
    const seen: number[] = [];
    let cursor: string | null = null;
    let pages = 0;
    for (;;) {
      const page: ChangesPage = (await client.changes(cursor, 25)).data;
      seen.push(...page.changes.map((c) => c.seq));
      cursor = page.next;
      pages += 1;
      if (!page.hasMore) break;
    }
    expect(pages).toBeGreaterThan(2);
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.length).toBe(sim.state.changes().length);

    const idle = (await client.changes(cursor, 25)).data;
    expect(idle).toEqual({ changes: [], next: cursor, hasMore: false });

    const m = await sim
      .agent('agent-claire')
      .leaveMessage({ callerName: 'Un appelant', text: 'Nouveau message.' });
    const resumed = (await client.changes(cursor, 25)).data;
    expect(resumed.changes.map((c) => [c.type, c.id, c.op])).toEqual([['message', m.id, 'upsert']]);
    expect(resumed.changes[0]?.seq).toBeGreaterThan(seen.at(-1) as number);
  });

  it('refuses a cursor it did not give with 400 bad-cursor', async () => {
    const e = await failure(client.changes('bm90LWEtY3Vyc29y', 10));
    expect(e.details).toMatchObject({ status: 400, problemCode: 'bad-cursor' });
  });

  it('keeps its state, feed and idempotency store across a restart from the same state file', async () => {
    const created = (await client.create('patient', PAUL, 'key-before-restart')).data;
    const lastSeq = sim.state.changes().at(-1)?.seq as number;
    await sim.close();
    sim = await startSecretariatSimulator({ seed: 'demo', stateFile: join(dir.path, 'state.json') });
    client = clientFor(sim);
    expect((await client.get('patient', created.id)).data).toEqual(created);
    const replay = await client.create('patient', PAUL, 'key-before-restart');
    expect(replay).toMatchObject({ replayed: true, data: { id: created.id } });
    const m = await sim.agent().leaveMessage({ callerName: 'Un appelant', text: 'Après redémarrage.' });
    expect(sim.state.changes().at(-1)).toMatchObject({ id: m.id, seq: lastSeq + 1 });
    // The demo seed was not applied a second time.
    expect((await client.list('practitioner')).length).toBe(2);
  });
});
