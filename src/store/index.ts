export { contentHash, stableStringify } from '../util/stable-stringify.js';
export type { ClusterCoordination, JobOutcome, LeaseClaim, LeaseRow } from './cluster.js';
export { openPostgresStore } from './postgres/index.js';
export type { AgendaRepo, ForcedBooking, StoredAgendaRules, StoredCoverage } from './repos/agenda.js';
export type {
  ConsoleSession,
  ConsoleSessionInput,
  ConsoleSessionsRepo,
  ConsoleSessionVia,
} from './repos/console-sessions.js';
export { CONSOLE_SESSION_VIAS } from './repos/console-sessions.js';
export type { Clock } from './repos/context.js';
export type { MappingProfileInput, MappingProfileVersion } from './repos/mapping-profiles.js';
export type {
  PractitionerMapping,
  PractitionerMappingResolution,
  PractitionerMappingsRepo,
  PractitionerMappingStatus,
} from './repos/practitioner-mappings.js';
export {
  PRACTITIONER_MAPPING_RESOLUTIONS,
  PRACTITIONER_MAPPING_STATUSES,
} from './repos/practitioner-mappings.js';
export type { ColumnSealer, StoreSealing } from './sealer.js';
export { openSqliteStore } from './sqlite/index.js';
export type { Repos, Store, Tx, TxFn } from './store.js';
export * from './types.js';
