/**
 * Practitioner mappings per link (0008_practitioner_mappings): the practice software's id of a
 * practitioner → the canonical practitioner, decided once by an operator; the open ones are the
 * review queue, and the appointments held until they are decided. Practitioner ids and names
 * are professional directory data, not patient data: nothing here is sealed.
 */
import { PasserelleError } from '../../errors.js';
import type { PractitionerMappingsTable } from '../schema.js';
import type { JsonObject } from '../types.js';
import { fromJson, iso, isoOrNull, notFound, type RepoContext, toJson } from './context.js';

export const PRACTITIONER_MAPPING_STATUSES = ['open', 'mapped'] as const;
export type PractitionerMappingStatus = (typeof PRACTITIONER_MAPPING_STATUSES)[number];
export const PRACTITIONER_MAPPING_RESOLUTIONS = ['existing', 'rpps', 'created'] as const;
export type PractitionerMappingResolution = (typeof PRACTITIONER_MAPPING_RESOLUTIONS)[number];

export interface PractitionerMapping {
  readonly practiceId: string;
  readonly linkId: string;
  /** The practitioner's id in the link's own software (AIP-3.1, `Practitioner/<id>`…). */
  readonly localId: string;
  readonly status: PractitionerMappingStatus;
  /** The canonical practitioner, once mapped. */
  readonly practitionerId: string | null;
  /** The practitioner as the link named it (name, identifiers), when a message carried it. */
  readonly proposal: JsonObject | null;
  readonly resolution: PractitionerMappingResolution | null;
  readonly resolvedBy: string | null;
  /** Appointments held until the mapping is decided. */
  readonly held: number;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly resolvedAt: string | null;
}

export interface PractitionerMappingsRepo {
  get(linkId: string, localId: string): Promise<PractitionerMapping | undefined>;
  /**
   * Opens the review of an unknown local id, once per (link, local id): when it exists already
   * (open or mapped) nothing changes but an open one's proposal, when one is given.
   */
  open(input: {
    practiceId: string;
    linkId: string;
    localId: string;
    proposal?: JsonObject | null;
  }): Promise<{ mapping: PractitionerMapping; opened: boolean }>;
  list(filter?: {
    practiceId?: string;
    linkId?: string;
    status?: PractitionerMappingStatus;
    limit?: number;
  }): Promise<PractitionerMapping[]>;
  /** Decides an open mapping; ERR_CONFLICT when it was decided already. */
  resolve(
    linkId: string,
    localId: string,
    outcome: { practitionerId: string; resolution: PractitionerMappingResolution; by: string },
  ): Promise<PractitionerMapping>;
  /** Files an appointment held for the mapping (idempotent). */
  hold(input: { practiceId: string; linkId: string; localId: string; appointmentId: string }): Promise<void>;
  /** The appointments held for the mapping, oldest first. */
  held(linkId: string, localId: string): Promise<string[]>;
  /** Forgets the holds of the mapping (they were released). */
  release(linkId: string, localId: string): Promise<void>;
}

const toMapping = (r: PractitionerMappingsTable, held: number): PractitionerMapping => ({
  practiceId: r.practice_id,
  linkId: r.link_id,
  localId: r.local_id,
  status: r.status as PractitionerMappingStatus,
  practitionerId: r.practitioner_id,
  proposal: r.proposal === null ? null : fromJson<JsonObject>(r.proposal),
  resolution: r.resolution as PractitionerMappingResolution | null,
  resolvedBy: r.resolved_by,
  held,
  createdAt: iso(Number(r.created_at)),
  updatedAt: iso(Number(r.updated_at)),
  resolvedAt: isoOrNull(r.resolved_at === null ? null : Number(r.resolved_at)),
});

export function practitionerMappingsRepo(ctx: RepoContext): PractitionerMappingsRepo {
  const { db } = ctx;
  const heldCount = async (linkId: string, localId: string) =>
    Number(
      (
        await db
          .selectFrom('practitioner_mapping_holds')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('link_id', '=', linkId)
          .where('local_id', '=', localId)
          .executeTakeFirst()
      )?.n ?? 0,
    );
  const get = async (linkId: string, localId: string) => {
    const r = await db
      .selectFrom('practitioner_mappings')
      .selectAll()
      .where('link_id', '=', linkId)
      .where('local_id', '=', localId)
      .executeTakeFirst();
    return r && toMapping(r, await heldCount(linkId, localId));
  };
  return {
    get,
    async open(input) {
      const existing = await db
        .selectFrom('practitioner_mappings')
        .selectAll()
        .where('link_id', '=', input.linkId)
        .where('local_id', '=', input.localId)
        .executeTakeFirst();
      if (existing) {
        if (existing.status === 'open' && input.proposal) {
          await db
            .updateTable('practitioner_mappings')
            .set({ proposal: toJson(input.proposal), updated_at: ctx.now() })
            .where('link_id', '=', input.linkId)
            .where('local_id', '=', input.localId)
            .execute();
        }
        return { mapping: (await get(input.linkId, input.localId)) as PractitionerMapping, opened: false };
      }
      const now = ctx.now();
      // Writers of one practice are serialized (the ingest's practice lock); the conflict
      // clause only keeps a concurrent writer from failing its whole transaction.
      const res = await db
        .insertInto('practitioner_mappings')
        .values({
          link_id: input.linkId,
          local_id: input.localId,
          practice_id: input.practiceId,
          status: 'open',
          practitioner_id: null,
          proposal: input.proposal ? toJson(input.proposal) : null,
          resolution: null,
          resolved_by: null,
          created_at: now,
          updated_at: now,
          resolved_at: null,
        })
        .onConflict((oc) => oc.columns(['link_id', 'local_id']).doNothing())
        .executeTakeFirst();
      return {
        mapping: (await get(input.linkId, input.localId)) as PractitionerMapping,
        opened: Number(res.numInsertedOrUpdatedRows ?? 0n) === 1,
      };
    },
    async list(f = {}) {
      let q = db.selectFrom('practitioner_mappings').selectAll();
      if (f.practiceId !== undefined) q = q.where('practice_id', '=', f.practiceId);
      if (f.linkId !== undefined) q = q.where('link_id', '=', f.linkId);
      if (f.status !== undefined) q = q.where('status', '=', f.status);
      const rows = await q
        .orderBy('created_at')
        .orderBy('link_id')
        .orderBy('local_id')
        .limit(f.limit ?? 100)
        .execute();
      if (rows.length === 0) return [];
      const counts = new Map<string, number>();
      const links = [...new Set(rows.map((r) => r.link_id))];
      const held = await db
        .selectFrom('practitioner_mapping_holds')
        .select(['link_id', 'local_id', (eb) => eb.fn.countAll<number>().as('n')])
        .where('link_id', 'in', links)
        .groupBy(['link_id', 'local_id'])
        .execute();
      for (const h of held) counts.set(`${h.link_id}|${h.local_id}`, Number(h.n));
      return rows.map((r) => toMapping(r, counts.get(`${r.link_id}|${r.local_id}`) ?? 0));
    },
    async resolve(linkId, localId, o) {
      const now = ctx.now();
      const res = await db
        .updateTable('practitioner_mappings')
        .set({
          status: 'mapped',
          practitioner_id: o.practitionerId,
          resolution: o.resolution,
          resolved_by: o.by,
          resolved_at: now,
          updated_at: now,
        })
        .where('link_id', '=', linkId)
        .where('local_id', '=', localId)
        .where('status', '=', 'open')
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) !== 1) {
        if (!(await get(linkId, localId))) throw notFound('practitioner mapping', `${linkId}/${localId}`);
        throw new PasserelleError(
          'ERR_CONFLICT',
          `the practitioner mapping of ${localId} on link ${linkId} is already decided`,
        );
      }
      return (await get(linkId, localId)) as PractitionerMapping;
    },
    async hold(input) {
      await db
        .insertInto('practitioner_mapping_holds')
        .values({
          link_id: input.linkId,
          local_id: input.localId,
          appointment_id: input.appointmentId,
          practice_id: input.practiceId,
          created_at: ctx.now(),
        })
        .onConflict((oc) => oc.columns(['link_id', 'local_id', 'appointment_id']).doNothing())
        .execute();
    },
    async held(linkId, localId) {
      const rows = await db
        .selectFrom('practitioner_mapping_holds')
        .select('appointment_id')
        .where('link_id', '=', linkId)
        .where('local_id', '=', localId)
        .orderBy('created_at')
        .orderBy('appointment_id')
        .execute();
      return rows.map((r) => r.appointment_id);
    },
    async release(linkId, localId) {
      await db
        .deleteFrom('practitioner_mapping_holds')
        .where('link_id', '=', linkId)
        .where('local_id', '=', localId)
        .execute();
    },
  };
}
