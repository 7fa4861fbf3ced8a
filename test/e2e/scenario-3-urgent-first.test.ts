/**
 * Scenario 3 (issue 9): while the practice software is unreachable, routine call messages
 * taken by the secretariat pile up in passerelle; then an agent takes an urgent one. When the
 * practice software is back, the urgent message reaches it first, ahead of the backlog: in the
 * order the HL7 practice software receives MDM^T02 over MLLP, and in the order the FHIR
 * practice software's server stored the Communications. The activity report counts every
 * message received and delivered, the urgency apart.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Bundle, Communication } from '@medplum/fhirtypes';

import type { SecretariatSimulator } from '../../connectors/secretariat/simulator/index.js';
import type { Hl7Message } from '../../src/hl7/index.js';
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

  /** Every change for the link waits in the outbox (none in flight): `n` of them. */
  const waiting = async (linkId: string, n: number) => {
    const { outbox } = await w.linkStatus(linkId);
    return (outbox['pending'] ?? 0) === n && (outbox['leased'] ?? 0) === 0;
  };
  const leaveBacklog = async (
    sec: SecretariatSimulator,
    about: { patientId: string; practitionerId: string },
  ) => {
    for (let i = 1; i <= ROUTINE; i++) {
      await sec.agent('agent-amelie').leaveMessage({
        ...about,
        callerName: 'Patient du cabinet',
        reason: 'Renouvellement',
        text: `Message courant n°${i}`,
      });
    }
  };
  const leaveUrgent = (sec: SecretariatSimulator, about: { patientId: string; practitionerId: string }) =>
    sec.agent('agent-bruno').leaveMessage({
      ...about,
      priority: 'urgent',
      callerName: 'Patient du cabinet',
      reason: 'Douleur thoracique',
      text: 'Message urgent : rappeler immédiatement',
    });

  it('delivers the urgent message to the practice software before the routine ones queued while it was unreachable', async () => {
    const sec = w.hl7.secretariat;
    const about = {
      patientId: simPatient(sec, 'ESSAI').id,
      practitionerId: simPractitioner(sec, 'DOCTEUR-FICTIF').id,
    };
    const from = w.hl7.software.received.length;
    w.hl7.cut();
    await leaveBacklog(sec, about);
    // The backlog: every routine message tried at least once and waiting for the practice software.
    await w.until(
      'the routine backlog',
      async () => w.hl7.relay.counts.refused >= ROUTINE && (await waiting(w.hl7.practiceLinkId, ROUTINE)),
      60_000,
    );
    const refusedBefore = w.hl7.relay.counts.refused;
    await leaveUrgent(sec, about);
    // Tried at once (it is ready and leased first) and refused; nothing in flight when the software is back.
    await w.until(
      'the urgent message queued and tried',
      async () =>
        w.hl7.relay.counts.refused > refusedBefore && (await waiting(w.hl7.practiceLinkId, ROUTINE + 1)),
      60_000,
    );
    expect(w.hl7.received(from)).toEqual([]);

    w.hl7.restore();
    delivered = await w.until(
      'every message at the practice software',
      () => {
        const got = w.hl7.received(from).filter((m) => m.header.messageType?.startsWith('MDM^T02'));
        return got.length >= ROUTINE + 1 ? got : undefined;
      },
      90_000,
    );
    await w.settled(w.hl7);
    const seen = delivered.map((m) => [m.get('OBX[1]-5'), m.get('OBX[2]-5')]);
    expect(seen[0]).toEqual(['URGENT', 'Message urgent : rappeler immédiatement']);
    expect(seen.slice(1).map(([p]) => p)).toEqual(Array(ROUTINE).fill('NORMAL'));
    expect(new Set(seen.map(([, text]) => text)).size).toBe(ROUTINE + 1);
  }, 120_000);

  it('stores the urgent Communication on the FHIR server before the routine ones queued while it was unreachable', async () => {
    const sec = w.fhir.secretariat;
    const about = {
      patientId: simPatient(sec, 'FICTIF-000002').id,
      practitionerId: simPractitioner(sec, 'GENERALISTE').id,
    };
    const proxied = () =>
      w.fhir.proxy.stats.requests.filter((r) => r.path.startsWith('/fhir/R4/Communication')).length;
    // The link's own client retries stretch one push over a second or more, and a routine push
    // still in flight when the server comes back lands first: that one was not waiting anymore.
    // Without them (the outbox retries anyway) every failed push is over at once, as over MLLP.
    const link = await w.json<{ config: { retry: object }; version: number }>(
      `/api/v1/links/${w.fhir.practiceLinkId}`,
    );
    const startedAt = (await w.json<{ startedAt: string }>(`/api/v1/links/${w.fhir.practiceLinkId}/status`))
      .startedAt;
    await w.json(`/api/v1/links/${w.fhir.practiceLinkId}`, {
      method: 'PATCH',
      key: w.integratorKey,
      headers: { 'if-match': `"${link.version}"` },
      json: { config: { ...link.config, retry: { ...link.config.retry, max: 0 } } },
    });
    await w.until('the link restarted with its new configuration', async () => {
      const s = await w.json<{ state: string; startedAt: string }>(
        `/api/v1/links/${w.fhir.practiceLinkId}/status`,
      );
      return s.state === 'running' && s.startedAt !== startedAt;
    });
    w.fhir.cut();
    await leaveBacklog(sec, about);
    await w.until(
      'the routine backlog',
      async () => proxied() >= ROUTINE && (await waiting(w.fhir.practiceLinkId, ROUTINE)),
      60_000,
    );
    const before = proxied();
    await leaveUrgent(sec, about);
    await w.until(
      'the urgent message queued and tried',
      async () => proxied() > before && (await waiting(w.fhir.practiceLinkId, ROUTINE + 1)),
      60_000,
    );

    w.fhir.restore();
    const stored = await w.until(
      'every message on the FHIR server',
      async () => {
        const { body } = await w.fhir.fhir<Bundle<Communication>>('GET', 'Communication?_count=50');
        const got = (body.entry ?? []).map((e) => e.resource as Communication);
        return got.length >= ROUTINE + 1 ? got : undefined;
      },
      90_000,
    );
    await w.settled(w.fhir);
    // In the order the server created them: each one's first version (later writes, such as a
    // status update, move meta.lastUpdated); each push waits for the previous one's answer.
    const created = new Map<string, number>();
    for (const c of stored) {
      const { status, body } = await w.fhir.fhir<Bundle<Communication>>(
        'GET',
        `Communication/${c.id}/_history`,
      );
      expect(status).toBe(200);
      created.set(
        c.id as string,
        Math.min(...(body.entry ?? []).map((e) => Date.parse(e.resource?.meta?.lastUpdated as string))),
      );
    }
    const inOrder = [...stored].sort(
      (a, b) => (created.get(a.id as string) as number) - (created.get(b.id as string) as number),
    );
    expect(inOrder.map((c) => c.priority)).toEqual(['urgent', ...Array(ROUTINE).fill('routine')]);
    expect(inOrder[0]?.payload?.[0]?.contentString).toBe('Message urgent : rappeler immédiatement');
  }, 120_000);

  it.each([
    ['HL7', () => w.hl7],
    ['FHIR', () => w.fhir],
  ])(
    'counts every message received and delivered, the urgency apart, in the %s practice’s activity report',
    async (_name, practice) => {
      expect(delivered).toBeDefined();
      const report = await w.activity(practice().id);
      expect(report.messages.all).toMatchObject({
        received: ROUTINE + 1,
        delivered: ROUTINE + 1,
        latencyMs: { count: ROUTINE + 1 },
      });
      expect(report.messages.urgencies).toMatchObject({ received: 1, delivered: 1, latencyMs: { count: 1 } });
      expect(report.messages.byPriority.routine).toMatchObject({ received: ROUTINE, delivered: ROUTINE });
      expect(report.messages.byPriority.urgent).toMatchObject({ received: 1, delivered: 1 });
      expect(report.appointments.total).toEqual({
        booked: 0,
        moved: 0,
        cancelled: 0,
        noshow: 0,
        arrived: 0,
        refused: 0,
      });
      expect(report.deadLetters).toMatchObject({ total: 0, openNow: 0 });
    },
  );
});
