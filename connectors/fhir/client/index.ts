export { type FhirIssueSummary, isOperationOutcome, summarizeOutcome } from './errors.js';
export { createFhirClient, DEFAULT_RETRY, type FhirClient } from './fhir-client.js';
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
