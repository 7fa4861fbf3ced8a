/**
 * The mapping engine: profiles (mappings/*.yaml) compiled to plans that translate between a
 * protocol (HL7 v2, FHIR R4) and the canonical model, both ways. docs/mappings.md.
 */
export { compileProfile, formatProfilePath } from './compile/compile.js';
export {
  type LoadOptions,
  loadProfile,
  loadProfileText,
  type LoadResult,
  type MappingIssue,
  requirePlan,
} from './compile/loader.js';
export { KEYED_ELEMENTS, type KindOwnership, type OwnershipRules, TIME_FIELD } from './compile/ownership.js';
export type { CompiledKind, CompiledRule, MappingPlan } from './compile/plan.js';
export {
  type AppointmentTypeEntry,
  type Direction,
  DIRECTIONS,
  MappingProfile,
  profileJsonSchema,
  type Protocol,
  PROTOCOLS,
} from './compile/schema.js';
export { dryRun, type DryRunOptions, type DryRunResult } from './dry-run.js';
export {
  appointmentCatalogue,
  fromCanonical,
  fromCanonicalOrThrow,
  ownershipOf,
  toCanonical,
  toCanonicalOrThrow,
} from './run/engine.js';
export { passesFilters } from './run/filters.js';
export { OUTBOUND_EVENTS } from './run/records.js';
export { FIELD_STATUSES, type FieldReport, type FieldStatus, formatReportTable } from './run/report.js';
export {
  e164ToFrenchNational,
  frenchPhoneToE164,
  hl7TimestampToMillis,
  millisToHl7Timestamp,
  phoneToE164,
  TRANSFORM_NAMES,
} from './run/transforms.js';
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
export {
  type ActivePlan,
  type ConnectorProfile,
  type ConnectorProfiles,
  getActivePlan,
  type MappingChange,
  mappingsDir,
  notifyMappingChange,
  onMappingChange,
  planFromText,
  shippedPlan,
  shippedProfileNames,
  shippedProfileOf,
  shippedProfileText,
} from './runtime.js';
