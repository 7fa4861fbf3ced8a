import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import {
  badRequest,
  getSearchParameter,
  getStatus,
  gone,
  multipleMatches,
  normalizeOperationOutcome,
  notFound,
  parseSearchRequest,
  validateResource,
} from '@medplum/core';
import type { HttpMethod } from '@medplum/fhir-router';
import { FhirRouter } from '@medplum/fhir-router';
import type { Bundle, BundleLink, OperationOutcome, Resource, ResourceType } from '@medplum/fhirtypes';
import express, { type NextFunction, type Request, type Response } from 'express';

import {
  buildCapabilityStatement,
  DEFAULT_PAGE_SIZE,
  MAX_PAGE_SIZE,
  PEER_RESOURCE_TYPES,
  SUPPORTED_SEARCH_PARAM_TYPES,
} from './capability.js';
import { loadFhirDefinitions } from './definitions.js';
import { PeerRepository } from './peer-repository.js';

export interface FhirPeerOptions {
  /** Interface to listen on; tests keep the default loopback address. */
  readonly host?: string;
  /** 0 (default) lets the OS pick a free port. */
  readonly port?: number;
  /** Path of the FHIR base, `/fhir/R4` by default. */
  readonly baseUrlPath?: string;
  /** Resource types served; others get 404. Defaults to PEER_RESOURCE_TYPES. */
  readonly resourceTypes?: readonly string[];
  /** Validate created and updated resources against the R4 StructureDefinitions (default true). */
  readonly validate?: boolean;
  readonly defaultPageSize?: number;
  readonly maxPageSize?: number;
  /**
   * Instance-level `_history` and vread (default true). false: every `_history` request is
   * refused (400 not-supported) and the CapabilityStatement lists neither, as a server keeping
   * no versions would (there is never type-level `_history`).
   */
  readonly history?: boolean;
}

export interface FhirPeer {
  /** FHIR base URL, e.g. `http://127.0.0.1:41234/fhir/R4` (no trailing slash). */
  readonly url: string;
  readonly port: number;
  /** The Medplum in-memory repository behind the server, for seeding and white-box checks. */
  readonly repo: PeerRepository;
  /** Stores resources as given (ids and meta kept), without validation or HTTP. */
  seed(resources: readonly Resource[]): Promise<void>;
  /** Empties the repository (resources, history, deletion marks). */
  reset(): void;
  close(): Promise<void>;
}

const FHIR_JSON = 'application/fhir+json; charset=utf-8';
/** Result parameters the peer honours; every other `_x` parameter is refused. */
const RESULT_PARAMS = new Set(['_count', '_offset', '_sort', '_total', '_format', '_pretty']);
/** Modifiers whose meaning @medplum/core's matcher implements (search/match.ts). */
const ALLOWED_MODIFIERS: Readonly<Record<string, readonly string[]>> = {
  token: ['missing', 'not'],
  date: ['missing'],
  string: ['missing'],
  reference: ['missing'],
  uri: ['missing'],
};

function notSupported(text: string): OperationOutcome {
  return {
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'error', code: 'not-supported', details: { text } }],
  };
}

function etagOf(resource: Resource): string | undefined {
  return resource.meta?.versionId ? `W/"${resource.meta.versionId}"` : undefined;
}

/** `If-Match: W/"abc"` → `abc`; undefined when absent; null when present but malformed. */
function parseEntityTag(header: string | undefined): string | undefined | null {
  if (header === undefined) return undefined;
  const m = /^\s*(?:W\/)?"([^"]+)"\s*$/.exec(header);
  return m ? (m[1] as string) : null;
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Checks a search query against what the matcher really implements (see PEER_DOCUMENTATION). */
function checkSearchParams(resourceType: string, params: URLSearchParams): OperationOutcome | undefined {
  for (const [key, value] of params) {
    if (RESULT_PARAMS.has(key)) {
      if (key === '_sort') {
        for (const code of value.split(',')) {
          const name = code.replace(/^-/, '');
          const p = getSearchParameter(resourceType, name);
          if (!p || !(SUPPORTED_SEARCH_PARAM_TYPES as readonly string[]).includes(p.type ?? ''))
            return notSupported(`Cannot sort on ${name}`);
        }
      }
      if ((key === '_count' || key === '_offset') && !/^[0-9]+$/.test(value))
        return badRequest(`${key} must be a non-negative integer`);
      continue;
    }
    if (key.includes('.') || key.startsWith('_has'))
      return notSupported(
        `Chained and reverse-chained parameters are not supported (${key.split(':')[0]?.split('.')[0]})`,
      );
    const [name = '', modifier] = key.split(':');
    const p = getSearchParameter(resourceType, name);
    if (!p) {
      return name.startsWith('_')
        ? notSupported(`Search parameter ${name} is not supported`)
        : badRequest(`Unknown search parameter ${name} for ${resourceType}`);
    }
    const type = p.type ?? '';
    if (!(SUPPORTED_SEARCH_PARAM_TYPES as readonly string[]).includes(type))
      return notSupported(`Search parameters of type ${type} are not supported (${name})`);
    if (modifier !== undefined && !(ALLOWED_MODIFIERS[type] ?? []).includes(modifier))
      return notSupported(`Modifier :${modifier} is not supported on ${name}`);
  }
  return undefined;
}

function queryRecord(params: URLSearchParams): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const key of new Set(params.keys())) {
    const all = params.getAll(key);
    out[key] = all.length === 1 ? (all[0] as string) : all;
  }
  return out;
}

function validationProblem(resource: Resource): OperationOutcome | undefined {
  try {
    const errors = validateResource(resource).filter((i) => i.severity === 'error' || i.severity === 'fatal');
    return errors.length > 0 ? { resourceType: 'OperationOutcome', issue: errors } : undefined;
  } catch (e) {
    return normalizeOperationOutcome(e);
  }
}

class HttpReply {
  constructor(
    readonly status: number,
    readonly body: Resource | undefined,
    readonly headers: Record<string, string> = {},
  ) {}
}

function outcomeReply(outcome: OperationOutcome, status = getStatus(outcome)): HttpReply {
  return new HttpReply(status, outcome);
}

/**
 * Starts an HTTP server around Medplum's FhirRouter and an in-memory repository: real FHIR REST
 * semantics (FHIR R4 http.html) for tests and the demo, over 127.0.0.1. What the router lacks is
 * added here only where it is small and done with the repository's own operations: paging links,
 * ETag/Location/Last-Modified headers, If-None-Match on read, If-Match on conditional update,
 * 410 for deleted resources, Prefer: return, validation, and refusing what is not supported.
 */
export async function startFhirPeer(options: FhirPeerOptions = {}): Promise<FhirPeer> {
  loadFhirDefinitions();
  const host = options.host ?? '127.0.0.1';
  const basePath = (options.baseUrlPath ?? '/fhir/R4').replace(/\/+$/, '');
  const resourceTypes = new Set<string>(options.resourceTypes ?? PEER_RESOURCE_TYPES);
  const validate = options.validate ?? true;
  const history = options.history ?? true;
  const defaultCount = options.defaultPageSize ?? DEFAULT_PAGE_SIZE;
  const maxCount = options.maxPageSize ?? MAX_PAGE_SIZE;
  const router = new FhirRouter();
  const repo = new PeerRepository();
  /** `Type/id` of resources deleted through the API: reads answer 410 Gone (FHIR R4 http.html#read). */
  const deleted = new Set<string>();

  async function route(
    method: HttpMethod,
    url: string,
    headers: IncomingHttpHeaders,
    body?: unknown,
  ): Promise<[OperationOutcome, Resource | undefined]> {
    const [outcome, resource] = await router.handleRequest(
      { method, url, pathname: '', body, params: {}, query: {}, headers },
      repo,
    );
    return [outcome, resource];
  }

  function resourceReply(
    status: number,
    resource: Resource,
    base: string,
    req: Request,
    withLocation: boolean,
  ): HttpReply {
    const headers: Record<string, string> = {};
    const etag = etagOf(resource);
    if (etag) headers['ETag'] = etag;
    if (resource.meta?.lastUpdated)
      headers['Last-Modified'] = new Date(resource.meta.lastUpdated).toUTCString();
    if (withLocation && resource.id) {
      const loc = `${base}/${resource.resourceType}/${resource.id}${resource.meta?.versionId ? `/_history/${resource.meta.versionId}` : ''}`;
      headers[status === 201 ? 'Location' : 'Content-Location'] = loc;
    }
    // FHIR R4 http.html#ops: Prefer: return=minimal | representation | OperationOutcome.
    const prefer = header(req.headers, 'prefer') ?? '';
    if (/return=minimal/.test(prefer)) return new HttpReply(status, undefined, headers);
    if (/return=OperationOutcome/i.test(prefer)) {
      return new HttpReply(
        status,
        {
          resourceType: 'OperationOutcome',
          issue: [
            {
              severity: 'information',
              code: 'informational',
              details: { text: status === 201 ? 'Created' : 'OK' },
            },
          ],
        },
        headers,
      );
    }
    return new HttpReply(status, resource, headers);
  }

  function missingOrGone(outcome: OperationOutcome, key: string): HttpReply {
    if (getStatus(outcome) === 404 && deleted.has(key)) return outcomeReply(gone, 410);
    return outcomeReply(outcome);
  }

  async function search(type: string, params: URLSearchParams, base: string): Promise<HttpReply> {
    const problem = checkSearchParams(type, params);
    if (problem) return outcomeReply(problem);
    const count = Math.min(params.has('_count') ? Number(params.get('_count')) : defaultCount, maxCount);
    const offset = params.has('_offset') ? Number(params.get('_offset')) : 0;
    params.set('_count', String(count));
    params.delete('_offset');
    params.delete('_format');
    params.delete('_pretty');
    const query = params.toString();
    const [outcome, result] = await route(
      'GET',
      `${type}?${query}${offset > 0 ? `&_offset=${offset}` : ''}`,
      {},
    );
    if (!result || result.resourceType !== 'Bundle') return outcomeReply(outcome);
    const bundle = result as Bundle;
    const total = bundle.total ?? 0;
    // FHIR R4 http.html#paging: self, first, previous, next links; a client follows `next` as is.
    const pageUrl = (o: number): string => `${base}/${type}?${query}${o > 0 ? `&_offset=${o}` : ''}`;
    const link: BundleLink[] = [
      { relation: 'self', url: pageUrl(offset) },
      { relation: 'first', url: pageUrl(0) },
    ];
    if (offset > 0 && count > 0)
      link.push({ relation: 'previous', url: pageUrl(Math.max(0, offset - count)) });
    if (count > 0 && offset + count < total) link.push({ relation: 'next', url: pageUrl(offset + count) });
    const entry = (bundle.entry ?? []).flatMap((e) =>
      e.resource
        ? [
            {
              fullUrl: `${base}/${e.resource.resourceType}/${e.resource.id}`,
              resource: e.resource,
              search: { mode: 'match' as const },
            },
          ]
        : [],
    );
    const out: Bundle = {
      resourceType: 'Bundle',
      type: 'searchset',
      total,
      link,
      ...(entry.length > 0 && { entry }),
    };
    return new HttpReply(200, out);
  }

  async function create(type: string, req: Request, base: string): Promise<HttpReply> {
    const body = req.body as Resource | undefined;
    if (!body || typeof body !== 'object' || body.resourceType !== type)
      return outcomeReply(badRequest(`The body must be a ${type} resource`));
    // FHIR R4 http.html#create: the server assigns id and meta.versionId/lastUpdated.
    const resource = { ...body } as Resource;
    delete resource.id;
    if (resource.meta) {
      const meta = { ...resource.meta };
      delete meta.versionId;
      delete meta.lastUpdated;
      resource.meta = meta;
    }
    if (validate) {
      const problem = validationProblem(resource);
      if (problem) return outcomeReply(problem);
    }
    const ifNoneExist = header(req.headers, 'if-none-exist');
    if (ifNoneExist !== undefined) {
      const problem = checkSearchParams(type, new URLSearchParams(ifNoneExist));
      if (problem) return outcomeReply(problem);
    }
    const [outcome, saved] = await route('POST', type, req.headers, resource);
    if (!saved) return outcomeReply(outcome);
    deleted.delete(`${type}/${saved.id}`);
    return resourceReply(getStatus(outcome), saved, base, req, true);
  }

  async function update(type: string, id: string, req: Request, base: string): Promise<HttpReply> {
    const body = req.body as Resource | undefined;
    if (!body || typeof body !== 'object' || body.resourceType !== type)
      return outcomeReply(badRequest(`The body must be a ${type} resource`));
    if (body.id !== id)
      return outcomeReply(badRequest('Resource id must match the URL (FHIR R4 http.html#update)'));
    const ifMatch = parseEntityTag(header(req.headers, 'if-match'));
    if (ifMatch === null)
      return outcomeReply(badRequest('If-Match must be an entity tag such as W/"<versionId>"'));
    if (validate) {
      const problem = validationProblem(body);
      if (problem) return outcomeReply(problem);
    }
    // Checked and written without any I/O in between, so no other request interleaves.
    const existed =
      (await repo.search(parseSearchRequest(type as ResourceType, { _id: id, _count: '1' }))).total === 1;
    const [outcome, saved] = await route('PUT', `${type}/${id}`, req.headers, body);
    if (!saved) return outcomeReply(outcome);
    deleted.delete(`${type}/${id}`);
    return resourceReply(existed ? 200 : 201, saved, base, req, true);
  }

  async function conditionalUpdate(
    type: string,
    params: URLSearchParams,
    req: Request,
    base: string,
  ): Promise<HttpReply> {
    const body = req.body as Resource | undefined;
    if (!body || typeof body !== 'object' || body.resourceType !== type)
      return outcomeReply(badRequest(`The body must be a ${type} resource`));
    if ([...params.keys()].length === 0)
      return outcomeReply(badRequest('A conditional update needs search criteria'));
    const problem = checkSearchParams(type, params);
    if (problem) return outcomeReply(problem);
    const ifMatch = parseEntityTag(header(req.headers, 'if-match'));
    if (ifMatch === null)
      return outcomeReply(badRequest('If-Match must be an entity tag such as W/"<versionId>"'));
    if (validate) {
      const invalid = validationProblem(body);
      if (invalid) return outcomeReply(invalid);
    }
    // The router's conditional update drops If-Match; the repository's own conditionalUpdate
    // takes it (FHIR R4 http.html#cond-update + #concurrency).
    try {
      const result = await repo.conditionalUpdate(
        body,
        parseSearchRequest(type as ResourceType, queryRecord(params)),
        ifMatch ? { ifMatch } : {},
      );
      deleted.delete(`${type}/${result.resource.id}`);
      return resourceReply(getStatus(result.outcome), result.resource, base, req, true);
    } catch (e) {
      return outcomeReply(normalizeOperationOutcome(e));
    }
  }

  async function remove(type: string, id: string): Promise<HttpReply> {
    const key = `${type}/${id}`;
    const [outcome] = await route('DELETE', key, {});
    const status = getStatus(outcome);
    if (status === 404 && deleted.has(key)) return outcomeReply(outcome, 200); // http.html#delete: already deleted → 200
    if (status < 300) deleted.add(key);
    return outcomeReply(outcome);
  }

  async function conditionalDelete(type: string, params: URLSearchParams): Promise<HttpReply> {
    if ([...params.keys()].length === 0)
      return outcomeReply(badRequest('A conditional delete needs search criteria'));
    const problem = checkSearchParams(type, params);
    if (problem) return outcomeReply(problem);
    const matches = await repo.search(
      parseSearchRequest(type as ResourceType, { ...queryRecord(params), _count: '2' }),
    );
    const found = matches.entry ?? [];
    if (found.length > 1) return outcomeReply(multipleMatches, 412);
    const target = found[0]?.resource;
    if (!target)
      return outcomeReply(
        {
          resourceType: 'OperationOutcome',
          issue: [
            {
              severity: 'information',
              code: 'informational',
              details: { text: 'No match; nothing deleted' },
            },
          ],
        },
        200,
      );
    return remove(type, target.id as string);
  }

  async function dispatch(req: Request): Promise<HttpReply> {
    const base = `http://${req.headers.host ?? `${host}:${server.address() && (server.address() as AddressInfo).port}`}${basePath}`;
    const q = req.originalUrl.indexOf('?');
    const params = new URLSearchParams(q >= 0 ? req.originalUrl.slice(q + 1) : '');
    const segments = req.path
      .split('/')
      .filter(Boolean)
      .map((s) => decodeURIComponent(s));
    const method = req.method as HttpMethod;
    const [first, second, third, fourth] = segments;

    if (first === undefined)
      return outcomeReply(notSupported('batch, transaction and system-level search are not supported'));
    if (first === 'metadata' && segments.length === 1) {
      if (method !== 'GET') return outcomeReply(notSupported(`${method} metadata`), 405);
      return new HttpReply(200, buildCapabilityStatement(base, [...resourceTypes], new Date(), { history }));
    }
    if (first === '_history') return outcomeReply(notSupported('system-level _history is not supported'));
    if (!resourceTypes.has(first))
      return outcomeReply(
        notSupported(`Resource type ${first.slice(0, 64)} is not served by this peer`),
        404,
      );
    if (second === '_history') return outcomeReply(notSupported('type-level _history is not supported'));
    if (second === '_search' || second?.startsWith('$') || third?.startsWith('$'))
      return outcomeReply(notSupported('POST _search and operations are not supported'));

    if (segments.length === 1) {
      if (method === 'GET') return search(first, params, base);
      if (method === 'POST') return create(first, req, base);
      if (method === 'PUT') return conditionalUpdate(first, params, req, base);
      if (method === 'DELETE') return conditionalDelete(first, params);
      return outcomeReply(notSupported(`${method} on a type`), 405);
    }
    const id = second as string;
    const key = `${first}/${id}`;
    if (segments.length === 2) {
      if (method === 'GET') {
        const [outcome, resource] = await route('GET', key, {});
        if (!resource) return missingOrGone(outcome, key);
        // Conditional read (FHIR R4 http.html#cread): If-None-Match with the current ETag → 304.
        const inm = parseEntityTag(header(req.headers, 'if-none-match'));
        if (inm && inm === resource.meta?.versionId)
          return new HttpReply(304, undefined, { ETag: etagOf(resource) as string });
        return resourceReply(200, resource, base, req, false);
      }
      if (method === 'PUT') return update(first, id, req, base);
      if (method === 'DELETE') return remove(first, id);
      return outcomeReply(notSupported(`${method} on an instance`), 405);
    }
    if (third === '_history' && !history) return outcomeReply(notSupported('_history is not supported'));
    if (third === '_history' && method === 'GET') {
      if (segments.length === 3) {
        if ([...params.keys()].length > 0)
          return outcomeReply(notSupported('_count, _since and _at are not supported on _history'));
        const [outcome, bundle] = await route('GET', `${key}/_history`, {});
        if (!bundle || bundle.resourceType !== 'Bundle') return missingOrGone(outcome, key);
        const entry = (bundle.entry ?? []).flatMap((e) =>
          e.resource ? [{ fullUrl: `${base}/${key}`, resource: e.resource }] : [],
        );
        return new HttpReply(200, {
          resourceType: 'Bundle',
          type: 'history',
          total: entry.length,
          ...(entry.length > 0 && { entry }),
        });
      }
      if (segments.length === 4) {
        const [outcome, resource] = await route(
          'GET',
          `${key}/_history/${encodeURIComponent(fourth as string)}`,
          {},
        );
        if (!resource) return missingOrGone(outcome, key);
        return resourceReply(200, resource, base, req, false);
      }
    }
    return outcomeReply(notFound, 404);
  }

  const app = express();
  app.disable('x-powered-by');
  app.disable('etag'); // ETags here are FHIR version tags, never body hashes.
  app.use(express.json({ type: ['application/json', 'application/fhir+json'], limit: '50mb' }));
  app.use(basePath, (req: Request, res: Response, next: NextFunction) => {
    dispatch(req)
      .then((reply) => {
        res.status(reply.status);
        for (const [k, v] of Object.entries(reply.headers)) res.setHeader(k, v);
        if (reply.body === undefined || reply.status === 304) res.end();
        else res.type(FHIR_JSON).send(JSON.stringify(reply.body));
      })
      .catch(next);
  });
  app.use((req: Request, res: Response) => {
    res
      .status(404)
      .type(FHIR_JSON)
      .send(JSON.stringify(notSupported(`Not a FHIR endpoint; the base is ${basePath}`)));
  });
  // Errors from the body parser (malformed JSON) and unexpected ones, as OperationOutcomes.
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const status = (err as { status?: unknown }).status;
    const code = typeof status === 'number' && status >= 400 && status < 500 ? status : 500;
    const outcome: OperationOutcome =
      code === 500
        ? {
            resourceType: 'OperationOutcome',
            issue: [{ severity: 'error', code: 'exception', details: { text: 'Internal error' } }],
          }
        : {
            resourceType: 'OperationOutcome',
            issue: [
              { severity: 'error', code: 'structure', details: { text: 'The body is not valid JSON' } },
            ],
          };
    res.status(code).type(FHIR_JSON).send(JSON.stringify(outcome));
  });

  const server: Server = createServer(app);
  // Longer than any client's idle pool timeout, so a client never reuses a socket the server is
  // closing (a reset on a POST is not retried), even when seeding blocks the event loop.
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const displayHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${displayHost}:${port}${basePath}`,
    port,
    repo,
    async seed(resources) {
      for (const r of resources) await repo.createResource(r);
    },
    reset() {
      repo.clear();
      deleted.clear();
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
