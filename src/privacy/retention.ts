/**
 * The retention purge: every class of stored data past its configured age goes (docs/security.md,
 * "Retention"). Run nightly by the service (node-cron, `retention.purgeSchedule`) and on demand
 * by `passerelle purge`. It reports counts per class: logged (counts and cut-off dates only, never
 * a patient datum) and returned to the caller.
 */
import type { Config } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import type { Store } from '../store/index.js';
import { purgeAuditPrefix } from '../store/repos/audit-retention.js';
import {
  purgeClosedConflicts,
  purgeClosedReviews,
  purgeOutbound,
  purgeResolvedDeadLetters,
} from '../store/repos/retention.js';

export const RETENTION_CLASSES = [
  'inboundBodies',
  'outboundPayloads',
  'deadLetters',
  'reviewItems',
  'conflicts',
  'activityEvents',
  'auditEvents',
] as const;
export type RetentionClass = (typeof RETENTION_CLASSES)[number];

export type RetentionPolicy = Pick<
  Config['retention'],
  'messageBodiesDays' | 'outboundPayloadDays' | 'deadLetterDays' | 'reviewDays' | 'activityDays' | 'auditDays'
>;

export interface PurgeReport {
  /** When the purge ran (the store's clock). */
  readonly at: string;
  /** Rows (inbound: bodies) removed per class. */
  readonly removed: Readonly<Record<RetentionClass, number>>;
  /** Everything strictly older than this went, per class. */
  readonly before: Readonly<Record<RetentionClass, string>>;
}

const DAY_MS = 86_400_000;

/** Days each class is kept under `policy`. */
export function retentionDays(policy: RetentionPolicy): Record<RetentionClass, number> {
  return {
    inboundBodies: policy.messageBodiesDays,
    outboundPayloads: policy.outboundPayloadDays,
    deadLetters: policy.deadLetterDays,
    reviewItems: policy.reviewDays,
    conflicts: policy.reviewDays,
    activityEvents: policy.activityDays,
    auditEvents: policy.auditDays,
  };
}

/**
 * Purges every class once, each in its own statement (a class that fails does not keep the
 * others from going; the error is thrown after the rest ran). The audit purge and its anchor
 * commit together.
 */
export async function purgeExpired(
  store: Store,
  policy: RetentionPolicy,
  options: { logger?: Logger; actor?: string; via?: string } = {},
): Promise<PurgeReport> {
  const now = store.now();
  const days = retentionDays(policy);
  const cutoff = (c: RetentionClass) => now - days[c] * DAY_MS;
  const purgers: Record<RetentionClass, (beforeMs: number) => Promise<number>> = {
    inboundBodies: (b) => store.inbox.purgeBodies(b),
    outboundPayloads: (b) => purgeOutbound(store.db, b),
    deadLetters: (b) => purgeResolvedDeadLetters(store.db, b),
    reviewItems: (b) => purgeClosedReviews(store.db, b),
    conflicts: (b) => purgeClosedConflicts(store.db, b),
    activityEvents: (b) => store.activity.purgeBefore(b),
    auditEvents: async (b) => (await store.transaction((tx) => purgeAuditPrefix(tx, b))).purged,
  };
  const removed = {} as Record<RetentionClass, number>;
  const before = {} as Record<RetentionClass, string>;
  let failure: unknown;
  for (const c of RETENTION_CLASSES) {
    before[c] = new Date(cutoff(c)).toISOString();
    try {
      removed[c] = await purgers[c](cutoff(c));
    } catch (e) {
      removed[c] = 0;
      failure ??= e;
      options.logger?.error('retention purge of a data class failed', { class: c, err: e });
    }
  }
  const report: PurgeReport = { at: new Date(now).toISOString(), removed, before };
  options.logger?.info('retention purge done', { removed, days });
  await store.audit.append({
    actor: options.actor ?? 'system',
    action: 'retention.purge',
    outcome: failure === undefined ? 'success' : 'failure',
    via: options.via ?? 'scheduler',
    details: { removed, before },
  });
  if (failure !== undefined) throw failure;
  return report;
}
