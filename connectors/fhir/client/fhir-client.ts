// First: switches fhir-kit-client's debug output off before it loads (see the module).
import type { Bundle, CapabilityStatement, Resource } from '@medplum/fhirtypes';
import { Client, type FhirResource } from 'fhir-kit-client';

import { PasserelleError } from '../../../src/errors.js';
import { type Logger, silentLogger } from '../../../src/log/logger.js';
import {
  backoffDelayMs,
  classifyTransportError,
  parseRetryAfterMs,
  sleep as realSleep,
} from '../../../src/util/retry.js';
import { createAuthProvider } from './auth.js';
import {
  type FhirErrorContext,
  fhirHttpError,
  fhirInvalidResponseError,
  fhirNetworkError,
  fhirTimeoutError,
} from './errors.js';
import { silenceFhirKitDebug } from './silence-debug.js';
import type {
  FhirClientOptions,
  FhirInteraction,
  FhirReadResult,
  FhirResponseMeta,
  FhirWriteResult,
  RequestOptions,
  RetryOptions,
  SearchParams,
} from './types.js';

export const DEFAULT_RETRY: RetryOptions = { max: 3, baseDelayMs: 500, maxDelayMs: 30_000 };

/** Options fhir-kit-client passes to fetch for one attempt. */
interface AttemptOptions {
  headers: Record<string, string>;
  signal: AbortSignal;
}

interface RequestSpec {
  readonly interaction: FhirInteraction;
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  readonly resourceType?: string;
  /** Safe to send twice: every GET, PUT, DELETE, and a create made conditional by If-None-Exist. */
  readonly idempotent: boolean;
  readonly headers?: Record<string, string>;
  readonly signal?: AbortSignal | undefined;
  readonly send: (client: Client, options: AttemptOptions) => Promise<unknown>;
}

interface RawResult {
  readonly data: unknown;
  readonly response: Response | undefined;
}

export interface FhirClient {
  readonly baseUrl: string;
  read<T extends Resource = Resource>(
    resourceType: T['resourceType'],
    id: string,
    options?: RequestOptions,
  ): Promise<FhirReadResult<T>>;
  vread<T extends Resource = Resource>(
    resourceType: T['resourceType'],
    id: string,
    versionId: string,
    options?: RequestOptions,
  ): Promise<FhirReadResult<T>>;
  /** One page of results; follow `link[next]` with `nextPage`, or use `pages`/`searchAll`. */
  search<T extends Resource = Resource>(
    resourceType: T['resourceType'],
    params?: SearchParams,
    options?: RequestOptions,
  ): Promise<FhirReadResult<Bundle<T>>>;
  /** The page `link[next]` points at, or undefined on the last page. Only links on the base's origin are followed. */
  nextPage<T extends Resource = Resource>(
    bundle: Bundle<T>,
    options?: RequestOptions,
  ): Promise<FhirReadResult<Bundle<T>> | undefined>;
  /** Every page of a search, first to last. */
  pages<T extends Resource = Resource>(
    resourceType: T['resourceType'],
    params?: SearchParams,
    options?: RequestOptions & { maxPages?: number },
  ): AsyncGenerator<Bundle<T>>;
  /** Every matching resource (search-mode `match`; included ones are skipped), across pages. */
  searchAll<T extends Resource = Resource>(
    resourceType: T['resourceType'],
    params?: SearchParams,
    options?: RequestOptions & { maxPages?: number },
  ): Promise<T[]>;
  /** POST; with `ifNoneExist` it is a conditional create (FHIR R4 http.html#ccreate), the only kind ever retried. */
  create<T extends Resource>(
    resource: T,
    options?: RequestOptions & { ifNoneExist?: SearchParams | string },
  ): Promise<FhirWriteResult<T>>;
  /** PUT by id; `ifMatch` is the versionId read before (or a whole ETag) for optimistic locking. */
  update<T extends Resource>(
    resource: T & { id: string },
    options?: RequestOptions & { ifMatch?: string },
  ): Promise<FhirWriteResult<T>>;
  /** PUT `Type?criteria` (FHIR R4 http.html#cond-update): updates the one match, creates when none. */
  conditionalUpdate<T extends Resource>(
    resource: T,
    criteria: SearchParams,
    options?: RequestOptions & { ifMatch?: string },
  ): Promise<FhirWriteResult<T>>;
  delete(resourceType: string, id: string, options?: RequestOptions): Promise<FhirResponseMeta>;
  /** Instance history, newest version first. */
  history<T extends Resource = Resource>(
    resourceType: T['resourceType'],
    id: string,
    options?: RequestOptions,
  ): Promise<FhirReadResult<Bundle<T>>>;
  /**
   * Type-level history (`GET Type/_history?_since=…&_count=…`, FHIR R4 http.html#history): one
   * page, newest first; deletions are entries with `request.method = DELETE` and no resource.
   * Follow `link[next]` with `nextPage`.
   */
  historyType<T extends Resource = Resource>(
    resourceType: T['resourceType'],
    params?: SearchParams,
    options?: RequestOptions,
  ): Promise<FhirReadResult<Bundle<T>>>;
  capabilities(options?: RequestOptions): Promise<FhirReadResult<CapabilityStatement>>;
}

const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;
const RESOURCE_TYPE = /^[A-Z][A-Za-z]{1,63}$/;

function checkType(resourceType: string): void {
  if (!RESOURCE_TYPE.test(resourceType))
    throw new PasserelleError('ERR_VALIDATION', 'Not a FHIR resource type', {
      details: { field: 'resourceType' },
    });
}

function checkId(id: string, field = 'id'): void {
  // FHIR R4 datatypes.html#id; also keeps `../` and `?` out of request paths.
  if (!FHIR_ID.test(id))
    throw new PasserelleError('ERR_VALIDATION', `Not a FHIR ${field} (1-64 of A-Z a-z 0-9 - .)`, {
      details: { field },
    });
}

function asEntityTag(ifMatch: string): string {
  return /^(W\/)?"/.test(ifMatch) ? ifMatch : `W/"${ifMatch}"`;
}

function toQuery(params: SearchParams | string): string {
  if (typeof params === 'string') return params;
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (Array.isArray(v)) for (const x of v as readonly (string | number)[]) q.append(k, String(x));
    else q.append(k, String(v));
  }
  return q.toString();
}

function versionFromEtag(etag: string | undefined): string | undefined {
  return etag ? /^(?:W\/)?"([^"]*)"$/.exec(etag.trim())?.[1] : undefined;
}

function metaOf(response: Response | undefined, data: unknown): FhirResponseMeta {
  const h = response?.headers;
  const etag = h?.get('etag') ?? undefined;
  const location = h?.get('location') ?? h?.get('content-location') ?? undefined;
  const lastModified = h?.get('last-modified') ?? undefined;
  const date = h?.get('date') ?? undefined;
  const bodyVersion = (data as Resource | undefined)?.meta?.versionId;
  const locVersion = location ? /\/_history\/([^/?#]+)/.exec(location)?.[1] : undefined;
  const versionId = versionFromEtag(etag) ?? bodyVersion ?? locVersion;
  return {
    status: response?.status ?? 200,
    ...(etag && { etag }),
    ...(versionId && { versionId }),
    ...(lastModified && { lastModified }),
    ...(location && { location }),
    ...(date && { date }),
  };
}

function isEmptyBody(data: unknown): boolean {
  return typeof data === 'object' && data !== null && Object.keys(data).length === 0;
}

/**
 * A FHIR R4 client: fhir-kit-client for the requests, plus what it lacks — timeouts through
 * AbortSignal, retries with backoff and Retry-After, auth (basic, bearer, SMART Backend
 * Services), typed errors without patient data, and logs of ids and timings only.
 */
export function createFhirClient(options: FhirClientOptions): FhirClient {
  silenceFhirKitDebug();
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const origin = new URL(baseUrl).origin;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const retry: RetryOptions = { ...DEFAULT_RETRY, ...options.retry };
  const log: Logger = options.logger ?? silentLogger;
  const sleep = options.sleep ?? realSleep;
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const auth = createAuthProvider(options.auth, { baseUrl, now, timeoutMs });
  const fk = new Client({ baseUrl });

  async function execute(spec: RequestSpec): Promise<RawResult> {
    const ctx: FhirErrorContext = {
      interaction: spec.interaction,
      method: spec.method,
      ...(spec.resourceType && { resourceType: spec.resourceType }),
    };
    const logMeta = {
      interaction: spec.interaction,
      method: spec.method,
      resourceType: spec.resourceType ?? '-',
    };
    let retries = 0;
    let authRefreshed = false;
    /** A previous attempt may have reached the server (timeout, reset, 5xx): a 412 now may be our own write. */
    let ambiguous = false;
    for (;;) {
      const started = now();
      const timeout = AbortSignal.timeout(timeoutMs);
      const signal = spec.signal ? AbortSignal.any([spec.signal, timeout]) : timeout;
      let failure: PasserelleError;
      let retryAfterMs: number | undefined;
      try {
        const headers = { ...(await auth.headers(signal)), ...spec.headers };
        const data = await spec.send(fk, { headers, signal });
        const response = Client.httpFor(data as FhirResource).response as Response | undefined;
        log.debug('fhir request', {
          ...logMeta,
          status: response?.status ?? 200,
          durationMs: now() - started,
          attempt: retries + 1,
        });
        return { data, response };
      } catch (e) {
        if (spec.signal?.aborted) throw spec.signal.reason;
        if (e instanceof PasserelleError) {
          failure = e; // from the auth provider
        } else {
          const httpError = e as {
            response?: { status?: unknown; data?: unknown };
            config?: { headers?: Headers };
          };
          const status =
            typeof httpError.response?.status === 'number' ? httpError.response.status : undefined;
          if (status !== undefined && status >= 200 && status < 300) {
            failure = fhirInvalidResponseError(ctx, status, 'the body is not JSON');
          } else if (status !== undefined) {
            const retryAfter =
              httpError.config?.headers instanceof Headers
                ? httpError.config.headers.get('retry-after')
                : null;
            retryAfterMs = parseRetryAfterMs(retryAfter, now());
            failure = fhirHttpError(ctx, status, httpError.response?.data, {
              retryAfterMs,
              afterAmbiguousAttempt: ambiguous && status === 412,
            });
          } else {
            // Only our own deadline makes a timeout: its message names the configured timeoutMs.
            const transport = classifyTransportError(e, { timedOut: timeout.aborted });
            failure =
              transport.kind === 'timeout'
                ? fhirTimeoutError(ctx, timeoutMs)
                : fhirNetworkError(ctx, transport.code);
          }
        }
      }
      const status = failure.details['httpStatus'];
      log.debug('fhir request failed', {
        ...logMeta,
        status: typeof status === 'number' ? status : 0,
        code: failure.code,
        durationMs: now() - started,
        attempt: retries + 1,
      });

      // A 401 with a cached token: drop the token and try once more with a fresh one.
      if (status === 401 && !authRefreshed && auth.invalidate()) {
        authRefreshed = true;
        continue;
      }
      if (!failure.retryable || !spec.idempotent || retries >= retry.max) throw failure;
      retries += 1;
      // Equal jitter: a FHIR server's retry never comes right back (half the step at least).
      const delay = Math.min(
        retry.maxDelayMs,
        retryAfterMs ?? backoffDelayMs(retries, { ...retry, jitter: 'equal' }, random),
      );
      // 429, and 503 with Retry-After, say the request was not processed; anything else may have been.
      if (!(status === 429 || (status === 503 && retryAfterMs !== undefined))) ambiguous = true;
      log.warn('fhir request retried', {
        ...logMeta,
        status: typeof status === 'number' ? status : 0,
        code: failure.code,
        delayMs: delay,
        retry: retries,
      });
      await sleep(delay, spec.signal);
    }
  }

  function read<T extends Resource>(
    interaction: FhirInteraction,
    spec: Omit<RequestSpec, 'interaction' | 'method' | 'idempotent'>,
  ): Promise<FhirReadResult<T>> {
    return execute({ ...spec, interaction, method: 'GET', idempotent: true }).then(({ data, response }) => {
      if (
        typeof data !== 'object' ||
        data === null ||
        typeof (data as { resourceType?: unknown }).resourceType !== 'string'
      ) {
        throw fhirInvalidResponseError(
          { interaction, method: 'GET', ...(spec.resourceType && { resourceType: spec.resourceType }) },
          response?.status ?? 200,
          'the body is not a FHIR resource',
        );
      }
      return { resource: data as T, ...metaOf(response, data) };
    });
  }

  function write<T extends Resource>(spec: RequestSpec): Promise<FhirWriteResult<T>> {
    return execute(spec).then(({ data, response }) => {
      const meta = metaOf(response, data);
      const resource =
        isEmptyBody(data) || (data as Resource).resourceType !== spec.resourceType ? undefined : (data as T);
      const id =
        resource?.id ??
        (meta.location ? new RegExp(`/${spec.resourceType}/([^/?#]+)`).exec(meta.location)?.[1] : undefined);
      return { ...meta, ...(resource && { resource }), ...(id && { id }), created: meta.status === 201 };
    });
  }

  function sameOrigin(url: string): boolean {
    try {
      return new URL(url).origin === origin;
    } catch {
      return false;
    }
  }

  const client: FhirClient = {
    baseUrl,
    read(resourceType, id, opts = {}) {
      checkType(resourceType);
      checkId(id);
      return read('read', {
        resourceType,
        signal: opts.signal,
        send: (c, o) => c.read({ resourceType, id, options: o }),
      });
    },
    vread(resourceType, id, versionId, opts = {}) {
      checkType(resourceType);
      checkId(id);
      checkId(versionId, 'versionId');
      return read('vread', {
        resourceType,
        signal: opts.signal,
        send: (c, o) => c.vread({ resourceType, id, version: versionId, options: o }),
      });
    },
    search(resourceType, params = {}, opts = {}) {
      checkType(resourceType);
      const query = toQuery(params);
      // The URL is built here and handed over whole: it is never logged.
      return read('search', {
        resourceType,
        signal: opts.signal,
        send: (c, o) => c.request(query ? `${resourceType}?${query}` : resourceType, { options: o }),
      });
    },
    async nextPage(bundle, opts = {}) {
      const next = bundle.link?.find((l) => l.relation === 'next')?.url;
      if (!next) return undefined;
      if (!sameOrigin(next)) {
        // Our credentials go with the request: never to another origin than the configured base.
        throw fhirInvalidResponseError(
          { interaction: 'search-page', method: 'GET' },
          200,
          'the next link points outside the FHIR base origin',
        );
      }
      const resourceType = bundle.entry?.[0]?.resource?.resourceType;
      return read('search-page', {
        ...(resourceType && { resourceType }),
        signal: opts.signal,
        send: (c, o) => c.request(next, { options: o }),
      });
    },
    async *pages<T extends Resource>(
      resourceType: T['resourceType'],
      params: SearchParams = {},
      opts: RequestOptions & { maxPages?: number } = {},
    ) {
      let page: FhirReadResult<Bundle<T>> | undefined = await client.search<T>(resourceType, params, opts);
      let count = 0;
      while (page) {
        yield page.resource;
        count += 1;
        if (opts.maxPages !== undefined && count >= opts.maxPages) return;
        page = await client.nextPage(page.resource, opts);
      }
    },
    async searchAll<T extends Resource>(
      resourceType: T['resourceType'],
      params: SearchParams = {},
      opts: RequestOptions & { maxPages?: number } = {},
    ) {
      const out: T[] = [];
      for await (const bundle of client.pages<T>(resourceType, params, opts)) {
        for (const e of bundle.entry ?? [])
          if (e.resource && (e.search?.mode ?? 'match') === 'match') out.push(e.resource);
      }
      return out;
    },
    create(resource, opts = {}) {
      checkType(resource.resourceType);
      const headers: Record<string, string> = { prefer: 'return=representation' };
      if (opts.ifNoneExist !== undefined) headers['if-none-exist'] = toQuery(opts.ifNoneExist);
      return write({
        interaction: 'create',
        method: 'POST',
        resourceType: resource.resourceType,
        idempotent: opts.ifNoneExist !== undefined,
        headers,
        signal: opts.signal,
        send: (c, o) =>
          c.create({
            resourceType: resource.resourceType,
            body: resource as unknown as FhirResource,
            options: o,
          }),
      });
    },
    update(resource, opts = {}) {
      checkType(resource.resourceType);
      checkId(resource.id);
      const headers: Record<string, string> = { prefer: 'return=representation' };
      if (opts.ifMatch !== undefined) headers['if-match'] = asEntityTag(opts.ifMatch);
      return write({
        interaction: 'update',
        method: 'PUT',
        resourceType: resource.resourceType,
        idempotent: true,
        headers,
        signal: opts.signal,
        send: (c, o) =>
          c.update({
            resourceType: resource.resourceType,
            id: resource.id,
            body: resource as unknown as FhirResource,
            options: o,
          }),
      });
    },
    conditionalUpdate(resource, criteria, opts = {}) {
      checkType(resource.resourceType);
      const query = toQuery(criteria);
      if (!query)
        throw new PasserelleError('ERR_VALIDATION', 'A conditional update needs search criteria', {
          details: { field: 'criteria' },
        });
      const headers: Record<string, string> = {
        prefer: 'return=representation',
        'content-type': 'application/fhir+json',
      };
      if (opts.ifMatch !== undefined) headers['if-match'] = asEntityTag(opts.ifMatch);
      return write({
        interaction: 'conditional-update',
        method: 'PUT',
        resourceType: resource.resourceType,
        idempotent: true,
        headers,
        signal: opts.signal,
        send: (c, o) =>
          c.request(`${resource.resourceType}?${query}`, { method: 'PUT', body: resource, options: o }),
      });
    },
    async delete(resourceType, id, opts = {}) {
      checkType(resourceType);
      checkId(id);
      const { data, response } = await execute({
        interaction: 'delete',
        method: 'DELETE',
        resourceType,
        idempotent: true,
        signal: opts.signal,
        send: (c, o) => c.delete({ resourceType, id, options: o }),
      });
      return metaOf(response, data);
    },
    history(resourceType, id, opts = {}) {
      checkType(resourceType);
      checkId(id);
      return read('history-instance', {
        resourceType,
        signal: opts.signal,
        send: (c, o) => c.history({ resourceType, id, options: o }),
      });
    },
    historyType(resourceType, params = {}, opts = {}) {
      checkType(resourceType);
      const query = toQuery(params);
      return read('history-type', {
        resourceType,
        signal: opts.signal,
        send: (c, o) => c.request(`${resourceType}/_history${query ? `?${query}` : ''}`, { options: o }),
      });
    },
    capabilities(opts = {}) {
      return read('capabilities', { signal: opts.signal, send: (c, o) => c.capabilityStatement(o) });
    },
  };
  return client;
}
