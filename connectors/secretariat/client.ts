/**
 * HTTP client for the secretariat platform contract (openapi.yaml). Every remote failure is
 * classified here, once, into a PasserelleError with `retryable` and `retryAfterSeconds` set
 * (shared/style.md §5). Requests are retried on 429, 5xx, timeouts and network errors with
 * exponential backoff and full jitter, honouring Retry-After; every write carries an
 * Idempotency-Key, so a retried write is applied once. Bodies are never logged.
 */
import axios, { type AxiosInstance, type AxiosResponse } from 'axios';
import { z } from 'zod';

import { type ErrorIssue, isPasserelleError, PasserelleError } from '../../src/errors.js';
import type { Logger } from '../../src/log/logger.js';
import { scrubText } from '../../src/log/redact.js';
import {
  backoffDelayMs,
  classifyTransportError,
  isRetryableStatus,
  parseRetryAfterMs,
  sleep as realSleep,
} from '../../src/util/retry.js';
import {
  AppointmentType,
  type AppointmentTypeInput,
  CallbackRequest,
  type CallbackRequestCreate,
  CallStatistics,
  ChangesPage,
  COLLECTION,
  Consignes,
  type ConsignesPublish,
  Coverage,
  type CoverageBody,
  type CoveragePublishBody,
  Problem,
  type ReminderBatch,
  ReminderList,
  RESOURCE_SCHEMAS,
  type ResourceOfType,
  type ResourceType,
  SlotPublication,
  type SlotPublicationBody,
  type SlotPublishBody,
} from './contract.js';

/** Retry timing for calls to the platform: exponential backoff, full jitter, Retry-After (src/util/retry.ts). */
export interface RetryPolicy {
  /** Attempts in all, the first one included. */
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** A Retry-After longer than this is capped: a peer must not park a link for hours. */
  readonly maxRetryAfterSeconds: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 5,
  baseDelayMs: 250,
  maxDelayMs: 30_000,
  maxRetryAfterSeconds: 120,
};

export interface SecretariatClientOptions {
  /** Platform root, e.g. `https://api.secretariat.example`; the client adds `/v1/practices/{id}`. */
  readonly baseUrl: string;
  readonly practiceId: string;
  readonly apiToken: string;
  /** Per attempt. */
  readonly timeoutMs: number;
  readonly retry?: RetryPolicy;
  readonly log: Logger;
  /** Milliseconds since the epoch (for Retry-After HTTP dates). */
  readonly now?: () => number;
  /** Injected in tests to record waits instead of sleeping. */
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly random?: () => number;
  readonly signal?: AbortSignal;
  readonly userAgent?: string;
}

export interface PlatformRequest<T> {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Path below `/v1/practices/{practiceId}`, e.g. `/appointments/apt-1`. */
  readonly path: string;
  /** Path template for logs and error messages, e.g. `/appointments/{id}` (no ids, no query). */
  readonly route: string;
  readonly query?: Readonly<Record<string, string | number>>;
  readonly body?: unknown;
  readonly ifMatch?: number;
  readonly ifNoneMatch?: '*';
  readonly idempotencyKey?: string;
  /** Schema of a 2xx body; null when the answer has none (204). */
  readonly schema: z.ZodType<T> | null;
}

export interface PlatformResponse<T> {
  readonly status: number;
  readonly data: T;
  readonly etag: string | undefined;
  /** The platform replayed a stored answer for this Idempotency-Key. */
  readonly replayed: boolean;
}

/**
 * The statuses the contract answers for "try again" (openapi.yaml: 429 and the 5xx of an
 * overloaded platform or its proxy): a subset of what HTTP calls retryable (isRetryableStatus).
 * A 408 or another 5xx means the platform broke its contract, which no retry repairs.
 */
const CONTRACT_RETRY_STATUSES: ReadonlySet<number> = new Set([429, 500, 502, 503, 504]);

export function isPlatformRetryableStatus(status: number): boolean {
  return CONTRACT_RETRY_STATUSES.has(status) && isRetryableStatus(status);
}

/** A change-feed page whose entries are read one by one by the caller. */
const FeedEnvelope = ChangesPage.extend({ changes: z.array(z.unknown()) });

/** `"3"` or `W/"3"` → 3. */
export function versionFromEtag(etag: string | undefined): number | undefined {
  const m = etag === undefined ? null : /^(?:W\/)?"(\d+)"$/.exec(etag.trim());
  return m ? Number(m[1]) : undefined;
}

type Attempt<T> =
  | { readonly kind: 'ok'; readonly response: PlatformResponse<T> }
  | {
      readonly kind: 'retry';
      readonly error: PasserelleError;
      readonly retryAfterSeconds: number | undefined;
    }
  | { readonly kind: 'fail'; readonly error: PasserelleError };

export class SecretariatClient {
  private readonly http: AxiosInstance;
  private readonly retry: RetryPolicy;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  private readonly random: () => number;
  private readonly signal: AbortSignal | undefined;

  constructor(options: SecretariatClientOptions) {
    this.retry = options.retry ?? DEFAULT_RETRY_POLICY;
    this.log = options.log;
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? realSleep;
    this.random = options.random ?? Math.random;
    this.signal = options.signal;
    this.http = axios.create({
      baseURL: `${options.baseUrl.replace(/\/+$/, '')}/v1/practices/${encodeURIComponent(options.practiceId)}`,
      timeout: options.timeoutMs,
      maxRedirects: 0,
      // We read status and body ourselves, so that classification happens in one place.
      validateStatus: () => true,
      responseType: 'text',
      transformResponse: [(d: unknown) => d],
      headers: {
        Authorization: `Bearer ${options.apiToken}`,
        Accept: 'application/json, application/problem+json',
        'User-Agent': options.userAgent ?? 'passerelle-secretariat-connector',
      },
    });
  }

  /** One logical call: attempts until success, a non-retryable answer, or the policy runs out. */
  async request<T>(req: PlatformRequest<T>): Promise<PlatformResponse<T>> {
    let last: PasserelleError | undefined;
    for (let attempt = 0; attempt < this.retry.maxAttempts; attempt++) {
      const outcome = await this.attempt(req, attempt);
      if (outcome.kind === 'ok') return outcome.response;
      if (outcome.kind === 'fail') throw outcome.error;
      last = outcome.error;
      if (attempt + 1 >= this.retry.maxAttempts) break;
      // Full jitter: many links failing together (a platform outage) spread their retries widest.
      const delayMs =
        outcome.retryAfterSeconds !== undefined
          ? outcome.retryAfterSeconds * 1000
          : backoffDelayMs(attempt + 1, { ...this.retry, jitter: 'full' }, this.random);
      this.log.warn('secretariat request will be retried', {
        method: req.method,
        route: req.route,
        code: outcome.error.code,
        status: outcome.error.details['status'] ?? null,
        attempt: attempt + 1,
        delayMs,
      });
      await this.sleep(delayMs, this.signal);
    }
    // Out of attempts: the outbox or the scheduler retries later (design rule 3).
    throw (
      last ?? new PasserelleError('ERR_SECRETARIAT_HTTP', `${req.method} ${req.route}: no attempt was made`)
    );
  }

  private async attempt<T>(req: PlatformRequest<T>, attempt: number): Promise<Attempt<T>> {
    const started = this.now();
    let res: AxiosResponse<string>;
    try {
      res = await this.http.request<string>({
        method: req.method,
        url: req.path,
        ...(req.query && { params: req.query }),
        ...(req.body !== undefined && { data: JSON.stringify(req.body) }),
        headers: {
          ...(req.body !== undefined && { 'Content-Type': 'application/json' }),
          ...(req.ifMatch !== undefined && { 'If-Match': `"${req.ifMatch}"` }),
          ...(req.ifNoneMatch && { 'If-None-Match': req.ifNoneMatch }),
          ...(req.idempotencyKey !== undefined && { 'Idempotency-Key': req.idempotencyKey }),
        },
        ...(this.signal && { signal: this.signal }),
      });
    } catch (e) {
      return this.transportFailure(req, e);
    }
    const status = res.status;
    const header = (name: string): string | undefined => {
      const v: unknown = res.headers[name];
      return typeof v === 'string' ? v : undefined;
    };
    this.log.debug('secretariat request', {
      method: req.method,
      route: req.route,
      status,
      attempt: attempt + 1,
      ms: this.now() - started,
    });

    if (status >= 200 && status < 300) {
      let data: unknown = null;
      if (req.schema !== null) {
        let json: unknown;
        try {
          json = JSON.parse(res.data);
        } catch (e) {
          return {
            kind: 'fail',
            error: new PasserelleError(
              'ERR_SECRETARIAT_BAD_RESPONSE',
              `${req.method} ${req.route}: the answer is not JSON`,
              { cause: e, details: { status } },
            ),
          };
        }
        const parsed = req.schema.safeParse(json);
        if (!parsed.success) {
          const issues: ErrorIssue[] = parsed.error.issues.map((i) => ({
            path: `/${i.path.map(String).join('/')}`,
            message: i.message,
          }));
          return {
            kind: 'fail',
            error: new PasserelleError(
              'ERR_SECRETARIAT_BAD_RESPONSE',
              `${req.method} ${req.route}: the answer does not follow the contract (${issues[0]?.path}: ${issues[0]?.message})`,
              { issues, details: { status } },
            ),
          };
        }
        data = parsed.data;
      }
      return {
        kind: 'ok',
        response: {
          status,
          data: data as T,
          etag: header('etag'),
          replayed: header('idempotent-replayed') === 'true',
        },
      };
    }

    const problem = this.problemOf(res.data);
    const details = {
      status,
      route: req.route,
      ...(problem?.type && { problemType: problem.type }),
      ...(problem?.code && { problemCode: problem.code }),
    };
    const label = `${req.method} ${req.route}: ${status}${problem?.title ? ` ${scrubText(problem.title)}` : ''}`;
    const issues: ErrorIssue[] = (problem?.errors ?? []).map((e) => ({
      path: e.pointer,
      message: scrubText(e.detail),
    }));
    if (isPlatformRetryableStatus(status)) {
      const retryAfterMs = parseRetryAfterMs(
        header('retry-after'),
        this.now(),
        this.retry.maxRetryAfterSeconds * 1000,
      );
      // Whole seconds, rounded up: the error tells the outbox, which counts in seconds.
      const retryAfterSeconds = retryAfterMs === undefined ? undefined : Math.ceil(retryAfterMs / 1000);
      return {
        kind: 'retry',
        retryAfterSeconds,
        error: new PasserelleError('ERR_SECRETARIAT_HTTP', `secretariat platform unavailable: ${label}`, {
          details,
          retryable: true,
          ...(retryAfterSeconds !== undefined && { retryAfterSeconds }),
        }),
      };
    }
    if (status === 412)
      return {
        kind: 'fail',
        error: new PasserelleError('ERR_SECRETARIAT_VERSION_CONFLICT', `version conflict: ${label}`, {
          details,
        }),
      };
    if (status === 401 || status === 403)
      return {
        kind: 'fail',
        error: new PasserelleError(
          'ERR_SECRETARIAT_AUTH',
          `secretariat platform refused the API token: ${label}`,
          { details },
        ),
      };
    if (status >= 400 && status < 500)
      return {
        kind: 'fail',
        error: new PasserelleError('ERR_SECRETARIAT_REJECTED', `secretariat platform refused ${label}`, {
          details,
          issues,
        }),
      };
    // 1xx/3xx (redirects are not followed) and other 5xx: the platform broke its contract.
    return {
      kind: 'fail',
      error: new PasserelleError('ERR_SECRETARIAT_BAD_RESPONSE', `unexpected answer to ${label}`, {
        details,
      }),
    };
  }

  private transportFailure<T>(req: PlatformRequest<T>, e: unknown): Attempt<T> {
    if (this.signal?.aborted) throw this.signal.reason;
    const { kind, code } = classifyTransportError(e);
    if (kind === 'timeout') {
      return {
        kind: 'retry',
        retryAfterSeconds: undefined,
        error: new PasserelleError(
          'ERR_SECRETARIAT_TIMEOUT',
          `${req.method} ${req.route}: no answer within the timeout`,
          { cause: e, details: { route: req.route } },
        ),
      };
    }
    return {
      kind: 'retry',
      retryAfterSeconds: undefined,
      error: new PasserelleError(
        'ERR_SECRETARIAT_HTTP',
        `${req.method} ${req.route}: secretariat platform unreachable (${code ?? 'network error'})`,
        { cause: e, details: { route: req.route, ...(code && { networkCode: code }) } },
      ),
    };
  }

  private problemOf(body: string): Problem | undefined {
    try {
      const parsed = Problem.safeParse(JSON.parse(body));
      return parsed.success ? parsed.data : undefined;
    } catch {
      return undefined;
    }
  }

  // ——— the contract's operations ———

  get<K extends ResourceType>(type: K, id: string): Promise<PlatformResponse<ResourceOfType[K]>> {
    return this.request({
      method: 'GET',
      path: `/${COLLECTION[type]}/${encodeURIComponent(id)}`,
      route: `/${COLLECTION[type]}/{id}`,
      schema: RESOURCE_SCHEMAS[type] as unknown as z.ZodType<ResourceOfType[K]>,
    });
  }

  async list<K extends ResourceType>(type: K): Promise<ResourceOfType[K][]> {
    const schema = (RESOURCE_SCHEMAS[type] as unknown as z.ZodType<ResourceOfType[K]>).array();
    const res = await this.request({
      method: 'GET',
      path: `/${COLLECTION[type]}`,
      route: `/${COLLECTION[type]}`,
      schema: z.strictObject({ items: schema }),
    });
    return res.data.items;
  }

  create<K extends ResourceType>(
    type: K,
    body: unknown,
    idempotencyKey: string,
  ): Promise<PlatformResponse<ResourceOfType[K]>> {
    return this.request({
      method: 'POST',
      path: `/${COLLECTION[type]}`,
      route: `/${COLLECTION[type]}`,
      body,
      idempotencyKey,
      schema: RESOURCE_SCHEMAS[type] as unknown as z.ZodType<ResourceOfType[K]>,
    });
  }

  update<K extends ResourceType>(
    type: K,
    id: string,
    body: unknown,
    version: number,
    idempotencyKey: string,
  ): Promise<PlatformResponse<ResourceOfType[K]>> {
    return this.request({
      method: 'PUT',
      path: `/${COLLECTION[type]}/${encodeURIComponent(id)}`,
      route: `/${COLLECTION[type]}/{id}`,
      body,
      ifMatch: version,
      idempotencyKey,
      schema: RESOURCE_SCHEMAS[type] as unknown as z.ZodType<ResourceOfType[K]>,
    });
  }

  /** An action on one resource (`cancel`, `refuse`, `acknowledge`); If-Match when the version is known. */
  action<K extends ResourceType>(
    type: K,
    id: string,
    action: string,
    body: unknown,
    version: number | null,
    idempotencyKey: string,
  ): Promise<PlatformResponse<ResourceOfType[K]>> {
    return this.request({
      method: 'POST',
      path: `/${COLLECTION[type]}/${encodeURIComponent(id)}/${action}`,
      route: `/${COLLECTION[type]}/{id}/${action}`,
      body,
      ...(version !== null && { ifMatch: version }),
      idempotencyKey,
      schema: RESOURCE_SCHEMAS[type] as unknown as z.ZodType<ResourceOfType[K]>,
    });
  }

  /** Asks the agents to call the practice back (POST /callback-requests, issue 21). */
  requestCallback(
    body: z.infer<typeof CallbackRequestCreate>,
    idempotencyKey: string,
  ): Promise<PlatformResponse<z.infer<typeof CallbackRequest>>> {
    return this.request({
      method: 'POST',
      path: '/callback-requests',
      route: '/callback-requests',
      body,
      idempotencyKey,
      schema: CallbackRequest,
    });
  }

  /** Publishes a version of the practice's consignes (POST /consignes, issue 21). */
  publishConsignes(
    body: z.infer<typeof ConsignesPublish>,
    idempotencyKey: string,
  ): Promise<PlatformResponse<z.infer<typeof Consignes>>> {
    return this.request({
      method: 'POST',
      path: '/consignes',
      route: '/consignes',
      body,
      idempotencyKey,
      schema: Consignes,
    });
  }

  /** Hands reminders and recalls to the agents (POST /reminders, issue 21); one per reference. */
  handReminders(
    body: z.infer<typeof ReminderBatch>,
    idempotencyKey: string,
  ): Promise<PlatformResponse<z.infer<typeof ReminderList>>> {
    return this.request({
      method: 'POST',
      path: '/reminders',
      route: '/reminders',
      body,
      idempotencyKey,
      schema: ReminderList,
    });
  }

  /** Reminders with an outcome reported since `since` (GET /reminders?status=done&updatedSince=). */
  reminderOutcomes(since: string): Promise<PlatformResponse<z.infer<typeof ReminderList>>> {
    return this.request({
      method: 'GET',
      path: '/reminders',
      route: '/reminders',
      query: { status: 'done', updatedSince: since },
      schema: ReminderList,
    });
  }

  /**
   * Replaces a practitioner's published slots (PUT …/published-slots, issue 20): If-Match the
   * version last published, If-None-Match: * for the first publication.
   */
  publishSlots(
    practitionerId: string,
    body: SlotPublishBody,
    version: number | null,
    idempotencyKey: string,
  ): Promise<PlatformResponse<SlotPublicationBody>> {
    return this.request({
      method: 'PUT',
      path: `/practitioners/${encodeURIComponent(practitionerId)}/published-slots`,
      route: '/practitioners/{id}/published-slots',
      body,
      ...(version === null ? { ifNoneMatch: '*' as const } : { ifMatch: version }),
      idempotencyKey,
      schema: SlotPublication,
    });
  }

  /** The practitioner's last publication, or null when there is none (404). */
  async publishedSlots(practitionerId: string): Promise<SlotPublicationBody | null> {
    try {
      return (
        await this.request({
          method: 'GET',
          path: `/practitioners/${encodeURIComponent(practitionerId)}/published-slots`,
          route: '/practitioners/{id}/published-slots',
          schema: SlotPublication,
        })
      ).data;
    } catch (e) {
      if (isPasserelleError(e) && e.details['status'] === 404) return null;
      throw e;
    }
  }

  /** Replaces the practice's coverage windows (PUT /coverage, issue 20), versioned like published slots. */
  publishCoverage(
    body: CoveragePublishBody,
    version: number | null,
    idempotencyKey: string,
  ): Promise<PlatformResponse<CoverageBody>> {
    return this.request({
      method: 'PUT',
      path: '/coverage',
      route: '/coverage',
      body,
      ...(version === null ? { ifNoneMatch: '*' as const } : { ifMatch: version }),
      idempotencyKey,
      schema: Coverage,
    });
  }

  /** The coverage windows in force on the platform, or null when none were published (404). */
  async coverage(): Promise<CoverageBody | null> {
    try {
      return (await this.request({ method: 'GET', path: '/coverage', route: '/coverage', schema: Coverage }))
        .data;
    } catch (e) {
      if (isPasserelleError(e) && e.details['status'] === 404) return null;
      throw e;
    }
  }

  async remove(type: ResourceType, id: string, version: number, idempotencyKey: string): Promise<void> {
    await this.request({
      method: 'DELETE',
      path: `/${COLLECTION[type]}/${encodeURIComponent(id)}`,
      route: `/${COLLECTION[type]}/{id}`,
      ifMatch: version,
      idempotencyKey,
      schema: null,
    });
  }

  /** Appointment types are addressed by the practice's code: created with If-None-Match: *, replaced with If-Match. */
  putAppointmentType(
    id: string,
    body: AppointmentTypeInput,
    version: number | null,
  ): Promise<PlatformResponse<AppointmentType>> {
    return this.request({
      method: 'PUT',
      path: `/appointment-types/${encodeURIComponent(id)}`,
      route: '/appointment-types/{id}',
      body,
      ...(version === null ? { ifNoneMatch: '*' as const } : { ifMatch: version }),
      schema: AppointmentType,
    });
  }

  /** The practice's call figures for one of its local days (GET /call-statistics, issue 21 point 4). */
  callStatistics(day: string): Promise<PlatformResponse<CallStatistics>> {
    return this.request({
      method: 'GET',
      path: '/call-statistics',
      route: '/call-statistics',
      query: { day },
      schema: CallStatistics,
    });
  }

  changes(since: string | null, limit: number): Promise<PlatformResponse<ChangesPage>> {
    return this.request({
      method: 'GET',
      path: '/changes',
      route: '/changes',
      query: { ...(since !== null && { since }), limit },
      schema: ChangesPage,
    });
  }

  /** The feed with each entry left unread, so that one entry breaking the contract can be set aside alone. */
  changeEntries(
    since: string | null,
    limit: number,
  ): Promise<PlatformResponse<{ changes: unknown[]; next: string; hasMore: boolean }>> {
    return this.request({
      method: 'GET',
      path: '/changes',
      route: '/changes',
      query: { ...(since !== null && { since }), limit },
      schema: FeedEnvelope,
    });
  }
}
