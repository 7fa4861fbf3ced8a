/**
 * The MLLP sender (passerelle → practice) against the simulator on real sockets: ACK codes to
 * push results, timeouts, a connection cut in the middle of an ACK, reconnection, one message
 * in flight per connection; then the whole way from a secretariat change through the engine,
 * the outbox and the dispatcher to the practice software.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';

import { outboundControlId } from '../../../../connectors/hl7v2/index.js';
import { Hl7Simulator } from '../../../../connectors/hl7v2/simulator/index.js';
import type { OutboundChange } from '../../../../src/connector/contract.js';
import { parseHl7 } from '../../../../src/hl7/index.js';
import type { Appointment } from '../../../../src/model/resources.js';
import {
  hl7Fixture,
  type Hl7LinkHarness,
  parseAck,
  RawMllpSocket,
  startHl7Link,
  withField,
} from '../../../helpers/hl7.js';
import { memoryConnector, MemoryWorld } from '../../../helpers/memory-connector.js';

let seq = 0;
function appointmentChange(overrides: Partial<OutboundChange> = {}): OutboundChange {
  const n = ++seq;
  const data: Appointment = {
    resourceType: 'Appointment',
    id: `appt-${n}`,
    status: 'booked',
    start: '2026-12-01T08:30:00Z',
    end: '2026-12-01T08:50:00Z',
    participant: [
      { actor: { reference: 'Patient/IPP000101' }, status: 'accepted' },
      { actor: { reference: 'Practitioner/819999900012' }, status: 'accepted' },
    ],
  };
  return {
    seq: n,
    op: 'upsert',
    kind: 'Appointment',
    canonicalId: `appt-${n}`,
    externalId: null,
    expectedVersion: null,
    data,
    base: null,
    idempotencyKey: `key-${n}`,
    priority: 5,
    ...overrides,
  };
}

describe('MLLP sender', () => {
  let sim: Hl7Simulator;
  let h: Hl7LinkHarness;
  beforeAll(async () => {
    sim = await Hl7Simulator.start();
    h = await startHl7Link({
      config: {
        mllp: { send: { host: '127.0.0.1', port: sim.port, ackTimeoutMs: 300, connectTimeoutMs: 1000 } },
      },
    });
  });
  afterAll(async () => {
    await h.dispose();
    await sim.close();
  });
  afterEach(() => {
    Object.assign(sim.faults, { answer: 'AA', dropAcks: 0, delayMs: 0, closeMidFrame: 0 });
  });

  it('sends the translated message and succeeds on AA, with a control id derived from the idempotency key', async () => {
    const before = sim.received.length;
    const change = appointmentChange();
    const result = await h.connector.push(change);
    expect(result).toEqual({ ok: true, externalId: change.canonicalId });
    const got = sim.received[before];
    expect(got?.messageType).toBe('SIU^S12');
    expect(got?.controlId).toBe(outboundControlId(change.idempotencyKey));
    expect(got?.answered).toBe('AA');
    expect(parseHl7(got?.raw as Buffer).get('SCH-1')).toBe(change.canonicalId);
  });

  it('turns AE into a non-retryable error carrying the peer’s ERR text (dead letter)', async () => {
    Object.assign(sim.faults, { answer: 'AE', errorText: 'Agenda inconnu' });
    const result = await h.connector.push(appointmentChange());
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.code).toBe('ERR_MLLP_NEGATIVE_ACK');
    expect(result.error.retryable).toBe(false);
    expect(result.error.message).toMatch(
      /answered AE to MSH-10 P[0-9A-F]{19}: 207 Application internal error: Agenda inconnu$/,
    );
  });

  it('turns AR into a retryable error', async () => {
    sim.faults.answer = 'AR';
    const result = await h.connector.push(appointmentChange());
    expect(result.ok === false && [result.error.code, result.error.retryable]).toEqual([
      'ERR_MLLP_NEGATIVE_ACK',
      true,
    ]);
  });

  it('gives up after ackTimeoutMs with a retryable timeout, and the retry carries the same MSH-10', async () => {
    sim.faults.dropAcks = 1;
    const change = appointmentChange();
    const before = sim.received.length;
    const first = await h.connector.push(change);
    expect(first.ok === false && [first.error.code, first.error.retryable]).toEqual([
      'ERR_MLLP_ACK_TIMEOUT',
      true,
    ]);
    const second = await h.connector.push(change);
    expect(second.ok).toBe(true);
    const ids = sim.received.slice(before).map((r) => r.controlId);
    expect(ids).toEqual([outboundControlId(change.idempotencyKey), outboundControlId(change.idempotencyKey)]);
  });

  it('reports a connection closed in the middle of the ACK as retryable, and reconnects for the next message', async () => {
    sim.faults.closeMidFrame = 1;
    const connectionsBefore = sim.connections;
    const cut = await h.connector.push(appointmentChange());
    expect(cut.ok === false && [cut.error.code, cut.error.retryable]).toEqual(['ERR_MLLP_CONNECTION', true]);
    expect((await h.connector.push(appointmentChange())).ok).toBe(true);
    expect(sim.connections).toBe(connectionsBefore + 1);
  });

  it('keeps one message in flight per connection: concurrent pushes are sent one after the other', async () => {
    sim.faults.delayMs = 20;
    const before = sim.received.length;
    const pipelinedBefore = sim.pipelined;
    const changes = Array.from({ length: 5 }, () => appointmentChange());
    const results = await Promise.all(changes.map((c) => h.connector.push(c)));
    expect(results.every((r) => r.ok)).toBe(true);
    expect(sim.pipelined).toBe(pipelinedBefore);
    expect(sim.received.slice(before).map((r) => r.controlId)).toEqual(
      changes.map((c) => outboundControlId(c.idempotencyKey)),
    );
  });

  it('reports a peer that is down as retryable, and sends again once it is back on its port', async () => {
    const port = sim.port;
    await sim.close();
    const down = await h.connector.push(appointmentChange());
    expect(down.ok === false && [down.error.code, down.error.retryable]).toEqual([
      'ERR_MLLP_CONNECTION',
      true,
    ]);
    sim = await Hl7Simulator.start({ port });
    expect((await h.connector.push(appointmentChange())).ok).toBe(true);
    expect(sim.received).toHaveLength(1);
  });
});

describe('secretariat change → engine → outbox → dispatcher → MLLP → practice software', () => {
  const world = new MemoryWorld();
  let sim: Hl7Simulator;
  let h: Hl7LinkHarness;
  beforeAll(async () => {
    sim = await Hl7Simulator.start();
    h = await startHl7Link({
      config: {
        mllp: {
          listen: { host: '127.0.0.1', port: 0 },
          send: { host: '127.0.0.1', port: sim.port, ackTimeoutMs: 2000 },
        },
      },
      extra: [memoryConnector(world)],
      before: async (store, practiceId) => {
        await store.links.create({
          practiceId,
          role: 'secretariat',
          connector: 'memory',
          name: 'secrétariat',
          config: { peer: 'sec' },
        });
      },
    });
  });
  afterAll(async () => {
    await h.dispose();
    await sim.close();
  });

  it('sends the secretariat’s move of a practice appointment to the practice software as SIU^S13', async () => {
    // The practice software books (original mode), passerelle forwards it to the secretariat.
    const c = await RawMllpSocket.connect(h.port);
    const s12 = withField(withField(hl7Fixture('siu-s12-new-appointment'), 'MSH', 15, ''), 'MSH', 16, '');
    expect(parseAck(await c.request(s12)).code).toBe('AA');
    c.destroy();
    await h.runtime.dispatcher.drain();
    const sec = world.peer('sec');
    const booked = sec.list<Appointment>('Appointment');
    expect(booked).toHaveLength(1);
    // An agent moves it by an hour on the secretariat platform; the platform notifies passerelle.
    const id = (booked[0] as Appointment).id;
    sec.edit<Appointment>(id, (a) => ({
      ...a,
      start: '2025-03-17T09:30:00.000Z',
      end: '2025-03-17T09:50:00.000Z',
    }));
    expect((await sec.deliver({ ids: [id] })).outcome).toBe('applied');
    await h.runtime.dispatcher.drain();
    const sent = await sim.waitForMessages(1);
    const msg = parseHl7(sent[0]?.raw as Buffer);
    // The shipped profile (hl7v2-ihe-pam-fr: outbound events) sends a move as S13, a modification as S14.
    expect(msg.header.messageType).toBe('SIU^S13');
    expect(msg.get('SCH-2')).toBe('RDV000123');
    expect(msg.get('SCH-11.4')).toBe('20250317103000+0100');
    expect(sent[0]?.answered).toBe('AA');
    expect((await h.store.outbox.depth(h.link.id)).pending ?? 0).toBe(0);
  });

  it('dead-letters a change the practice software answers AE, with its reason, and retries one answered AR', async () => {
    const sec = world.peer('sec');
    const id = (sec.list<Appointment>('Appointment')[0] as Appointment).id;
    Object.assign(sim.faults, { answer: 'AE', errorText: 'Plage fermee' });
    sec.edit<Appointment>(id, (a) => ({
      ...a,
      start: '2025-03-17T10:30:00.000Z',
      end: '2025-03-17T10:50:00.000Z',
    }));
    expect((await sec.deliver({ ids: [id] })).outcome).toBe('applied');
    await h.runtime.dispatcher.drain();
    const dl = (await h.store.deadLetters.list({ linkId: h.link.id })).filter((d) => d.source === 'outbox');
    expect(dl.map((d) => d.reasonCode)).toEqual(['ERR_MLLP_NEGATIVE_ACK']);
    expect(dl[0]?.reason).toMatch(
      /answered AE to MSH-10 P[0-9A-F]{19}: 207 Application internal error: Plage fermee$/,
    );

    sim.faults.answer = 'AR';
    sec.edit<Appointment>(id, (a) => ({
      ...a,
      start: '2025-03-17T11:30:00.000Z',
      end: '2025-03-17T11:50:00.000Z',
    }));
    expect((await sec.deliver({ ids: [id] })).outcome).toBe('applied');
    const before = Date.now();
    await h.runtime.dispatcher.drain();
    const pending = await h.store.outbox.list({ linkId: h.link.id, status: 'pending' });
    expect(pending.map((r) => [r.attempts, r.lastErrorCode])).toEqual([[1, 'ERR_MLLP_NEGATIVE_ACK']]);
    // Retried later, with backoff (full jitter may pick a delay close to 0).
    expect((pending[0] as { nextAttemptAt: number }).nextAttemptAt).toBeGreaterThanOrEqual(before);
    expect(
      (await h.store.deadLetters.list({ linkId: h.link.id })).filter((d) => d.source === 'outbox'),
    ).toHaveLength(1);
    sim.faults.answer = 'AA';
  });
});
