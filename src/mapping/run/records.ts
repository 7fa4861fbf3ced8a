/**
 * Turning a mapped object into an ExternalRecord, and what both protocols do around it:
 * canonical validation, filters, the outbound event of a change, the run's result.
 */
import { createHash } from 'node:crypto';

import { type ErrorCode, type ErrorIssue, PasserelleError } from '../../errors.js';
import type { ExternalRecord } from '../../model/records.js';
import type { CanonicalResource, ResourceKind } from '../../model/resources.js';
import { validateAs } from '../../model/validate.js';
import type { CompiledKind, MappingPlan } from '../compile/plan.js';
import { prune } from './element-path.js';
import { passesFilters } from './filters.js';
import type { FieldReport } from './report.js';
import type {
  CanonicalChange,
  FilteredRecord,
  FromCanonicalResult,
  MappingContext,
  ToCanonicalResult,
} from './types.js';

const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;

/** The canonical `id` of a peer record: its external id when it is a valid FHIR id, else a hash of it. */
export function canonicalIdFor(externalId: string): string {
  return FHIR_ID.test(externalId)
    ? externalId
    : `h-${createHash('sha256').update(externalId).digest('hex').slice(0, 40)}`;
}

export interface RecordDraft {
  readonly kind: ResourceKind;
  readonly externalId: string;
  readonly data: Record<string, unknown>;
  readonly deleted?: boolean;
  readonly version?: string;
  readonly updatedAt?: string;
  readonly supersedes?: readonly string[];
}

export interface Outcome {
  readonly records: ExternalRecord[];
  readonly issues: ErrorIssue[];
  readonly filtered: FilteredRecord[];
}

/**
 * The flags that belong to each draft: a rule's own `flag` to its kind's record
 * (`ins-not-qualified` to the Patient), those named after a kind to its record
 * (`appointment-status-dropped`); the others (`practitioner-missing`) to the input's last
 * record, its subject (the appointment of an SIU, the patient of an ADT).
 */
function recordFlags(
  plan: MappingPlan,
  drafts: readonly RecordDraft[],
  flags: ReadonlySet<string>,
): Map<RecordDraft, string[]> {
  const out = new Map<RecordDraft, string[]>(drafts.map((d) => [d, []]));
  const last = drafts[drafts.length - 1];
  for (const f of flags) {
    const owner =
      drafts.find((d) => plan.kinds[d.kind]?.inboundRules.some((r) => r.flag === f)) ??
      drafts.find((d) => f.startsWith(`${d.kind.toLowerCase()}-`)) ??
      last;
    if (owner) out.get(owner)?.push(f);
  }
  return out;
}

/** Prunes, validates and filters the drafts of one input. */
export function finishRecords(
  plan: MappingPlan,
  drafts: readonly RecordDraft[],
  ctx: MappingContext,
  flags: Set<string>,
): Outcome {
  const out: Outcome = { records: [], issues: [], filtered: [] };
  const byRecord = recordFlags(plan, drafts, flags);
  for (const d of drafts) {
    const own = byRecord.get(d) ?? [];
    const data = (prune(d.data) ?? {}) as Record<string, unknown>;
    data['resourceType'] = d.kind;
    data['id'] = canonicalIdFor(d.externalId);
    if (ctx.validate !== false) {
      const v = validateAs(d.kind, data, { testLink: ctx.testLink === true });
      if (!v.ok) {
        for (const i of v.issues)
          out.issues.push({
            path: i.path,
            message: i.message,
            severity: 'error',
            code: 'ERR_MAPPING_RECORD_INVALID',
          });
      }
    }
    const record: ExternalRecord = {
      kind: d.kind,
      externalId: d.externalId,
      data: data as unknown as CanonicalResource,
      ...(d.version !== undefined && { version: d.version }),
      ...(d.updatedAt !== undefined && { updatedAt: d.updatedAt }),
      ...(d.deleted && { deleted: true }),
      ...(d.supersedes && d.supersedes.length > 0 && { supersedes: d.supersedes }),
      ...(own.length > 0 && { flags: own }),
    };
    const f = passesFilters(plan, record.data, d.externalId);
    if (!f.pass) {
      out.filtered.push({ kind: d.kind, externalId: d.externalId, reason: f.reason });
      flags.add('filtered');
      continue;
    }
    out.records.push(record);
  }
  return out;
}

function firstError(
  report: readonly FieldReport[],
  issues: readonly ErrorIssue[],
): PasserelleError | undefined {
  const failed = report.find((r) => r.status === 'error');
  if (failed) {
    const code: ErrorCode = failed.code ?? 'ERR_MAPPING_TRANSFORM';
    return new PasserelleError(
      code,
      `${failed.rule}${failed.protocolPath ? ` (${failed.protocolPath})` : ''}: ${failed.note ?? 'failed'}`,
      {
        details: {
          rule: failed.rule,
          protocolPath: failed.protocolPath,
          canonicalPath: failed.canonicalPath,
        },
        issues: report
          .filter((r) => r.status === 'error')
          .map((r) => ({
            path: r.rule,
            message: `${r.protocolPath ?? ''} → ${r.canonicalPath ?? ''}: ${r.note ?? ''}`,
            severity: 'error' as const,
            code: r.code ?? 'ERR_MAPPING_TRANSFORM',
          })),
      },
    );
  }
  const issue = issues.find((i) => i.severity !== 'warning');
  if (issue)
    return new PasserelleError(
      (issue.code as ErrorCode | undefined) ?? 'ERR_MAPPING_RECORD_INVALID',
      `${issue.path}: ${issue.message}${issues.length > 1 ? ` (and ${issues.length - 1} more)` : ''}`,
      { issues },
    );
  return undefined;
}

/** A value dropped or defaulted after a failed check (apply.ts isStrict): the message's warnings. */
function warningsOf(report: readonly FieldReport[]): ErrorIssue[] {
  return report
    .filter((r) => r.status !== 'error' && r.code !== undefined)
    .map((r) => ({
      path: r.rule,
      message: `${r.protocolPath ?? ''} → ${r.canonicalPath ?? ''}: ${r.note ?? ''}`,
      severity: 'warning' as const,
      code: r.code as ErrorCode,
    }));
}

export function toCanonicalResult(
  messageType: string,
  report: FieldReport[],
  flags: Set<string>,
  o: Outcome,
): ToCanonicalResult {
  const error = firstError(report, o.issues);
  const issues = [...o.issues, ...warningsOf(report)];
  return {
    ok: error === undefined,
    records: o.records,
    report,
    flags: [...flags],
    issues,
    filtered: o.filtered,
    messageType,
    ...(error && { error }),
  };
}

export function failedToCanonical(
  messageType: string,
  error: PasserelleError,
  report: FieldReport[] = [],
): ToCanonicalResult {
  return {
    ok: false,
    records: [],
    report,
    flags: [],
    issues: [{ path: messageType, message: error.message, severity: 'error', code: error.code }],
    filtered: [],
    messageType,
    error,
  };
}

export function fromCanonicalResult(
  event: string,
  report: FieldReport[],
  extra: Partial<Pick<FromCanonicalResult, 'hl7' | 'fhir' | 'skipped'>>,
  issues: ErrorIssue[] = [],
): FromCanonicalResult {
  const error = firstError(report, issues);
  return { ok: error === undefined, event, report, issues, ...extra, ...(error && { error }) };
}

export function failedFromCanonical(event: string, error: PasserelleError): FromCanonicalResult {
  return {
    ok: false,
    event,
    report: [],
    issues: [{ path: event, message: error.message, severity: 'error', code: error.code }],
    error,
  };
}

/** Events a canonical change can be, per kind (detectEvent decides which one a change is). */
export const OUTBOUND_EVENTS: Readonly<Record<ResourceKind, readonly string[]>> = {
  Appointment: ['created', 'moved', 'modified', 'cancelled', 'noshow', 'deleted'],
  Patient: ['created', 'updated', 'deleted'],
  Slot: ['blocked', 'freed', 'updated', 'deleted'],
  Communication: ['created', 'updated', 'deleted'],
  Practitioner: ['created', 'updated', 'deleted'],
  PractitionerRole: ['created', 'updated', 'deleted'],
  Schedule: ['created', 'updated', 'deleted'],
};

/**
 * Which event a change is, for choosing the outbound message: an appointment moved (start or
 * end changed) is SIU^S13, modified otherwise S14, cancelled S15 (IHE / HL7 v2.5 §10.3).
 */
export function detectEvent(change: CanonicalChange): string {
  if (change.op === 'delete') return 'deleted';
  const base = change.base ?? null;
  const data = change.data;
  switch (data.resourceType) {
    case 'Appointment': {
      const before = base?.resourceType === 'Appointment' ? base : null;
      if (change.op === 'cancel' || (data.status === 'cancelled' && before?.status !== 'cancelled'))
        return 'cancelled';
      if (data.status === 'noshow' && before?.status !== 'noshow') return 'noshow';
      if (!before) return 'created';
      if (data.start !== before.start || data.end !== before.end) return 'moved';
      return 'modified';
    }
    case 'Slot':
      if (data.status === 'busy-unavailable') return 'blocked';
      if (data.status === 'free') return 'freed';
      return 'updated';
    default:
      return base ? 'updated' : 'created';
  }
}

/**
 * What every protocol does first with an outbound change: its event, then whether the profile
 * writes the kind and its filters let the record through. `done` when it stops there.
 */
export function outboundStart(
  plan: MappingPlan,
  change: CanonicalChange,
): { readonly event: string; readonly kind: CompiledKind } | { readonly done: FromCanonicalResult } {
  const event = detectEvent(change);
  const kind = plan.kinds[change.kind];
  if (!kind?.outbound) {
    return {
      done: failedFromCanonical(
        event,
        new PasserelleError(
          'ERR_MAPPING_UNSUPPORTED_MESSAGE',
          `profile ${plan.name} does not sync ${change.kind} from-canonical`,
          { details: { kind: change.kind, profile: plan.name } },
        ),
      ),
    };
  }
  const filter = passesFilters(plan, change.data, change.externalId ?? undefined);
  if (!filter.pass) return { done: fromCanonicalResult(event, [], { skipped: filter.reason }) };
  return { event, kind };
}
