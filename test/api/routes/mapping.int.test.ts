/**
 * Live mapping changes over HTTP, on both stores: read the running profile, replace it (an
 * invalid one is refused with located issues and the running one keeps working), try a
 * profile on a sample without side effects, roll back; every change versioned and audited.
 */
import { readFileSync } from 'node:fs';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { defaultConnectorRegistry } from '../../../src/app/connectors.js';
import { mappingModule } from '../../../src/app/features/mapping.js';
import { parseHl7 } from '../../../src/hl7/index.js';
import {
  getActivePlan,
  onMappingChange,
  shippedProfileText,
  toCanonical,
} from '../../../src/mapping/index.js';
import { createApiKey } from '../../../src/security/api-keys.js';
import { fixturePath } from '../../helpers/fixtures.js';
import { startTestService, type TestService } from '../../helpers/service.js';

interface Issue {
  path: string;
  message: string;
  location?: string;
  code?: string;
  severity?: string;
}
interface ErrorBody {
  error: { code: string; message: string; details: { issues?: Issue[] } };
}
interface MappingBody {
  linkId: string;
  active: {
    source: string;
    name: string;
    version: number | null;
    hash: string;
    yaml: string;
    protocol: string;
  };
  history: {
    version: number;
    active: boolean;
    hash: string;
    comment: string | null;
    createdBy: string | null;
  }[];
}

const ihe = shippedProfileText('hl7v2-ihe-pam-fr');
/** The shipped profile for another practice software: its own assigning authority. */
const custom = ihe
  .replace('ippOid: 1.2.250.1.999.1.1', 'ippOid: 1.2.250.1.999.7.1')
  .replace('ippSystem: urn:oid:1.2.250.1.999.1.1', 'ippSystem: urn:oid:1.2.250.1.999.7.1');
const s12 = readFileSync(fixturePath('hl7', 'siu-s12-new-appointment.hl7'));

describe.each(['sqlite', 'postgres'] as const)('mapping admin API over HTTP (%s store)', (storeKind) => {
  let t: TestService;
  let integratorKey: string;
  let viewerKey: string;
  let linkId: string;
  let fhirLinkId: string;
  const changes: { linkId: string; version: number }[] = [];
  let unsubscribe: () => void;
  const mapping = mappingModule({ refreshMs: 0 });
  const profiles = defaultConnectorRegistry().profiles();

  beforeAll(async () => {
    t = await startTestService({ store: storeKind, modules: [mapping] });
    integratorKey = (
      await createApiKey(t.service.store, { role: 'integrator', createdBy: 'test', via: 'test' })
    ).key;
    viewerKey = (await createApiKey(t.service.store, { role: 'viewer', createdBy: 'test', via: 'test' })).key;
    const practice = (await (
      await t.api('/api/v1/practices', {
        method: 'POST',
        json: { name: 'Cabinet des Essais', timezone: 'Europe/Paris' },
      })
    ).json()) as { id: string };
    const link = (await (
      await t.api('/api/v1/links', {
        method: 'POST',
        key: integratorKey,
        json: {
          practiceId: practice.id,
          role: 'practice',
          connector: 'hl7v2',
          name: 'Logiciel X',
          profile: 'hl7v2-ihe-pam-fr',
          config: { mllp: { listen: { host: '127.0.0.1', port: 0 } } },
          isTest: true,
        },
      })
    ).json()) as { id: string };
    linkId = link.id;
    const fhirLink = (await (
      await t.api('/api/v1/links', {
        method: 'POST',
        key: integratorKey,
        json: {
          practiceId: practice.id,
          role: 'practice',
          connector: 'fhir',
          name: 'Logiciel FHIR',
          config: { baseUrl: 'https://fhir.example/r4' },
        },
      })
    ).json()) as { id: string };
    fhirLinkId = fhirLink.id;
    unsubscribe = onMappingChange((c) => changes.push({ linkId: c.linkId, version: c.version }));
  });
  afterAll(async () => {
    unsubscribe();
    await t.dispose();
  });

  const get = async (id = linkId) =>
    (await (await t.api(`/api/v1/links/${id}/mapping`, { key: viewerKey })).json()) as MappingBody;
  const put = (body: string, contentType = 'application/yaml', key = integratorKey) =>
    t.api(`/api/v1/links/${linkId}/mapping`, {
      method: 'PUT',
      key,
      headers: { 'content-type': contentType },
      body,
    });

  it('runs the shipped profile the link names until a custom one is put, and the connector default without a name', async () => {
    const m = await get();
    expect(m.active).toMatchObject({
      source: 'shipped',
      name: 'hl7v2-ihe-pam-fr',
      protocol: 'hl7v2',
      version: null,
      yaml: ihe,
    });
    expect(m.history).toEqual([]);
    expect((await get(fhirLinkId)).active).toMatchObject({
      source: 'shipped',
      name: 'fhir-r4-fr-core',
      protocol: 'fhir-r4',
    });
  });

  it('refuses an invalid profile with 422 and every issue located in the text, and keeps the running one', async () => {
    const broken = custom.replace(
      '- { name: status, from: SCH-25.1, to: status, map: appointment-status, default: booked }',
      '- { name: status, from: SCH-25.1, to: statuss, map: appointment-statut, default: booked }',
    );
    const lines = broken.split('\n');
    const line = lines.findIndex((l) => l.includes('to: statuss')) + 1;
    const col = (word: string) => (lines[line - 1] ?? '').indexOf(word) + 1;
    const res = await put(broken);
    expect(res.status).toBe(422);
    const body = (await res.json()) as ErrorBody;
    expect(body.error.code).toBe('ERR_MAPPING_INVALID');
    expect(
      body.error.details.issues
        ?.filter((i) => i.severity === 'error')
        .map((i) => [i.location, i.path, i.message]),
    ).toEqual([
      [
        `profile:${line}:${col('statuss')}`,
        'Appointment.fields[0].to',
        'unknown canonical path Appointment.statuss (did you mean status?)',
      ],
      [
        `profile:${line}:${col('appointment-statut')}`,
        'Appointment.fields[0].map',
        'unknown value map appointment-statut (did you mean appointment-status?)',
      ],
    ]);
    const m = await get();
    expect(m.active.source).toBe('shipped');
    expect(m.history).toEqual([]);
    const audit = await t.service.store.audit.list({ action: 'mapping.put', resourceId: linkId });
    expect(audit.map((e) => [e.outcome, e.details])).toEqual([
      ['failure', { code: 'ERR_MAPPING_INVALID', errors: 2 }],
    ]);
  });

  it("refuses a profile of another protocol than the link's connector", async () => {
    const res = await put(shippedProfileText('fhir-r4-fr-core'));
    expect(res.status).toBe(422);
    expect(((await res.json()) as ErrorBody).error).toMatchObject({
      code: 'ERR_MAPPING_PROTOCOL_MISMATCH',
      message: `link ${linkId} uses connector hl7v2; its profile must be hl7v2, not fhir-r4`,
    });
  });

  it('lets only integrators change a profile', async () => {
    expect((await put(custom, 'application/yaml', viewerKey)).status).toBe(403);
  });

  it('puts a valid profile as version 1, which the runtime then runs', async () => {
    const res = await put(custom);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { version: number; hash: string; unchanged: boolean; name: string };
    expect(body).toMatchObject({ version: 1, unchanged: false, name: 'hl7v2-ihe-pam-fr' });
    const active = await getActivePlan(t.service.store, linkId, profiles);
    expect([
      active.source,
      active.version,
      active.hash,
      active.plan.constants['ippOid'],
      active.context,
    ]).toEqual(['custom', 1, body.hash, '1.2.250.1.999.7.1', { timezone: 'Europe/Paris', testLink: true }]);
    // The sample's IPP is under the old authority: with the new profile the patient is known by its INS.
    const r = toCanonical(active.plan, parseHl7(s12), active.context);
    expect(r.records.map((x) => x.externalId)).toEqual(['819999900012', '285037511234544', 'RDV000123']);
    expect(changes).toContainEqual({ linkId, version: 1 });
  });

  it('takes JSON { profile, comment } too, and answers unchanged for the active text', async () => {
    const second = custom.replace('sendingFacility: SECRETARIAT', 'sendingFacility: SECRETARIAT-2');
    const res = await t.api(`/api/v1/links/${linkId}/mapping`, {
      method: 'PUT',
      key: integratorKey,
      json: { profile: second, comment: 'new facility name' },
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { version: number }).version).toBe(2);
    const again = await t.api(`/api/v1/links/${linkId}/mapping`, {
      method: 'PUT',
      key: integratorKey,
      json: { profile: second },
    });
    expect((await again.json()) as object).toMatchObject({ version: 2, unchanged: true });
    const m = await get();
    expect(m.active).toMatchObject({ source: 'custom', version: 2, yaml: second });
    expect(m.history.map((v) => [v.version, v.active, v.comment])).toEqual([
      [2, true, 'new facility name'],
      [1, false, null],
    ]);
    const bad = await t.api(`/api/v1/links/${linkId}/mapping`, {
      method: 'PUT',
      key: integratorKey,
      json: { profil: second },
    });
    expect(((await bad.json()) as ErrorBody).error).toMatchObject({
      code: 'ERR_VALIDATION',
      message: 'body: unknown field profil',
    });
  });

  it('dry-runs a sample with the running profile: canonical records, the rendering back and the field table', async () => {
    const res = await t.api(`/api/v1/links/${linkId}/mapping/dry-run`, {
      method: 'POST',
      key: integratorKey,
      json: { input: s12.toString('utf8') },
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      ok: boolean;
      messageType: string;
      records: { kind: string }[];
      rendered: { messageType: string; hl7: string };
      table: string;
      profile: { source: string };
    };
    expect(body).toMatchObject({ ok: true, messageType: 'SIU^S12', profile: { source: 'custom' } });
    expect(body.records.map((r) => r.kind)).toEqual(['Practitioner', 'Patient', 'Appointment']);
    expect(body.rendered.messageType).toBe('SIU^S12');
    expect(body.rendered.hl7).toMatch(/^MSH\|\^~\\&\|PASSERELLE\|SECRETARIAT-2\|/);
    expect(body.table.split('\n')[0]).toMatch(/^rule +\| protocol path +\| canonical path +\| status$/);
    expect(body.table).toMatch(/\nstart +\| TQ1-7 +\| Appointment\.start +\| mapped\n/);
  });

  it('dry-runs a Latin-1 message sent in base64, and a profile given in the request, without storing anything', async () => {
    const latin1 = readFileSync(fixturePath('hl7', 'siu-s15-cancel-latin1.hl7'));
    const res = await t.api(`/api/v1/links/${linkId}/mapping/dry-run`, {
      method: 'POST',
      key: integratorKey,
      json: { input: latin1.toString('base64'), inputEncoding: 'base64', profile: ihe },
    });
    const body = (await res.json()) as {
      ok: boolean;
      records: { data: { status?: string; serviceType?: { coding: { display: string }[] }[] } }[];
      profile: { source: string };
    };
    expect(body.ok).toBe(true);
    expect(body.profile.source).toBe('request');
    expect(body.records[2]?.data.status).toBe('cancelled');
    expect(body.records[2]?.data.serviceType?.[0]?.coding[0]?.display).toBe('Échographie abdominale');
    expect((await get()).history).toHaveLength(2);
    const invalid = await t.api(`/api/v1/links/${linkId}/mapping/dry-run`, {
      method: 'POST',
      key: integratorKey,
      json: { input: 'x', profile: 'name: x\nprotocol: hl7v2\nversion: "2.5"\nAppointment: {}\n' },
    });
    expect(invalid.status).toBe(422);
    expect(((await invalid.json()) as ErrorBody).error.details.issues?.[0]).toMatchObject({
      path: 'Appointment.directions',
      location: 'profile:4:14',
    });
  });

  it('dry-runs from canonical: a canonical resource rendered as the outbound message', async () => {
    const msg = JSON.parse(
      readFileSync(fixturePath('mappings', 'samples', 'communication-urgent.json'), 'utf8'),
    ) as object;
    const res = await t.api(`/api/v1/links/${linkId}/mapping/dry-run`, {
      method: 'POST',
      key: integratorKey,
      json: { input: msg, direction: 'from-canonical' },
    });
    const body = (await res.json()) as { ok: boolean; rendered: { messageType: string; hl7: string } };
    expect(body.ok).toBe(true);
    expect(body.rendered.messageType).toBe('MDM^T02');
    expect(body.rendered.hl7.split('\r').map((l) => l.slice(0, 3))).toEqual([
      'MSH',
      'EVN',
      'PID',
      'TXA',
      'OBX',
      'OBX',
      '',
    ]);
  });

  it('hands the sync engine the ownership of the profile a link runs, reloaded when it changes', async () => {
    const link = await t.service.store.links.require(linkId);
    expect(mapping.ownership(link)?.Appointment).toEqual({
      create: ['practice', 'secretariat'],
      fields: { '*': 'review' },
    });
    const stricter = custom.replace(
      `    fields:\n      "*": review\n`,
      `    fields:\n      "*": review\n      start/end: practice\n`,
    );
    expect(stricter).not.toBe(custom);
    expect((await put(stricter)).status).toBe(200);
    const deadline = Date.now() + 5000;
    while (mapping.ownership(link)?.Appointment?.fields?.['start/end'] === undefined && Date.now() < deadline)
      await new Promise((r) => setImmediate(r));
    expect(mapping.ownership(link)?.Appointment).toEqual({
      create: ['practice', 'secretariat'],
      fields: { '*': 'review', 'start/end': 'practice' },
    });
    const fhirLink = await t.service.store.links.require(fhirLinkId);
    expect(mapping.ownership(fhirLink)?.Communication).toEqual({
      create: ['secretariat'],
      fields: { '*': 'secretariat', received: 'practice', status: 'last-writer' },
    });
  });

  it('rolls back to an earlier version as a new version, audited', async () => {
    const v1 = (await get()).history.find((v) => v.version === 1);
    const res = await t.api(`/api/v1/links/${linkId}/mapping/rollback`, {
      method: 'POST',
      key: integratorKey,
      json: { version: 1 },
    });
    expect(res.status).toBe(200);
    expect((await res.json()) as object).toMatchObject({ version: 4, restored: 1, hash: v1?.hash });
    const m = await get();
    expect([m.active.version, m.active.hash]).toEqual([4, v1?.hash]);
    expect(m.history.map((v) => [v.version, v.active, v.comment])).toEqual([
      [4, true, 'rollback to version 1'],
      [3, false, null],
      [2, false, 'new facility name'],
      [1, false, null],
    ]);
    expect((await getActivePlan(t.service.store, linkId, profiles)).plan.hl7?.sendingFacility).toBe(
      'SECRETARIAT',
    );
    const missing = await t.api(`/api/v1/links/${linkId}/mapping/rollback`, {
      method: 'POST',
      key: integratorKey,
      json: { version: 9 },
    });
    expect(missing.status).toBe(404);
    const version2 = (await (
      await t.api(`/api/v1/links/${linkId}/mapping/versions/2`, { key: viewerKey })
    ).json()) as { yaml: string; version: number };
    expect(version2.yaml).toContain('SECRETARIAT-2');
    const audit = await t.service.store.audit.list({ resourceId: linkId });
    expect(
      audit
        .filter((e) => e.action.startsWith('mapping.') && e.action !== 'mapping.dry-run')
        .map((e) => [e.action, e.outcome, e.details['version'] ?? null]),
    ).toEqual([
      ['mapping.put', 'failure', null],
      ['mapping.put', 'failure', null],
      ['mapping.put', 'success', 1],
      ['mapping.put', 'success', 2],
      ['mapping.put', 'success', 2],
      ['mapping.put', 'success', 3],
      ['mapping.rollback', 'success', 4],
    ]);
    expect((await t.service.store.audit.verify()).ok).toBe(true);
  });

  it('takes a profile that extends a shipped one, runs it merged, and refuses an unknown parent naming the shipped ones', async () => {
    const child =
      'name: logiciel-x\nextends: hl7v2-ihe-pam-fr\nconstants:\n  ippOid: 1.2.250.1.999.7.1\n  ippSystem: urn:oid:1.2.250.1.999.7.1\n';
    const res = await put(child);
    expect(res.status).toBe(200);
    expect((await res.json()) as object).toMatchObject({ version: 5, name: 'logiciel-x' });
    const active = await getActivePlan(t.service.store, linkId, profiles);
    expect([
      active.plan.name,
      active.plan.parents,
      active.plan.constants['ippOid'],
      active.plan.hl7?.sendingFacility,
    ]).toEqual(['logiciel-x', ['hl7v2-ihe-pam-fr'], '1.2.250.1.999.7.1', 'SECRETARIAT']);
    // The same records as the full copy of the shipped profile with the same two constants (version 1).
    expect(toCanonical(active.plan, parseHl7(s12), active.context).records.map((x) => x.externalId)).toEqual([
      '819999900012',
      '285037511234544',
      'RDV000123',
    ]);
    const dry = await t.api(`/api/v1/links/${linkId}/mapping/dry-run`, {
      method: 'POST',
      key: integratorKey,
      json: { input: s12.toString('utf8') },
    });
    const run = (await dry.json()) as {
      profile: { name: string; parents: string[] };
      report: { rule: string; profile?: string }[];
      table: string;
    };
    expect(run.profile).toMatchObject({ name: 'logiciel-x', parents: ['hl7v2-ihe-pam-fr'] });
    expect(run.report.find((x) => x.rule === 'start')?.profile).toBe('hl7v2-ihe-pam-fr');
    expect(run.table.split('\n')[0]).toMatch(/^rule +\| profile +\| protocol path/);

    const unknown = await put('name: logiciel-x\nextends: hl7v2-ihe-pam\n');
    expect(unknown.status).toBe(422);
    const body = (await unknown.json()) as ErrorBody;
    expect(body.error.details.issues?.map((i) => [i.location, i.code, i.message])).toEqual([
      [
        'profile:2:10',
        'ERR_MAPPING_EXTENDS',
        'unknown parent profile hl7v2-ihe-pam (did you mean hl7v2-ihe-pam-fr?); shipped profiles: fhir-r4-fr-core, hl7v2-generic-2.5, hl7v2-ihe-pam-fr; or a file such as ./hl7v2-ihe-pam.yaml',
      ],
    ]);
    expect((await get()).active.version).toBe(5);
  });
});
