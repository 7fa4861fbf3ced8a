/**
 * Applies a side's record, in canonical form, under a known canonical id: echo check, three-way
 * merge under ownership, agenda invariant, validation, write, match keys, activity, snapshot,
 * conflicts, review, outbound plan, audit — in that order (the kill tests and ACK-after-commit
 * depend on the order of the writes).
 */
import { PasserelleError } from '../../errors.js';
import { changedPaths, type FieldMap, fieldsHash, flatten, unflatten } from '../../model/fields.js';
import type { CanonicalResource, Patient, ResourceKind } from '../../model/resources.js';
import { validateAs } from '../../model/validate.js';
import type { Tx } from '../../store/index.js';
import type { JsonObject, Link, StoredResource } from '../../store/types.js';
import { recordApplied } from '../activity.js';
import { findClash, needsAgendaCheck, practitionersOf, slotUnavailable } from '../agenda.js';
import { DEFAULT_AGENDA_PUBLISH, requestSlotPublication } from '../agenda-publish.js';
import { checkAgainstRules, outsideRulesRefusal, useForcedBooking } from '../agenda-rules.js';
import { threeWayMerge } from '../merge.js';
import { agendaColumns, patientOf } from '../records.js';
import { rulesInEffectOf, storedRulesOf } from './agenda-memo.js';
import { recordCollisions } from './conflicts.js';
import {
  agendaRulesChanged,
  identityKey,
  type IngestDeps,
  type IngestVia,
  type PracticeContext,
  Refusal,
  resourceOf,
} from './context.js';
import { suppressEcho } from './echo.js';
import { planOutbound } from './outbox-plan.js';
import { filePatientKeys, openMatchReview } from './patients.js';

/**
 * Work applyTheirs may skip because its caller already knows the answer. A fast path changes
 * what is read and checked, never the outcome; without one, everything is read and checked.
 */
export type FastPath =
  /**
   * `theirs` already passed `validateAs` with this link's test flag (an ingest validates each
   * record before it merges): a merge that took theirs whole is not validated a second time.
   * Saves one validation per record of a page.
   */
  | 'validated'
  /**
   * As `validated`, and `canonicalId` is a random UUID this ingest just minted: nothing can
   * exist under it yet — no snapshot, stored record, open conflict, open review, match keys or
   * pending outbox row — so none of them is read, and match keys are added without first
   * removing old ones. An initial load creates every record this way.
   */
  | 'new-id';

export interface ApplyInput {
  readonly canonicalId: string;
  /** Normalized canonical form of what the side holds (canonical references, our id). */
  readonly theirs: CanonicalResource;
  /** `fieldsHash(theirs)` when the caller already has it (group.ts validatedOnce). */
  readonly theirsHash?: string;
  readonly version: string | null;
  /** Set when the external id is not mapped yet: mapped in the same transaction. */
  readonly newExternalId?: string;
  readonly via: IngestVia;
  /** Open a patient-match review for this new record with these candidates. */
  readonly reviewCandidates?: readonly string[];
  readonly externalId?: string;
  /**
   * The side's record is another record than the one it last synced for this canonical id
   * (a patient linked after review): no common base, every differing field is decided by
   * ownership.
   */
  readonly withoutBase?: boolean;
  /** Whether the record comes under an id its side merged away (checked before anything changes). */
  readonly stale?: () => Promise<boolean>;
  /** ExternalRecord.flags: what the mapping dropped or assumed, kept with the record's audit event. */
  readonly mappingFlags?: readonly string[];
  /**
   * The appointment names a practitioner id its link has not mapped (practitioners.ts): it is
   * applied but not forwarded to the other side until the mapping is decided.
   */
  readonly heldForPractitioner?: boolean;
  /** What the caller already knows (see FastPath); absent, the general path. */
  readonly fastPath?: FastPath;
}

/**
 * The merged fields as a peer would keep them (ConnectorDefinition.view). A record the peer
 * could not take at all (its view throws) is compared whole, as without a view.
 */
function sourceViewOf(
  view: (r: CanonicalResource) => CanonicalResource,
  kind: ResourceKind,
  id: string,
): (merged: FieldMap) => FieldMap {
  return (merged) => {
    try {
      return flatten(view(unflatten<CanonicalResource>(kind, id, merged)));
    } catch {
      return merged;
    }
  };
}

/** The same fields with the same values (same objects), in the same order. */
function sameFields(a: FieldMap, b: FieldMap): boolean {
  if (a.size !== b.size) return false;
  const other = b.entries();
  for (const [path, value] of a) {
    const next = other.next().value as [string, unknown];
    if (next[0] !== path || next[1] !== value) return false;
  }
  return true;
}

async function agendaClash(
  tx: Tx,
  practiceId: string,
  appt: CanonicalResource & { resourceType: 'Appointment' },
) {
  for (const practitionerId of practitionersOf(appt)) {
    const window = { practiceId, practitionerId, from: appt.start as string, to: appt.end as string };
    const slots = (await tx.resources.list({ ...window, kind: 'Slot' })).map(
      (r) => r.data as unknown as CanonicalResource & { resourceType: 'Slot' },
    );
    const appts = (await tx.resources.list({ ...window, kind: 'Appointment' })).map(
      (r) => r.data as unknown as CanonicalResource & { resourceType: 'Appointment' },
    );
    const clash = findClash(appt, slots, appts);
    if (clash) return clash;
  }
  return undefined;
}

/**
 * The merge and its effects, given the side's record in canonical form. Also used by the
 * review resolution (re-applying a held patient onto the chosen record).
 */
export async function applyTheirs(
  deps: IngestDeps,
  tx: Tx,
  ctx: PracticeContext,
  link: Link,
  input: ApplyInput,
): Promise<string[]> {
  const { canonicalId, theirs } = input;
  const kind = theirs.resourceType;
  const newId = input.fastPath === 'new-id';
  const theirsHash = input.theirsHash ?? fieldsHash(theirs);
  const theirsFields = flatten(theirs);
  const snap = input.withoutBase || newId ? undefined : await tx.snapshots.get(link.id, kind, canonicalId);
  const mapIdentity = async () => {
    if (input.newExternalId === undefined) return;
    await tx.identityMap.set({
      linkId: link.id,
      kind,
      externalId: input.newExternalId,
      canonicalId,
      practiceId: ctx.practiceId,
    });
    ctx.memo.canonical.set(identityKey(link.id, kind, input.newExternalId), canonicalId);
  };

  const definition = deps.registry.get(link.connector);
  const suppressed = await suppressEcho(
    tx,
    link,
    { canonicalId, theirs, theirsHash, version: input.version, ...(input.stale && { stale: input.stale }) },
    snap,
    definition?.compareVersions,
    mapIdentity,
  );
  if (suppressed) return suppressed;

  const ours = newId ? undefined : await resourceOf(tx, ctx, canonicalId);
  const open = newId
    ? undefined
    : (await tx.conflicts.list({ recordId: canonicalId, status: 'open', limit: 1 }))[0];
  const holds = definition?.holds;
  const sourceHolds = holds === undefined ? undefined : (path: string) => holds(kind, path);
  // The base is what that side held: a snapshot of what passerelle wrote there is seen as the
  // side keeps it, so a title it has no place for is not taken as removed there.
  const sourceView = definition?.view ? sourceViewOf(definition.view, kind, canonicalId) : undefined;
  const baseFields = snap ? flatten(snap.data) : null;
  const merge = threeWayMerge({
    kind,
    source: link.role,
    base: baseFields && sourceView ? sourceView(baseFields) : baseFields,
    theirs: theirsFields,
    ours: ours ? flatten(ours.data) : null,
    ...(open && { held: new Map(open.fields.map((f) => [f.path, f])) }),
    rules: ctx.rules,
    ...(sourceHolds && { sourceHolds }),
    ...(sourceView && { sourceView }),
  });
  const merged = unflatten<CanonicalResource>(kind, canonicalId, merge.merged);
  const oursData = ours ? (ours.data as unknown as CanonicalResource) : null;

  // Agenda invariant (design rule 8): refuse, keep nothing, tell the secretariat why.
  if (merged.resourceType === 'Appointment' && link.role === 'secretariat' && merge.changed) {
    const previous = oursData?.resourceType === 'Appointment' ? oursData : null;
    if (needsAgendaCheck(merged, previous)) {
      const refused = {
        kind,
        externalId: input.externalId ?? canonicalId,
        data: theirs,
        ...(input.version !== null && { version: input.version }),
      };
      const clash = await agendaClash(tx, ctx.practiceId, merged);
      if (clash) throw new Refusal(slotUnavailable(clash, merged, ctx.timezone), refused);
      // The practitioner's agenda rules (issue 20); a booking the practice forced passes.
      const verdict = await checkAgainstRules(
        tx,
        ctx.practiceId,
        merged,
        deps.now?.() ?? Date.now(),
        async (id) => (await rulesInEffectOf(tx, ctx, id))?.rules,
      );
      if (verdict && !(await useForcedBooking(tx, ctx.practiceId, verdict.practitionerId, merged, link)))
        throw new Refusal(outsideRulesRefusal(verdict, merged), refused);
    }
  }

  let stored: StoredResource | undefined = ours;
  if (merge.changed) {
    // A merge that took theirs whole is theirs, already validated: checked again only otherwise.
    const check =
      input.fastPath !== undefined && sameFields(merge.merged, theirsFields)
        ? { ok: true as const }
        : validateAs(kind, merged, { testLink: link.isTest });
    if (!check.ok) {
      const first = check.issues[0];
      throw new PasserelleError('ERR_MODEL_INVALID', `merged ${kind}: ${first?.path}: ${first?.message}`, {
        issues: check.issues,
        details: { kind, recordId: canonicalId },
      });
    }
    stored = await tx.resources.put({
      id: canonicalId,
      practiceId: ctx.practiceId,
      kind,
      data: merged as unknown as JsonObject,
      origin: link.role,
      expectedVersion: ours?.version ?? 0,
      ...(await agendaColumns(tx, merged)),
    });
    ctx.memo.rows.set(canonicalId, stored);
    // A Schedule says when its practitioner works: imported rules read before it are stale.
    if (kind === 'Schedule') agendaRulesChanged(ctx);
    // The practitioner's free slots changed: republish them to the secretariat platform (issue 20).
    if (kind === 'Appointment' || kind === 'Slot') {
      const at = (deps.now?.() ?? Date.now()) + (deps.agendaDebounceMs ?? DEFAULT_AGENDA_PUBLISH.debounceMs);
      for (const practitionerId of new Set([ours?.practitionerId, stored.practitionerId]))
        if (practitionerId != null) {
          const hasRules = (await storedRulesOf(tx, ctx, practitionerId)) !== undefined;
          ctx.enqueued += await requestSlotPublication(tx, ctx.practiceId, practitionerId, at, hasRules);
        }
    }
    if (merged.resourceType === 'Patient')
      await filePatientKeys(tx, ctx, link, canonicalId, merged as Patient, input.externalId, !ours, newId);
    // Supervision reports: booked / moved / cancelled…, message received (docs/reports.md).
    await recordApplied(tx, { practiceId: ctx.practiceId, link, before: oursData, after: merged, stored });
  }
  await mapIdentity();
  await tx.snapshots.put({
    linkId: link.id,
    kind,
    canonicalId,
    data: theirs as unknown as JsonObject,
    hash: theirsHash,
    externalVersion: input.version,
  });

  const flags: string[] = [...(input.mappingFlags ?? [])];
  if (!ours) flags.push('created');
  else if (merge.changed) flags.push('updated');
  for (const d of merge.decisions) if (d.outcome === 'refused') flags.push(`refused:${d.path}`);
  if (merge.collisions.length > 0 || merge.refusals.length > 0)
    flags.push(...(await recordCollisions(deps.log, tx, ctx, canonicalId, kind, link.role, merge, open)));

  let review: string | undefined;
  if (input.reviewCandidates && !ours) {
    review = await openMatchReview(tx, ctx, link, canonicalId, input.externalId, input.reviewCandidates);
    flags.push('held-for-review');
  }

  await planOutbound(deps.registry, tx, ctx, link, {
    canonicalId,
    theirs,
    theirsHash,
    version: input.version,
    merge,
    stored,
    review,
    newId,
    held: input.heldForPractitioner === true,
  });

  if (merge.changed || merge.collisions.length > 0) {
    // Chained with the group's other events at its end (store/write-buffer.ts).
    await tx.audit.appendLater({
      actor: `link:${link.id}`,
      action: 'sync.apply',
      practiceId: link.practiceId,
      resourceType: kind,
      resourceId: canonicalId,
      patientId: patientOf(merged),
      outcome: 'success',
      via: input.via,
      details: {
        linkId: link.id,
        connector: link.connector,
        fields: changedPaths(ours ? flatten(ours.data) : null, merge.merged),
        flags,
      },
    });
  }
  return flags;
}
