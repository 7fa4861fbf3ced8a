/**
 * Agenda rules, availability, forced bookings and secretariat coverage (issue 20). Integrators
 * write; viewers read. Practitioner ids are checked to belong to the practice in the path.
 * No patient data in or out: times, codes, labels and our ids.
 */
import { z } from 'zod';

import {
  AgendaRules,
  CoverageWindows,
  coverageZone,
  coveredIntervals,
  OUTSIDE_REASONS,
  PERIOD_KINDS,
  zoneOf,
} from '../../agenda/index.js';
import { PasserelleError } from '../../errors.js';
import type { Store, Tx } from '../../store/index.js';
import { requestCoveragePublication, requestSlotPublication } from '../../sync/agenda-publish.js';
import {
  appointmentsOutside,
  availabilityOf,
  importedRulesOf,
  rulesInEffect,
  rulesOf,
} from '../../sync/agenda-rules.js';
import { type AnyRoute, defineRoute, ifMatchVersion, reply } from '../route.js';

const id = z.string().regex(/^[A-Za-z0-9._:-]{1,100}$/, { error: 'not an id' });
const instant = z
  .string()
  .refine((s) => /^\d{4}-\d{2}-\d{2}T/.test(s) && !Number.isNaN(Date.parse(s)), { error: 'not an instant' });
const MAX_DAYS = 92;

const RulesView = z.object({
  practitionerId: z.string(),
  rules: z.record(z.string(), z.unknown()),
  version: z.number(),
  updatedBy: z.string(),
  updatedAt: z.string(),
});
const OutsideView = z.object({
  id: z.string(),
  start: z.string(),
  end: z.string(),
  reason: z.enum(OUTSIDE_REASONS),
  detail: z.string().optional(),
});
const SlotView = z.object({
  start: z.string(),
  end: z.string(),
  visitType: z.string(),
  kind: z.enum(PERIOD_KINDS),
  urgentOnly: z.boolean(),
});

function invalid(what: string, error: z.ZodError): PasserelleError {
  const issues = error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
  return new PasserelleError('ERR_AGENDA_RULES_INVALID', `${what}: ${issues.length} issue(s)`, { issues });
}

function windowOf(q: { from?: string | undefined; to?: string | undefined }, now: number, days = 90) {
  const from = q.from ?? new Date(now).toISOString();
  const to = q.to ?? new Date(Date.parse(from) + days * 86_400_000).toISOString();
  if (!(Date.parse(from) < Date.parse(to)))
    throw new PasserelleError('ERR_VALIDATION', 'to must be after from', { details: { field: 'to' } });
  if (Date.parse(to) - Date.parse(from) > MAX_DAYS * 86_400_000)
    throw new PasserelleError('ERR_VALIDATION', `at most ${MAX_DAYS} days at a time`, {
      details: { field: 'to' },
    });
  return { from, to };
}

/** How a change of rules or coverage asks for its publication to the secretariat platform (issue 20). */
export interface AgendaPublishHooks {
  readonly debounceMs: number;
  /** Wakes the dispatcher after the request is committed. */
  readonly notify: () => void;
}

export function agendaRoutes(store: Store, publish?: AgendaPublishHooks): AnyRoute[] {
  const now = () => store.now();
  const republish = async (ask: (tx: Tx, at: number) => Promise<number>) => {
    if (!publish) return;
    const n = await store.transaction((tx) => ask(tx, now() + publish.debounceMs));
    if (n > 0) publish.notify();
  };
  const requirePractitioner = async (practiceId: string, practitionerId: string) => {
    await store.practices.require(practiceId);
    const r = await store.resources.get(practitionerId);
    if (!r || r.kind !== 'Practitioner' || r.practiceId !== practiceId)
      throw new PasserelleError(
        'ERR_NOT_FOUND',
        `practitioner ${practitionerId} not found in this practice`,
        {
          details: { practitionerId },
        },
      );
  };
  const practiceScope = { practice: { from: 'params', field: 'id' } } as const;
  // The two coverage reads: a viewer's GET of one practice's windows over [from, to).
  const coverageRead = {
    method: 'get',
    tags: ['agenda'],
    access: 'viewer',
    scope: practiceScope,
    params: z.object({ id }),
    query: z.object({ from: instant.optional(), to: instant.optional() }),
  } as const;
  /** The practice's stored coverage and its parsed windows; undefined when none was set. */
  const coverageOf = async (practiceId: string) => {
    await store.practices.require(practiceId);
    const stored = await store.agenda.getCoverage(practiceId);
    return stored && { stored, windows: CoverageWindows.parse(stored.windows) };
  };
  return [
    defineRoute({
      method: 'get',
      path: '/api/v1/practices/:id/agenda-rules',
      summary:
        "The practice's agenda rules, per practitioner (opening hours, visit types, urgent and home-visit periods, absences, holidays)",
      tags: ['agenda'],
      access: 'viewer',
      scope: practiceScope,
      params: z.object({ id }),
      query: z.object({ practitionerId: id.optional() }),
      responses: { 200: { description: 'Rules', schema: z.object({ items: z.array(RulesView) }) } },
      handler: async ({ params, query }) => {
        await store.practices.require(params.id);
        const items = (await store.agenda.listRules(params.id)).filter(
          (r) => query.practitionerId === undefined || r.practitionerId === query.practitionerId,
        );
        return { items: items.map(({ practiceId: _p, ...r }) => r) };
      },
    }),
    defineRoute({
      method: 'put',
      path: '/api/v1/practices/:id/agenda-rules',
      summary:
        "Set one practitioner's agenda rules; answers the appointments of the next 90 days they leave outside (listed, never moved)",
      description:
        'Body: {practitionerId, rules, expectedVersion?} (expectedVersion 0 creates, the current version replaces; absent: last writer wins; `If-Match: "<version>"` does the same as expectedVersion). Every issue of invalid rules is listed (ERR_AGENDA_RULES_INVALID). Audited.',
      tags: ['agenda'],
      access: 'integrator',
      scope: practiceScope,
      params: z.object({ id }),
      body: z.strictObject({
        practitionerId: id,
        rules: z.record(z.string(), z.unknown()),
        expectedVersion: z.number().int().min(0).optional(),
      }),
      responses: {
        200: { description: 'Stored', schema: RulesView.extend({ outsideRules: z.array(OutsideView) }) },
        400: { description: 'Invalid rules' },
        404: { description: 'No such practice or practitioner' },
        409: { description: 'Version mismatch' },
      },
      handler: async ({ params, body, auth, audit, req }) => {
        await requirePractitioner(params.id, body.practitionerId);
        const parsed = AgendaRules.safeParse(body.rules);
        if (!parsed.success) throw invalid('agenda rules', parsed.error);
        // If-Match: "3" (the console) or expectedVersion in the body (scripts): the same check.
        const expectedVersion = body.expectedVersion ?? ifMatchVersion(req.get('if-match'));
        const stored = await store.agenda
          .putRules({
            practiceId: params.id,
            practitionerId: body.practitionerId,
            rules: body.rules as never,
            updatedBy: auth?.keyId ?? 'anonymous',
            ...(expectedVersion !== undefined && { expectedVersion }),
          })
          .catch((e: unknown) => {
            // The console tells a stale version by this reason (console/api.ts isStale).
            if (e instanceof PasserelleError && e.code === 'ERR_CONFLICT')
              throw new PasserelleError('ERR_CONFLICT', e.message, { details: { reason: 'stale-version' } });
            throw e;
          });
        await audit({
          action: 'agenda.rules.update',
          resourceType: 'Practitioner',
          resourceId: body.practitionerId,
          outcome: 'success',
          details: { practiceId: params.id, version: stored.version },
        });
        await republish((tx, at) => requestSlotPublication(tx, params.id, body.practitionerId, at));
        const outside = await appointmentsOutside(store, params.id, body.practitionerId, parsed.data, {
          ...windowOf({}, now()),
          now: new Date(now()).toISOString(),
        });
        const { practiceId: _p, ...view } = stored;
        return { ...view, outsideRules: outside };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/v1/practices/:id/agenda-rules/outside',
      summary:
        "Appointments a practitioner's current rules do not allow, with the reason (listed, never moved)",
      tags: ['agenda'],
      access: 'viewer',
      scope: practiceScope,
      params: z.object({ id }),
      query: z.object({ practitionerId: id, from: instant.optional(), to: instant.optional() }),
      responses: {
        200: {
          description: 'Appointments outside the rules',
          schema: z.object({ items: z.array(OutsideView) }),
        },
        404: { description: 'No such practice, practitioner or rules' },
      },
      handler: async ({ params, query }) => {
        await requirePractitioner(params.id, query.practitionerId);
        const rules = await rulesOf(store, params.id, query.practitionerId);
        if (!rules) throw new PasserelleError('ERR_NOT_FOUND', 'no agenda rules for this practitioner');
        const items = await appointmentsOutside(store, params.id, query.practitionerId, rules, {
          ...windowOf(query, now()),
          now: new Date(now()).toISOString(),
        });
        return { items };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/v1/practices/:id/agenda-rules/imported',
      summary:
        'The rules the practice software describes for a practitioner (opening hours, visit types, absences, with their sources), and which rules are in effect',
      description:
        'inEffect: `api` (rules set through this API win whole), `practice-software` (no API rules; the imported ones give opening hours) or null. Blocked slots of [from, to) (default: the next 30 days) are listed as absences.',
      tags: ['agenda'],
      access: 'viewer',
      scope: practiceScope,
      params: z.object({ id }),
      query: z.object({ practitionerId: id, from: instant.optional(), to: instant.optional() }),
      responses: {
        200: { description: 'Imported rules and the source in effect' },
        404: { description: 'No such practice or practitioner' },
      },
      handler: async ({ params, query }) => {
        await requirePractitioner(params.id, query.practitionerId);
        const inEffect = await rulesInEffect(store, params.id, query.practitionerId);
        const imported = await importedRulesOf(
          store,
          params.id,
          query.practitionerId,
          windowOf(query, now(), 30),
        );
        return { inEffect: inEffect?.source ?? null, imported };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/v1/practices/:id/availability',
      summary:
        'Free slots of a visit type for a practitioner over a period (at most 92 days): rules minus appointments, blocks, absences, buffers',
      tags: ['agenda'],
      access: 'viewer',
      scope: practiceScope,
      params: z.object({ id }),
      query: z.object({
        practitionerId: id,
        visitType: z.string().min(1).max(64),
        from: instant.optional(),
        to: instant.optional(),
      }),
      responses: {
        200: {
          description: 'Free slots, UTC instants, in time order',
          schema: z.object({ timeZone: z.string(), items: z.array(SlotView) }),
        },
        404: { description: 'No such practice, practitioner or rules' },
      },
      handler: async ({ params, query }) => {
        await requirePractitioner(params.id, query.practitionerId);
        const window = windowOf(query, now(), 7);
        const result = await availabilityOf(store, params.id, query.practitionerId, {
          visitType: query.visitType,
          ...window,
          now: new Date(now()).toISOString(),
        });
        if (!result) throw new PasserelleError('ERR_NOT_FOUND', 'no agenda rules for this practitioner');
        if (!result.rules.visitTypes.some((v) => v.code === query.visitType))
          throw new PasserelleError('ERR_NOT_FOUND', 'no such visit type in the rules', {
            details: { visitType: query.visitType },
          });
        return {
          timeZone: zoneOf(result.rules),
          items: result.slots,
        };
      },
    }),
    defineRoute({
      method: 'post',
      path: '/api/v1/practices/:id/forced-bookings',
      summary:
        "Let the secretariat book one time outside a practitioner's rules (the practice forces it); used once, audited",
      tags: ['agenda'],
      access: 'integrator',
      scope: practiceScope,
      params: z.object({ id }),
      body: z.strictObject({
        practitionerId: id,
        start: instant,
        end: instant,
        reason: z.string().min(1).max(500),
      }),
      responses: {
        201: { description: 'Created' },
        404: { description: 'No such practice or practitioner' },
      },
      handler: async ({ params, body, auth, audit }) => {
        await requirePractitioner(params.id, body.practitionerId);
        if (!(Date.parse(body.start) < Date.parse(body.end)))
          throw new PasserelleError('ERR_VALIDATION', 'end must be after start', {
            details: { field: 'end' },
          });
        const forced = await store.agenda.addForced({
          practiceId: params.id,
          practitionerId: body.practitionerId,
          start: new Date(body.start).toISOString(),
          end: new Date(body.end).toISOString(),
          reason: body.reason,
          createdBy: auth?.keyId ?? 'anonymous',
        });
        await audit({
          action: 'agenda.forced-booking.create',
          resourceType: 'Practitioner',
          resourceId: body.practitionerId,
          outcome: 'success',
          details: {
            practiceId: params.id,
            forcedBookingId: forced.id,
            start: forced.start,
            end: forced.end,
          },
        });
        return reply(201, forced);
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/v1/practices/:id/forced-bookings',
      summary: 'Forced bookings of the practice (used or not)',
      tags: ['agenda'],
      access: 'viewer',
      scope: practiceScope,
      params: z.object({ id }),
      query: z.object({ practitionerId: id.optional() }),
      responses: { 200: { description: 'Forced bookings' } },
      handler: async ({ params, query }) => {
        await store.practices.require(params.id);
        return {
          items: await store.agenda.listForced(params.id, {
            ...(query.practitionerId !== undefined && { practitionerId: query.practitionerId }),
          }),
        };
      },
    }),
    defineRoute({
      ...coverageRead,
      path: '/api/v1/practices/:id/coverage',
      summary:
        'The hours the secretariat covers for the practice (plages couvertes), and the covered intervals of a period',
      responses: { 200: { description: 'Coverage windows' } },
      handler: async ({ params, query }) => {
        const coverage = await coverageOf(params.id);
        if (!coverage) return { windows: null, version: 0, covered: [] };
        const { stored, windows } = coverage;
        const w = windowOf(query, now(), 7);
        return {
          windows: stored.windows,
          version: stored.version,
          updatedAt: stored.updatedAt,
          timeZone: coverageZone(windows),
          covered: coveredIntervals(windows, w.from, w.to).map((i) => ({
            start: new Date(i.start).toISOString(),
            end: new Date(i.end).toISOString(),
          })),
        };
      },
    }),
    defineRoute({
      method: 'put',
      path: '/api/v1/practices/:id/coverage',
      summary: 'Set the hours the secretariat covers (weekly, holidays, reinforcements); audited',
      tags: ['agenda'],
      access: 'integrator',
      scope: practiceScope,
      params: z.object({ id }),
      body: z.strictObject({
        windows: z.record(z.string(), z.unknown()),
        expectedVersion: z.number().int().min(0).optional(),
      }),
      responses: { 200: { description: 'Stored' }, 400: { description: 'Invalid windows' } },
      handler: async ({ params, body, auth, audit }) => {
        await store.practices.require(params.id);
        const parsed = CoverageWindows.safeParse(body.windows);
        if (!parsed.success) throw invalid('coverage windows', parsed.error);
        const stored = await store.agenda.putCoverage({
          practiceId: params.id,
          windows: body.windows as never,
          updatedBy: auth?.keyId ?? 'anonymous',
          ...(body.expectedVersion !== undefined && { expectedVersion: body.expectedVersion }),
        });
        await audit({
          action: 'agenda.coverage.update',
          resourceType: 'Practice',
          resourceId: params.id,
          outcome: 'success',
          details: { version: stored.version },
        });
        await republish((tx, at) => requestCoveragePublication(tx, params.id, at));
        return stored;
      },
    }),
    defineRoute({
      ...coverageRead,
      path: '/api/v1/practices/:id/coverage/outside',
      summary:
        'Calls (messages) and bookings the secretariat took outside its coverage windows, over a period',
      responses: { 200: { description: 'Events outside coverage' } },
      handler: async ({ params, query }) => {
        const coverage = await coverageOf(params.id);
        if (!coverage) throw new PasserelleError('ERR_NOT_FOUND', 'no coverage windows for this practice');
        const { windows } = coverage;
        const w = windowOf(
          {
            from: query.from ?? new Date(now() - 30 * 86_400_000).toISOString(),
            to: query.to ?? new Date(now()).toISOString(),
          },
          now(),
        );
        const covered = coveredIntervals(windows, w.from, w.to);
        const inside = (t: number) => covered.some((i) => i.start <= t && t < i.end);
        const items = [];
        let total = 0;
        for (const type of ['appointment.booked', 'message.received'] as const) {
          for (const e of await store.activity.list({
            practiceId: params.id,
            type,
            from: w.from,
            to: w.to,
            limit: 10_000,
          })) {
            if (e.origin !== 'secretariat') continue;
            total++;
            if (!inside(Date.parse(e.at)))
              items.push({
                at: e.at,
                type: e.type,
                recordId: e.recordId,
                practitionerId: e.practitionerId,
                priority: e.priority,
              });
          }
        }
        items.sort((a, b) => a.at.localeCompare(b.at));
        return { from: w.from, to: w.to, total, outside: items.length, items };
      },
    }),
  ];
}
