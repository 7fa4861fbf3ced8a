/**
 * Practice isolation by declaration (issue 16): every route says which practice it touches
 * (`RouteScope`), and this module, called by the mount code before any handler, decides.
 * Handlers never check the practice themselves, so a new route cannot forget it: a route
 * without a declaration is refused at mount time, and a resource kind without a resolver too.
 *
 * The practice is read from the raw request (path, query string, parsed JSON body) before
 * validation, so a key limited to another practice learns nothing from validation errors.
 */
import { PasserelleError } from '../errors.js';
import { roleAllows } from '../security/api-keys.js';
import type { Store } from '../store/index.js';
import type { ApiRole } from '../store/types.js';
import { messagePractice } from '../sync/messages.js';
import type { AnyRoute, AuthInfo, ResolvedScope, RouteScope, ScopedResource, ScopeSource } from './route.js';

/** Owning practice of a resource: its id, null when it belongs to no practice, undefined when it does not exist. */
export type PracticeResolver = (id: string) => Promise<string | null | undefined>;
export type ScopeResolvers = Partial<Record<ScopedResource, PracticeResolver>>;

/** The resolvers of the resources the store knows; features may add theirs (ServiceContext). */
export function storeResolvers(store: Store): ScopeResolvers {
  return {
    link: async (id) => (await store.links.get(id))?.practiceId,
    feed: async (id) => (await store.icalTokens.get(id))?.practiceId,
    conflict: async (id) => (await store.conflicts.get(id))?.practiceId,
    review: async (id) => (await store.reviews.get(id))?.practiceId,
    message: (id) => messagePractice(store, id),
    deadLetter: async (id) => {
      const d = await store.deadLetters.get(id);
      return d === undefined ? undefined : d.practiceId;
    },
  };
}

export interface RawRequest {
  readonly params: Readonly<Record<string, unknown>>;
  readonly query: Readonly<Record<string, unknown>>;
  readonly body: unknown;
}

/**
 * Refuses, at mount time, a route whose declaration is missing or inconsistent: deny by
 * default means a route nobody thought about is never served.
 */
export function checkDeclaration(route: AnyRoute, resolvers: ScopeResolvers): void {
  const where = `${route.method.toUpperCase()} ${route.path}`;
  const scope = (route as { scope?: RouteScope }).scope;
  if (scope === undefined)
    throw new Error(`route ${where} declares no practice scope (RouteScope): refusing to mount it`);
  if ((scope === 'public') !== (route.access === 'public')) {
    throw new Error(
      `route ${where}: access '${route.access}' and scope '${typeof scope === 'string' ? scope : 'practice'}' disagree (public goes with public)`,
    );
  }
  if (typeof scope === 'object' && 'resource' in scope && !resolvers[scope.resource]) {
    throw new Error(`route ${where}: no resolver for resource kind '${scope.resource}'`);
  }
  if (
    typeof scope === 'object' &&
    'resource' in scope &&
    scope.from === 'params' &&
    !route.path.includes(`:${scope.field}`)
  ) {
    throw new Error(`route ${where}: scope reads params.${scope.field}, which the path does not have`);
  }
  if (
    typeof scope === 'object' &&
    'practice' in scope &&
    scope.practice.from === 'params' &&
    !route.path.includes(`:${scope.practice.field}`)
  ) {
    throw new Error(
      `route ${where}: scope reads params.${scope.practice.field}, which the path does not have`,
    );
  }
}

function readField(raw: RawRequest, from: ScopeSource, field: string): unknown {
  const source = from === 'body' ? raw.body : raw[from];
  if (source === null || typeof source !== 'object' || Array.isArray(source)) return undefined;
  return (source as Record<string, unknown>)[field];
}

/** Why a request was refused, for the audit (no patient data: ids and field names only). */
export class ScopeDenied extends PasserelleError {
  constructor(
    message: string,
    /** The practice the request touched, for the audit only: never sent to the caller. */
    readonly practiceId: string | null,
    /**
     * `details.reason` the caller reads (the console tells « another practice » from « your
     * role »): 'practice-scope' when a key limited to one practice reached outside it.
     */
    reason: 'practice-scope' | 'practice-required' = 'practice-scope',
  ) {
    super('ERR_AUTH_FORBIDDEN', message, { details: { reason } });
  }
}

const OTHER = 'this key is limited to another practice';

/**
 * Decides a request against its route's declaration. Unrestricted keys pass everywhere their
 * role allows; a key limited to a practice passes only where every practice the request names
 * or touches is its own.
 */
export async function resolveScope(
  scope: RouteScope,
  auth: AuthInfo | null,
  raw: RawRequest,
  resolvers: ScopeResolvers,
  everyPracticeAccess?: ApiRole,
): Promise<ResolvedScope> {
  const own = auth?.practiceId ?? null;
  if (scope === 'public') return { practiceIds: null, practiceId: null };
  if (scope === 'global') {
    if (own !== null)
      throw new ScopeDenied('this action concerns every practice; the key is limited to one', null);
    return { practiceIds: null, practiceId: null };
  }
  const checkNamed = (value: unknown, what: string): string | null => {
    if (value === undefined || value === null || value === '') return null;
    if (typeof value !== 'string') {
      if (own !== null) throw new ScopeDenied(`${what}: a practice id is expected`, null);
      return null; // validation answers 400 for an unrestricted key
    }
    if (own !== null && value !== own) throw new ScopeDenied(OTHER, value);
    return value;
  };
  if (scope === 'list' || 'list' in scope) {
    const named =
      scope === 'list'
        ? null
        : checkNamed(
            readField(raw, scope.list.from, scope.list.field),
            `${scope.list.from}.${scope.list.field}`,
          );
    const practice = own ?? named;
    if (
      practice === null &&
      everyPracticeAccess !== undefined &&
      auth &&
      !roleAllows(auth.role, everyPracticeAccess)
    ) {
      throw new ScopeDenied(
        `reading every practice at once needs role ${everyPracticeAccess}; name a practice`,
        null,
        'practice-required',
      );
    }
    return { practiceIds: practice === null ? null : [practice], practiceId: practice };
  }
  let practiceId: string | null;
  if ('practice' in scope) {
    const value = readField(raw, scope.practice.from, scope.practice.field);
    practiceId = checkNamed(value, `${scope.practice.from}.${scope.practice.field}`);
    // A limited key may not leave its practice implicit where the route needs one.
    if (practiceId === null && own !== null)
      throw new ScopeDenied(`${scope.practice.from}.${scope.practice.field}: the practice is required`, null);
  } else {
    const id = readField(raw, scope.from, scope.field);
    const resolver = resolvers[scope.resource] as PracticeResolver;
    if (typeof id !== 'string' || id === '') {
      if (own !== null) throw new ScopeDenied(`${scope.from}.${scope.field}: an id is expected`, null);
      practiceId = null;
    } else {
      const owner = await resolver(id);
      // Unknown: the handler answers 404 as it always did. Known but global (a dead letter of
      // no practice): only an unrestricted key.
      if (owner === null && own !== null)
        throw new ScopeDenied(
          `this ${scope.resource} belongs to no practice; the key is limited to one`,
          null,
        );
      if (owner !== undefined && owner !== null && own !== null && owner !== own)
        throw new ScopeDenied(OTHER, owner);
      practiceId = owner ?? null;
    }
  }
  if (scope.alsoPractice)
    checkNamed(
      readField(raw, scope.alsoPractice.from, scope.alsoPractice.field),
      `${scope.alsoPractice.from}.${scope.alsoPractice.field}`,
    );
  return { practiceIds: practiceId === null ? (own === null ? null : [own]) : [practiceId], practiceId };
}
