/**
 * The mapping engine: profiles (mappings/*.yaml) compiled to plans that translate between a
 * protocol (HL7 v2, FHIR R4) and the canonical model, both ways. docs/mappings.md.
 */
export { loadProfile, loadProfileText, requirePlan, type LoadOptions, type LoadResult, type MappingIssue } from './compile/loader.js';
export { compileProfile, formatProfilePath } from './compile/compile.js';
export { OUTBOUND_EVENTS } from './run/records.js';
export { appointmentCatalogue, fromCanonical, fromCanonicalOrThrow, ownershipOf, toCanonical, toCanonicalOrThrow } from './run/engine.js';
export type {
  CanonicalChange,
  FhirResource,
  FilteredRecord,
  FromCanonicalResult,
  MappingContext,
  RelatedRecord,
  RenderedHl7,
  ToCanonicalResult,
} from './run/types.js';
export { passesFilters } from './run/filters.js';
export type { MappingPlan, CompiledKind, CompiledRule } from './compile/plan.js';
export { FIELD_STATUSES, type FieldReport, type FieldStatus, formatReportTable } from './run/report.js';
export { type KindOwnership, type OwnershipRules, KEYED_ELEMENTS, TIME_FIELD } from './compile/ownership.js';
export { MappingProfile, profileJsonSchema, PROTOCOLS, DIRECTIONS, type Direction, type Protocol, type AppointmentTypeEntry } from './compile/schema.js';
export { type ActivePlan, type MappingChange, notifyMappingChange, onMappingChange, type ConnectorProfile, type ConnectorProfiles, getActivePlan, mappingsDir, planFromText, shippedPlan, shippedProfileNames, shippedProfileOf, shippedProfileText } from './runtime.js';
export { dryRun, type DryRunOptions, type DryRunResult } from './dry-run.js';
export { frenchPhoneToE164, e164ToFrenchNational, phoneToE164, hl7TimestampToMillis, millisToHl7Timestamp, TRANSFORM_NAMES } from './run/transforms.js';
