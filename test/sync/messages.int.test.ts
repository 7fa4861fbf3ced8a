/**
 * The message browser (issue 18 point 4) over a real HTTP server and a real MLLP socket, on both
 * stores: a link's messages with filters and paging, one message's whole path in one call (HL7
 * tree, what the current profile makes of it, dead letters, the ACK), raw bytes for integrators
 * only and that read audited, replay with the current mapping, a dry run against a draft
 * profile that writes nothing. And point 5: a message accepted with CA that then fails is not
 * silent — an alert, a dead letter shown in the browser, counted in the digest.
 */
import { Writable } from 'node:stream';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import type { Hl7v2Link } from '../../connectors/hl7v2/index.js';
import { defaultConnectorRegistry } from '../../src/app/connectors.js';
import { syncModule } from '../../src/app/features/sync.js';
import { createLogger } from '../../src/log/logger.js';
import { shippedProfileText } from '../../src/mapping/index.js';
import { buildActivityReport } from '../../src/reports/report.js';
import { createApiKey } from '../../src/security/api-keys.js';
import type { MessageDetail, MessageSummary } from '../../src/sync/messages.js';
import type { SyncRuntime } from '../../src/sync/runtime.js';
import {
  hl7Fixture,
  listenConfig,
  parseAck,
  RawMllpSocket,
  withControlId,
  withField,
} from '../helpers/hl7.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { STORE_KINDS } from '../helpers/stores.js';
import { until } from '../helpers/until.js';

function booking(id: string, apt: string, trigger = 'S12'): Buffer {
  const m = withField(
    withField(withControlId(hl7Fixture('siu-s12-new-appointment'), id), 'MSH', 9, `SIU^${trigger}^SIU_S12`),
    'SCH',
    2,
    `${apt}^LOGICIEL-CABINET`,
  );
  return m;
}
const originalMode = (m: Buffer) => withField(withField(m, 'MSH', 15, ''), 'MSH', 16, '');

describe.each(STORE_KINDS)('message browser over HTTP (%s store)', (kind) => {
  const module = syncModule({
    registry: defaultConnectorRegistry(),
    runtime: { schedulePolls: false, refreshMs: 0, autoDispatch: false },
  });
  const lines: Record<string, unknown>[] = [];
  let t: TestService;
  let runtime: SyncRuntime;
  let integrator: string;
  let viewer: string;
  let integratorId: string;
  let practiceId: string;
  let linkId: string;
  let socket: RawMllpSocket;

  const json = async <T>(res: Response, status: number): Promise<T> => {
    const body = await res.text();
    if (res.status !== status) throw new Error(`expected HTTP ${status}, got ${res.status}: ${body}`);
    return (body ? JSON.parse(body) : undefined) as T;
  };
  const list = (query: string, key = viewer) =>
    t
      .api(`/api/v1/links/${linkId}/messages${query}`, { key })
      .then((r) => json<{ items: MessageSummary[]; next: string | null }>(r, 200));
  const byControlId = async (c: string) => (await list(`?controlId=${c}`)).items[0] as MessageSummary;

  beforeAll(async () => {
    const stream = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean))
          lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    t = await startTestService({
      store: kind,
      modules: [module],
      logger: createLogger({ stream, level: 'warn' }),
    });
    runtime = module.runtimeOf(t.service.context);
    const i = await createApiKey(t.service.store, { role: 'integrator', createdBy: 'test', via: 'test' });
    integrator = i.key;
    integratorId = i.record.id;
    viewer = (await createApiKey(t.service.store, { role: 'viewer', createdBy: 'test', via: 'test' })).key;
    practiceId = (
      await json<{ id: string }>(
        await t.api('/api/v1/practices', { method: 'POST', json: { name: 'Cabinet' } }),
        201,
      )
    ).id;
    linkId = (
      await json<{ id: string }>(
        await t.api('/api/v1/links', {
          method: 'POST',
          key: integrator,
          json: {
            practiceId,
            role: 'practice',
            connector: 'hl7v2',
            name: 'Logiciel',
            isTest: true,
            config: listenConfig({ acceptAck: 'commit' }),
          },
        }),
        201,
      )
    ).id;
    await runtime.refresh();
    socket = await RawMllpSocket.connect((runtime.connectorOf(linkId) as Hl7v2Link).mllpPort as number);
    // Three messages: two bookings applied (one in original mode), one trigger the profile does not take.
    expect(parseAck(await socket.request(booking('MB-1', 'RDV-B1'))).code).toBe('CA');
    expect(parseAck(await socket.request(originalMode(booking('MB-2', 'RDV-B2')))).code).toBe('AA');
    expect(
      parseAck(
        await socket.request(
          withControlId(withField(hl7Fixture('adt-a28-create'), 'MSH', 9, 'ADT^A02^ADT_A02'), 'MB-3'),
        ),
      ).code,
    ).toBe('CR');
    await until(
      'the stored messages applied',
      async () => (await t.service.store.inbox.list({ linkId, status: 'received' })).length === 0,
    );
  });
  afterAll(async () => {
    socket?.destroy();
    await t.dispose();
  });

  it("lists a link's messages newest first, filtered by type, outcome, control id, period and patient, page by page", async () => {
    const all = await list('');
    expect(all.items.map((m) => m.controlId)).toEqual(['MB-3', 'MB-2', 'MB-1']);
    expect(all.items.map((m) => m.outcome)).toEqual([
      'dead-letter',
      expect.stringMatching(/^applied/),
      expect.stringMatching(/^applied/),
    ]);
    expect((await list('?type=SIU%5E')).items.map((m) => m.controlId)).toEqual(['MB-2', 'MB-1']);
    expect((await list('?type=ADT%5EA02')).items.map((m) => m.controlId)).toEqual(['MB-3']);
    expect((await list('?outcome=dead-letter')).items.map((m) => m.controlId)).toEqual(['MB-3']);
    expect((await list('?outcome=rejected')).items).toEqual([]);
    expect((await list('?controlId=MB-2')).items.map((m) => m.messageType)).toEqual(['SIU^S12']);
    expect(
      (await list(`?since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`)).items,
    ).toEqual([]);
    const first = await list('?limit=2');
    expect(first.items.map((m) => m.controlId)).toEqual(['MB-3', 'MB-2']);
    const second = await list(`?limit=2&before=${first.next as string}`);
    expect([second.items.map((m) => m.controlId), second.next]).toEqual([['MB-1'], null]);
    // The patient of both bookings, named by its canonical id.
    const patient = (await t.service.store.identityMap.findCanonical(
      linkId,
      'Patient',
      'IPP000101',
    )) as string;
    expect((await list(`?patient=${patient}`)).items.map((m) => m.controlId)).toEqual(['MB-2', 'MB-1']);
    expect((await list(`?patient=${patient}&limit=1`)).next).toBe((await byControlId('MB-2')).id);
    // Outbound writes of the link: none on a link that only receives.
    expect((await list('?direction=outbound')).items).toEqual([]);
  });

  it('shows one message in one call: tree with HL7 paths, what the current profile makes of it, the ACK — and no raw body for a viewer', async () => {
    const m = await byControlId('MB-1');
    const d = await json<MessageDetail>(await t.api(`/api/v1/messages/${m.id}`, { key: viewer }), 200);
    expect(d.message).toMatchObject({
      id: m.id,
      linkId,
      practiceId,
      messageType: 'SIU^S12',
      controlId: 'MB-1',
    });
    expect(d.raw).toBeUndefined();
    expect(d.header).toMatchObject({ acceptAckType: 'AL', applicationAckType: 'NE', controlId: 'MB-1' });
    const sch = d.tree?.find((s) => s.name === 'SCH');
    const sch2 = sch?.fields.find((f) => f.path === 'SCH-2');
    expect(sch2?.repetitions[0]?.components).toEqual([
      { path: 'SCH-2[1].1', value: 'RDV-B1' },
      { path: 'SCH-2[1].2', value: 'LOGICIEL-CABINET' },
    ]);
    expect(d.tree?.filter((s) => s.name === 'AIP').map((s) => s.path)).toEqual(['AIP', 'AIP[2]']);
    const pid3 = d.tree?.find((s) => s.name === 'PID')?.fields.find((f) => f.path === 'PID-3');
    expect(pid3?.repetitions[0]?.components).toContainEqual({
      path: 'PID-3[1].4.2',
      value: '1.2.250.1.999.1.1',
    });
    expect(d.mapping?.profile.source).toBe('shipped');
    expect(d.mapping?.result?.ok).toBe(true);
    expect(d.mapping?.result?.records.map((r) => r.kind)).toContain('Appointment');
    // Each canonical field with the rule (HL7 path) that produced it.
    expect(
      d.mapping?.result?.report.some(
        (r) =>
          r.kind === 'Appointment' && r.canonicalPath !== null && (r.protocolPath ?? '').startsWith('SCH'),
      ),
    ).toBe(true);
    expect(d.ack?.messages.map((a) => [a.code, a.text.startsWith('MSH')])).toEqual([['CA', true]]);
    expect(d.applicationAck?.requested).toBe('NE');
    expect(d.written.deadLetters).toEqual([]);
    const written = d.written.records?.find((r) => r.kind === 'Appointment');
    expect(written).toMatchObject({
      externalId: 'RDV-B1',
      canonicalId: await t.service.store.identityMap.findCanonical(linkId, 'Appointment', 'RDV-B1'),
      version: 1,
    });

    const dead = await json<MessageDetail>(
      await t.api(`/api/v1/messages/${(await byControlId('MB-3')).id}`, { key: viewer }),
      200,
    );
    expect(dead.written.deadLetters.map((x) => x.reasonCode)).toEqual(['ERR_HL7_UNSUPPORTED_MESSAGE']);
    expect(dead.ack?.messages.map((a) => a.code)).toEqual(['CR']);
  });

  it('gives the raw bytes to an integrator and audits that read', async () => {
    const m = await byControlId('MB-2');
    const d = await json<MessageDetail>(await t.api(`/api/v1/messages/${m.id}`, { key: integrator }), 200);
    const sent = originalMode(booking('MB-2', 'RDV-B2'));
    expect(Buffer.from(d.raw?.base64 ?? '', 'base64').equals(sent)).toBe(true);
    const audit = await t.service.store.audit.list({ action: 'message.raw-read', limit: 10 });
    expect(audit.map((a) => [a.actor, a.resourceId, a.practiceId])).toContainEqual([
      integratorId,
      m.id,
      practiceId,
    ]);
    // A viewer's read is not a raw access: nothing more in the trail.
    await json(await t.api(`/api/v1/messages/${m.id}`, { key: viewer }), 200);
    expect(await t.service.store.audit.list({ action: 'message.raw-read', limit: 10 })).toHaveLength(
      audit.length,
    );
    expect((await t.api('/api/v1/messages/in-999999', { key: integrator })).status).toBe(404);
  });

  it('maps a stored message with a draft profile, writing nothing, and refuses the dry run and the replay to a viewer', async () => {
    const m = await byControlId('MB-1');
    const before = await t.service.store.inbox.get(Number(m.id.slice(3)));
    const events = (await t.service.store.audit.list({ limit: 1000 })).length;
    const draft = shippedProfileText('hl7v2-generic-2.5');
    const r = await json<{ mapping: MessageDetail['mapping'] }>(
      await t.api(`/api/v1/messages/${m.id}/dry-run`, {
        method: 'POST',
        key: integrator,
        json: { profile: draft },
      }),
      200,
    );
    expect(r.mapping?.profile.source).toBe('request');
    expect(r.mapping?.profile.name).not.toBe(
      (await json<MessageDetail>(await t.api(`/api/v1/messages/${m.id}`, { key: viewer }), 200)).mapping
        ?.profile.name,
    );
    expect(r.mapping?.result?.ok).toBe(true);
    // Nothing written but the audit event of the dry run itself.
    expect(await t.service.store.inbox.get(Number(m.id.slice(3)))).toEqual(before);
    expect((await t.service.store.audit.list({ limit: 1000 })).length).toBe(events + 1);
    expect(
      (
        await t.api(`/api/v1/messages/${m.id}/dry-run`, {
          method: 'POST',
          key: integrator,
          json: { profile: 'protocol: nope' },
        })
      ).status,
    ).toBe(422);
    expect(
      (
        await t.api(`/api/v1/messages/${m.id}/dry-run`, {
          method: 'POST',
          key: viewer,
          json: { profile: draft },
        })
      ).status,
    ).toBe(403);
    expect((await t.api(`/api/v1/messages/${m.id}/replay`, { method: 'POST', key: viewer })).status).toBe(
      403,
    );
  });

  it('replays an applied message idempotently and a dead-lettered one through its dead letter', async () => {
    const applied = await byControlId('MB-1');
    const canonical = await t.service.store.identityMap.findCanonical(linkId, 'Appointment', 'RDV-B1');
    const version = (await t.service.store.resources.get(canonical as string))?.version;
    const r = await json<{ outcome: string; deadLetterId: string | null }>(
      await t.api(`/api/v1/messages/${applied.id}/replay`, { method: 'POST', key: integrator }),
      200,
    );
    expect(r).toMatchObject({ outcome: 'applied', deadLetterId: null });
    expect((await t.service.store.resources.get(canonical as string))?.version).toBe(version);
    expect(
      (await t.service.store.audit.list({ action: 'message.replay', limit: 10 })).map((a) => a.resourceId),
    ).toContain(applied.id);

    const dead = await byControlId('MB-3');
    const d = await json<{ outcome: string; deadLetterId: string | null }>(
      await t.api(`/api/v1/messages/${dead.id}/replay`, { method: 'POST', key: integrator }),
      200,
    );
    // Still not a trigger the profile takes: mapped again, refused again, the dead letter stays open.
    expect(d.deadLetterId).not.toBeNull();
    expect(d.outcome).toBe('invalid');
  });

  it('does not keep quiet about a message accepted with CA that then fails: alert, dead letter in the browser, counted in the digest', async () => {
    // INS test OID on a link not marked as test: the engine refuses the patient at apply time, after the CA.
    const link = await t.service.store.links.require(linkId);
    await t.service.store.links.update(linkId, { isTest: false }, link.version);
    await runtime.refresh();
    const s = await RawMllpSocket.connect((runtime.connectorOf(linkId) as Hl7v2Link).mllpPort as number);
    try {
      expect(parseAck(await s.request(booking('MB-7', 'RDV-B7'))).code).toBe('CA');
    } finally {
      s.destroy();
    }
    const m = await until('the message set aside', async () => {
      const found = (await list('?controlId=MB-7')).items[0];
      return found?.outcome === 'dead-letter' ? found : undefined;
    });
    expect(m.errorCode).toBe('ERR_MODEL_INVALID');
    const alert = await until('the alert', async () =>
      lines.find((l) => l['alert'] === 'sync.failed-after-accept-ack' && l['linkId'] === linkId),
    );
    expect(alert).toMatchObject({
      level: 'error',
      code: 'ERR_MODEL_INVALID',
      deadLettered: true,
      inboxId: Number(m.id.slice(3)),
    });
    const d = await json<MessageDetail>(await t.api(`/api/v1/messages/${m.id}`, { key: viewer }), 200);
    expect([d.ack?.messages.map((a) => a.code), d.written.deadLetters.map((x) => x.reasonCode)]).toEqual([
      ['CA'],
      ['ERR_MODEL_INVALID'],
    ]);
    expect(d.applicationAck?.note).toMatch(/asked for no application acknowledgment.*alert.*digest/);
    const practice = await t.service.store.practices.require(practiceId);
    const now = Date.now();
    const report = await buildActivityReport(t.service.store, {
      practice,
      period: { from: new Date(now - 3_600_000).toISOString(), to: new Date(now + 60_000).toISOString() },
      now,
    });
    expect(report.deadLetters.byReason).toContainEqual(
      expect.objectContaining({ reasonCode: 'ERR_MODEL_INVALID', source: 'inbox', count: 1 }),
    );
  });
});
