/**
 * Field-level three-way merge (design rule 7). For a change from one side:
 * - base   = what that side held at the last sync (its snapshot), or null;
 * - theirs = what it holds now (the incoming record);
 * - ours   = the canonical record (which carries the other side's changes), or null.
 * A field changed by theirs alone applies if ownership allows; a field changed by both to
 * different values is a collision that ownership decides or leaves open for review.
 * Pure: no store, no clock, so the unit tests cover every outcome.
 */
import { changedPaths, type FieldMap, type FieldPath, sameValue } from '../model/fields.js';
import { otherRole, type Owner, ownerOf, type OwnershipRules } from '../model/ownership.js';
import type { ResourceKind } from '../model/resources.js';
import type { ConflictField, LinkRole } from '../store/types.js';

export interface MergeInput {
  readonly kind: ResourceKind;
  /** The role of the link the change comes from. */
  readonly source: LinkRole;
  readonly base: FieldMap | null;
  readonly theirs: FieldMap;
  readonly ours: FieldMap | null;
  /** Fields of the record's open conflict: any new change to them joins the conflict. */
  readonly held?: ReadonlyMap<FieldPath, ConflictField>;
  readonly rules: OwnershipRules;
  /**
   * Whether the source side can hold a field (default: every field). One it cannot hold is
   * absent from theirs without having been removed there: it is not their change, and not a
   * reason to write the record back to them.
   */
  readonly sourceHolds?: (path: FieldPath) => boolean;
  /**
   * The merged record as the source side would keep it (ConnectorDefinition.view): what it
   * sent is compared with this to decide whether to write back to it. Default: the record.
   */
  readonly sourceView?: (merged: FieldMap) => FieldMap;
}

export type FieldDecision =
  /** Theirs taken: changed on their side only, and they may change it. */
  | { readonly path: FieldPath; readonly outcome: 'applied' }
  /** Theirs ignored: the other side owns the field; its value is sent back. */
  | { readonly path: FieldPath; readonly outcome: 'refused'; readonly owner: Owner }
  /** Both changed it differently; `winner` says what the canonical record keeps. */
  | {
      readonly path: FieldPath;
      readonly outcome: 'collision';
      readonly owner: Owner;
      readonly winner: 'theirs' | 'ours' | 'held';
    };

export interface MergeResult {
  readonly merged: FieldMap;
  readonly decisions: readonly FieldDecision[];
  /** Every collision with each side's value, for the conflicts queue. */
  readonly collisions: readonly ConflictField[];
  /** Changes refused by ownership, with each side's value: recorded so none is lost silently. */
  readonly refusals: readonly ConflictField[];
  /** At least one collision waits for review (owner `review`, or a field already held). */
  readonly needsReview: boolean;
  /** Paths held for review after this merge (old and new). */
  readonly held: ReadonlySet<FieldPath>;
  /** The canonical record changes. */
  readonly changed: boolean;
  /** The source side does not hold the merged record (outside held fields): send it back. */
  readonly pushBack: boolean;
}

export function threeWayMerge(input: MergeInput): MergeResult {
  const { base, theirs, ours, source } = input;
  const held = new Set<FieldPath>(input.held?.keys() ?? []);
  const holds = input.sourceHolds ?? (() => true);
  const merged: FieldMap = new Map(ours ?? []);
  const decisions: FieldDecision[] = [];
  const collisions: ConflictField[] = [];
  const refusals: ConflictField[] = [];
  let needsReview = false;

  const set = (path: FieldPath, value: unknown) => {
    if (value === undefined) merged.delete(path);
    else merged.set(path, value);
  };
  const conflictField = (path: FieldPath, theirsValue: unknown, oursValue: unknown): ConflictField => {
    const b = base?.get(path);
    return source === 'practice'
      ? { path, base: b ?? null, practice: theirsValue ?? null, secretariat: oursValue ?? null }
      : { path, base: b ?? null, practice: oursValue ?? null, secretariat: theirsValue ?? null };
  };

  // Theirs' order first for new keys, so keyed array items keep the order the side gave.
  const paths = new Set<FieldPath>([...(ours?.keys() ?? []), ...theirs.keys(), ...(base?.keys() ?? [])]);
  for (const path of paths) {
    const b = base?.get(path);
    const t = theirs.get(path);
    const o = ours?.get(path);
    if (t === undefined && !holds(path)) continue;
    const theirsChanged = !sameValue(b, t);
    if (!theirsChanged) continue;
    const owner = ownerOf(input.rules, input.kind, path);
    const previous = input.held?.get(path);
    if (previous || held.has(path)) {
      // Already in review: the new value joins the conflict; the other side's wish stays.
      const otherWish = previous ? previous[otherRole(source)] : o;
      collisions.push({ ...conflictField(path, t, otherWish), base: previous?.base ?? b ?? null });
      decisions.push({ path, outcome: 'collision', owner, winner: 'held' });
      needsReview = true;
      continue;
    }
    if (ours === null) {
      set(path, t);
      decisions.push({ path, outcome: 'applied' });
      continue;
    }
    const oursChanged = !sameValue(b, o);
    if (!oursChanged || sameValue(t, o)) {
      if (sameValue(t, o)) continue;
      if (owner === otherRole(source)) {
        decisions.push({ path, outcome: 'refused', owner });
        refusals.push(conflictField(path, t, o));
      } else {
        set(path, t);
        decisions.push({ path, outcome: 'applied' });
      }
      continue;
    }
    // Both sides changed the field, to different values.
    collisions.push(conflictField(path, t, o));
    if (owner === 'review') {
      held.add(path);
      needsReview = true;
      decisions.push({ path, outcome: 'collision', owner, winner: 'held' });
    } else if (owner === source || owner === 'last-writer') {
      set(path, t);
      decisions.push({ path, outcome: 'collision', owner, winner: 'theirs' });
    } else {
      decisions.push({ path, outcome: 'collision', owner, winner: 'ours' });
    }
  }

  const changed = ours === null || changedPaths(ours, merged).length > 0;
  const pushBack = changedPaths(theirs, input.sourceView ? input.sourceView(merged) : merged).some(
    (p) => !held.has(p) && (theirs.has(p) || holds(p)),
  );
  return { merged, decisions, collisions, refusals, needsReview, held, changed, pushBack };
}

/** The record a side should hold: the canonical fields, except held ones keep that side's value. */
export function overlayHeld(
  canonical: FieldMap,
  sideValues: FieldMap | null,
  held: ReadonlySet<FieldPath>,
): FieldMap {
  if (held.size === 0) return canonical;
  const out: FieldMap = new Map(canonical);
  for (const path of held) {
    const v = sideValues?.get(path);
    if (v === undefined) out.delete(path);
    else out.set(path, v);
  }
  return out;
}
