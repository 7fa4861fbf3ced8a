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
        'Read-only. `schedule.actor=Practitioner/<RPPS|IDNPS|id>` is required; `start` takes ge/gt/le/lt prefixes (default: the next 7 days, at most 92); `status` other than free finds nothing; `service-type` is a visit-type code (`system|code` accepted). Errors are OperationOutcomes.',
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
        const include = list(query._include).includes('Slot:schedule');
        const entries: unknown[] = [];
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
            let any = false;
            for (const v of types) {
              for (const s of freeSlots(rules, state, {
                visitType: v.code,
                from,
                to,
                now: new Date(now).toISOString(),
              })) {
                any = true;
                entries.push({
                  fullUrl: `${base}/fhir/r4/Slot/${fhirId('slot', practiceId, r.id, v.code, s.start)}`,
                  resource: {
                    resourceType: 'Slot',
                    id: fhirId('slot', practiceId, r.id, v.code, s.start),
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
                });
              }
            }
            if (include && any) {
              const name = p.name?.[0];
              entries.push({
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
        const total = entries.filter(
          (e) => (e as { search: { mode: string } }).search.mode === 'match',
        ).length;
        return send(200, {
          resourceType: 'Bundle',
          type: 'searchset',
          timestamp: new Date(now).toISOString(),
          total,
          link: [{ relation: 'self', url: `${base}${res.req.originalUrl}` }],
          entry: entries,
        });
      },
    }),
  ];
}
