import type { z } from 'zod';

import { type ErrorIssue, PasserelleError } from '../errors.js';
import {
  IDENTITY_RELIABILITY_SYSTEM,
  IDENTITY_RELIABILITY_URL,
  type IdentityReliability,
  INS_TEST_SYSTEMS,
  isInsSystem,
  isValidNirKey,
  OID,
} from './identifiers.js';
import {
  type Appointment,
  type CanonicalResource,
  type Patient,
  RESOURCE_KINDS,
  type ResourceKind,
  SCHEMAS,
} from './resources.js';

export interface ValidationOptions {
  /** A link marked as test accepts the INS test and demo OIDs (FR Core, INSi test platform). */
  readonly testLink?: boolean;
}

export type ValidationResult<T> = { ok: true; value: T } | { ok: false; issues: ErrorIssue[] };

/** `['identifier', 0, 'system']` → `identifier[0].system` */
export function formatPath(root: string, path: readonly PropertyKey[]): string {
  let out = root;
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : `.${String(p)}`;
  return out;
}

function zodIssues(root: string, error: z.ZodError): ErrorIssue[] {
  return error.issues.map((i) => {
    let message = i.message;
    if (i.code === 'unrecognized_keys')
      message = `unknown element${i.keys.length > 1 ? 's' : ''} ${i.keys.join(', ')}`;
    else if (i.code === 'invalid_type' && /received undefined/.test(i.message)) message = 'is required';
    else if (i.code === 'invalid_value' && 'values' in i)
      message = `must be one of ${i.values.map(String).join(', ')}`;
    return { path: formatPath(root, i.path), message, severity: 'error' as const, code: 'ERR_MODEL_INVALID' };
  });
}

export function identityReliability(patient: Patient): IdentityReliability | undefined {
  const ext = patient.extension?.find((e) => e.url === IDENTITY_RELIABILITY_URL);
  const status = ext?.extension?.find((e) => e.url === 'identityStatus')?.valueCoding;
  if (!status || (status.system !== undefined && status.system !== IDENTITY_RELIABILITY_SYSTEM))
    return undefined;
  return status.code as IdentityReliability;
}

/** FR Core Patient INS rules that decide whether a patient may cross a link. */
function patientRules(p: Patient, opts: ValidationOptions, issues: ErrorIssue[]): void {
  const ids = p.identifier ?? [];
  const officials = ids.flatMap((id, i) => (id.use === 'official' ? [i] : []));
  if (officials.length > 1) {
    issues.push({
      path: `Patient.identifier[${officials[1]}].use`,
      message: 'only one official identifier is allowed (the INS)',
    });
  }
  const reliability = identityReliability(p);
  ids.forEach((id, i) => {
    if (!isInsSystem(id.system)) return;
    const path = `Patient.identifier[${i}]`;
    if (INS_TEST_SYSTEMS.includes(id.system) && !opts.testLink) {
      issues.push({
        path: `${path}.system`,
        message: `INS test/demo OID ${id.system} is accepted only on a link marked as test`,
      });
    }
    if (reliability !== 'VALI') {
      issues.push({
        path,
        message: `an INS travels only with a qualified identity (reliability VALI, found ${reliability ?? 'none'})`,
      });
    }
    if (id.use !== 'official')
      issues.push({ path: `${path}.use`, message: 'the INS must be the official identifier' });
    if (!isValidNirKey(id.value))
      issues.push({
        path: `${path}.value`,
        message: 'not a valid INS matricule (15 characters with a correct key)',
      });
  });
}

function appointmentRules(a: Appointment, issues: ErrorIssue[]): void {
  // FHIR R4 app-3: only proposed, cancelled or waitlisted appointments may lack start/end.
  if (
    !['proposed', 'cancelled', 'waitlist'].includes(a.status) &&
    (a.start === undefined || a.end === undefined)
  ) {
    issues.push({
      path: `Appointment.${a.start === undefined ? 'start' : 'end'}`,
      message: `is required when status is ${a.status}`,
    });
  }
  // FHIR R4 app-2: either start and end are specified, or neither.
  if ((a.start === undefined) !== (a.end === undefined)) {
    issues.push({ path: 'Appointment.end', message: 'start and end go together' });
  }
  if (a.start && a.end && Date.parse(a.end) < Date.parse(a.start)) {
    issues.push({ path: 'Appointment.end', message: 'is before start' });
  }
}

function practitionerIdRules(ids: CanonicalResource['identifier'], root: string, issues: ErrorIssue[]): void {
  (ids ?? []).forEach((id, i) => {
    // IDNPS: "8" + 11-digit RPPS, or "0" + ADELI (9 characters), or "3" + FINESS + "/" + local.
    if (id.system === OID.idnps && !/^(8[0-9]{11}|0[0-9A-Z]{9}|3[0-9A-Z]{9}\/.+)$/.test(id.value)) {
      issues.push({
        path: `${root}.identifier[${i}].value`,
        message: 'not a national practitioner identifier (8 + RPPS or 0 + ADELI)',
      });
    }
  });
}

/**
 * Validates any canonical resource. Errors name the path and the rule, e.g.
 * `Appointment.start: not an instant`; nothing is coerced.
 */
export function validateResource(
  input: unknown,
  opts: ValidationOptions = {},
): ValidationResult<CanonicalResource> {
  const kind =
    typeof input === 'object' && input !== null
      ? (input as { resourceType?: unknown }).resourceType
      : undefined;
  if (typeof kind !== 'string' || !(RESOURCE_KINDS as readonly string[]).includes(kind)) {
    return {
      ok: false,
      issues: [{ path: 'resourceType', message: `must be one of ${RESOURCE_KINDS.join(', ')}` }],
    };
  }
  return validateAs(kind as ResourceKind, input, opts);
}

export function validateAs<K extends ResourceKind>(
  kind: K,
  input: unknown,
  opts: ValidationOptions = {},
): ValidationResult<Extract<CanonicalResource, { resourceType: K }>> {
  const parsed = SCHEMAS[kind].safeParse(input);
  if (!parsed.success) return { ok: false, issues: zodIssues(kind, parsed.error) };
  const value = parsed.data as CanonicalResource;
  const issues: ErrorIssue[] = [];
  switch (value.resourceType) {
    case 'Patient':
      patientRules(value, opts, issues);
      break;
    case 'Appointment':
      appointmentRules(value, issues);
      break;
    case 'Slot':
      if (Date.parse(value.end) <= Date.parse(value.start))
        issues.push({ path: 'Slot.end', message: 'must be after start' });
      break;
    case 'Practitioner':
      practitionerIdRules(value.identifier, 'Practitioner', issues);
      break;
    case 'Schedule':
    case 'Communication':
      break;
    case 'PractitionerRole':
      if (value.practitioner.reference === undefined)
        issues.push({
          path: 'PractitionerRole.practitioner.reference',
          message: 'needs the practitioner (Practitioner/<id>)',
        });
      break;
    default:
      value satisfies never;
  }
  if (issues.length > 0)
    return { ok: false, issues: issues.map((i) => ({ severity: 'error', code: 'ERR_MODEL_INVALID', ...i })) };
  return { ok: true, value: value as Extract<CanonicalResource, { resourceType: K }> };
}

/** Validates or throws ERR_MODEL_INVALID carrying every issue (paths only, never values). */
export function assertValid<K extends ResourceKind>(
  kind: K,
  input: unknown,
  opts: ValidationOptions = {},
): Extract<CanonicalResource, { resourceType: K }> {
  const r = validateAs(kind, input, opts);
  if (!r.ok) {
    const first = r.issues[0];
    throw new PasserelleError(
      'ERR_MODEL_INVALID',
      `${first?.path}: ${first?.message}${r.issues.length > 1 ? ` (and ${r.issues.length - 1} more)` : ''}`,
      { issues: r.issues },
    );
  }
  return r.value;
}

/** Normalizes any FHIR instant to UTC with milliseconds, the form the store keeps. */
export function toUtcInstant(value: string): string {
  const ms = Date.parse(value);
  if (Number.isNaN(ms))
    throw new PasserelleError('ERR_MODEL_INVALID', 'not an instant', { details: { path: 'instant' } });
  return new Date(ms).toISOString();
}
