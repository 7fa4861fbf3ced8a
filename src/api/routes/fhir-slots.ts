/**
 * A read-only FHIR R4 endpoint answering the ANS shared-agenda guide's search for free slots
 * (ans.fhir.fr.gap, flux 4a/5a « Demande de consultation de disponibilités »: a search on Slot
 * with status=free; the answer is a searchset Bundle of FrSlot, `search.mode` match, with the
 * FrSchedule they belong to as `include`, profile gap-bundle-reponse-demande-consult-dispo).
 *
 *   GET /fhir/r4/Slot?schedule.actor=Practitioner/<RPPS | IDNPS | our id>
 *       &start=ge2026-12-07&start=lt2026-12-14&status=free&service-type=<code>&_include=Slot:schedule
 *
 * The slots are computed by the availability engine from the rules in effect (src/agenda), not
 * stored: the same search gives the same slots until the agenda changes. API keys as for the
 * admin API (viewer and up); a key limited to a practice sees that practice's practitioners only.
 * Paged (`_count`, the Bundle's `next` link: FHIR R4 http.html#paging) in a stable order.
 * No patient data: times, codes, practitioners' national ids and names.
 */
import { createHash } from 'node:crypto';

import { z } from 'zod';

import { zoneOf } from '../../agenda/index.js';
import { freeSlots } from '../../agenda/index.js';
import { OID, URGENT_SLOT_CODE, V2_0276_SYSTEM } from '../../model/identifiers.js';
import type { Practitioner } from '../../model/resources.js';
import type { Store } from '../../store/index.js';
import { agendaStateOf, rulesInEffect } from '../../sync/agenda-rules.js';
import { type AnyRoute, defineRoute } from '../route.js';

/** Where visit-type codes live (the secretariat's appointment types, as the mappings set them). */
export const APPOINTMENT_TYPE_SYSTEM = 'https://fhir.passerelle.fr/CodeSystem/secretariat-appointment-type';
const FR_CORE = 'https://hl7.fr/ig/fhir/core/StructureDefinition';
const MAX_DAYS = 92;
const DAY = 86_400_000;
/** Slots per page without `_count`, and the most a page holds (a larger `_count` gets this many). */
export const SLOT_PAGE_DEFAULT = 100;
export const SLOT_PAGE_MAX = 500;

const many = z.union([z.string(), z.array(z.string())]).optional();
const list = (v: string | string[] | undefined): string[] =>
  v === undefined ? [] : Array.isArray(v) ? v : [v];

function outcome(status: number, code: string, diagnostics: string) {
  return {
    status,
    body: {
      resourceType: 'OperationOutcome',
      issue: [{ severity: 'error', code, diagnostics }],
    },
  };
}

/** FHIR date search prefixes (https://hl7.org/fhir/R4/search.html#prefix) → a half-open window. */
function windowOf(starts: string[], now: number): { from: number; to: number } | string {
  let from = now;
  let to = now + 7 * DAY;
  for (const s of starts) {
    const m = /^(ge|gt|le|lt|eq)?(\d{4}-\d{2}-\d{2}(T[0-9:.]+(Z|[+-]\d{2}:\d{2}))?)$/.exec(s);
    if (!m) return `start: "${s}" is not a date with a prefix (ge, gt, le, lt)`;
    const t = Date.parse(m[3] ? (m[2] as string) : `${m[2]}T00:00:00Z`);
    if (Number.isNaN(t)) return `start: "${s}" is not a date`;
    const dayOnly = !m[3];
    switch (m[1] ?? 'eq') {
      case 'ge':
        from = t;
        break;
      case 'gt':
        from = dayOnly ? t + DAY : t + 1;
        break;
      case 'lt':
        to = t;
        break;
      case 'le':
        to = dayOnly ? t + DAY : t + 1;
        break;
      default:
        from = t;
        to = dayOnly ? t + DAY : t + 1;
    }
  }
  if (!(from < to)) return 'start: the window is empty';
  if (to - from > MAX_DAYS * DAY) return `start: at most ${MAX_DAYS} days at a time`;
  return { from, to };
}

/** A stable FHIR id (`[A-Za-z0-9-.]{1,64}`) for a computed resource. */
const fhirId = (prefix: string, ...parts: string[]) =>
  `${prefix}-${createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 32)}`;

/**
 * FHIR search paging (https://hl7.org/fhir/R4/http.html#paging): the server chooses how the
 * `next` link names the following page. Ours carries the last slot of the page — its start and
 * id, the order of the matches — so a page starts after it even when the agenda changed between
 * requests (keyset, not an offset: a slot taken meanwhile shifts nothing).
 */
const cursorOf = (start: string, id: string) => Buffer.from(`${start}|${id}`).toString('base64url');
function afterCursor(cursor: string): { start: string; id: string } | undefined {
  const m = /^([^|]+)\|(slot-[0-9a-f]{32})$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!m || Number.isNaN(Date.parse(m[1] as string))) return undefined;
  return { start: m[1] as string, id: m[2] as string };
}
/** The order of the matches: by start, then by id (stable: ids are hashes of what the slot is). */
const byStartThenId = (a: { start: string; id: string }, b: { start: string; id: string }) =>
  a.start < b.start ? -1 : a.start > b.start ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;

function pageSizeOf(count: string | undefined): number | string {
  if (count === undefined) return SLOT_PAGE_DEFAULT;
  if (!/^\d{1,9}$/.test(count)) return `_count: "${count}" is not a whole number`;
  // _count is a hint (R4 search.html#count): a larger page than ours is cut to ours.
  return Math.min(Number(count), SLOT_PAGE_MAX);
}

const IDNPS_TYPE = 'IDNPS';
function nationalIdOf(p: Practitioner): string | undefined {
  return p.identifier?.find((i) => i.system === OID.idnps)?.value;
}

/** The practitioner the `schedule.actor` reference names: our id, the IDNPS ("8"+RPPS) or the RPPS. */
function matches(actorId: string, id: string, p: Practitioner): boolean {
  const idnps = nationalIdOf(p);
  return actorId === id || (idnps !== undefined && (actorId === idnps || `8${actorId}` === idnps));
}

export function fhirSlotRoutes(store: Store, instance: () => string): AnyRoute[] {
  return [
    defineRoute({
      method: 'get',
      path: '/fhir/r4/Slot',
      summary:
        'FHIR R4 search of free slots as the ANS shared-agenda guide asks (schedule.actor, start, status=free, service-type, _include=Slot:schedule): a searchset Bundle computed from the agenda rules',
      description:
        "Read-only. `schedule.actor=Practitioner/<RPPS|IDNPS|id>` is required; `start` takes ge/gt/le/lt prefixes (default: the next 7 days, at most 92); `status` other than free finds nothing; `service-type` is a visit-type code (`system|code` accepted). Paged: `_count` slots a page (default 100, at most 500; 0: the total only), in start order, the Bundle's `next` link gives the following page. Errors are OperationOutcomes.",
      tags: ['agenda', 'fhir'],
      access: 'viewer',
      scope: 'list',
      query: z.object({
        'schedule.actor': many,
        start: many,
        status: many,
        'service-type': many,
        _include: many,
        _count: z.string().optional(),
        _cursor: z.string().max(200).optional(),
      }),
      responses: {
        200: { description: 'application/fhir+json searchset Bundle of Slot (match) and Schedule (include)' },
        400: { description: 'application/fhir+json OperationOutcome' },
      },
      handler: async ({ query, scope, res }) => {
        const send = (status: number, body: unknown) =>
          void res
            .status(status)
            .set({ 'Content-Type': 'application/fhir+json; charset=utf-8' })
            .send(JSON.stringify(body));
        const now = store.now();
        const actors = list(query['schedule.actor']);
        const actor = /^Practitioner\/([A-Za-z0-9._:-]{1,100})$/.exec(actors[0] ?? '');
        if (actors.length !== 1 || !actor) {
          const o = outcome(
            400,
            'required',
            'schedule.actor=Practitioner/<RPPS, IDNPS or id> is required (one)',
          );
          return send(o.status, o.body);
        }
        const window = windowOf(list(query.start), now);
        if (typeof window === 'string') {
          const o = outcome(400, 'invalid', window);
          return send(o.status, o.body);
        }
        const statuses = list(query.status).flatMap((s) => s.split(','));
        const wanted = list(query['service-type'])
          .flatMap((s) => s.split(','))
          .map((s) => (s.includes('|') ? (s.split('|')[1] as string) : s));
        const pageSize = pageSizeOf(query._count);
        if (typeof pageSize === 'string') {
          const o = outcome(400, 'invalid', pageSize);
          return send(o.status, o.body);
        }
        const after = query._cursor === undefined ? undefined : afterCursor(query._cursor);
        if (query._cursor !== undefined && !after) {
          const o = outcome(400, 'invalid', '_cursor: not a page of this search (follow the Bundle’s links)');
          return send(o.status, o.body);
        }
        const include = list(query._include).includes('Slot:schedule');
        const found: { start: string; id: string; scheduleId: string; entry: unknown }[] = [];
        const schedules = new Map<string, unknown>();
        const base = instance();
        // Only free slots are computed: a search for busy ones finds nothing here.
        const freeAsked = statuses.length === 0 || statuses.includes('free');
        const practices =
          scope.practiceIds === null ? (await store.practices.list()).map((p) => p.id) : scope.practiceIds;
        for (const practiceId of freeAsked ? practices : []) {
          for (const r of await store.resources.list({ practiceId, kind: 'Practitioner' })) {
            const p = r.data as unknown as Practitioner;
            if (!matches(actor[1] as string, r.id, p)) continue;
            const inEffect = await rulesInEffect(store, practiceId, r.id);
            if (!inEffect) continue;
            const { rules } = inEffect;
            const from = new Date(window.from).toISOString();
            const to = new Date(window.to).toISOString();
            const state = await agendaStateOf(store, practiceId, r.id, rules, from, to);
            const types = rules.visitTypes.filter((v) => wanted.length === 0 || wanted.includes(v.code));
            const scheduleId = fhirId('agenda', practiceId, r.id);
            const idnps = nationalIdOf(p);
            for (const v of types) {
              for (const s of freeSlots(rules, state, {
                visitType: v.code,
                from,
                to,
                now: new Date(now).toISOString(),
              })) {
                const id = fhirId('slot', practiceId, r.id, v.code, s.start);
                found.push({
                  start: s.start,
                  id,
                  scheduleId,
                  entry: {
                    fullUrl: `${base}/fhir/r4/Slot/${id}`,
                    resource: {
                      resourceType: 'Slot',
                      id,
                      meta: { profile: [`${FR_CORE}/fr-core-slot`] },
                      schedule: { reference: `Schedule/${scheduleId}` },
                      serviceType: [
                        { coding: [{ system: APPOINTMENT_TYPE_SYSTEM, code: v.code, display: v.label }] },
                      ],
                      // v2-0276 EMERGENCY: an urgent-only slot (urgence du jour), as the practice software marks them.
                      ...(s.urgentOnly && {
                        appointmentType: { coding: [{ system: V2_0276_SYSTEM, code: URGENT_SLOT_CODE }] },
                      }),
                      status: 'free',
                      start: s.start,
                      end: s.end,
                    },
                    search: { mode: 'match' },
                  },
                });
              }
            }
            if (include) {
              const name = p.name?.[0];
              schedules.set(scheduleId, {
                fullUrl: `${base}/fhir/r4/Schedule/${scheduleId}`,
                resource: {
                  resourceType: 'Schedule',
                  id: scheduleId,
                  meta: { profile: [`${FR_CORE}/fr-core-schedule`] },
                  // FR Core fr-core-service-type-duration: each visit type and its duration.
                  extension: rules.visitTypes.map((v) => ({
                    url: `${FR_CORE}/fr-core-service-type-duration`,
                    extension: [
                      {
                        url: 'serviceType',
                        valueCodeableConcept: {
                          coding: [{ system: APPOINTMENT_TYPE_SYSTEM, code: v.code, display: v.label }],
                        },
                      },
                      {
                        url: 'duration',
                        valueDuration: {
                          value: v.durationMinutes,
                          unit: 'min',
                          system: 'http://unitsofmeasure.org',
                          code: 'min',
                        },
                      },
                    ],
                  })),
                  active: true,
                  actor: [
                    {
                      ...(idnps !== undefined
                        ? {
                            identifier: {
                              system: OID.idnps,
                              value: idnps,
                              type: {
                                coding: [
                                  {
                                    system: 'https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203',
                                    code: IDNPS_TYPE,
                                  },
                                ],
                              },
                            },
                          }
                        : { reference: `Practitioner/${r.id}` }),
                      ...(name && {
                        display: [name.prefix?.[0], name.given?.[0], name.family].filter(Boolean).join(' '),
                      }),
                    },
                  ],
                  planningHorizon: { start: from, end: to },
                  comment: `Créneaux libres calculés par passerelle (fuseau ${zoneOf(rules)})`,
                },
                search: { mode: 'include' },
              });
            }
          }
        }
        found.sort(byStartThenId);
        const first = after ? found.findIndex((m) => byStartThenId(m, after) > 0) : 0;
        const page = first < 0 ? [] : found.slice(first, first + pageSize);
        const last = page.at(-1);
        const more = last !== undefined && first + page.length < found.length;
        // _include: the Schedules of this page's slots (R4 search.html#include), after them.
        const included = [...new Set(page.map((m) => m.scheduleId))].flatMap((id) =>
          schedules.has(id) ? [schedules.get(id)] : [],
        );
        const link = [{ relation: 'self', url: `${base}${res.req.originalUrl}` }];
        if (more) {
          // The same search, its window pinned (a default window would move with the clock).
          // Only the path and query of the request are read (the base is the instance's public URL).
          const next = new URL(res.req.originalUrl, 'http://localhost');
          for (const k of ['start', '_count', '_cursor']) next.searchParams.delete(k);
          next.searchParams.append('start', `ge${new Date(window.from).toISOString()}`);
          next.searchParams.append('start', `lt${new Date(window.to).toISOString()}`);
          next.searchParams.set('_count', String(pageSize));
          next.searchParams.set('_cursor', cursorOf(last.start, last.id));
          link.push({ relation: 'next', url: `${base}${next.pathname}${next.search}` });
        }
        return send(200, {
          resourceType: 'Bundle',
          type: 'searchset',
          timestamp: new Date(now).toISOString(),
          total: found.length,
          link,
          entry: [...page.map((m) => m.entry), ...included],
        });
      },
    }),
  ];
}
