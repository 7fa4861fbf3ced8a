/**
 * Optimistic concurrency on PATCH /api/v1/practices/:id and /api/v1/links/:id through HTTP on
 * a SQLite file store: GET gives the version as ETag; of two edits made from the same read, the
 * second is refused with 409 ERR_CONFLICT and `details.reason: 'stale-version'` and changes
 * nothing; a PATCH without If-Match is still accepted.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { defaultModules } from '../../../src/app/modules.js';
import { startTestService, type TestService } from '../../helpers/service.js';

interface ErrorBody {
  error: { code: string; details: Record<string, unknown> };
}

describe('two concurrent edits of a practice or a link', () => {
  let t: TestService;

  beforeAll(async () => {
    t = await startTestService({ modules: defaultModules() });
    await t.service.store.practices.create({ id: 'cab-etag', name: 'Cabinet ETag' });
    await t.service.store.links.create({
      id: 'link-etag',
      practiceId: 'cab-etag',
      role: 'practice',
      connector: 'hl7v2',
      name: 'Logiciel',
      config: { mllp: { listen: { host: '127.0.0.1', port: 0 } } },
      isTest: true,
      enabled: false,
    });
  }, 60_000);
  afterAll(async () => {
    await t.dispose();
  });

  it.each([
    ['practice', '/api/v1/practices/cab-etag', { name: 'Cabinet A' }, { name: 'Cabinet B' }, 'name'],
    ['link', '/api/v1/links/link-etag', { name: 'Logiciel A' }, { name: 'Logiciel B' }, 'name'],
  ] as const)(
    'refuses the second of two edits of a %s made from the same read',
    async (_, path, first, second, field) => {
      const read = await t.api(path);
      const etag = read.headers.get('etag');
      expect(etag).toMatch(/^"\d+"$/);
      const one = await t.api(path, {
        method: 'PATCH',
        json: first,
        headers: { 'If-Match': etag as string },
      });
      expect(one.status).toBe(200);
      const two = await t.api(path, {
        method: 'PATCH',
        json: second,
        headers: { 'If-Match': etag as string },
      });
      expect(two.status).toBe(409);
      const body = (await two.json()) as ErrorBody;
      expect(body.error.code).toBe('ERR_CONFLICT');
      expect(body.error.details['reason']).toBe('stale-version');
      const now = (await (await t.api(path)).json()) as Record<string, unknown>;
      expect(now[field]).toBe(first[field]);
    },
  );

  it('still accepts a PATCH without If-Match', async () => {
    const res = await t.api('/api/v1/practices/cab-etag', { method: 'PATCH', json: { name: 'Cabinet C' } });
    expect(res.status).toBe(200);
  });
});
