/**
 * The mapping engine's entry points, one pair for both protocols. docs/mappings.md § Engine API.
 *
 *   toCanonical(plan, input, ctx)               protocol → ExternalRecord[] + report + flags
 *   fromCanonical(plan, change, ctx, current?)  canonical change → HL7 message | FHIR resource + report
 *
 * Both never throw for bad data: the result says `ok: false` with `error` (a PasserelleError
 * with an ERR_MAPPING_* code naming the rule and path, never a value) and the report. The
 * `…OrThrow` forms throw that error. The plan's protocol (protocols/index.ts) does the mapping.
 */
import { PasserelleError } from '../../errors.js';
import type { OwnershipRules } from '../compile/ownership.js';
import type { MappingPlan } from '../compile/plan.js';
import type { AppointmentTypeEntry } from '../compile/schema.js';
import { type MappingInput, PROTOCOL_MAPPINGS, protocolMapping } from '../protocols/index.js';
import type {
  CanonicalChange,
  FhirResource,
  FromCanonicalResult,
  MappingContext,
  ToCanonicalResult,
} from './types.js';

export function toCanonical(
  plan: MappingPlan,
  input: MappingInput,
  ctx: MappingContext = {},
): ToCanonicalResult {
  const protocol = protocolMapping(plan.protocol);
  if (!protocol.accepts(input)) {
    const other = Object.values(PROTOCOL_MAPPINGS).find((p) => p.accepts(input));
    throw new PasserelleError(
      'ERR_MAPPING_PROTOCOL_MISMATCH',
      `profile ${plan.name} is ${plan.protocol}; it cannot map ${other?.inputName ?? 'this input'}`,
    );
  }
  return protocol.toCanonical(plan, input, ctx);
}

export function fromCanonical(
  plan: MappingPlan,
  change: CanonicalChange,
  ctx: MappingContext = {},
  current?: FhirResource,
): FromCanonicalResult {
  return protocolMapping(plan.protocol).fromCanonical(plan, change, ctx, current);
}

export function toCanonicalOrThrow(
  plan: MappingPlan,
  input: MappingInput,
  ctx: MappingContext = {},
): ToCanonicalResult {
  const r = toCanonical(plan, input, ctx);
  if (r.error) throw r.error;
  return r;
}

export function fromCanonicalOrThrow(
  plan: MappingPlan,
  change: CanonicalChange,
  ctx: MappingContext = {},
  current?: FhirResource,
): FromCanonicalResult {
  const r = fromCanonical(plan, change, ctx, current);
  if (r.error) throw r.error;
  return r;
}

/** The profile's per-field ownership, in the sync engine's OwnershipRules shape (for `withOverrides`). */
export function ownershipOf(plan: MappingPlan): OwnershipRules {
  return plan.ownership;
}

/** The appointment types with their consignes, passed to the secretariat with the catalogue. */
export function appointmentCatalogue(plan: MappingPlan): readonly AppointmentTypeEntry[] {
  return plan.appointmentTypes;
}
