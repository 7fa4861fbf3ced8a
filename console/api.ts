/**
 * The console's only way to the service: the admin API under /api/v1, with the session cookie
 * and, on every change, the session's CSRF token. The API decides every permission; the
 * console only hides what the role may not do.
 */
export interface ApiIssue {
  readonly path: string;
  readonly message: string;
  readonly line?: number;
  readonly column?: number;
  readonly severity?: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly issues: readonly ApiIssue[] = [],
    /** `details.reason` of the API error ('practice-scope': another practice's resource; 'stale-version'). */
    readonly reason?: string,
  ) {
    super(message);
  }
}

let csrfToken: string | null = null;
let onUnauthorized: () => void = () => undefined;

export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}
export function setUnauthorizedHandler(handler: () => void): void {
  onUnauthorized = handler;
}

interface ErrorBody {
  error?: {
    code?: string;
    message?: string;
    details?: { issues?: ApiIssue[]; reason?: unknown };
    issues?: ApiIssue[];
  };
}

async function failure(res: Response): Promise<ApiError> {
  let body: ErrorBody = {};
  try {
    body = (await res.json()) as ErrorBody;
  } catch {
    // not JSON: keep the status
  }
  const e = body.error ?? {};
  return new ApiError(
    res.status,
    e.code ?? `HTTP_${res.status}`,
    e.message ?? res.statusText,
    e.details?.issues ?? e.issues ?? [],
    typeof e.details?.reason === 'string' ? e.details.reason : undefined,
  );
}

/** A change refused because the resource changed since the page read it (If-Match, 409 stale-version). */
export function isStale(e: unknown): boolean {
  return e instanceof ApiError && e.status === 409 && e.reason === 'stale-version';
}

/** `If-Match` with the version the page showed: a concurrent change is refused, not overwritten. */
export function ifMatch(version: number): Readonly<Record<string, string>> {
  return { 'If-Match': `"${version}"` };
}

/** The French sentence for a 403: another practice's resource, or a role that may not. */
export function forbiddenKey(e: ApiError): 'commun.autreCabinet' | 'commun.interdit' {
  return e.reason === 'practice-scope' ? 'commun.autreCabinet' : 'commun.interdit';
}

export interface RequestOptions {
  readonly body?: unknown;
  /** Sent as is (YAML, HL7 text) with this content type instead of JSON. */
  readonly raw?: { readonly text: string; readonly type: string };
  readonly accept?: string;
  /** A 401 is the caller's to show (the sign-in form) instead of leaving the page. */
  readonly quietUnauthorized?: boolean;
  /** Extra request headers (`If-Match` with the version the page showed, so a concurrent change is refused, not overwritten). */
  readonly headers?: Readonly<Record<string, string>>;
}

export async function request(method: string, path: string, options: RequestOptions = {}): Promise<Response> {
  const headers: Record<string, string> = {
    ...options.headers,
    Accept: options.accept ?? 'application/json',
  };
  let body: string | undefined;
  if (options.raw) {
    headers['Content-Type'] = options.raw.type;
    body = options.raw.text;
  } else if (options.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(options.body);
  }
  if (method !== 'GET' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  const res = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    ...(body !== undefined && { body }),
  });
  if (!res.ok) {
    const err = await failure(res);
    if (res.status === 401 && !options.quietUnauthorized) onUnauthorized();
    throw err;
  }
  return res;
}

export async function getJson<T>(path: string, options?: RequestOptions): Promise<T> {
  const res = await request('GET', path, options);
  return (await res.json()) as T;
}

export async function sendJson<T>(
  method: 'POST' | 'PUT' | 'PATCH' | 'DELETE',
  path: string,
  options?: RequestOptions,
): Promise<T> {
  const res = await request(method, path, options);
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

/** `?a=1&b=x` from the defined entries only. */
export function query(
  params: Readonly<Record<string, string | number | boolean | null | undefined>>,
): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params))
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}
