/**
 * HTTP side of the simulator: one express app serving every operation of openapi.yaml, with
 * bearer auth, fault injection, Idempotency-Key replay and RFC 9457 problem answers.
 * `SIMULATOR_ROUTES` is the list a test compares with the OpenAPI document.
 */
import { createHash } from 'node:crypto';

import express, { type NextFunction, type Request, type Response } from 'express';

import { COLLECTION, type ResourceType } from '../contract.js';
import { callStatistics } from './calls.js';
import { type ApiFault, type Faults } from './faults.js';
import { type OperationContext, type Platform, ProblemError, type Reply } from './platform.js';
import type { SimulatorState } from './state.js';

type Method = 'get' | 'post' | 'put' | 'delete';
type Handler = (
  ctx: OperationContext,
  params: Record<string, string>,
  body: unknown,
  query: Record<string, string | undefined>,
) => Reply;

export interface SimRoute {
  readonly method: Method;
  /** OpenAPI-style path, e.g. `/v1/practices/{practiceId}/slots/{id}`. */
  readonly path: string;
  readonly handle: Handler;
}

const P = '/v1/practices/{practiceId}';

/** Cursor of the change feed: opaque to clients (base64url of practice and last sequence). */
export function encodeCursor(practiceId: string, seq: number): string {
  return Buffer.from(JSON.stringify({ p: practiceId, s: seq })).toString('base64url');
}
export function decodeCursor(practiceId: string, cursor: string): number {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { p?: unknown; s?: unknown };
    if (v.p === practiceId && typeof v.s === 'number' && Number.isInteger(v.s) && v.s >= 0) return v.s;
  } catch {
    // fall through to the problem below
  }
  throw new ProblemError(
    400,
    'bad-cursor',
    'The cursor is not one this feed gave',
    'pass the `next` value of a previous page, or no `since` to start over',
  );
}

export function buildRoutes(platform: Platform, state: SimulatorState): SimRoute[] {
  const crud = (
    type: ResourceType,
    ops: { create?: Handler; update?: Handler; remove?: Handler },
  ): SimRoute[] => {
    const base = `${P}/${COLLECTION[type]}`;
    return [
      { method: 'get', path: base, handle: (ctx, _p, _b, q) => platform.list(ctx, type, q) },
      { method: 'get', path: `${base}/{id}`, handle: (ctx, p) => platform.get(ctx, type, p['id'] as string) },
      ...(ops.create ? [{ method: 'post' as const, path: base, handle: ops.create }] : []),
      ...(ops.update ? [{ method: 'put' as const, path: `${base}/{id}`, handle: ops.update }] : []),
      ...(ops.remove ? [{ method: 'delete' as const, path: `${base}/{id}`, handle: ops.remove }] : []),
    ];
  };
  const id = (p: Record<string, string>) => p['id'] as string;
  return [
    {
      method: 'get',
      path: P,
      handle: (ctx) => {
        const practice = state.practice(ctx.practiceId);
        return {
          status: 200,
          body: { id: ctx.practiceId, name: practice?.name, timezone: practice?.timezone },
        };
      },
    },
    {
      method: 'get',
      path: `${P}/changes`,
      handle: (ctx, _p, _b, q) => {
        const since =
          q['since'] === undefined || q['since'] === '' ? 0 : decodeCursor(ctx.practiceId, q['since']);
        const limit = q['limit'] === undefined ? 100 : Number(q['limit']);
        if (!Number.isInteger(limit) || limit < 1 || limit > 500)
          throw new ProblemError(400, 'bad-limit', 'limit must be an integer from 1 to 500');
        const page = state.changesAfter(ctx.practiceId, since, limit);
        const last = page.changes.at(-1)?.seq ?? since;
        return {
          status: 200,
          body: {
            changes: page.changes.map(({ practiceId: _drop, ...c }) => c),
            next: encodeCursor(ctx.practiceId, last),
            hasMore: page.hasMore,
          },
        };
      },
    },
    ...crud('practitioner', {
      create: (c, _p, b) => platform.createPractitioner(c, b),
      update: (c, p, b) => platform.updatePractitioner(c, id(p), b),
    }),
    ...crud('appointment-type', { update: (c, p, b) => platform.putAppointmentType(c, id(p), b) }),
    ...crud('schedule', {
      create: (c, _p, b) => platform.createSchedule(c, b),
      update: (c, p, b) => platform.updateSchedule(c, id(p), b),
    }),
    ...crud('slot', {
      create: (c, _p, b) => platform.createSlot(c, b),
      update: (c, p, b) => platform.updateSlot(c, id(p), b),
      remove: (c, p) => platform.deleteSlot(c, id(p)),
    }),
    ...crud('appointment', {
      create: (c, _p, b) => platform.createAppointment(c, b),
      update: (c, p, b) => platform.updateAppointment(c, id(p), b),
    }),
    {
      method: 'post',
      path: `${P}/appointments/{id}/cancel`,
      handle: (c, p, b) => platform.cancelAppointment(c, id(p), b),
    },
    {
      method: 'post',
      path: `${P}/appointments/{id}/refuse`,
      handle: (c, p, b) => platform.refuseAppointment(c, id(p), b),
    },
    ...crud('patient', {
      create: (c, _p, b) => platform.createPatient(c, b),
      update: (c, p, b) => platform.updatePatient(c, id(p), b),
    }),
    ...crud('message', {
      create: (c, _p, b) => platform.createMessage(c, b),
      update: (c, p, b) => platform.updateMessage(c, id(p), b),
    }),
    {
      method: 'post',
      path: `${P}/messages/{id}/acknowledge`,
      handle: (c, p, b) => platform.acknowledgeMessage(c, id(p), b),
    },
    { method: 'get', path: `${P}/consignes`, handle: (c) => platform.getConsignes(c) },
    { method: 'post', path: `${P}/consignes`, handle: (c, _p, b) => platform.publishConsignes(c, b) },
    {
      method: 'get',
      path: `${P}/practitioners/{id}/published-slots`,
      handle: (c, p) => platform.getPublishedSlots(c, id(p)),
    },
    {
      method: 'put',
      path: `${P}/practitioners/{id}/published-slots`,
      handle: (c, p, b) => platform.publishSlots(c, id(p), b),
    },
    { method: 'get', path: `${P}/coverage`, handle: (c) => platform.getCoverage(c) },
    { method: 'put', path: `${P}/coverage`, handle: (c, _p, b) => platform.publishCoverage(c, b) },
    { method: 'get', path: `${P}/callback-requests`, handle: (c) => platform.listCallbackRequests(c) },
    {
      method: 'get',
      path: `${P}/call-statistics`,
      handle: (c, _p, _b, q) => {
        const day = q['day'];
        if (day === undefined || !/^\d{4}-\d{2}-\d{2}$/.test(day) || Number.isNaN(Date.parse(day)))
          throw new ProblemError(400, 'bad-day', 'day must be a date (YYYY-MM-DD)');
        return { status: 200, body: callStatistics(state, c.practiceId, day, platform.now()) };
      },
    },
    {
      method: 'post',
      path: `${P}/callback-requests`,
      handle: (c, _p, b) => platform.createCallbackRequest(c, b),
    },
    { method: 'get', path: `${P}/reminders`, handle: (c, _p, _b, q) => platform.listReminders(c, q) },
    { method: 'post', path: `${P}/reminders`, handle: (c, _p, b) => platform.handReminders(c, b) },
    {
      method: 'post',
      path: `${P}/reminders/{id}/outcome`,
      handle: (c, p, b) => platform.reportReminderOutcome(c, id(p), b),
    },
  ];
}

function sendProblem(res: Response, e: ProblemError, instance: string): void {
  res
    .status(e.status)
    .set({ 'Content-Type': 'application/problem+json', ...e.headers })
    .send(JSON.stringify(e.toProblem(instance)));
}

function sendReply(res: Response, reply: Reply, replayed: boolean): void {
  res.status(reply.status).set({ ...reply.headers, ...(replayed && { 'Idempotent-Replayed': 'true' }) });
  if (reply.body === undefined) res.end();
  else {
    if (reply.headers?.['Content-Type'] === undefined) res.type('application/json');
    res.send(JSON.stringify(reply.body));
  }
}

function parseIfMatch(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const m = /^(?:W\/)?"(\d+)"$/.exec(value.trim());
  if (!m) throw new ProblemError(400, 'bad-if-match', 'If-Match must be an ETag this API gave ("<version>")');
  return Number(m[1]);
}

export interface SimulatorAppOptions {
  readonly state: SimulatorState;
  readonly platform: Platform;
  readonly faults: Faults;
  readonly apiToken: string;
  /** Saves the state after a write was answered. */
  readonly persist: () => void;
}

export function createSimulatorApp(options: SimulatorAppOptions): {
  app: express.Express;
  routes: readonly SimRoute[];
} {
  const { state, platform, faults, apiToken } = options;
  const routes = buildRoutes(platform, state);
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');

  // The body is read first, so a delayed request is still processed after its client gave up
  // (a write whose answer is lost: what Idempotency-Key is for).
  app.use(express.raw({ type: () => true, limit: '1mb' }));

  // Faults next: a 429 or 500 here means nothing was processed, as with a real gateway.
  app.use(async (req: Request, res: Response, next: NextFunction) => {
    state.counters.requests += 1;
    const fault: ApiFault = faults.nextApi();
    if (fault.latencyMs > 0) await new Promise((r) => setTimeout(r, fault.latencyMs));
    if (fault.kind === 'status') {
      if (fault.status === 429) state.counters.faults429 += 1;
      else state.counters.faults500 += 1;
      const e = new ProblemError(
        fault.status,
        fault.status === 429 ? 'rate-limited' : 'server-error',
        fault.status === 429 ? 'Too many requests' : 'Internal error (simulated)',
        undefined,
        undefined,
        fault.status === 429 && fault.retryAfter !== undefined ? { 'Retry-After': fault.retryAfter } : {},
      );
      sendProblem(res, e, req.path);
      return;
    }
    next();
  });

  app.use((req, res, next) => {
    const auth = req.get('authorization');
    if (auth !== `Bearer ${apiToken}`) {
      sendProblem(
        res.set('WWW-Authenticate', 'Bearer'),
        new ProblemError(401, 'unauthorized', 'A valid bearer token is required'),
        req.path,
      );
      return;
    }
    next();
  });

  for (const route of routes) {
    const expressPath = route.path.replace(/\{([A-Za-z]+)\}/g, ':$1');
    app[route.method](expressPath, (req: Request, res: Response) => {
      const instance = req.path;
      try {
        const params = req.params as Record<string, string>;
        const practiceId = params['practiceId'] as string;
        if (state.practice(practiceId) === undefined)
          throw new ProblemError(404, 'not-found', 'No such practice');
        const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
        let body: unknown = undefined;
        if (raw.length > 0) {
          try {
            body = JSON.parse(raw.toString('utf8'));
          } catch {
            throw new ProblemError(400, 'malformed-json', 'The request body is not JSON');
          }
        }
        const agent = req.get('x-agent-id');
        if (agent !== undefined && !/^[A-Za-z0-9_.-]{1,64}$/.test(agent))
          throw new ProblemError(400, 'bad-agent-id', 'X-Agent-Id must be 1-64 of A-Z a-z 0-9 _ . -');
        const ctx: OperationContext = {
          practiceId,
          agentId: agent ?? null,
          ifMatch: parseIfMatch(req.get('if-match')),
          ifNoneMatchAny: req.get('if-none-match')?.trim() === '*',
          origin: agent === undefined ? 'integration' : 'agent',
        };
        const query = Object.fromEntries(
          Object.entries(req.query).map(([k, v]) => [k, typeof v === 'string' ? v : undefined]),
        );

        if (route.method === 'get') {
          sendReply(res, route.handle(ctx, params, body, query), false);
          return;
        }
        // Idempotency-Key (draft-ietf-httpapi-idempotency-key-header): required on POST, honoured
        // on every write; the same key with the same request gets the stored answer back, the same
        // key with another request is refused (422), nothing is applied twice.
        const key = req.get('idempotency-key');
        if (key === undefined && route.method === 'post')
          throw new ProblemError(400, 'idempotency-key-required', 'POST needs an Idempotency-Key header');
        if (key !== undefined && !/^[\x21-\x7e]{1,255}$/.test(key))
          throw new ProblemError(
            400,
            'bad-idempotency-key',
            'Idempotency-Key must be 1-255 visible ASCII characters',
          );
        const fingerprint = `${route.method} ${req.path} ${createHash('sha256').update(raw).digest('hex')} ${ctx.agentId ?? ''}`;
        if (key !== undefined) {
          const stored = state.idempotent(practiceId, key);
          if (stored !== undefined) {
            if (stored.fingerprint !== fingerprint)
              throw new ProblemError(
                422,
                'idempotency-key-reused',
                'This Idempotency-Key was used for another request',
              );
            state.counters.idempotentReplays += 1;
            state.replayed(practiceId, key);
            options.persist();
            sendReply(res, { status: stored.status, headers: stored.headers, body: stored.body }, true);
            return;
          }
        }
        let reply: Reply;
        try {
          reply = route.handle(ctx, params, body, query);
        } catch (e) {
          if (!(e instanceof ProblemError) || key === undefined) throw e;
          // A refused write is an answer too: the same key gets the same refusal.
          state.storeIdempotent(practiceId, key, {
            fingerprint,
            status: e.status,
            headers: { 'Content-Type': 'application/problem+json', ...e.headers },
            body: e.toProblem(instance),
          });
          options.persist();
          throw e;
        }
        if (key !== undefined)
          state.storeIdempotent(practiceId, key, {
            fingerprint,
            status: reply.status,
            headers: reply.headers ?? {},
            body: reply.body,
          });
        options.persist();
        sendReply(res, reply, false);
      } catch (e) {
        if (e instanceof ProblemError) sendProblem(res, e, instance);
        else sendProblem(res, new ProblemError(500, 'server-error', 'Internal error'), instance);
      }
    });
  }

  app.use((req: Request, res: Response) =>
    sendProblem(res, new ProblemError(404, 'not-found', 'No such route'), req.path),
  );
  return { app, routes };
}
