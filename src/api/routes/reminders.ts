/**
 * Reminders and recalls (issue 21 point 3): a practice's reminders of a day with where each
 * stands and its outcome — JSON, or the CSV the practice's staff open in Excel (names and phone
 * numbers from the practice's records: the read is audited) —, a forced pass (integrators),
 * and the opt-out register (the practice records a patient's refusal or renewed consent).
 */
import { DateTime } from 'luxon';
import { z } from 'zod';

import { PasserelleError } from '../../errors.js';
import type { Patient } from '../../model/resources.js';
import { CSV_CONTENT_TYPE, csvDocument, type CsvValue } from '../../reports/csv.js';
import type { Store } from '../../store/index.js';
import type { Reminder } from '../../store/repos/reminders.js';
import { OUTCOME_LABELS, type ReminderJob, reminderView } from '../../sync/reminders.js';
import { type AnyRoute, defineRoute, type RouteContext } from '../route.js';

const id = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, { error: 'not an id (1-64 of A-Z a-z 0-9 . _ -)' });
const day = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, { error: 'not a day (YYYY-MM-DD)' })
  .refine((d) => DateTime.fromISO(d).isValid, { error: 'not a calendar day' });
const PracticeParams = z.object({ practiceId: id });
const PatientParams = z.object({ practiceId: id, patientId: id });
const ListQuery = z.object({
  day: day.optional().describe("The pass's local day (default: today in the practice's zone)"),
  format: z.enum(['json', 'csv']).optional().describe('Overrides the Accept header: csv downloads the file'),
});

const KIND_LABEL = { reminder: 'Rappel de rendez-vous', recall: 'Relance de suivi' } as const;
const STATE_LABEL = { selected: 'À transmettre', handed: 'Transmis au secrétariat', done: 'Traité' } as const;

function nameOf(p: Patient | undefined): string | null {
  if (!p) return null;
  const n =
    p.name?.find((x) => x.use === 'usual') ?? p.name?.find((x) => x.use === 'official') ?? p.name?.[0];
  if (!n) return null;
  return [n.family, ...(n.given ?? [])].filter((x) => x).join(' ') || null;
}
const phoneOf = (p: Patient | undefined): string | null =>
  p?.telecom?.find((t) => t.system === 'phone' && t.use === 'mobile')?.value ??
  p?.telecom?.find((t) => t.system === 'phone' || t.system === 'sms')?.value ??
  null;

/** The day's reminders as CSV rows (French headers, local times, csv.ts conventions). */
export function remindersCsvRows(
  rows: readonly Reminder[],
  patients: ReadonlyMap<string, Patient>,
  zone: string,
): CsvValue[][] {
  const local = (iso: string | null) =>
    iso === null ? null : DateTime.fromISO(iso, { zone }).toFormat('yyyy-MM-dd HH:mm:ss');
  return [
    [
      'Jour',
      'Type',
      'Rendez-vous',
      'Motif',
      'Échéance',
      'Patient',
      'Téléphone',
      'État',
      'Résultat',
      'Ne plus relancer',
      'Reporté dans le logiciel',
      'Référence',
    ],
    ...rows.map((r) => {
      const v = reminderView(r);
      const p = patients.get(r.patientId);
      return [
        r.passDay,
        KIND_LABEL[r.kind],
        local(r.appointmentStart),
        r.visitType,
        r.dueOn,
        nameOf(p),
        phoneOf(p),
        STATE_LABEL[v.state],
        r.outcome === null ? null : OUTCOME_LABELS[r.outcome],
        r.optOut,
        r.writtenBackAt !== null,
        r.id,
      ];
    }),
  ];
}

export interface ReminderRoutesDeps {
  readonly store: Store;
  readonly job: ReminderJob;
}

function wantsCsv(ctx: RouteContext<unknown, { format?: 'json' | 'csv' | undefined }, unknown>): boolean {
  if (ctx.query.format) return ctx.query.format === 'csv';
  return ctx.req.accepts(['application/json', 'text/csv']) === 'text/csv';
}

export function reminderRoutes(deps: ReminderRoutesDeps): AnyRoute[] {
  const { store, job } = deps;
  const who = (ctx: RouteContext<unknown, unknown, unknown>) => ({
    actor: ctx.auth?.keyId ?? 'anonymous',
    role: ctx.auth?.role ?? null,
    requestId: ctx.requestId,
  });
  return [
    defineRoute({
      method: 'get',
      path: '/api/v1/practices/:practiceId/reminders',
      summary:
        "A practice's reminders and recalls of one day: selected, handed to the secretariat, and the outcome it reported",
      description:
        'JSON by default (ids, visit types, dates, state, outcome). `Accept: text/csv` (or `format=csv`) returns the day as a `;`-separated UTF-8 CSV with a BOM, French headers, with the patients’ names and phone numbers from the practice’s records (the read is audited), as `passerelle-relances-<practice>-<day>.csv`.',
      tags: ['reminders'],
      access: 'viewer',
      scope: { practice: { from: 'params', field: 'practiceId' } },
      params: PracticeParams,
      query: ListQuery,
      responses: {
        200: { description: '{ day, items } (JSON; CSV with Accept: text/csv)' },
        404: { description: 'No such practice' },
      },
      handler: async (ctx) => {
        const practice = await store.practices.get(ctx.params.practiceId);
        if (!practice)
          throw new PasserelleError('ERR_NOT_FOUND', `practice ${ctx.params.practiceId} not found`);
        const d =
          ctx.query.day ??
          (DateTime.fromMillis(store.now(), { zone: practice.timezone }).toISODate() as string);
        const rows = await job.list(practice.id, { passDay: d });
        if (!wantsCsv(ctx)) return { day: d, items: rows.map(reminderView) };
        const patients = new Map(
          (await store.resources.getMany(rows.map((r) => r.patientId)))
            .filter((r) => r.kind === 'Patient' && r.practiceId === practice.id)
            .map((r) => [r.id, r.data as unknown as Patient]),
        );
        await ctx.audit({
          action: 'reminders.export',
          resourceType: 'Patient',
          resourceId: null,
          practiceId: practice.id,
          outcome: 'success',
          details: { day: d, patients: [...patients.keys()] },
        });
        ctx.res
          .status(200)
          .set({
            'Content-Type': CSV_CONTENT_TYPE,
            'Content-Disposition': `attachment; filename="passerelle-relances-${practice.id}-${d}.csv"`,
            'Cache-Control': 'no-store',
          })
          .send(Buffer.from(csvDocument(remindersCsvRows(rows, patients, practice.timezone)), 'utf8'));
      },
    }),
    defineRoute({
      method: 'post',
      path: '/api/v1/practices/:practiceId/reminders/run',
      summary:
        "Runs the practice's reminder pass now (a day's pass, even when it already ran: nothing already selected is selected again) and hands the result to the secretariat",
      tags: ['reminders'],
      access: 'integrator',
      scope: { practice: { from: 'params', field: 'practiceId' } },
      params: PracticeParams,
      body: z.object({ day: day.optional() }),
      responses: {
        200: { description: '{ practiceId, day, selected, reminders, recalls, skipped, handed }' },
        404: { description: 'No such practice' },
      },
      handler: async (ctx) => job.runPractice(ctx.params.practiceId, ctx.body.day),
    }),
    defineRoute({
      method: 'put',
      path: '/api/v1/practices/:practiceId/reminder-opt-outs/:patientId',
      summary:
        'Records that a patient does not want to be reminded or recalled (honoured by every later pass)',
      tags: ['reminders'],
      access: 'viewer',
      scope: { practice: { from: 'params', field: 'practiceId' } },
      params: PatientParams,
      bodyType: 'none',
      responses: {
        200: { description: '{ optedOut: true, changed }' },
        404: { description: 'No such patient in this practice' },
      },
      handler: async (ctx) => job.setOptOut(ctx.params.practiceId, ctx.params.patientId, true, who(ctx)),
    }),
    defineRoute({
      method: 'delete',
      path: '/api/v1/practices/:practiceId/reminder-opt-outs/:patientId',
      summary: 'Removes a patient from the opt-out register (the patient consents again)',
      tags: ['reminders'],
      access: 'viewer',
      scope: { practice: { from: 'params', field: 'practiceId' } },
      params: PatientParams,
      bodyType: 'none',
      responses: {
        200: { description: '{ optedOut: false, changed }' },
        404: { description: 'No such patient in this practice' },
      },
      handler: async (ctx) => job.setOptOut(ctx.params.practiceId, ctx.params.patientId, false, who(ctx)),
    }),
  ];
}
