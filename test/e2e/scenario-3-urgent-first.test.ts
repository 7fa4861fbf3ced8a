/**
 * Scenario 3 (issue 9): while the HL7 practice software is unreachable, routine call messages
 * taken by the secretariat pile up in passerelle; then an agent takes an urgent one. When the
 * practice software is back, the urgent message reaches it first, ahead of the backlog (order
 * seen by the practice software, MDM^T02 over MLLP); the activity report counts every message
 * received and delivered, the urgency apart.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import type { Hl7Message } from '../../connectors/hl7v2/codec/index.js';
import { simPatient, simPractitioner } from './lookups.js';
import { startWorld, type World } from './world.js';

const ROUTINE = 5;

describe('scenario 3: an urgent call message overtakes a backlog of routine ones', () => {
  let w: World;
  let delivered: Hl7Message[];

  beforeAll(async () => {
    w = await startWorld();
  }, 120_000);
  afterAll(async () => {
    await w?.dispose();
  });

  const pending = async () => (await w.linkStatus(w.hl7.practiceLinkId)).outbox['pending'] ?? 0;

  it('delivers the urgent message to the practice software before the routine ones queued while it was unreachable', async () => {
    const sec = w.hl7.secretariat;
    const about = { patientId: simPatient(sec, 'ESSAI').id, practitionerId: simPractitioner(sec, 'DOCTEUR-FICTIF').id, callbackNumber: '+33478123456' };
    const from = w.hl7.software.received.length;
    w.hl7.cut();
    for (let i = 1; i <= ROUTINE; i++) {
      await sec.agent('agent-amelie').leaveMessage({ ...about, callerName: 'Lucie ESSAI', reason: 'Renouvellement', text: `Message courant n°${i}` });
    }
    // The backlog: every routine message tried at least once and waiting for the practice software.
    await w.until('the routine backlog', async () => (await pending()) === ROUTINE && w.hl7.relay.counts.refused >= ROUTINE, 60_000);
    const refusedBefore = w.hl7.relay.counts.refused;
    await sec.agent('agent-bruno').leaveMessage({ ...about, priority: 'urgent', callerName: 'Lucie ESSAI', reason: 'Douleur thoracique', text: 'Message urgent : rappeler immédiatement' });
    await w.until('the urgent message queued and tried', async () => (await pending()) === ROUTINE + 1 && w.hl7.relay.counts.refused > refusedBefore, 60_000);
    expect(w.hl7.received(from)).toEqual([]);

    w.hl7.restore();
    delivered = await w.until('every message at the practice software', () => {
      const got = w.hl7.received(from).filter((m) => m.header.messageType?.startsWith('MDM^T02'));
      return got.length >= ROUTINE + 1 ? got : undefined;
    }, 90_000);
    await w.settled(w.hl7);
    const seen = delivered.map((m) => [m.get('OBX[1]-5'), m.get('OBX[2]-5')]);
    expect(seen[0]).toEqual(['URGENT', 'Message urgent : rappeler immédiatement']);
    expect(seen.slice(1).map(([p]) => p)).toEqual(Array(ROUTINE).fill('NORMAL'));
    expect(new Set(seen.map(([, text]) => text)).size).toBe(ROUTINE + 1);
  });

  it('counts every message received and delivered, the urgency apart, in the practice’s activity report', async () => {
    expect(delivered).toBeDefined();
    const report = await w.activity(w.hl7.id);
    expect(report.messages.all).toMatchObject({ received: ROUTINE + 1, delivered: ROUTINE + 1, latencyMs: { count: ROUTINE + 1 } });
    expect(report.messages.urgencies).toMatchObject({ received: 1, delivered: 1, latencyMs: { count: 1 } });
    expect(report.messages.byPriority.routine).toMatchObject({ received: ROUTINE, delivered: ROUTINE });
    expect(report.messages.byPriority.urgent).toMatchObject({ received: 1, delivered: 1 });
    expect(report.appointments.total).toEqual({ booked: 0, moved: 0, cancelled: 0, noshow: 0, arrived: 0, refused: 0 });
    expect(report.deadLetters).toMatchObject({ total: 0, openNow: 0 });
  });
});
