import type { JWK } from 'jose';

import type { Logger } from '../../../src/log/logger.js';

/** How the client authenticates to the FHIR server. */
export type FhirAuth =
  | { readonly type: 'none' }
  | { readonly type: 'basic'; readonly username: string; readonly password: string }
  /** A fixed token, or a function called for each request (e.g. a token from a vault). */
  | { readonly type: 'bearer'; readonly token: string | (() => string | Promise<string>) }
  | SmartBackendAuth;

/**
 * SMART Backend Services (https://hl7.org/fhir/smart-app-launch/backend-services.html):
 * `client_credentials` grant with a `private_key_jwt` client assertion signed with our key.
 */
export interface SmartBackendAuth {
  readonly type: 'smart-backend';
  readonly clientId: string;
  /** PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`) or a private JWK. */
  readonly privateKey: string | JWK;
  /** Key id registered with the server (the JWKS `kid`). */
  readonly keyId: string;
  /** RS384 or ES384, the two algorithms the SMART spec requires servers to support. */
  readonly algorithm?: 'RS384' | 'ES384';
  /** e.g. `system/Patient.rs system/Appointment.cruds`. */
  readonly scope: string;
  /** Token endpoint; discovered from `<base>/.well-known/smart-configuration` when absent. */
  readonly tokenEndpoint?: string;
  /** Optional `jku` header: the URL of our JWKS, when the server fetches keys from it. */
  readonly jwksUrl?: string;
}

export interface RetryOptions {
  /** Retries after the first attempt (0 = never retry). */
  readonly max: number;
  readonly baseDelayMs: number;
  /** Cap for one wait, backoff and Retry-After alike. */
  readonly maxDelayMs: number;
}

export interface FhirClientOptions {
  /** FHIR base, e.g. `https://fhir.example.fr/R4`. */
  readonly baseUrl: string;
  readonly auth?: FhirAuth;
  /** Per attempt, through AbortSignal.timeout (fhir-kit-client has no timeout of its own). Default 30 s. */
  readonly timeoutMs?: number;
  readonly retry?: Partial<RetryOptions>;
  /** Receives method, resource type, status, duration; never URLs or bodies. */
  readonly logger?: Logger;
  /** Waits between attempts; tests inject one that records the delays. */
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Clock for Retry-After dates and token expiry (ms since epoch). */
  readonly now?: () => number;
  /** Jitter source in [0, 1). */
  readonly random?: () => number;
}

/** Which FHIR interaction a request is (FHIR R4 http.html), as logged. */
export type FhirInteraction =
  | 'read'
  | 'vread'
  | 'search'
  | 'search-page'
  | 'create'
  | 'update'
  | 'conditional-update'
  | 'delete'
  | 'history-instance'
  | 'history-type'
  | 'capabilities';

export type SearchParams = Readonly<Record<string, string | number | readonly (string | number)[]>>;

/** What a FHIR answer says beyond its body. */
export interface FhirResponseMeta {
  readonly status: number;
  /** `ETag` header, e.g. `W/"3"`. */
  readonly etag?: string;
  /** From the ETag, else `meta.versionId`, else the Location's `_history/<vid>`. */
  readonly versionId?: string;
  readonly lastModified?: string;
  /** `Location` (create) or `Content-Location`. */
  readonly location?: string;
  /** The server's clock: the HTTP `Date` header (RFC 9110 §6.6.1), second precision. */
  readonly date?: string;
}

export interface FhirReadResult<T> extends FhirResponseMeta {
  readonly resource: T;
}

export interface FhirWriteResult<T> extends FhirResponseMeta {
  /** Absent when the server answered without a body. */
  readonly resource?: T;
  /** The logical id, from the body or the Location header. */
  readonly id?: string;
  /** true when the server created a resource (201), false when it updated or matched one. */
  readonly created: boolean;
}

export interface RequestOptions {
  /** Cancels the request and any retry wait (the caller's own deadline). */
  readonly signal?: AbortSignal;
}
