import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { openAuditKey } from '../../../src/app/open-store.js';
import { createApiKey } from '../../../src/security/api-keys.js';
import { verifyAuditTrail } from '../../../src/security/audit-checkpoints.js';
import type { AuditEvent } from '../../../src/store/types.js';
import { startTestService, type TestService } from '../../helpers/service.js';
import { tempDir, testClock } from '../../helpers/stores.js';

interface Page {
  items: AuditEvent[];
  next: number | null;
}

describe.each(['sqlite', 'postgres'] as const)('audit trail read API over HTTP (%s store)', (storeKind) => {
  const dir = tempDir('passerelle-audit-api-');
  const keyPath = join(dir.path, 'keys', 'audit.key');
  const checkpointFile = join(dir.path, 'journal', 'checkpoints.jsonl');
  const clock = testClock();
  let t: TestService;
  let integratorA: { key: string; id: string };
  let integratorAll: string;
  let adminId: string;

  beforeAll(async () => {
    t = await startTestService({
      store: storeKind,
      now: clock,
      env: { PASSERELLE_AUDIT_KEY_PATH: keyPath, PASSERELLE_AUDIT_CHECKPOINT_FILE: checkpointFile },
    });
    const a = await createApiKey(t.service.store, {
      role: 'integrator',
      practiceId: 'cab-a',
      createdBy: 'test',
      via: 'test',
    });
    integratorA = { key: a.key, id: a.record.id };
    integratorAll = (
      await createApiKey(t.service.store, { role: 'integrator', createdBy: 'test', via: 'test' })
    ).key;
    adminId = (await t.service.store.apiKeys.list()).find((k) => k.label === 'bootstrap')?.id as string;
    const append = t.service.store.audit.append;
    // Fictitious patients of test/fixtures/patients.json, by canonical id only.
    await append({
      actor: 'link:fhir-a',
      action: 'sync.apply',
      resourceType: 'Patient',
      resourceId: 'pat-a1',
      patientId: 'pat-a1',
      practiceId: 'cab-a',
      outcome: 'success',
      via: 'mllp',
    });
    clock.advance(3_600_000);
    await append({
      actor: 'key-x',
      role: 'viewer',
      action: 'conflict.read',
      resourceType: 'Appointment',
      resourceId: 'rdv-a1',
      patientId: 'pat-a1',
      practiceId: 'cab-a',
      outcome: 'success',
      requestId: 'req-1',
      via: 'api',
    });
    await append({
      actor: 'key-x',
      role: 'viewer',
      action: 'conflict.read',
      resourceType: 'Appointment',
      resourceId: 'rdv-b1',
      patientId: 'pat-b1',
      practiceId: 'cab-b',
      outcome: 'success',
      via: 'api',
    });
    clock.advance(3_600_000);
    await append({
      actor: 'key-y',
      role: 'viewer',
      action: 'DELETE /api/v1/links/:id',
      practiceId: 'cab-b',
      outcome: 'denied',
      via: 'api',
    });
  });
  afterAll(async () => {
    await t.dispose();
    dir.remove();
  });

  const get = async (path: string, key?: string) => {
    const res = await t.api(path, key === undefined ? {} : { key });
    expect(res.status).toBe(200);
    return (await res.json()) as Page;
  };

  it('filters by actor, action, practice, patient and period', async () => {
    expect((await get('/api/v1/audit?actor=key-x')).items.map((e) => e.resourceId)).toEqual([
      'rdv-a1',
      'rdv-b1',
    ]);
    expect((await get('/api/v1/audit?action=sync.apply')).items.map((e) => e.actor)).toEqual(['link:fhir-a']);
    expect((await get('/api/v1/audit?practice=cab-b')).items.map((e) => e.action)).toEqual([
      'conflict.read',
      'DELETE /api/v1/links/:id',
    ]);
    expect((await get('/api/v1/audit?patient=pat-a1')).items.map((e) => e.action)).toEqual([
      'sync.apply',
      'conflict.read',
    ]);
    const from = new Date(clock() - 3_600_000).toISOString();
    const to = new Date(clock()).toISOString();
    expect(
      (await get(`/api/v1/audit?practice=cab-a&from=${from}&to=${to}`)).items.map((e) => e.resourceId),
    ).toEqual(['rdv-a1']);
    const bad = await t.api('/api/v1/audit?from=yesterday');
    expect(bad.status).toBe(400);
  });

  it('pages with `next` until there is no more', async () => {
    const first = await get('/api/v1/audit?actor=key-x&limit=1');
    expect(first.items).toHaveLength(1);
    expect(first.next).toBe(first.items[0]?.seq);
    const second = await get(`/api/v1/audit?actor=key-x&limit=1&after=${first.next as number}`);
    expect(second.items.map((e) => e.resourceId)).toEqual(['rdv-b1']);
    const third = await get(`/api/v1/audit?actor=key-x&limit=1&after=${second.next as number}`);
    expect(third).toEqual({ items: [], next: null });
  });

  it('shows a key limited to a practice only that practice’s events, and refuses it another’s', async () => {
    const own = await get('/api/v1/audit', integratorA.key);
    expect(own.items.length).toBeGreaterThan(0);
    expect(new Set(own.items.map((e) => e.practiceId))).toEqual(new Set(['cab-a']));
    expect((await t.api('/api/v1/audit?practice=cab-b', { key: integratorA.key })).status).toBe(403);
    const exported = await t.api('/api/v1/audit/export?format=json', { key: integratorA.key });
    const bundle = (await exported.json()) as { entry: { resource: { source: { site?: string } } }[] };
    expect(bundle.entry.length).toBeGreaterThan(0);
    expect(new Set(bundle.entry.map((e) => e.resource.source.site))).toEqual(new Set(['cab-a']));
  });

  it('keeps the whole trail for admin keys: an unrestricted integrator key must name a practice', async () => {
    const res = await t.api('/api/v1/audit', { key: integratorAll });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('ERR_AUTH_FORBIDDEN');
    const one = await t.api('/api/v1/audit?practice=cab-a', { key: integratorAll });
    expect(one.status).toBe(200);
    expect(
      new Set(((await one.json()) as { items: { practiceId: string }[] }).items.map((e) => e.practiceId)),
    ).toEqual(new Set(['cab-a']));
  });

  it('audits every read of the trail, attributed to the key that read it', async () => {
    await get('/api/v1/audit?patient=pat-a1', integratorA.key);
    const reads = (await get(`/api/v1/audit?action=audit.read&actor=${integratorA.id}`)).items;
    expect(reads[reads.length - 1]).toMatchObject({
      actor: integratorA.id,
      role: 'integrator',
      practiceId: 'cab-a',
      patientId: 'pat-a1',
      outcome: 'success',
      via: 'api',
      details: { patient: 'pat-a1', returned: 2 },
    });
    await t.api('/api/v1/audit/export?format=csv');
    const exports = (await get(`/api/v1/audit?action=audit.export&actor=${adminId}`)).items;
    expect(exports[exports.length - 1]).toMatchObject({ details: { format: 'csv' } });
  });

  it('exports a FHIR R4 Bundle of AuditEvents shaped after IHE BALP', async () => {
    const res = await t.api('/api/v1/audit/export?format=json&actor=key-x&limit=1');
    expect(res.headers.get('content-type')).toContain('application/fhir+json');
    const bundle = (await res.json()) as {
      resourceType: string;
      type: string;
      link: { relation: string; url: string }[];
      entry: { fullUrl: string; resource: Record<string, unknown> }[];
    };
    expect(bundle).toMatchObject({ resourceType: 'Bundle', type: 'collection' });
    expect(bundle.link[0]).toEqual({
      relation: 'next',
      url: expect.stringContaining('/api/v1/audit/export?'),
    });
    expect(bundle.entry).toHaveLength(1);
    expect(bundle.entry[0]?.resource).toEqual({
      resourceType: 'AuditEvent',
      id: expect.any(String),
      type: {
        system: 'http://terminology.hl7.org/CodeSystem/audit-event-type',
        code: 'rest',
        display: 'Restful Operation',
      },
      subtype: [
        { system: 'http://hl7.org/fhir/restful-interaction', code: 'read' },
        { system: 'urn:passerelle:audit-action', code: 'conflict.read' },
        { system: 'urn:passerelle:audit-via', code: 'api' },
      ],
      action: 'R',
      recorded: new Date(Date.parse('2026-11-23T10:00:00.000Z')).toISOString(),
      outcome: '0',
      agent: [
        {
          type: {
            coding: [
              {
                system: 'http://dicom.nema.org/resources/ontology/DCM',
                code: '110153',
                display: 'Source Role ID',
              },
            ],
          },
          role: [{ text: 'viewer' }],
          who: { identifier: { system: 'urn:passerelle:actor', value: 'key-x' } },
          requestor: true,
        },
        {
          type: {
            coding: [
              {
                system: 'http://dicom.nema.org/resources/ontology/DCM',
                code: '110152',
                display: 'Destination Role ID',
              },
            ],
          },
          who: { display: t.url },
          requestor: false,
        },
      ],
      source: {
        site: 'cab-a',
        observer: { display: t.url },
        type: [
          {
            system: 'http://terminology.hl7.org/CodeSystem/security-source-type',
            code: '4',
            display: 'Application Server',
          },
        ],
      },
      entity: [
        {
          what: { reference: 'Appointment/rdv-a1' },
          type: {
            system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type',
            code: '2',
            display: 'System Object',
          },
          role: {
            system: 'http://terminology.hl7.org/CodeSystem/object-role',
            code: '4',
            display: 'Domain Resource',
          },
        },
        {
          what: { reference: 'Patient/pat-a1' },
          type: {
            system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type',
            code: '1',
            display: 'Person',
          },
          role: {
            system: 'http://terminology.hl7.org/CodeSystem/object-role',
            code: '1',
            display: 'Patient',
          },
        },
        {
          what: { identifier: { value: 'req-1' } },
          type: {
            system: 'https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType',
            code: 'XrequestId',
            display: 'X-Request-Id',
          },
        },
      ],
    });
    const denied = (await (await t.api('/api/v1/audit/export?actor=key-y')).json()) as {
      entry: { resource: { action: string; outcome: string } }[];
    };
    expect(denied.entry[0]?.resource).toMatchObject({ action: 'D', outcome: '4' });
  });

  it('exports CSV with one line per event', async () => {
    const res = await t.api('/api/v1/audit/export?format=csv&actor=key-x');
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    const lines = (await res.text())
      .replace(/^\uFEFF/, '')
      .trim()
      .split('\r\n');
    expect(lines[0]).toBe(
      'seq;at;actor;role;action;outcome;resourceType;resourceId;patientId;practiceId;via;requestId;details;hash',
    );
    expect(lines.slice(1).map((l) => l.split(';').slice(4, 10))).toEqual([
      ['conflict.read', 'success', 'Appointment', 'rdv-a1', 'pat-a1', 'cab-a'],
      ['conflict.read', 'success', 'Appointment', 'rdv-b1', 'pat-b1', 'cab-b'],
    ]);
  });

  it('signs a checkpoint at start into its 0600 file, against which the trail verifies', async () => {
    expect(statSync(checkpointFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(checkpointFile, 'utf8').trim().split('\n').length).toBeGreaterThanOrEqual(1);
    if (storeKind === 'sqlite') expect(statSync(keyPath).mode & 0o777).toBe(0o600);
    const { key } = openAuditKey(t.service.context.config, { create: false });
    expect(await verifyAuditTrail(t.service.store, { key, checkpointFile })).toMatchObject({
      ok: true,
      checkpoints: 1,
    });
  });
});
