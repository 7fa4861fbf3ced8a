/**
 * The console's dashboard and its live stream (issue 19), over real HTTP on a real SQLite
 * store: what GET /api/v1/dashboard counts, and GET /api/v1/events telling each key of the
 * changes of its own practices only.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { defaultConnectorRegistry } from '../../../src/app/connectors.js';
import { mappingModule } from '../../../src/app/features/mapping.js';
import { type SyncModule, syncModule } from '../../../src/app/features/sync.js';
import { createApiKey } from '../../../src/security/api-keys.js';
import { PRIORITY } from '../../../src/store/types.js';
import { startTestService, type TestService } from '../../helpers/service.js';
import { openSse, type SseStream } from '../../helpers/sse.js';
import { until } from '../../helpers/until.js';

interface DashboardBody {
  practices: {
    id: string;
    name: string;
    links: { id: string; state: string; connector: string; role: string; deadLetters: number }[];
    totals: {
      openConflicts: number;
      openReviews: { patientMatch: number; practitionerMapping: number };
      deadLetters: number;
      urgentMessages: { undelivered: number; unacknowledged: number };
      syncLagSeconds: number;
    };
    attention: string[];
  }[];
}

const changed = (s: SseStream) =>
  s.events
    .filter((e) => e.event === 'changed')
    .map((e) => JSON.parse(e.data) as { practiceId: string; topics: string[] });

describe('the console dashboard and its event stream over HTTP', () => {
  let t: TestService;
  let sync: SyncModule;
  let viewerA: string;

  const link = async (practiceId: string, id: string, role: 'secretariat' | 'practice') => {
    const res = await t.api('/api/v1/links', {
      method: 'POST',
      json:
        role === 'secretariat'
          ? {
              id,
              practiceId,
              role,
              connector: 'secretariat',
              name: 'Plateforme',
              config: { baseUrl: 'http://127.0.0.1:9/api', platformPracticeId: 'cab' },
              secrets: { apiToken: 'platform-token-value' },
              isTest: true,
              enabled: false,
            }
          : {
              id,
              practiceId,
              role,
              connector: 'fhir',
              name: 'Logiciel FHIR',
              config: { baseUrl: 'http://127.0.0.1:9/fhir' },
              isTest: true,
              enabled: false,
            },
    });
    expect(res.status).toBe(201);
  };

  beforeAll(async () => {
    const registry = defaultConnectorRegistry();
    const mapping = mappingModule({ registry });
    sync = syncModule({
      registry,
      ownership: mapping.ownership,
      plans: mapping.plansOf,
      events: { sweepMs: 200, heartbeatMs: 200 },
    });
    t = await startTestService({ modules: [mapping, sync] });
    await t.service.store.practices.create({ id: 'cab-a', name: 'Cabinet A' });
    await t.service.store.practices.create({ id: 'cab-b', name: 'Cabinet B' });
    await link('cab-a', 'sec-a', 'secretariat');
    await link('cab-a', 'soft-a', 'practice');
    await link('cab-b', 'sec-b', 'secretariat');
    viewerA = (
      await createApiKey(t.service.store, {
        role: 'viewer',
        practiceId: 'cab-a',
        createdBy: 'test',
        via: 'test',
      })
    ).key;
  });
  afterAll(() => t.dispose());

  it('shows each practice with its links and nothing waiting when all is quiet', async () => {
    const res = await t.api('/api/v1/dashboard');
    expect(res.status).toBe(200);
    const body = (await res.json()) as DashboardBody;
    expect(body.practices.map((p) => p.id)).toEqual(['cab-a', 'cab-b']);
    const a = body.practices[0];
    expect(a?.links.map((l) => [l.id, l.connector, l.role, l.state]).sort()).toEqual([
      ['sec-a', 'secretariat', 'secretariat', 'disabled'],
      ['soft-a', 'fhir', 'practice', 'disabled'],
    ]);
    expect(a?.attention).toEqual([]);
  });

  it('counts conflicts, reviews, dead letters and urgent messages not delivered nor acknowledged', async () => {
    const store = t.service.store;
    await store.conflicts.open({
      practiceId: 'cab-a',
      kind: 'Appointment',
      recordId: 'appt-a1',
      fields: [{ path: 'start', base: null, practice: null, secretariat: null }],
    });
    await store.reviews.open({ practiceId: 'cab-a', type: 'patient-match', payload: {} });
    await store.deadLetters.add({
      practiceId: 'cab-a',
      linkId: 'soft-a',
      source: 'outbox',
      ref: null,
      kind: 'Appointment',
      recordId: 'appt-a1',
      reasonCode: 'ERR_FHIR_REJECTED',
      reason: 'refused by the server',
      payload: null,
    });
    await store.resources.put({
      id: 'msg-a1',
      practiceId: 'cab-a',
      kind: 'Communication',
      origin: 'secretariat',
      expectedVersion: 0,
      data: {
        resourceType: 'Communication',
        id: 'msg-a1',
        status: 'completed',
        priority: 'urgent',
        payload: [{ contentString: 'Rappeler le cabinet' }],
      },
    });
    await store.outbox.enqueue({
      practiceId: 'cab-a',
      linkId: 'soft-a',
      kind: 'Communication',
      recordId: 'msg-a1',
      op: 'upsert',
      payload: {},
      priority: PRIORITY.urgent,
      idempotencyKey: 'test-msg-a1',
    });

    const body = (await (await t.api('/api/v1/dashboard?practiceId=cab-a')).json()) as DashboardBody;
    expect(body.practices).toHaveLength(1);
    const a = body.practices[0];
    expect(a?.totals).toMatchObject({
      openConflicts: 1,
      openReviews: { patientMatch: 1, practitionerMapping: 0 },
      deadLetters: 1,
      urgentMessages: { undelivered: 1, unacknowledged: 1 },
    });
    expect(a?.links.find((l) => l.id === 'soft-a')?.deadLetters).toBe(1);
    expect(a?.attention).toEqual(['dead-letters', 'conflicts', 'reviews', 'urgent-pending']);
  });

  it('shows a key limited to a practice only that practice, and refuses it another', async () => {
    const mine = (await (await t.api('/api/v1/dashboard', { key: viewerA })).json()) as DashboardBody;
    expect(mine.practices.map((p) => p.id)).toEqual(['cab-a']);
    expect((await t.api('/api/v1/dashboard?practiceId=cab-b', { key: viewerA })).status).toBe(403);
    expect((await t.api('/api/v1/events?practiceId=cab-b', { key: viewerA })).status).toBe(403);
    expect((await t.api('/api/v1/dashboard?practiceId=nowhere')).status).toBe(404);
  });

  it('streams a change of a practice to those who may see it, never to a key of another practice', async () => {
    const all = await openSse(`${t.url}/api/v1/events`, t.adminKey);
    const onlyA = await openSse(`${t.url}/api/v1/events`, viewerA);
    try {
      expect(all.status).toBe(200);
      expect(all.contentType).toMatch(/^text\/event-stream/);
      await until('both streams ready', () =>
        [all, onlyA].every((s) => s.events.some((e) => e.event === 'ready')),
      );

      await t.service.store.conflicts.open({
        practiceId: 'cab-b',
        kind: 'Appointment',
        recordId: 'appt-b1',
        fields: [{ path: 'start', base: null, practice: null, secretariat: null }],
      });
      await until('the change of cab-b', () =>
        changed(all).find((c) => c.practiceId === 'cab-b' && c.topics.includes('conflicts')),
      );

      await t.service.store.deadLetters.add({
        practiceId: 'cab-a',
        linkId: 'sec-a',
        source: 'inbox',
        ref: null,
        kind: null,
        recordId: null,
        reasonCode: 'ERR_MAPPING_INVALID',
        reason: 'no mapping',
        payload: null,
      });
      const seen = await until('the change of cab-a on the limited key', () =>
        changed(onlyA).find((c) => c.practiceId === 'cab-a'),
      );
      expect(seen.topics).toContain('deadLetters');
      expect(changed(onlyA).every((c) => c.practiceId === 'cab-a')).toBe(true);
      await until('a heartbeat', () => onlyA.comments.includes('heartbeat'));
    } finally {
      all.close();
      onlyA.close();
    }
  });

  it('forgets a client that went away', async () => {
    const watch = sync.watchOf(t.service.context);
    const s = await openSse(`${t.url}/api/v1/events`, viewerA);
    await until('ready', () => s.events.some((e) => e.event === 'ready'));
    const before = watch.subscriberCount;
    expect(before).toBeGreaterThan(0);
    s.close();
    await until('the subscription dropped', () => watch.subscriberCount < before);
  });

  it('ends open streams cleanly when the service stops', async () => {
    const s = await openSse(`${t.url}/api/v1/events`, t.adminKey);
    await until('ready', () => s.events.some((e) => e.event === 'ready'));
    await t.service.stop();
    await until('the stream ended', () => s.ended());
  });
});

describe('the event stream fed by the sync runtime’s hints alone', () => {
  let t: TestService;

  beforeAll(async () => {
    const registry = defaultConnectorRegistry();
    const mapping = mappingModule({ registry });
    // No sweep within the test: only the runtime's hints can bring the event.
    const sync = syncModule({
      registry,
      ownership: mapping.ownership,
      plans: mapping.plansOf,
      events: { sweepMs: 3_600_000 },
      runtime: { refreshMs: 100, schedulePolls: false },
    });
    t = await startTestService({ modules: [mapping, sync] });
    await t.service.store.practices.create({ id: 'cab-a', name: 'Cabinet A' });
    const res = await t.api('/api/v1/links', {
      method: 'POST',
      json: {
        id: 'sec-a',
        practiceId: 'cab-a',
        role: 'secretariat',
        connector: 'secretariat',
        name: 'Plateforme',
        config: { baseUrl: 'http://127.0.0.1:9/api', platformPracticeId: 'cab' },
        secrets: { apiToken: 'platform-token-value' },
        isTest: true,
        enabled: false,
      },
    });
    expect(res.status).toBe(201);
  });
  afterAll(() => t.dispose());

  it('tells of a link that started once it was enabled through the API', async () => {
    const s = await openSse(`${t.url}/api/v1/events?practiceId=cab-a`, t.adminKey);
    try {
      await until('ready', () => s.events.some((e) => e.event === 'ready'));
      const patched = await t.api('/api/v1/links/sec-a', { method: 'PATCH', json: { enabled: true } });
      expect(patched.status).toBe(200);
      const seen = await until('the link change', () =>
        changed(s).find((c) => c.practiceId === 'cab-a' && c.topics.includes('links')),
      );
      expect(seen.topics).toContain('links');
    } finally {
      s.close();
    }
  });
});
