/** Conflicts of one merge: collisions and refusals recorded, collisions left for review opened. */
import type { Logger } from '../../log/logger.js';
import { otherRole } from '../../model/ownership.js';
import type { ResourceKind } from '../../model/resources.js';
import type { Tx } from '../../store/index.js';
import type { Conflict, LinkRole } from '../../store/types.js';
import { recordConflicts } from '../activity.js';
import type { MergeResult } from '../merge.js';
import type { PracticeContext } from './context.js';

/**
 * Collisions decided by ownership, and changes it refused, are recorded and closed at once
 * (visible, not silent); collisions left for review open a conflict, superseding the record's
 * previous open one.
 */
export async function recordCollisions(
  log: Logger,
  tx: Tx,
  ctx: PracticeContext,
  recordId: string,
  kind: ResourceKind,
  source: LinkRole,
  merge: MergeResult,
  open: Conflict | undefined,
): Promise<string[]> {
  const decided = new Map(merge.decisions.filter((d) => d.outcome === 'collision').map((d) => [d.path, d]));
  const auto = merge.collisions.filter(
    (c) =>
      decided.get(c.path)?.outcome === 'collision' &&
      (decided.get(c.path) as { winner: string }).winner !== 'held',
  );
  const review = merge.collisions.filter(
    (c) => (decided.get(c.path) as { winner?: string } | undefined)?.winner === 'held',
  );
  const flags: string[] = [];
  if (auto.length > 0 || merge.refusals.length > 0) {
    const reason =
      auto.length > 0
        ? 'both sides changed; decided by field ownership'
        : `the ${otherRole(source)} owns the field; the ${source}'s change was refused`;
    const c = await tx.conflicts.open({
      practiceId: ctx.practiceId,
      kind,
      recordId,
      fields: [...auto, ...merge.refusals],
      reason,
    });
    const decisions = [
      ...auto.map((f) => {
        const d = decided.get(f.path) as { owner: string; winner: 'theirs' | 'ours' };
        return { path: f.path, owner: d.owner, winner: d.winner === 'theirs' ? source : otherRole(source) };
      }),
      ...merge.refusals.map((f) => ({
        path: f.path,
        owner: otherRole(source),
        winner: otherRole(source),
        refused: true,
      })),
    ];
    await tx.conflicts.close(c.id, {
      status: 'resolved',
      resolution: { rule: 'ownership', decisions },
      by: 'ownership',
    });
    flags.push(...auto.map((f) => `collision:${f.path}`));
  }
  if (review.length > 0) {
    const paths = new Set(review.map((f) => f.path));
    const carried = (open?.fields ?? []).filter((f) => !paths.has(f.path));
    const fresh = await tx.conflicts.open({
      practiceId: ctx.practiceId,
      kind,
      recordId,
      fields: [...carried, ...review],
      reason: 'both sides changed the same field differently',
    });
    if (open)
      await tx.conflicts.close(open.id, {
        status: 'dismissed',
        resolution: { supersededBy: fresh.id },
        by: 'system',
      });
    flags.push(...review.map((f) => `conflict:${f.path}`));
    log.info('sync conflict opened', { conflictId: fresh.id, kind, recordId, fields: [...paths] });
  }
  await recordConflicts(tx, {
    practiceId: ctx.practiceId,
    kind,
    recordId,
    source,
    decided: auto.length > 0 ? 'collision' : merge.refusals.length > 0 ? 'refused' : null,
    openedForReview: review.length > 0 && !open,
  });
  return flags;
}
