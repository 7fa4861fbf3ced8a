import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { createApiKey } from '../../src/security/api-keys.js';
import { startTestService, type TestService } from '../helpers/service.js';

describe.each(['sqlite', 'postgres'] as const)('admin API over HTTP (%s store)', (storeKind) => {
  let t: TestService;
  let integratorKey: string;
  let viewerKey: string;

  beforeAll(async () => {
    t = await startTestService({ store: storeKind });
    integratorKey = (
      await createApiKey(t.service.store, { role: 'integrator', createdBy: 'test', via: 'test' })
    ).key;
    viewerKey = (await createApiKey(t.service.store, { role: 'viewer', createdBy: 'test', via: 'test' })).key;
  });
  afterAll(async () => {
    await t.dispose();
  });

  it('answers /healthz and /readyz without a key', async () => {
    expect((await t.api('/healthz', { key: null })).status).toBe(200);
    const ready = await t.api('/readyz', { key: null });
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', store: storeKind });
  });

  it('refuses a request without a key, or with an unknown or revoked key, with 401', async () => {
    const none = await t.api('/api/v1/practices', { key: null });
    expect(none.status).toBe(401);
    expect(await none.json()).toEqual({
      error: { code: 'ERR_AUTH_REQUIRED', message: expect.any(String), details: {} },
    });
    expect((await t.api('/api/v1/practices', { key: 'psk_wrong' })).status).toBe(401);
    const { key, record } = await createApiKey(t.service.store, {
      role: 'admin',
      createdBy: 'test',
      via: 'test',
    });
    expect((await t.api('/api/v1/practices', { key })).status).toBe(200);
    await t.service.store.apiKeys.revoke(record.id);
    expect((await t.api('/api/v1/practices', { key })).status).toBe(401);
  });

  it('refuses an action above the key’s role with 403 and audits the refusal', async () => {
    const res = await t.api('/api/v1/practices', {
      method: 'POST',
      key: viewerKey,
      json: { name: 'Cabinet' },
    });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('ERR_AUTH_FORBIDDEN');
    const denied = await t.service.store.audit.list({ action: 'POST /api/v1/practices', limit: 10 });
    expect(denied.some((e) => e.outcome === 'denied' && e.role === 'viewer')).toBe(true);
    expect(
      (await t.api('/api/v1/practices', { method: 'POST', key: integratorKey, json: { name: 'Cabinet' } }))
        .status,
    ).toBe(403);
  });

  it('creates, reads, updates with If-Match and deletes practices and links', async () => {
    const created = await t.api('/api/v1/practices', {
      method: 'POST',
      json: { name: 'Cabinet des Essais', timezone: 'Indian/Reunion' },
    });
    expect(created.status).toBe(201);
    const practice = (await created.json()) as { id: string; version: number; timezone: string };
    expect(practice.timezone).toBe('Indian/Reunion');
    expect(created.headers.get('etag')).toBe('"1"');

    const stale = await t.api(`/api/v1/practices/${practice.id}`, {
      method: 'PATCH',
      headers: { 'if-match': '"7"' },
      json: { name: 'x' },
    });
    expect(stale.status).toBe(409);
    const patched = await t.api(`/api/v1/practices/${practice.id}`, {
      method: 'PATCH',
      headers: { 'if-match': '"1"' },
      json: { name: 'Cabinet des Essais 2' },
    });
    expect(patched.status).toBe(200);
    expect(patched.headers.get('etag')).toBe('"2"');

    const link = await t.api('/api/v1/links', {
      method: 'POST',
      key: integratorKey,
      json: {
        practiceId: practice.id,
        role: 'practice',
        connector: 'hl7v2',
        name: 'Logiciel X',
        config: { mllp: { listen: { host: '127.0.0.1', port: 0 } } },
        secrets: { password: 'hunter2' },
        schedule: '*/2 * * * *',
      },
    });
    expect(link.status).toBe(201);
    const linkBody = (await link.json()) as Record<string, unknown>;
    expect(linkBody).toMatchObject({ hasSecrets: true, connector: 'hl7v2' });
    expect(JSON.stringify(linkBody)).not.toContain('hunter2');
    const stored = await t.service.store.links.require(linkBody['id'] as string);
    expect(stored.secrets).not.toContain('hunter2');
    expect(t.service.context.secrets.openJson(stored.secrets as string, stored.id)).toEqual({
      password: 'hunter2',
    });

    const list = (await (
      await t.api(`/api/v1/links?practiceId=${practice.id}`, { key: viewerKey })
    ).json()) as { items: unknown[] };
    expect(list.items).toHaveLength(1);
    expect((await t.api(`/api/v1/practices/${practice.id}`, { method: 'DELETE' })).status).toBe(409);
    expect(
      (await t.api(`/api/v1/links/${linkBody['id'] as string}`, { method: 'DELETE', key: integratorKey }))
        .status,
    ).toBe(204);
    expect((await t.api(`/api/v1/practices/${practice.id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await t.api(`/api/v1/practices/${practice.id}`)).status).toBe(404);

    const actions = (await t.service.store.audit.list({ limit: 1000 }))
      .filter((e) => e.resourceId === practice.id)
      .map((e) => e.action);
    expect(actions).toEqual(['practice.create', 'practice.update', 'practice.delete']);
  });

  it('validates bodies and names each bad field, never answering with a stack trace', async () => {
    const res = await t.api('/api/v1/links', {
      method: 'POST',
      json: { practiceId: 'p', role: 'both', connector: 'fax', name: '', schedule: 'often', extra: 1 },
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; details: { issues: { path: string }[] } } };
    expect(body.error.code).toBe('ERR_VALIDATION');
    expect(body.error.details.issues.map((i) => i.path).sort()).toEqual([
      'body',
      'body.name',
      'body.role',
      'body.schedule',
    ]);
    const unknownConnector = await t.api('/api/v1/links', {
      method: 'POST',
      json: { practiceId: 'p', role: 'practice', connector: 'fax', name: 'x' },
    });
    expect(((await unknownConnector.json()) as { error: { message: string } }).error.message).toContain(
      'unknown connector fax',
    );
    const badJson = await t.api('/api/v1/practices', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"name":',
    });
    expect(badJson.status).toBe(400);
    const text = await badJson.text();
    expect(text).not.toMatch(/at .*\.(ts|js):\d+/);
  });

  it('describes every served route in its OpenAPI 3.1 document', async () => {
    const doc = (await (await t.api('/api/v1/openapi.json', { key: null })).json()) as {
      openapi: string;
      paths: Record<string, Record<string, unknown>>;
    };
    expect(doc.openapi).toBe('3.1.0');
    const documented = Object.entries(doc.paths).flatMap(([p, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`),
    );
    for (const op of [
      'GET /healthz',
      'GET /readyz',
      'GET /metrics',
      'GET /api/v1/practices',
      'POST /api/v1/practices',
      'PATCH /api/v1/practices/{id}',
      'DELETE /api/v1/links/{id}',
      'GET /api/v1/openapi.json',
    ]) {
      expect(documented).toContain(op);
    }
  });

  it('exposes HTTP and store metrics for Prometheus', async () => {
    await t.api('/healthz', { key: null });
    const text = await (await t.api('/metrics', { key: null })).text();
    expect(text).toMatch(/passerelle_http_requests_total\{method="GET",route="\/healthz",status="200"\} \d+/);
    expect(text).toMatch(/passerelle_store_up 1/);
    expect(text).toMatch(/passerelle_outbox_items\{status="pending"\} 0/);
  });

  it('answers unknown routes with a JSON 404', async () => {
    const res = await t.api('/api/v1/nothing');
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('ERR_NOT_FOUND');
  });
});
