/**
 * POST /api/v1/audit/verify: the console's "vérifier le journal" button runs what `passerelle
 * audit verify` runs, over real HTTP on a real SQLite store.
 */
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { defaultModules } from '../../../src/app/modules.js';
import { createApiKey } from '../../../src/security/api-keys.js';
import { startTestService, type TestService } from '../../helpers/service.js';
import { tempDir } from '../../helpers/stores.js';

describe('audit chain verification over HTTP', () => {
  const dir = tempDir('passerelle-audit-verify-');
  let t: TestService;

  beforeAll(async () => {
    t = await startTestService({
      modules: defaultModules(),
      env: {
        PASSERELLE_AUDIT_KEY_PATH: join(dir.path, 'audit.key'),
        PASSERELLE_AUDIT_CHECKPOINT_FILE: join(dir.path, 'checkpoints.jsonl'),
        PASSERELLE_AUDIT_CHECKPOINT_EVERY_EVENTS: '1',
      },
    });
    await t.service.store.practices.create({ id: 'cab-a', name: 'Cabinet A' });
    await t.service.store.practices.create({ id: 'cab-b', name: 'Cabinet B' });
  });
  afterAll(async () => {
    await t.dispose();
    dir.remove();
  });

  it('answers ok with the number of events checked for an intact chain', async () => {
    await t.service.store.audit.append({ actor: 'test', action: 'test.event', outcome: 'success' });
    const res = await t.api('/api/v1/audit/verify', { method: 'POST' });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { ok: boolean; checked: number; firstBadId?: number };
    expect(body).toMatchObject({ ok: true });
    expect(body.checked).toBeGreaterThan(0);
    expect(body.firstBadId).toBeUndefined();
  });

  it('names the first event that does not verify once one was altered in the store', async () => {
    const { seq } = await t.service.store.audit.append({
      actor: 'test',
      action: 'test.altered',
      outcome: 'success',
    });
    await t.service.store.audit.append({ actor: 'test', action: 'test.after', outcome: 'success' });
    await t.service.store.db
      .updateTable('audit_events')
      .set({ action: 'test.rewritten' })
      .where('seq', '=', seq)
      .execute();
    const res = await t.api('/api/v1/audit/verify', { method: 'POST' });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { ok: boolean; checked: number; firstBadId?: number; reason?: string };
    expect(body).toMatchObject({ ok: false, firstBadId: seq });
    expect(body.checked).toBe(seq - 1);
  });

  it('refuses a viewer and a key limited to one practice', async () => {
    const viewer = await createApiKey(t.service.store, { role: 'viewer', createdBy: 'test', via: 'test' });
    expect((await t.api('/api/v1/audit/verify', { method: 'POST', key: viewer.key })).status).toBe(403);
    const limited = await createApiKey(t.service.store, {
      role: 'admin',
      practiceId: 'cab-a',
      createdBy: 'test',
      via: 'test',
    });
    expect((await t.api('/api/v1/audit/verify', { method: 'POST', key: limited.key })).status).toBe(403);
  });
});
