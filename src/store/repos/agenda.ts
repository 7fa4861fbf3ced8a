/**
 * Agenda rules per practitioner, secretariat coverage per practice, forced bookings (0010).
 * The rules and windows are stored as the API received them (JSON); src/agenda validates them
 * before they get here. No patient data: times, codes, labels, ids.
 */
import { PasserelleError } from '../../errors.js';
import type { JsonObject } from '../types.js';
import { fromJson, iso, newId, type RepoContext, toJson } from './context.js';
import { putVersioned } from './versioned.js';

export interface StoredAgendaRules {
  readonly practiceId: string;
  readonly practitionerId: string;
  readonly rules: JsonObject;
  readonly version: number;
  readonly updatedBy: string;
  readonly updatedAt: string;
}

export interface StoredCoverage {
  readonly practiceId: string;
  readonly windows: JsonObject;
  readonly version: number;
  readonly updatedBy: string;
  readonly updatedAt: string;
}

export interface ForcedBooking {
  readonly id: string;
  readonly practiceId: string;
  readonly practitionerId: string;
  readonly start: string;
  readonly end: string;
  readonly reason: string;
  readonly createdBy: string;
  readonly createdAt: string;
  /** The appointment that used it, once used. */
  readonly usedBy: string | null;
}

export interface AgendaRepo {
  getRules(practiceId: string, practitionerId: string): Promise<StoredAgendaRules | undefined>;
  listRules(practiceId: string): Promise<StoredAgendaRules[]>;
  /**
   * Writes a practitioner's rules. `expectedVersion`: 0 to create, the current version to
   * replace (ERR_CONFLICT otherwise); absent: whatever is there.
   */
  putRules(input: {
    practiceId: string;
    practitionerId: string;
    rules: JsonObject;
    updatedBy: string;
    expectedVersion?: number;
  }): Promise<StoredAgendaRules>;
  deleteRules(practiceId: string, practitionerId: string): Promise<boolean>;
  getCoverage(practiceId: string): Promise<StoredCoverage | undefined>;
  putCoverage(input: {
    practiceId: string;
    windows: JsonObject;
    updatedBy: string;
    expectedVersion?: number;
  }): Promise<StoredCoverage>;
  addForced(input: {
    practiceId: string;
    practitionerId: string;
    start: string;
    end: string;
    reason: string;
    createdBy: string;
  }): Promise<ForcedBooking>;
  /** Unused forced bookings of the practitioner covering [start, end) whole. */
  findForced(
    practiceId: string,
    practitionerId: string,
    start: string,
    end: string,
  ): Promise<ForcedBooking[]>;
  listForced(practiceId: string, filter?: { practitionerId?: string }): Promise<ForcedBooking[]>;
  useForced(id: string, appointmentId: string): Promise<void>;
}

function conflict(what: string): PasserelleError {
  return new PasserelleError('ERR_CONFLICT', `${what} was changed concurrently (version mismatch)`);
}

export function agendaRepo(ctx: RepoContext): AgendaRepo {
  const { db } = ctx;
  const getRules = async (practiceId: string, practitionerId: string) => {
    const r = await db
      .selectFrom('agenda_rules')
      .selectAll()
      .where('practice_id', '=', practiceId)
      .where('practitioner_id', '=', practitionerId)
      .executeTakeFirst();
    return r && toRules(r);
  };
  const toRules = (r: {
    practice_id: string;
    practitioner_id: string;
    rules: string;
    version: number;
    updated_by: string;
    updated_at: number;
  }): StoredAgendaRules => ({
    practiceId: r.practice_id,
    practitionerId: r.practitioner_id,
    rules: fromJson<JsonObject>(r.rules),
    version: Number(r.version),
    updatedBy: r.updated_by,
    updatedAt: iso(Number(r.updated_at)),
  });
  const toForced = (r: {
    id: string;
    practice_id: string;
    practitioner_id: string;
    start_at: number;
    end_at: number;
    reason: string;
    created_by: string;
    created_at: number;
    used_by: string | null;
  }): ForcedBooking => ({
    id: r.id,
    practiceId: r.practice_id,
    practitionerId: r.practitioner_id,
    start: iso(Number(r.start_at)),
    end: iso(Number(r.end_at)),
    reason: r.reason,
    createdBy: r.created_by,
    createdAt: iso(Number(r.created_at)),
    usedBy: r.used_by,
  });
  const getCoverage = async (practiceId: string) => {
    const r = await db
      .selectFrom('coverage_windows')
      .selectAll()
      .where('practice_id', '=', practiceId)
      .executeTakeFirst();
    return (
      r && {
        practiceId: r.practice_id,
        windows: fromJson<JsonObject>(r.windows),
        version: Number(r.version),
        updatedBy: r.updated_by,
        updatedAt: iso(Number(r.updated_at)),
      }
    );
  };
  return {
    getRules,
    async listRules(practiceId) {
      const rows = await db
        .selectFrom('agenda_rules')
        .selectAll()
        .where('practice_id', '=', practiceId)
        .orderBy('practitioner_id')
        .execute();
      return rows.map(toRules);
    },
    async putRules(input) {
      const what = `agenda rules of ${input.practitionerId}`;
      await putVersioned({
        current: () => getRules(input.practiceId, input.practitionerId),
        expectedVersion: input.expectedVersion,
        conflict: () => conflict(what),
        write: async (version, current) => {
          const row = {
            rules: toJson(input.rules),
            version,
            updated_by: input.updatedBy,
            updated_at: ctx.now(),
          };
          const key = { practice_id: input.practiceId, practitioner_id: input.practitionerId };
          if (!current) {
            await db
              .insertInto('agenda_rules')
              .values({ ...key, ...row })
              .execute();
            return true;
          }
          const res = await db
            .updateTable('agenda_rules')
            .set(row)
            .where('practice_id', '=', key.practice_id)
            .where('practitioner_id', '=', key.practitioner_id)
            .where('version', '=', current.version)
            .executeTakeFirst();
          return Number(res.numUpdatedRows) === 1;
        },
      });
      return (await getRules(input.practiceId, input.practitionerId)) as StoredAgendaRules;
    },
    async deleteRules(practiceId, practitionerId) {
      const res = await db
        .deleteFrom('agenda_rules')
        .where('practice_id', '=', practiceId)
        .where('practitioner_id', '=', practitionerId)
        .executeTakeFirst();
      return Number(res.numDeletedRows) > 0;
    },
    getCoverage,
    async putCoverage(input) {
      await putVersioned({
        current: () => getCoverage(input.practiceId),
        expectedVersion: input.expectedVersion,
        conflict: () => conflict('coverage windows'),
        write: async (version, current) => {
          const row = {
            windows: toJson(input.windows),
            version,
            updated_by: input.updatedBy,
            updated_at: ctx.now(),
          };
          if (!current) {
            await db
              .insertInto('coverage_windows')
              .values({ practice_id: input.practiceId, ...row })
              .execute();
            return true;
          }
          const res = await db
            .updateTable('coverage_windows')
            .set(row)
            .where('practice_id', '=', input.practiceId)
            .where('version', '=', current.version)
            .executeTakeFirst();
          return Number(res.numUpdatedRows) === 1;
        },
      });
      return (await getCoverage(input.practiceId)) as StoredCoverage;
    },
    async addForced(input) {
      const row = {
        id: newId(),
        practice_id: input.practiceId,
        practitioner_id: input.practitionerId,
        start_at: Date.parse(input.start),
        end_at: Date.parse(input.end),
        reason: input.reason,
        created_by: input.createdBy,
        created_at: ctx.now(),
        used_by: null,
      };
      await db.insertInto('forced_bookings').values(row).execute();
      return toForced(row);
    },
    async findForced(practiceId, practitionerId, start, end) {
      const rows = await db
        .selectFrom('forced_bookings')
        .selectAll()
        .where('practice_id', '=', practiceId)
        .where('practitioner_id', '=', practitionerId)
        .where('start_at', '<=', Date.parse(start))
        .where('end_at', '>=', Date.parse(end))
        .where('used_by', 'is', null)
        .orderBy('created_at')
        .execute();
      return rows.map(toForced);
    },
    async listForced(practiceId, filter = {}) {
      let q = db.selectFrom('forced_bookings').selectAll().where('practice_id', '=', practiceId);
      if (filter.practitionerId !== undefined) q = q.where('practitioner_id', '=', filter.practitionerId);
      return (await q.orderBy('start_at').execute()).map(toForced);
    },
    async useForced(id, appointmentId) {
      await db.updateTable('forced_bookings').set({ used_by: appointmentId }).where('id', '=', id).execute();
    },
  };
}
