import type { OperationOutcome } from '@medplum/fhirtypes';

import { type ErrorCode, PasserelleError } from '../../../src/errors.js';
import { scrubText } from '../../../src/log/redact.js';
import { isRetryableStatus } from '../../../src/util/retry.js';
import type { FhirInteraction } from './types.js';

/** One OperationOutcome issue as it may travel in logs and error details (text scrubbed). */
export interface FhirIssueSummary {
  readonly severity: string;
  readonly code: string;
  readonly text?: string;
}

export interface FhirErrorContext {
  readonly interaction: FhirInteraction;
  readonly method: string;
  readonly resourceType?: string;
}

const MAX_TEXT = 200;

/**
 * Server diagnostics may quote what they refused ("Patient with identifier … not found"):
 * scrub them like log text (NIR, phones, e-mails, dates, query strings) and cut them short.
 */
function cleanText(text: string | undefined): string | undefined {
  if (!text) return undefined;
  const scrubbed = scrubText(text.replace(/\s+/g, ' ').trim());
  return scrubbed.length > MAX_TEXT ? `${scrubbed.slice(0, MAX_TEXT)}…` : scrubbed;
}

export function isOperationOutcome(data: unknown): data is OperationOutcome {
  return (
    typeof data === 'object' &&
    data !== null &&
    (data as { resourceType?: unknown }).resourceType === 'OperationOutcome'
  );
}

export function summarizeOutcome(outcome: OperationOutcome): FhirIssueSummary[] {
  return (outcome.issue ?? []).map((i) => {
    const text = cleanText([i.details?.text, i.diagnostics].filter(Boolean).join(': '));
    return { severity: i.severity ?? 'error', code: i.code ?? 'unknown', ...(text && { text }) };
  });
}

function describe(ctx: FhirErrorContext): string {
  return `FHIR ${ctx.interaction}${ctx.resourceType ? ` ${ctx.resourceType}` : ''}`;
}

/**
 * Turns an HTTP error answer into a typed error. The message carries the status and the
 * OperationOutcome issue codes and (scrubbed) texts; never the URL, its query or a body.
 */
export function fhirHttpError(
  ctx: FhirErrorContext,
  status: number,
  data: unknown,
  options: { retryAfterMs?: number | undefined; afterAmbiguousAttempt?: boolean } = {},
): PasserelleError {
  const issues = isOperationOutcome(data) ? summarizeOutcome(data) : [];
  let code: ErrorCode = issues.length > 0 ? 'ERR_FHIR_OPERATION_OUTCOME' : 'ERR_FHIR_HTTP';
  if (status === 412) code = 'ERR_FHIR_PRECONDITION_FAILED';
  if (status === 401 || status === 403) code = 'ERR_FHIR_AUTH';
  const issueText = issues.map((i) => `${i.code}${i.text ? `: ${i.text}` : ''}`).join('; ');
  const message = `${describe(ctx)} failed: HTTP ${status}${issueText ? ` (${issueText})` : ''}`;
  return new PasserelleError(code, message, {
    retryable: isRetryableStatus(status),
    details: {
      httpStatus: status,
      interaction: ctx.interaction,
      method: ctx.method,
      ...(ctx.resourceType && { resourceType: ctx.resourceType }),
      issueCodes: issues.map((i) => i.code),
      ...(options.afterAmbiguousAttempt && { afterAmbiguousAttempt: true }),
    },
    issues: issues.map((i) => ({
      path: ctx.resourceType ?? 'request',
      message: i.text ?? i.code,
      code: i.code,
      severity: i.severity === 'warning' || i.severity === 'information' ? 'warning' : 'error',
    })),
    ...(options.retryAfterMs !== undefined && { retryAfterSeconds: Math.ceil(options.retryAfterMs / 1000) }),
  });
}

export function fhirTimeoutError(ctx: FhirErrorContext, timeoutMs: number): PasserelleError {
  return new PasserelleError('ERR_FHIR_TIMEOUT', `${describe(ctx)} timed out after ${timeoutMs} ms`, {
    details: {
      interaction: ctx.interaction,
      method: ctx.method,
      timeoutMs,
      ...(ctx.resourceType && { resourceType: ctx.resourceType }),
    },
  });
}

/** Network failures: the code (ECONNREFUSED, ECONNRESET, UND_ERR_SOCKET…) is kept, the message is not. */
export function fhirNetworkError(ctx: FhirErrorContext, causeCode: string | undefined): PasserelleError {
  return new PasserelleError(
    'ERR_FHIR_NETWORK',
    `${describe(ctx)} failed: network error${causeCode ? ` (${causeCode})` : ''}`,
    {
      details: {
        interaction: ctx.interaction,
        method: ctx.method,
        ...(causeCode && { networkCode: causeCode }),
        ...(ctx.resourceType && { resourceType: ctx.resourceType }),
      },
    },
  );
}

export function fhirInvalidResponseError(
  ctx: FhirErrorContext,
  status: number,
  why: string,
): PasserelleError {
  return new PasserelleError('ERR_FHIR_RESPONSE_INVALID', `${describe(ctx)}: ${why} (HTTP ${status})`, {
    details: {
      httpStatus: status,
      interaction: ctx.interaction,
      method: ctx.method,
      ...(ctx.resourceType && { resourceType: ctx.resourceType }),
    },
  });
}
