import { type Kysely, type Migration, type MigrationProvider, Migrator } from 'kysely';

import { PasserelleError } from '../../errors.js';
import { migration0001 } from './0001_core.js';
import { migration0002 } from './0002_sync.js';
import { migration0003 } from './0003_ical.js';
import { migration0004 } from './0004_mapping.js';
import { migration0005 } from './0005_reports.js';
import { migration0006 } from './0006_audit_keyed.js';
import { migration0007 } from './0007_sealing.js';
import { migration0008 } from './0008_practitioner_mappings.js';
import { migration0009 } from './0009_console_sessions.js';
import { migration0010 } from './0010_agenda.js';
import { migration0011 } from './0011_link_notify.js';
import { migration0012 } from './0012_urgent_messages.js';
import { migration0015 } from './0015_reminders.js';
import { migration0016 } from './0016_call_kpis.js';
import { migration0017 } from './0017_cluster_leases.js';
import type { Dialect, StoreMigration } from './types.js';

/**
 * Every migration, in order. Add new ones at the end with the next number; never edit one that
 * has shipped (stores in the field have already run it).
 */
export const MIGRATIONS: readonly StoreMigration[] = [
  migration0001,
  migration0002,
  migration0003,
  migration0004,
  migration0005,
  migration0006,
  migration0007,
  migration0008,
  migration0009,
  migration0010,
  migration0011,
  migration0012,
  migration0015,
  migration0016,
  migration0017,
];

export const MIGRATION_TABLE = 'schema_migrations';

function provider(dialect: Dialect): MigrationProvider {
  return {
    async getMigrations() {
      const out: Record<string, Migration> = {};
      for (const m of MIGRATIONS) out[m.name] = { up: (db) => m.up(db, dialect) };
      return out;
    },
  };
}

function migrator(db: Kysely<unknown>, dialect: Dialect): Migrator {
  return new Migrator({
    db,
    provider: provider(dialect),
    migrationTableName: MIGRATION_TABLE,
    migrationLockTableName: `${MIGRATION_TABLE}_lock`,
  });
}

export interface MigrationStatus {
  readonly applied: readonly string[];
  readonly pending: readonly string[];
  readonly current: boolean;
}

/** Applies pending migrations; on failure nothing after the failed one runs. */
export async function migrateToLatest(db: Kysely<unknown>, dialect: Dialect): Promise<string[]> {
  const { error, results } = await migrator(db, dialect).migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new PasserelleError(
      'ERR_STORE_MIGRATION_FAILED',
      `migration ${failed} failed: ${(error as Error).message}`,
      {
        cause: error,
        details: { migration: failed },
      },
    );
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

export async function migrationStatus(db: Kysely<unknown>, dialect: Dialect): Promise<MigrationStatus> {
  const all = await migrator(db, dialect).getMigrations();
  const applied = all.filter((m) => m.executedAt !== undefined).map((m) => m.name);
  const pending = all.filter((m) => m.executedAt === undefined).map((m) => m.name);
  return { applied, pending, current: pending.length === 0 };
}
