/**
 * The sync module inside the whole service, through HTTP only: links created through the API
 * start (or report why not), webhooks are committed before they are answered, and conflicts,
 * dead letters and patient reviews are handled through the admin API, audited.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { syncModule } from '../../../src/app/features/sync.js';
import type { ExternalRecord } from '../../../src/connector/contract.js';
import { createRegistry } from '../../../src/connector/registry.js';
import type { Appointment, Communication, Patient } from '../../../src/model/resources.js';
import { createApiKey } from '../../../src/security/api-keys.js';
import type { SyncRuntime } from '../../../src/sync/runtime.js';
import { fixturePatients } from '../../helpers/fixtures.js';
import { memoryConnector, MemoryWorld, signDelivery } from '../../helpers/memory-connector.js';
import { startTestService, type TestService } from '../../helpers/service.js';
import { at, booking, seedAgenda } from '../../helpers/sync-harness.js';
import { until } from '../../helpers/until.js';

const DAY = '2026-11-25';
const SECRET = 'webhook-secret-for-tests';
const paul = fixturePatients()[1] as Patient;

describe.each(['sqlite', 'postgres'] as const)('sync through the HTTP API (%s store)', (storeKind) => {
  const world = new MemoryWorld();
  const sec = world.peer('sec');
  const prac = world.peer('prac');
  const module = syncModule({
    registry: createRegistry([memoryConnector(world)]),
    runtime: { schedulePolls: false, refreshMs: 0 },
    dispatcher: {
      backoff: { baseMs: 20, capMs: 200 },
      idleWakeMs: 100,
      dependencyWaitMs: 20,
      maxAttempts: 3,
    },
  });
  let t: TestService;
  let runtime: SyncRuntime;
  let integrator: string;
  let viewer: string;
  let viewerId: string;
  let practiceId: string;
  let secLinkId: string;
  let pracLinkId: string;
  let secPractitioner: string;
  let deliveries = 0;

  const json = async <T>(res: Response, status: number): Promise<T> => {
    const body = await res.text();
    if (res.status !== status) throw new Error(`expected HTTP ${status}, got ${res.status}: ${body}`);
    return (body ? JSON.parse(body) : undefined) as T;
  };
  const webhook = (
    records: ExternalRecord[],
    options: { id?: string; secret?: string; linkId?: string } = {},
  ) => {
    const body = Buffer.from(JSON.stringify(records));
    const id = options.id ?? `dlv-${storeKind}-${++deliveries}`;
    const timestamp = String(Math.floor(Date.now() / 1000));
    return fetch(`${t.url}/hooks/memory/${options.linkId ?? secLinkId}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-delivery-id': id,
        'x-timestamp': timestamp,
        'x-signature': signDelivery(options.secret ?? SECRET, id, timestamp, body),
      },
      body,
    });
  };
  const external = (id: string): ExternalRecord => sec.toExternal(sec.require(id));

  beforeAll(async () => {
    t = await startTestService({ store: storeKind, modules: [module] });
    runtime = module.runtimeOf(t.service.context);
    integrator = (await createApiKey(t.service.store, { role: 'integrator', createdBy: 'test', via: 'test' }))
      .key;
    const v = await createApiKey(t.service.store, { role: 'viewer', createdBy: 'test', via: 'test' });
    viewer = v.key;
    viewerId = v.record.id;
    practiceId = (
      await json<{ id: string }>(
        await t.api('/api/v1/practices', { method: 'POST', json: { name: 'Cabinet HTTP' } }),
        201,
      )
    ).id;
    const link = (body: object) =>
      t.api('/api/v1/links', {
        method: 'POST',
        key: integrator,
        json: { practiceId, isTest: true, connector: 'memory', ...body },
      });
    secLinkId = (
      await json<{ id: string }>(
        await link({
          role: 'secretariat',
          name: 'Secrétariat',
          config: { peer: 'sec' },
          secrets: { webhookSecret: SECRET },
        }),
        201,
      )
    ).id;
    pracLinkId = (
      await json<{ id: string }>(
        await link({ role: 'practice', name: 'Logiciel', config: { peer: 'prac' } }),
        201,
      )
    ).id;
    await runtime.refresh();
    seedAgenda(prac);
    await runtime.pollLink(pracLinkId);
    secPractitioner = await until(
      'the practitioner on the secretariat',
      () => sec.list('Practitioner')[0]?.id,
    );
  });
  afterAll(async () => {
    await t.dispose();
  });

  it('starts links created through the API and reports a link with a bad config as failed, naming each problem', async () => {
    const other = (
      await json<{ id: string }>(
        await t.api('/api/v1/practices', { method: 'POST', json: { name: 'Autre cabinet' } }),
        201,
      )
    ).id;
    const badLink = {
      practiceId: other,
      role: 'practice',
      connector: 'memory',
      name: 'Mal configuré',
      config: { peer: 3, colour: 'blue' },
    } as const;
    // The API refuses such a config before storing it (422); a link stored by an older version
    // may still hold one, so it is written to the store directly here.
    expect((await t.api('/api/v1/links', { method: 'POST', key: integrator, json: badLink })).status).toBe(
      422,
    );
    const bad = await t.service.store.links.create(badLink);
    await runtime.refresh();
    const status = await json<{ state: string; errorCode: string; errors: { path: string }[] }>(
      await t.api(`/api/v1/links/${bad.id}/status`, { key: viewer }),
      200,
    );
    expect(status.state).toBe('failed');
    expect(status.errorCode).toBe('ERR_CONNECTOR_CONFIG_INVALID');
    expect(status.errors.map((e) => e.path).sort()).toEqual(['config', 'config.peer']);
    const good = await json<{ state: string; health: { ok: boolean } }>(
      await t.api(`/api/v1/links/${secLinkId}/status`, { key: viewer }),
      200,
    );
    expect(good).toMatchObject({ state: 'running', health: { ok: true } });
    await json(
      await t.api(`/api/v1/links/${bad.id}`, {
        method: 'PATCH',
        key: integrator,
        json: { config: { peer: 'elsewhere' } },
      }),
      200,
    );
    await runtime.refresh();
    expect((await json<{ state: string }>(await t.api(`/api/v1/links/${bad.id}/status`), 200)).state).toBe(
      'running',
    );
    await json(
      await t.api(`/api/v1/links/${bad.id}`, { method: 'PATCH', key: integrator, json: { enabled: false } }),
      200,
    );
    await runtime.refresh();
    expect((await json<{ state: string }>(await t.api(`/api/v1/links/${bad.id}/status`), 200)).state).toBe(
      'disabled',
    );
  });

  it('commits a signed webhook before answering it, answers a resend from the inbox, and refuses a bad signature', async () => {
    const patient = sec.create(structuredClone(paul));
    const appt = sec.create(booking(secPractitioner, patient, at(DAY, '09:00'), at(DAY, '09:20')));
    const res = await webhook([external(patient), external(appt)], { id: `first-${storeKind}` });
    expect(await json(res, 200)).toEqual({ outcome: 'applied' });
    // Answered after the commit: the canonical appointment is already there.
    expect(await t.service.store.identityMap.findCanonical(secLinkId, 'Appointment', appt)).toBeDefined();
    expect(
      await json(await webhook([external(patient), external(appt)], { id: `first-${storeKind}` }), 200),
    ).toEqual({ outcome: 'duplicate' });
    // An unknown link answers as a bad signature does (issue 16: link ids cannot be probed).
    const badSignature = await webhook([external(patient)], { secret: 'wrong' });
    const unknownLink = await webhook([external(patient)], { linkId: 'no-such-link' });
    expect([unknownLink.status, await unknownLink.json()]).toEqual([401, await badSignature.json()]);
    expect(badSignature.status).toBe(401);
    await until(
      'the booking in the practice software',
      () => prac.list<Appointment>('Appointment').length === 1,
    );
    expect(prac.duplicateCreations()).toEqual([]);
  });

  it('lists a conflict, shows both values per field, lets an integrator resolve it by side, and syncs the result to both sides', async () => {
    const secAppt = sec.list<Appointment>('Appointment')[0]?.id as string;
    const pracAppt = prac.list<Appointment>('Appointment')[0]?.id as string;
    prac.edit<Appointment>(pracAppt, (a) => ({ ...a, start: at(DAY, '14:00'), end: at(DAY, '14:20') }));
    sec.edit<Appointment>(secAppt, (a) => ({ ...a, start: at(DAY, '16:00'), end: at(DAY, '16:20') }));
    await json(await webhook([external(secAppt)]), 200);
    await runtime.pollLink(pracLinkId);
    const list = await until('an open conflict', async () => {
      const l = await json<{ items: { id: string; paths: string[] }[] }>(
        await t.api(`/api/v1/conflicts?practiceId=${practiceId}&status=open`, { key: viewer }),
        200,
      );
      return l.items.length > 0 ? l.items : undefined;
    });
    expect(list).toHaveLength(1);
    expect(list[0]?.paths).toEqual(['start/end']);
    const id = list[0]?.id as string;
    const detail = await json<{
      fields: {
        path: string;
        base: { start: string };
        practice: { start: string };
        secretariat: { start: string };
      }[];
    }>(await t.api(`/api/v1/conflicts/${id}`, { key: viewer }), 200);
    expect(detail.fields[0]).toMatchObject({
      path: 'start/end',
      base: { start: at(DAY, '09:00') },
      practice: { start: at(DAY, '14:00') },
      secretariat: { start: at(DAY, '16:00') },
    });

    expect(
      (
        await t.api(`/api/v1/conflicts/${id}/resolve`, {
          method: 'POST',
          key: viewer,
          json: { side: 'practice' },
        })
      ).status,
    ).toBe(403);
    const bad = await t.api(`/api/v1/conflicts/${id}/resolve`, {
      method: 'POST',
      key: integrator,
      json: { values: { status: 'booked' } },
    });
    expect(bad.status).toBe(400);
    const resolved = await json<{ status: string; resolution: { side: string } }>(
      await t.api(`/api/v1/conflicts/${id}/resolve`, {
        method: 'POST',
        key: integrator,
        json: { side: 'practice' },
      }),
      200,
    );
    expect(resolved).toMatchObject({ status: 'resolved', resolution: { side: 'practice' } });
    await until(
      'the practice time on the secretariat',
      () => sec.get<Appointment>(secAppt).start === at(DAY, '14:00'),
    );
    expect(prac.get<Appointment>(pracAppt).start).toBe(at(DAY, '14:00'));
    expect(
      (
        await t.api(`/api/v1/conflicts/${id}/resolve`, {
          method: 'POST',
          key: integrator,
          json: { side: 'secretariat' },
        })
      ).status,
    ).toBe(409);
    const audit = await t.service.store.audit.list({ limit: 1000 });
    expect(
      audit.some((e) => e.action === 'conflict.read' && e.actor === viewerId && e.patientId !== null),
    ).toBe(true);
    expect(audit.filter((e) => e.action === 'conflict.resolve')).toHaveLength(1);
  });

  it('lists dead letters with their reason, replays one, discards one and replays in bulk', async () => {
    prac.failPushes = { code: 'ERR_CONNECTOR_REJECTED' };
    const patient = sec.list<Patient>('Patient')[0]?.id as string;
    const messages = [
      'rappeler pour résultats',
      'demande d’ordonnance',
      'question administrative',
      'annulation',
    ].map((text) =>
      sec.create({
        resourceType: 'Communication',
        id: 'x',
        status: 'completed',
        priority: 'routine',
        subject: { reference: `Patient/${patient}` },
        payload: [{ contentString: text }],
      } as Communication),
    );
    await json(await webhook(messages.map(external)), 200);
    const dead = await until('four dead letters', async () => {
      const l = await json<{ items: { id: string; reasonCode: string; payload?: unknown }[] }>(
        await t.api(`/api/v1/dead-letters?linkId=${pracLinkId}&status=open`, { key: viewer }),
        200,
      );
      return l.items.length === 4 ? l.items : undefined;
    });
    expect(dead.every((d) => d.reasonCode === 'ERR_CONNECTOR_REJECTED' && d.payload === undefined)).toBe(
      true,
    );
    prac.failPushes = undefined;
    const one = await json<{ outcome: string }>(
      await t.api(`/api/v1/dead-letters/${dead[0]?.id}/replay`, { method: 'POST', key: integrator }),
      200,
    );
    expect(one.outcome).toBe('requeued');
    expect(
      (
        await json<{ outcome: string }>(
          await t.api(`/api/v1/dead-letters/${dead[0]?.id}/replay`, { method: 'POST', key: integrator }),
          200,
        )
      ).outcome,
    ).toBe('already-replayed');
    expect(
      (
        await json<{ status: string }>(
          await t.api(`/api/v1/dead-letters/${dead[1]?.id}/discard`, { method: 'POST', key: integrator }),
          200,
        )
      ).status,
    ).toBe('discarded');
    expect(
      (await t.api(`/api/v1/dead-letters/${dead[1]?.id}/discard`, { method: 'POST', key: integrator }))
        .status,
    ).toBe(409);
    const bulk = await json<{ items: { outcome: string }[] }>(
      await t.api('/api/v1/dead-letters/replay', {
        method: 'POST',
        key: integrator,
        json: { linkId: pracLinkId },
      }),
      200,
    );
    expect(bulk.items.map((i) => i.outcome)).toEqual(['requeued', 'requeued']);
    await until('three messages in the practice software', () => prac.list('Communication').length === 3);
    expect(prac.duplicateCreations()).toEqual([]);
  });

  it('lists a patient-match review and resolves it by creating a new patient', async () => {
    const known = prac.list<Patient>('Patient')[0] as Patient;
    const lookalike = sec.create({
      resourceType: 'Patient',
      id: 'x',
      name: [{ family: known.name?.[0]?.family as string }],
      birthDate: known.birthDate as string,
      gender: known.gender as Patient['gender'],
    });
    await json(await webhook([external(lookalike)]), 200);
    const reviews = await json<{ items: { id: string; payload: { candidates: string[] } }[] }>(
      await t.api(`/api/v1/reviews?practiceId=${practiceId}&status=open`, { key: viewer }),
      200,
    );
    expect(reviews.items).toHaveLength(1);
    expect(reviews.items[0]?.payload.candidates).toHaveLength(1);
    expect(
      (
        await t.api(`/api/v1/reviews/${reviews.items[0]?.id}/resolve`, {
          method: 'POST',
          key: integrator,
          json: { action: 'link', patientId: 'nobody' },
        })
      ).status,
    ).toBe(400);
    const done = await json<{ status: string }>(
      await t.api(`/api/v1/reviews/${reviews.items[0]?.id}/resolve`, {
        method: 'POST',
        key: integrator,
        json: { action: 'create' },
      }),
      200,
    );
    expect(done.status).toBe('resolved');
    await until('the new patient in the practice software', () => prac.list('Patient').length === 2);
  });

  it('reports a link’s cursor, last success, lag, queue depth and dead letters', async () => {
    await runtime.pollLink(secLinkId);
    const status = await json<{
      cursors: { stream: string; cursor: string }[];
      lastSuccessAt: string;
      outbox: Record<string, number>;
      deadLetters: number;
      pollLagSeconds: number;
      outboxLagSeconds: number;
    }>(await t.api(`/api/v1/links/${pracLinkId}/status`, { key: viewer }), 200);
    expect(status.cursors).toEqual([
      expect.objectContaining({ stream: 'default', cursor: expect.any(String) }),
    ]);
    expect(status.lastSuccessAt).not.toBeNull();
    expect(status.pollLagSeconds).toBeGreaterThanOrEqual(0);
    expect(status.outbox['done']).toBeGreaterThan(0);
    expect(status.deadLetters).toBe(0);
    const doc = (await (await t.api('/api/v1/openapi.json', { key: null })).json()) as {
      paths: Record<string, unknown>;
    };
    for (const p of [
      '/api/v1/conflicts',
      '/api/v1/conflicts/{id}/resolve',
      '/api/v1/dead-letters/replay',
      '/api/v1/reviews/{id}/resolve',
      '/api/v1/links/{id}/status',
      '/hooks/{connector}/{linkId}',
    ]) {
      expect(Object.keys(doc.paths)).toContain(p);
    }
  });
});
