/**
 * Supervision reports (0005_reports, docs/reports.md): the append-only activity of each
 * practice, the read-side counts a report is built from, and the stored daily digests.
 */
import type { ActivityEventsTable, DigestsTable } from '../schema.js';
import type {
  ActivityCount,
  ActivityEvent,
  ActivityInput,
  ActivityType,
  DeadLetter,
  DeadLetterCount,
  Digest,
  DigestSummary,
  DigestWebhookStatus,
  JsonObject,
  LinkRole,
  OutboxLinkStats,
} from '../types.js';
import type { BufferedTable } from '../write-buffer.js';
import { compiled, rowOf } from './compiled.js';
import { fromJson, iso, isoOrNull, type RepoContext, toJson } from './context.js';

export interface Period {
  /** Inclusive, ISO-8601. */
  readonly from: string;
  /** Exclusive, ISO-8601. */
  readonly to: string;
}

export interface ActivityRepo {
  /**
   * Appends one event, stamped now. Call it in the transaction of the change it describes.
   * Resolves false when an event with the same dedupe key was already kept.
   */
  append(input: ActivityInput): Promise<boolean>;
  list(filter: {
    practiceId: string;
    from?: string;
    to?: string;
    type?: ActivityType;
    limit?: number;
  }): Promise<ActivityEvent[]>;
  /** Events of the period grouped by type, origin, practitioner, priority and detail. */
  counts(practiceId: string, period: Period): Promise<ActivityCount[]>;
  /** Latency of every message delivery in the period, with its priority (for exact percentiles). */
  latencies(practiceId: string, period: Period): Promise<{ priority: string | null; latencyMs: number }[]>;
  /** Dead letters created in the period, by reason code and source. */
  deadLetterCounts(practiceId: string, period: Period): Promise<DeadLetterCount[]>;
  /** What waits for an operator right now: open conflicts and open dead letters. */
  openCounts(practiceId: string): Promise<{ conflicts: number; deadLetters: number }>;
  /** Each link's outbox right now: depth by status, oldest pending row, last completed push. */
  outboxStats(linkIds: readonly string[]): Promise<OutboxLinkStats[]>;
  /** Deletes events older than `beforeMs` (retention); digests already made keep their counts. */
  purgeBefore(beforeMs: number): Promise<number>;
}

type ActivityRow = Omit<ActivityEventsTable, 'seq'> & { seq: number };
const toEvent = (r: ActivityRow): ActivityEvent => ({
  seq: Number(r.seq),
  practiceId: r.practice_id,
  at: iso(Number(r.at)),
  type: r.type as ActivityType,
  origin: r.origin as LinkRole | null,
  linkId: r.link_id,
  kind: r.kind,
  recordId: r.record_id,
  practitionerId: r.practitioner_id,
  priority: r.priority,
  latencyMs: r.latency_ms === null ? null : Number(r.latency_ms),
  detail: r.detail,
});

const ms = (s: string) => Date.parse(s);

const ACTIVITY_COLUMNS = [
  'practice_id',
  'at',
  'type',
  'origin',
  'link_id',
  'kind',
  'record_id',
  'practitioner_id',
  'priority',
  'latency_ms',
  'detail',
  'dedupe_key',
] as const;

/** Compiled once (compiled.ts): every applied message appends an event. */
// ON CONFLICT rather than catching the violation: on PostgreSQL a failed statement aborts
// the surrounding transaction, which is the change's own.
const insertActivity = compiled<(typeof ACTIVITY_COLUMNS)[number]>((db, p) =>
  db
    .insertInto('activity_events')
    .values(rowOf<Omit<ActivityEventsTable, 'seq'>>(ACTIVITY_COLUMNS, p))
    .onConflict((oc) => oc.column('dedupe_key').doNothing()),
);

/** The activity events of a group, written together at its end (write-buffer.ts). */
const HELD_ACTIVITY: BufferedTable = {
  name: 'activity_events',
  columns: ACTIVITY_COLUMNS,
};

export function activityRepo(ctx: RepoContext): ActivityRepo {
  const { db } = ctx;
  return {
    async append(input) {
      const at = ctx.now();
      const row = {
        practice_id: input.practiceId,
        at,
        type: input.type,
        origin: input.origin ?? null,
        link_id: input.linkId ?? null,
        kind: input.kind ?? null,
        record_id: input.recordId ?? null,
        practitioner_id: input.practitionerId ?? null,
        priority: input.priority ?? null,
        latency_ms:
          input.latencySince === undefined || input.latencySince === null
            ? null
            : Math.max(0, Math.round(at - input.latencySince)),
        detail: input.detail ?? null,
        dedupe_key: input.dedupeKey ?? null,
      };
      // Without a dedupe key nothing can refuse the row: held for the group's one insert.
      if (ctx.writes && row.dedupe_key === null) {
        ctx.writes.add(HELD_ACTIVITY, row);
        return true;
      }
      const res = await insertActivity.run(ctx, row);
      return Number(res.numAffectedRows ?? 0n) > 0;
    },
    async purgeBefore(beforeMs) {
      const res = await db.deleteFrom('activity_events').where('at', '<', beforeMs).executeTakeFirst();
      return Number(res.numDeletedRows);
    },
    async list(f) {
      let q = db.selectFrom('activity_events').selectAll().where('practice_id', '=', f.practiceId);
      if (f.from !== undefined) q = q.where('at', '>=', ms(f.from));
      if (f.to !== undefined) q = q.where('at', '<', ms(f.to));
      if (f.type !== undefined) q = q.where('type', '=', f.type);
      return (
        (await q
          .orderBy('at')
          .orderBy('seq')
          .limit(f.limit ?? 1000)
          .execute()) as ActivityRow[]
      ).map(toEvent);
    },
    async counts(practiceId, period) {
      const rows = await db
        .selectFrom('activity_events')
        .select([
          'type',
          'origin',
          'practitioner_id',
          'priority',
          'detail',
          (eb) => eb.fn.countAll<number>().as('n'),
        ])
        .where('practice_id', '=', practiceId)
        .where('at', '>=', ms(period.from))
        .where('at', '<', ms(period.to))
        .groupBy(['type', 'origin', 'practitioner_id', 'priority', 'detail'])
        .execute();
      return rows.map((r) => ({
        type: r.type as ActivityType,
        origin: r.origin as LinkRole | null,
        practitionerId: r.practitioner_id,
        priority: r.priority,
        detail: r.detail,
        count: Number(r.n),
      }));
    },
    async latencies(practiceId, period) {
      const rows = await db
        .selectFrom('activity_events')
        .select(['priority', 'latency_ms'])
        .where('practice_id', '=', practiceId)
        .where('type', '=', 'message.delivered')
        .where('latency_ms', 'is not', null)
        .where('at', '>=', ms(period.from))
        .where('at', '<', ms(period.to))
        .execute();
      return rows.map((r) => ({ priority: r.priority, latencyMs: Number(r.latency_ms) }));
    },
    async deadLetterCounts(practiceId, period) {
      const rows = await db
        .selectFrom('dead_letters')
        .select(['reason_code', 'source', (eb) => eb.fn.countAll<number>().as('n')])
        .where('practice_id', '=', practiceId)
        .where('created_at', '>=', ms(period.from))
        .where('created_at', '<', ms(period.to))
        .groupBy(['reason_code', 'source'])
        .orderBy('reason_code')
        .orderBy('source')
        .execute();
      return rows.map((r) => ({
        reasonCode: r.reason_code,
        source: r.source as DeadLetter['source'],
        count: Number(r.n),
      }));
    },
    async openCounts(practiceId) {
      const conflicts = await db
        .selectFrom('conflicts')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('practice_id', '=', practiceId)
        .where('status', '=', 'open')
        .executeTakeFirstOrThrow();
      const dead = await db
        .selectFrom('dead_letters')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('practice_id', '=', practiceId)
        .where('status', '=', 'open')
        .executeTakeFirstOrThrow();
      return { conflicts: Number(conflicts.n), deadLetters: Number(dead.n) };
    },
    async outboxStats(linkIds) {
      if (linkIds.length === 0) return [];
      const rows = await db
        .selectFrom('outbox')
        .select([
          'link_id',
          'status',
          (eb) => eb.fn.countAll<number>().as('n'),
          (eb) => eb.fn.min('created_at').as('oldest'),
          (eb) => eb.fn.max('done_at').as('last_done'),
        ])
        .where('link_id', 'in', [...linkIds])
        .groupBy(['link_id', 'status'])
        .execute();
      return linkIds.map((linkId) => {
        const of = (status: string) => rows.find((r) => r.link_id === linkId && r.status === status);
        const pending = of('pending');
        const done = of('done');
        return {
          linkId,
          pending: Number(pending?.n ?? 0),
          leased: Number(of('leased')?.n ?? 0),
          dead: Number(of('dead')?.n ?? 0),
          oldestPendingAt:
            pending?.oldest === null || pending?.oldest === undefined ? null : iso(Number(pending.oldest)),
          lastDoneAt:
            done?.last_done === null || done?.last_done === undefined ? null : iso(Number(done.last_done)),
        };
      });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Daily digests

export interface DigestPut {
  readonly practiceId: string;
  readonly day: string;
  readonly report: JsonObject;
  /** The practice has a webhook: the digest waits for its delivery. */
  readonly webhook: boolean;
}

export interface DigestsRepo {
  /** Stores the digest of a day unless one is there already (a re-run keeps the first). */
  put(input: DigestPut): Promise<{ digest: Digest; created: boolean }>;
  get(practiceId: string, day: string): Promise<Digest | undefined>;
  /** Newest first, without their reports. */
  list(filter: { practiceId: string; limit?: number }): Promise<DigestSummary[]>;
  /** Digests of a practice whose webhook delivery is still to do, oldest first, from `sinceDay` on. */
  pendingWebhooks(practiceId: string, sinceDay: string): Promise<Digest[]>;
  /** Records the POSTs of one run (`attempts` of them): delivered, or the last error met. */
  recordWebhook(
    practiceId: string,
    day: string,
    outcome: { attempts: number } & ({ delivered: true } | { delivered: false; error: string }),
  ): Promise<void>;
}

const toSummary = (r: Omit<DigestsTable, 'report'>): DigestSummary => ({
  practiceId: r.practice_id,
  day: r.day,
  createdAt: iso(Number(r.created_at)),
  webhook: {
    status: r.webhook_status as DigestWebhookStatus | null,
    attempts: r.webhook_attempts,
    lastError: r.webhook_error,
    deliveredAt: isoOrNull(r.delivered_at === null ? null : Number(r.delivered_at)),
  },
});
const toDigest = (r: DigestsTable): Digest => ({ ...toSummary(r), report: fromJson<JsonObject>(r.report) });

export function digestsRepo(ctx: RepoContext): DigestsRepo {
  const { db } = ctx;
  const get = async (practiceId: string, day: string) => {
    const r = await db
      .selectFrom('digests')
      .selectAll()
      .where('practice_id', '=', practiceId)
      .where('day', '=', day)
      .executeTakeFirst();
    return r && toDigest(r);
  };
  return {
    async put(input) {
      const res = await db
        .insertInto('digests')
        .values({
          practice_id: input.practiceId,
          day: input.day,
          report: toJson(input.report),
          created_at: ctx.now(),
          webhook_status: input.webhook ? 'pending' : null,
          webhook_attempts: 0,
          webhook_error: null,
          delivered_at: null,
        })
        .onConflict((oc) => oc.columns(['practice_id', 'day']).doNothing())
        .executeTakeFirst();
      const created = Number(res.numInsertedOrUpdatedRows ?? 0n) > 0;
      return { digest: (await get(input.practiceId, input.day)) as Digest, created };
    },
    get,
    async list(f) {
      const rows = await db
        .selectFrom('digests')
        .select([
          'practice_id',
          'day',
          'created_at',
          'webhook_status',
          'webhook_attempts',
          'webhook_error',
          'delivered_at',
        ])
        .where('practice_id', '=', f.practiceId)
        .orderBy('day', 'desc')
        .limit(f.limit ?? 100)
        .execute();
      return rows.map(toSummary);
    },
    async pendingWebhooks(practiceId, sinceDay) {
      const rows = await db
        .selectFrom('digests')
        .selectAll()
        .where('practice_id', '=', practiceId)
        .where('webhook_status', '=', 'pending')
        .where('day', '>=', sinceDay)
        .orderBy('day')
        .execute();
      return rows.map(toDigest);
    },
    async recordWebhook(practiceId, day, outcome) {
      await db
        .updateTable('digests')
        .set((eb) => ({
          webhook_attempts: eb('webhook_attempts', '+', outcome.attempts),
          ...(outcome.delivered
            ? { webhook_status: 'delivered', webhook_error: null, delivered_at: ctx.now() }
            : { webhook_error: outcome.error }),
        }))
        .where('practice_id', '=', practiceId)
        .where('day', '=', day)
        .execute();
    },
  };
}
