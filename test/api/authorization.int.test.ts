/**
 * The authorization matrix of issue 16, generated from the route table the service publishes
 * (OpenAPI, with each route's role and practice scope): every route × every role × a key
 * limited to practice A or to none × a request aimed at practice A, at practice B, or at no
 * practice. Denials come first and must change nothing; allowed requests must get past the
 * authorization (whatever the handler then answers).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import type { RouteScope, ScopedResource } from '../../src/api/route.js';
import { defaultModules } from '../../src/app/modules.js';
import { createFeedToken } from '../../src/ical/tokens.js';
import { createApiKey, roleAllows } from '../../src/security/api-keys.js';
import type { ApiRole } from '../../src/store/types.js';
import { startTestService, type TestService } from '../helpers/service.js';

type Target = 'own' | 'other' | 'none';
interface Operation {
  readonly method: string;
  readonly path: string;
  readonly role: ApiRole;
  readonly scope: RouteScope;
  readonly everyPracticeRole: ApiRole | undefined;
}
interface Case {
  readonly op: Operation;
  readonly keyRole: ApiRole;
  readonly limited: boolean;
  readonly target: Target;
  readonly allowed: boolean;
}

const ROLES: readonly ApiRole[] = ['admin', 'integrator', 'viewer'];
const A = 'cab-matrix-a';
const B = 'cab-matrix-b';

describe('authorization matrix generated from the route table (sqlite store)', () => {
  let t: TestService;
  const keys = new Map<string, string>();
  const ids: Record<'own' | 'other', Partial<Record<ScopedResource, string>>> = { own: {}, other: {} };
  let globalDeadLetter = '';
  let operations: Operation[] = [];

  const practiceOf = (target: Target) => (target === 'own' ? A : target === 'other' ? B : undefined);

  /** What a request of this case looks like: its path, query string and body. */
  function requestFor(c: Case): { path: string; query: string; body: Record<string, unknown> | undefined } {
    const { scope } = c.op;
    const practice = practiceOf(c.target);
    const query = new URLSearchParams();
    const body: Record<string, unknown> = {};
    const put = (from: string, field: string, value: string | undefined) => {
      if (value === undefined) return;
      if (from === 'query') query.set(field, value);
      else if (from === 'body') body[field] = value;
    };
    let path = c.op.path;
    const fill = (field: string, value: string) =>
      (path = path.replace(`{${field}}`, encodeURIComponent(value)));
    if (typeof scope === 'object' && 'resource' in scope) {
      const id = c.target === 'none' ? 'no-such-id' : (ids[c.target][scope.resource] as string);
      if (scope.from === 'params') fill(scope.field, id);
      else put(scope.from, scope.field, id);
    } else if (typeof scope === 'object' && 'practice' in scope) {
      if (scope.practice.from === 'params') fill(scope.practice.field, practice ?? 'no-such-practice');
      else put(scope.practice.from, scope.practice.field, practice);
    } else if (typeof scope === 'object' && 'list' in scope) {
      put(scope.list.from, scope.list.field, practice);
    }
    // Other path parameters: values of the right shape (the handler may still answer 404).
    path = path
      .replace('{version}', '1')
      .replace('{day}', '2026-12-01')
      .replace(/\{[A-Za-z]+\}/g, 'x');
    const qs = query.toString();
    return {
      path,
      query: qs ? `?${qs}` : '',
      body: c.op.method === 'get' || c.op.method === 'delete' ? undefined : body,
    };
  }

  function expectedAllowed(op: Operation, keyRole: ApiRole, limited: boolean, target: Target): boolean {
    if (!roleAllows(keyRole, op.role)) return false;
    const { scope } = op;
    if (!limited)
      return !(
        target === 'none' &&
        op.everyPracticeRole !== undefined &&
        !roleAllows(keyRole, op.everyPracticeRole)
      );
    if (scope === 'global') return false;
    if (scope === 'list') return true;
    if (typeof scope === 'object' && 'list' in scope) return target !== 'other';
    // An id that names nothing passes to the handler, which answers 404 as for anyone.
    if (typeof scope === 'object' && 'resource' in scope && target === 'none') return true;
    return target === 'own';
  }

  beforeAll(async () => {
    t = await startTestService({ modules: defaultModules() });
    const { store } = t.service;
    for (const [target, practiceId] of [
      ['own', A],
      ['other', B],
    ] as const) {
      await store.practices.create({ id: practiceId, name: `Cabinet ${target}` });
      const link = await store.links.create({
        id: `${practiceId}-link`,
        practiceId,
        role: 'secretariat',
        connector: 'secretariat',
        name: 'Plateforme',
        profile: null,
        config: { baseUrl: 'http://127.0.0.1:9/api' },
        secrets: null,
        schedule: null,
        isTest: true,
        enabled: false,
      });
      const feed = await createFeedToken(store, { practiceId }, { id: 'test', role: 'admin', via: 'cli' });
      const conflict = await store.conflicts.open({
        practiceId,
        kind: 'Patient',
        recordId: `${practiceId}-rec`,
        fields: [{ path: 'telecom.phone', base: null, practice: null, secretariat: null }] as never,
      });
      const review = await store.reviews.open({ practiceId, type: 'patient-match', payload: {} });
      const dead = await store.deadLetters.add({
        practiceId,
        linkId: link.id,
        source: 'outbox',
        ref: null,
        kind: 'Patient',
        recordId: null,
        reasonCode: 'ERR_TEST',
        reason: 'test',
        payload: null,
      });
      const message = await store.inbox.accept({
        linkId: link.id,
        dedupeKey: `feed:${practiceId}`,
        bodyHash: practiceId,
        messageType: 'Appointment',
        body: Buffer.from('{}'),
        status: 'processed',
      });
      ids[target] = {
        link: link.id,
        feed: feed.record.id,
        conflict: conflict.id,
        review: review.id,
        deadLetter: dead.id,
        message: `in-${message.entry.id}`,
      };
    }
    globalDeadLetter = (
      await store.deadLetters.add({
        practiceId: null,
        linkId: null,
        source: 'inbox',
        ref: null,
        kind: null,
        recordId: null,
        reasonCode: 'ERR_TEST',
        reason: 'test',
        payload: null,
      })
    ).id;
    for (const role of ROLES) {
      for (const limited of [false, true]) {
        keys.set(
          `${role}:${limited}`,
          (
            await createApiKey(store, {
              role,
              practiceId: limited ? A : null,
              createdBy: 'test',
              via: 'test',
            })
          ).key,
        );
      }
    }
    const doc = (await (await t.api('/api/v1/openapi.json', { key: null })).json()) as {
      paths: Record<
        string,
        Record<
          string,
          { 'x-required-role'?: ApiRole; 'x-practice-scope': RouteScope; 'x-every-practice-role'?: ApiRole }
        >
      >;
    };
    operations = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops)
        .filter(([, op]) => op['x-practice-scope'] !== 'public')
        .map(([method, op]) => ({
          method,
          path,
          role: op['x-required-role'] as ApiRole,
          scope: op['x-practice-scope'],
          everyPracticeRole: op['x-every-practice-role'],
        })),
    );
  });
  afterAll(async () => {
    await t.dispose();
  });

  const cases = (): Case[] =>
    operations.flatMap((op) =>
      ROLES.flatMap((keyRole) =>
        [false, true].flatMap((limited) =>
          (['own', 'other', 'none'] as const).map((target) => ({
            op,
            keyRole,
            limited,
            target,
            allowed: expectedAllowed(op, keyRole, limited, target),
          })),
        ),
      ),
    );

  const send = async (c: Case) => {
    const r = requestFor(c);
    return t.api(`${r.path}${r.query}`, {
      method: c.op.method.toUpperCase(),
      key: keys.get(`${c.keyRole}:${c.limited}`) as string,
      ...(r.body !== undefined && { json: r.body }),
    });
  };

  /** Every datum a denied request could have changed. */
  const snapshot = async () => {
    const { store } = t.service;
    return JSON.stringify({
      practices: await store.practices.list(),
      links: await store.links.list({}),
      feeds: await store.icalTokens.list({ includeRevoked: true }),
      conflicts: await store.conflicts.list({}),
      reviews: await store.reviews.list({}),
      deadLetters: await store.deadLetters.list({}),
      inbox: await store.inbox.list({}),
    });
  };

  it('has a practice scope declared for every route of the table', () => {
    expect(operations.length).toBeGreaterThan(25);
    for (const op of operations)
      expect([op.method, op.path, op.scope]).toEqual([op.method, op.path, expect.anything()]);
  });

  it('refuses with 403 every request outside the key’s role or practice, and changes nothing', async () => {
    const before = await snapshot();
    const denied = cases().filter((c) => !c.allowed);
    expect(denied.length).toBeGreaterThan(100);
    const wrong: string[] = [];
    for (const c of denied) {
      const res = await send(c);
      if (res.status !== 403)
        wrong.push(
          `${c.op.method.toUpperCase()} ${c.op.path} as ${c.keyRole}${c.limited ? ' limited to A' : ''} aimed at ${c.target}: ${res.status}`,
        );
      await res.body?.cancel();
    }
    expect(wrong).toEqual([]);
    expect(await snapshot()).toBe(before);
  });

  it('refuses a key limited to a practice on a dead letter that belongs to no practice', async () => {
    const res = await t.api(`/api/v1/dead-letters/${globalDeadLetter}/discard`, {
      method: 'POST',
      key: keys.get('admin:true') as string,
    });
    expect(res.status).toBe(403);
    expect((await t.service.store.deadLetters.get(globalDeadLetter))?.status).toBe('open');
  });

  it('lets every allowed request past the authorization (no 401, no 403, no 500)', async () => {
    const allowed = cases().filter((c) => c.allowed);
    // Deletions last, so the other requests still find what they name.
    allowed.sort((x, y) => Number(x.op.method === 'delete') - Number(y.op.method === 'delete'));
    const wrong: string[] = [];
    for (const c of allowed) {
      const res = await send(c);
      if (res.status === 401 || res.status === 403 || res.status >= 500)
        wrong.push(
          `${c.op.method.toUpperCase()} ${c.op.path} as ${c.keyRole}${c.limited ? ' limited to A' : ''} aimed at ${c.target}: ${res.status}`,
        );
      await res.body?.cancel();
    }
    expect(wrong).toEqual([]);
  });
});
