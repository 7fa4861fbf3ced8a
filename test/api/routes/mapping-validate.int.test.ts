/**
 * POST /api/v1/mapping/validate: validation as you type, over real HTTP on a real SQLite store.
 * Nothing is stored, and no practice's data is touched: a key limited to a practice may use it.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { defaultModules } from '../../../src/app/modules.js';
import { createApiKey } from '../../../src/security/api-keys.js';
import { startTestService, type TestService } from '../../helpers/service.js';

const VALID = `name: cabinet-essais
extends: hl7v2-generic-2.5
Patient:
  remove: [email]
`;
const INVALID = `name: cabinet-essais
extends: hl7v2-generic-2.5
Patinet:
  remove: [email]
`;

interface Validation {
  ok: boolean;
  issues: { line: number | null; column: number | null; path: string; message: string; severity: string }[];
}

describe('mapping profile validation over HTTP', () => {
  let t: TestService;
  let integratorA: string;

  beforeAll(async () => {
    t = await startTestService({ modules: defaultModules() });
    await t.service.store.practices.create({ id: 'cab-a', name: 'Cabinet A' });
    integratorA = (
      await createApiKey(t.service.store, {
        role: 'integrator',
        practiceId: 'cab-a',
        createdBy: 'test',
        via: 'test',
      })
    ).key;
  });
  afterAll(() => t.dispose());

  const validate = (text: string, query = '', key?: string) =>
    t.api(`/api/v1/mapping/validate${query}`, {
      method: 'POST',
      headers: { 'content-type': 'application/yaml' },
      body: text,
      ...(key !== undefined && { key }),
    });

  it('answers ok for a valid profile and stores nothing', async () => {
    const before = await t.service.store.audit.head();
    const res = await validate(VALID);
    expect(res.status).toBe(200);
    const body = (await res.json()) as Validation;
    expect(body.ok).toBe(true);
    expect(body.issues.filter((i) => i.severity === 'error')).toEqual([]);
    expect((await t.service.store.audit.head()).seq).toBe(before.seq);
  });

  it('locates every issue by line and column in the text given', async () => {
    const body = (await (await validate(INVALID)).json()) as Validation;
    expect(body.ok).toBe(false);
    expect(body.issues).toContainEqual(
      expect.objectContaining({ line: 3, column: 1, path: 'Patinet', severity: 'error' }),
    );
    expect(body.issues.find((i) => i.path === 'Patinet')?.message).toMatch(/Patient/);
  });

  it('makes a profile of another protocol an error when a protocol is asked', async () => {
    const body = (await (await validate(VALID, '?protocol=fhir-r4')).json()) as Validation;
    expect(body.ok).toBe(false);
    expect(body.issues[0]).toMatchObject({ path: 'protocol', severity: 'error' });
  });

  it('serves a key limited to a practice the same answer, and refuses a viewer', async () => {
    const res = await validate(INVALID, '', integratorA);
    expect(res.status).toBe(200);
    expect(((await res.json()) as Validation).ok).toBe(false);
    const viewer = await createApiKey(t.service.store, {
      role: 'viewer',
      practiceId: 'cab-a',
      createdBy: 'test',
      via: 'test',
    });
    expect((await validate(VALID, '', viewer.key)).status).toBe(403);
  });
});
