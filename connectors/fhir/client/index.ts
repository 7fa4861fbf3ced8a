export { createFhirClient, type FhirClient } from './fhir-client.js';
export { type FhirIssueSummary, isOperationOutcome, summarizeOutcome } from './errors.js';
export { backoffDelay, DEFAULT_RETRY, isRetryableStatus, parseRetryAfter } from './retry.js';
export type {
  FhirAuth,
  FhirClientOptions,
  FhirInteraction,
  FhirReadResult,
  FhirResponseMeta,
  FhirWriteResult,
  RequestOptions,
  RetryOptions,
  SearchParams,
  SmartBackendAuth,
} from './types.js';
