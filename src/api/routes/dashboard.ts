/**
 * The console's home page and its live updates (issue 19): GET /api/v1/dashboard (where every
 * link of the practices the caller may see stands, and what needs a person) and
 * GET /api/v1/events, a Server-Sent Events stream telling which dashboard sections changed for
 * those practices (src/reports/dashboard-watch.ts), so the console reloads only what changed,
 * without polling. Ids, codes, counts and ages only: no patient data, so no audited read.
 */
import { z } from 'zod';

import { PasserelleError } from '../../errors.js';
import { ATTENTION_CODES, buildDashboard, type DashboardDeps } from '../../reports/dashboard.js';
import type { DashboardChange, DashboardWatch } from '../../reports/dashboard-watch.js';
import { CHANGE_TOPICS } from '../../sync/change-bus.js';
import { type AnyRoute, defineRoute, type ResolvedScope } from '../route.js';

const practiceId = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, { error: 'not a practice id' });

const DashboardLinkView = z.object({
  id: z.string(),
  name: z.string(),
  connector: z.string(),
  role: z.string(),
  state: z.enum(['running', 'failed', 'stopped', 'disabled']),
  error: z
    .object({ code: z.string(), message: z.string() })
    .nullable()
    .describe('Why the link failed to start, or its last poll error (codes and ids, no patient data)'),
  lastSuccessAt: z.string().nullable().describe('The later of the last successful poll and the last push'),
  outbox: z.object({ pending: z.number(), leased: z.number(), dead: z.number() }),
  oldestPendingSeconds: z.number().describe('Age of the oldest change waiting to be sent to the link'),
  deadLetters: z.number().describe('Open dead letters of the link'),
  pollLagSeconds: z.number().nullable().describe('Seconds since the last successful poll'),
});
const DashboardPracticeView = z.object({
  id: z.string(),
  name: z.string(),
  links: z.array(DashboardLinkView),
  totals: z.object({
    openConflicts: z.number(),
    openReviews: z.object({ patientMatch: z.number(), practitionerMapping: z.number() }),
    deadLetters: z.number(),
    urgentMessages: z
      .object({
        undelivered: z.number(),
        unacknowledged: z.number(),
        oldestUnacknowledgedAt: z.string().nullable(),
      })
      .describe(
        'Urgent call messages (priority urgent, asap, stat): not yet delivered to the practice software, and not acknowledged (no Communication.received) among those of the last 24 hours',
      ),
    syncLagSeconds: z.number(),
  }),
  attention: z.array(z.enum(ATTENTION_CODES)),
});
const DashboardView = z.object({ generatedAt: z.string(), practices: z.array(DashboardPracticeView) });
const ChangedEvent = z.object({ practiceId: z.string(), topics: z.array(z.enum(CHANGE_TOPICS)) });

export interface DashboardRoutesDeps extends DashboardDeps {
  readonly watch: DashboardWatch;
  /** Comment line sent to keep the stream open through proxies (default 15 s). */
  readonly heartbeatMs?: number;
}

/** The practices a `list` route shows: the one asked, else every one the key may see. */
function practicesOf(scope: ResolvedScope): readonly string[] | null {
  return scope.practiceId !== null ? [scope.practiceId] : scope.practiceIds;
}

export function dashboardRoutes(deps: DashboardRoutesDeps): AnyRoute[] {
  const { store } = deps;
  const requirePractice = async (id: string | null) => {
    if (id !== null && !(await store.practices.get(id)))
      throw new PasserelleError('ERR_NOT_FOUND', `practice ${id} not found`, { details: { practice: id } });
  };
  return [
    defineRoute({
      method: 'get',
      path: '/api/v1/dashboard',
      summary:
        'Dashboard: per practice, each link’s state, error, last success, outbox and lag, and what needs a person',
      description:
        'Every practice the key may see (a key limited to a practice: that one), or the one named by `practiceId`. `attention` lists, most pressing first: `link-failed` (a link did not start or its last poll failed), `dead-letters`, `conflicts`, `reviews` (patient matches and practitioner mappings), `urgent-pending` (an urgent call message not delivered, or not acknowledged within the last 24 hours), `lag` (oldest waiting change or last successful poll older than 10 minutes).',
      tags: ['sync', 'console'],
      access: 'viewer',
      scope: { list: { from: 'query', field: 'practiceId' } },
      query: z.object({ practiceId: practiceId.optional() }),
      responses: {
        200: { description: 'The dashboard', schema: DashboardView },
        404: { description: 'No such practice' },
      },
      handler: async ({ scope }) => {
        await requirePractice(scope.practiceId);
        return buildDashboard(deps, practicesOf(scope));
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/v1/events',
      summary: 'Server-Sent Events: which dashboard sections changed, for the practices the key may see',
      description: `A \`text/event-stream\`. First \`event: ready\` once the current state is known; then \`event: changed\` with \`data: {"practiceId":"…","topics":[…]}\` (topics: ${CHANGE_TOPICS.join(', ')}) whenever what GET /api/v1/dashboard shows for that practice changed; a comment line (\`: heartbeat\`) every 15 seconds. A key limited to a practice hears only of its own. The stream ends when the client goes away or the service stops (reconnect: the browser's EventSource does it by itself, after \`retry\`).`,
      tags: ['sync', 'console'],
      access: 'viewer',
      scope: { list: { from: 'query', field: 'practiceId' } },
      query: z.object({ practiceId: practiceId.optional() }),
      responses: {
        200: { description: 'The event stream', contentType: 'text/event-stream', schema: ChangedEvent },
        404: { description: 'No such practice' },
      },
      handler: async ({ scope, res }) => {
        await requirePractice(scope.practiceId);
        res.status(200).set({
          'Content-Type': 'text/event-stream; charset=utf-8',
          'Cache-Control': 'no-store',
          Connection: 'keep-alive',
          // nginx would otherwise hold events back in its buffer.
          'X-Accel-Buffering': 'no',
        });
        res.flushHeaders();
        res.write('retry: 5000\n\n');
        const stream = {
          closed: false,
          heartbeat: undefined as NodeJS.Timeout | undefined,
          unsubscribe: undefined as (() => void) | undefined,
        };
        const end = () => {
          if (stream.closed) return;
          stream.closed = true;
          clearInterval(stream.heartbeat);
          stream.unsubscribe?.();
          if (!res.writableEnded) res.end();
        };
        res.on('close', end);
        const send = (c: DashboardChange) => {
          if (!stream.closed) res.write(`event: changed\ndata: ${JSON.stringify(c)}\n\n`);
        };
        stream.unsubscribe = await deps.watch.subscribe(practicesOf(scope), send, end);
        if (stream.closed) {
          stream.unsubscribe();
          return;
        }
        res.write('event: ready\ndata: {}\n\n');
        stream.heartbeat = setInterval(() => {
          if (!stream.closed) res.write(': heartbeat\n\n');
        }, deps.heartbeatMs ?? 15_000);
        stream.heartbeat.unref();
      },
    }),
  ];
}
