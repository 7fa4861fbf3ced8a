export type { Store, Tx, TxFn, Repos } from './store.js';
export type { Clock } from './repos/context.js';
export { contentHash, stableStringify } from '../util/stable-stringify.js';
export { openSqliteStore } from './sqlite/index.js';
export { openPostgresStore } from './postgres/index.js';
export * from './types.js';
export type { ColumnSealer, StoreSealing } from './sealer.js';
export type { MappingProfileInput, MappingProfileVersion } from './repos/mapping-profiles.js';
