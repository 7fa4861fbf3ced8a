import { describe, expect, it } from '@jest/globals';

import { type AnyRoute, defineRoute, type RouteScope } from '../../src/api/route.js';
import { checkDeclaration, resolveScope, ScopeDenied } from '../../src/api/scope.js';

const route = (
  scope: RouteScope | undefined,
  path = '/api/v1/things/:id',
  access: AnyRoute['access'] = 'viewer',
): AnyRoute =>
  ({
    ...defineRoute({
      method: 'get',
      path,
      summary: 's',
      tags: [],
      access,
      scope: 'list',
      responses: {},
      handler: async () => undefined,
    }),
    scope,
  }) as AnyRoute;

const limitedToA = { keyId: 'k', role: 'integrator', practiceId: 'A' } as const;
const unrestricted = { keyId: 'k', role: 'admin', practiceId: null } as const;
const linkOwners: Record<string, string | null> = { 'link-a': 'A', 'link-b': 'B', 'link-global': null };
const resolvers = { link: async (id: string) => linkOwners[id] };
const raw = (
  params: Record<string, string> = {},
  query: Record<string, string> = {},
  body: unknown = undefined,
) => ({ params, query, body });

describe('route scope declarations', () => {
  it('refuses to mount a route that declares no practice scope', () => {
    expect(() => checkDeclaration(route(undefined), resolvers)).toThrow(
      'GET /api/v1/things/:id declares no practice scope',
    );
  });

  it('refuses a public route with a practice scope, and a keyed route declared public', () => {
    expect(() => checkDeclaration(route('list', '/x', 'public'), resolvers)).toThrow('disagree');
    expect(() => checkDeclaration(route('public', '/x', 'viewer'), resolvers)).toThrow('disagree');
  });

  it('refuses a resource kind without a resolver and a path parameter the path lacks', () => {
    expect(() =>
      checkDeclaration(route({ resource: 'feed', from: 'params', field: 'id' }), resolvers),
    ).toThrow("no resolver for resource kind 'feed'");
    expect(() =>
      checkDeclaration(route({ resource: 'link', from: 'params', field: 'linkId' }), resolvers),
    ).toThrow('params.linkId');
    expect(() =>
      checkDeclaration(route({ practice: { from: 'params', field: 'practiceId' } }), resolvers),
    ).toThrow('params.practiceId');
  });
});

describe('resolving a request against its scope', () => {
  it('lets a key limited to practice A reach A’s resources and refuses B’s and global ones', async () => {
    const scope: RouteScope = { resource: 'link', from: 'params', field: 'id' };
    await expect(resolveScope(scope, limitedToA, raw({ id: 'link-a' }), resolvers)).resolves.toEqual({
      practiceId: 'A',
      practiceIds: ['A'],
    });
    await expect(resolveScope(scope, limitedToA, raw({ id: 'link-b' }), resolvers)).rejects.toBeInstanceOf(
      ScopeDenied,
    );
    await expect(
      resolveScope(scope, limitedToA, raw({ id: 'link-global' }), resolvers),
    ).rejects.toBeInstanceOf(ScopeDenied);
    await expect(resolveScope(scope, unrestricted, raw({ id: 'link-b' }), resolvers)).resolves.toEqual({
      practiceId: 'B',
      practiceIds: ['B'],
    });
  });

  it('checks a second practice named in the body against the key as well', async () => {
    const scope: RouteScope = {
      resource: 'link',
      from: 'params',
      field: 'id',
      alsoPractice: { from: 'body', field: 'practiceId' },
    };
    await expect(
      resolveScope(scope, limitedToA, raw({ id: 'link-a' }, {}, { practiceId: 'B' }), resolvers),
    ).rejects.toThrow('limited to another practice');
    await expect(
      resolveScope(scope, limitedToA, raw({ id: 'link-a' }, {}, { practiceId: 'A' }), resolvers),
    ).resolves.toMatchObject({ practiceId: 'A' });
  });

  it('narrows a list to the key’s practice and refuses a filter naming another one', async () => {
    const scope: RouteScope = { list: { from: 'query', field: 'practiceId' } };
    await expect(resolveScope(scope, limitedToA, raw(), resolvers)).resolves.toEqual({
      practiceId: 'A',
      practiceIds: ['A'],
    });
    await expect(
      resolveScope(scope, limitedToA, raw({}, { practiceId: 'B' }), resolvers),
    ).rejects.toBeInstanceOf(ScopeDenied);
    await expect(resolveScope(scope, unrestricted, raw(), resolvers)).resolves.toEqual({
      practiceId: null,
      practiceIds: null,
    });
    await expect(resolveScope(scope, unrestricted, raw({}, { practiceId: 'B' }), resolvers)).resolves.toEqual(
      { practiceId: 'B', practiceIds: ['B'] },
    );
  });

  it('makes an unrestricted key below the route’s every-practice role name one practice', async () => {
    const scope: RouteScope = { list: { from: 'query', field: 'practice' } };
    const integrator = { keyId: 'k', role: 'integrator', practiceId: null } as const;
    await expect(resolveScope(scope, integrator, raw(), resolvers, 'admin')).rejects.toThrow(
      'needs role admin',
    );
    await expect(
      resolveScope(scope, integrator, raw({}, { practice: 'B' }), resolvers, 'admin'),
    ).resolves.toEqual({ practiceId: 'B', practiceIds: ['B'] });
    await expect(resolveScope(scope, unrestricted, raw(), resolvers, 'admin')).resolves.toEqual({
      practiceId: null,
      practiceIds: null,
    });
    await expect(resolveScope(scope, limitedToA, raw(), resolvers, 'admin')).resolves.toEqual({
      practiceId: 'A',
      practiceIds: ['A'],
    });
  });

  it('refuses a global route to a key limited to one practice', async () => {
    await expect(resolveScope('global', limitedToA, raw(), resolvers)).rejects.toThrow(
      'concerns every practice',
    );
    await expect(resolveScope('global', unrestricted, raw(), resolvers)).resolves.toEqual({
      practiceId: null,
      practiceIds: null,
    });
  });

  it('refuses a limited key that leaves the practice out or sends something else than an id', async () => {
    const scope: RouteScope = { practice: { from: 'body', field: 'practiceId' } };
    await expect(resolveScope(scope, limitedToA, raw({}, {}, {}), resolvers)).rejects.toThrow(
      'the practice is required',
    );
    await expect(
      resolveScope(scope, limitedToA, raw({}, {}, { practiceId: ['A'] }), resolvers),
    ).rejects.toThrow('a practice id is expected');
  });
});
