/**
 * Practitioner mappings per link (issue 18 point 1). A practitioner id a link names for the
 * first time — not in its identity map, and not created by the link (it may not, or its
 * connector asks for a mapping: ExternalRecord.needsMapping) — no longer loses the message:
 * the appointment naming it is applied without that practitioner and held back from the other
 * side, and the (link, local id) opens one review. An operator decides once (an existing
 * practitioner, by id or RPPS, or a new one): the id is mapped in the identity map, so every
 * later message of the link with it resolves like any known id, and the held appointments get
 * the practitioner and go to the other side.
 */
import { fieldsHash } from '../../model/fields.js';
import { otherRole } from '../../model/ownership.js';
import type { Appointment, CanonicalResource } from '../../model/resources.js';
import type { Tx } from '../../store/index.js';
import type {
  PractitionerMapping,
  PractitionerMappingResolution,
} from '../../store/repos/practitioner-mappings.js';
import type { JsonObject, Link } from '../../store/types.js';
import { practitionersOf } from '../agenda.js';
import { agendaColumns } from '../records.js';
import { identityKey, type IngestDeps, type PracticeContext } from './context.js';
import { enqueue, targets } from './outbox-plan.js';

/** Outcome flag of a message whose appointment names a practitioner id the link has not mapped. */
export const PRACTITIONER_UNMAPPED = 'practitioner-unmapped';

const INACTIVE = new Set(['cancelled', 'noshow', 'entered-in-error']);

/** What a Practitioner record tells the operator: its name and identifiers (no ids of ours). */
export function proposalOf(data: CanonicalResource): JsonObject {
  const { id: _id, meta: _meta, ...rest } = data as CanonicalResource & { meta?: unknown };
  return rest as unknown as JsonObject;
}

/** Opens the review of a link's unknown practitioner id (once per link and id). */
export async function openPractitionerMapping(
  tx: Tx,
  ctx: PracticeContext,
  link: Link,
  localId: string,
  proposal?: JsonObject,
): Promise<void> {
  await tx.practitionerMappings.open({
    practiceId: ctx.practiceId,
    linkId: link.id,
    localId,
    ...(proposal && { proposal }),
  });
}

/**
 * The appointment without the participants naming `localIds` (ids the link has not mapped),
 * their reviews opened. An appointment left with no participant keeps one without an actor,
 * as the model needs one.
 */
export async function withoutUnmapped(
  tx: Tx,
  ctx: PracticeContext,
  link: Link,
  data: Appointment,
  localIds: readonly string[],
): Promise<Appointment> {
  for (const localId of localIds) await openPractitionerMapping(tx, ctx, link, localId);
  const refs = new Set(localIds.map((id) => `Practitioner/${id}`));
  const named = (p: Appointment['participant'][number]) =>
    p.actor?.reference !== undefined && refs.has(p.actor.reference);
  const kept = data.participant.filter((p) => !named(p));
  const participant =
    kept.length > 0
      ? kept
      : data.participant
          .filter(named)
          .slice(0, 1)
          .map(({ actor: _actor, ...rest }) => rest);
  return { ...data, participant };
}

/** Files the appointment as held until each of `localIds` is mapped. */
export async function holdForMapping(
  tx: Tx,
  ctx: PracticeContext,
  link: Link,
  appointmentId: string,
  localIds: readonly string[],
): Promise<void> {
  for (const localId of localIds)
    await tx.practitionerMappings.hold({
      practiceId: ctx.practiceId,
      linkId: link.id,
      localId,
      appointmentId,
    });
}

/**
 * Decides a link's practitioner mapping: `localId` is `practitionerId` from now on (identity
 * map), and the appointments held for it get that practitioner and go to the other side.
 * Returns the decided mapping and the appointments released. The caller flushes nothing: rows
 * are enqueued directly.
 */
export async function mapPractitioner(
  deps: IngestDeps,
  tx: Tx,
  ctx: PracticeContext,
  link: Link,
  localId: string,
  practitionerId: string,
  resolution: PractitionerMappingResolution,
  by: string,
): Promise<{ mapping: PractitionerMapping; released: string[] }> {
  const known = await tx.identityMap.findCanonical(link.id, 'Practitioner', localId);
  if (known === undefined) {
    await tx.identityMap.set({
      linkId: link.id,
      kind: 'Practitioner',
      externalId: localId,
      canonicalId: practitionerId,
      practiceId: ctx.practiceId,
    });
    ctx.memo.canonical.set(identityKey(link.id, 'Practitioner', localId), practitionerId);
  }
  const mapping = await tx.practitionerMappings.resolve(link.id, localId, { practitionerId, resolution, by });
  const released: string[] = [];
  for (const appointmentId of await tx.practitionerMappings.held(link.id, localId)) {
    const row = await tx.resources.get(appointmentId);
    if (!row || row.kind !== 'Appointment' || row.practiceId !== ctx.practiceId) continue;
    const current = row.data as unknown as Appointment;
    // A later message gave it a practitioner already: that one stands.
    if (practitionersOf(current).length > 0) continue;
    const data = withPractitioner(current, practitionerId);
    const stored = await tx.resources.put({
      id: row.id,
      practiceId: ctx.practiceId,
      kind: 'Appointment',
      data: data as unknown as JsonObject,
      origin: row.origin,
      expectedVersion: row.version,
      ...(await agendaColumns(tx, data)),
    });
    ctx.memo.rows.set(row.id, stored);
    // The link holds that practitioner under its own id: what it last sent now reads so.
    const snap = await tx.snapshots.get(link.id, 'Appointment', row.id);
    if (snap) {
      const held = withPractitioner(snap.data as unknown as Appointment, practitionerId);
      await tx.snapshots.put({
        linkId: link.id,
        kind: 'Appointment',
        canonicalId: row.id,
        data: held as unknown as JsonObject,
        hash: fieldsHash(held),
        externalVersion: snap.externalVersion,
      });
    }
    for (const target of targets(deps.registry, ctx, 'Appointment', otherRole(link.role))) {
      // An appointment cancelled before the other side ever had it is not news there.
      if (INACTIVE.has(data.status) && !(await tx.snapshots.get(target.id, 'Appointment', row.id))) continue;
      await enqueue(
        tx,
        ctx,
        target,
        data,
        `${target.id}:${row.id}:v${stored.version}:practitioner-mapping`,
        'practitioner-mapping',
      );
    }
    released.push(row.id);
  }
  await tx.practitionerMappings.release(link.id, localId);
  return { mapping, released };
}

function withPractitioner(a: Appointment, practitionerId: string): Appointment {
  const reference = `Practitioner/${practitionerId}`;
  if (a.participant.some((p) => p.actor?.reference === reference)) return a;
  // The participant left without an actor when the appointment had no other takes it.
  const only = a.participant[0];
  const rest = a.participant.length === 1 && only?.actor === undefined ? [] : a.participant;
  return { ...a, participant: [...rest, { actor: { reference }, status: 'accepted' }] };
}
