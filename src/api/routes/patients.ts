/**
 * RGPD rights on one patient through the admin API (src/privacy/patient-data.ts): export
 * everything held about them as one JSON document (integrator: the practice's IT answers access
 * and portability requests), and erase it (admin only: it cannot be undone). Both are audited
 * by the functions they call, with the caller as actor.
 */
import { z } from 'zod';

import { erasePatient, exportPatient, PATIENT_EXPORT_FORMAT } from '../../privacy/patient-data.js';
import type { Store } from '../../store/index.js';
import { type AnyRoute, defineRoute, type RouteContext } from '../route.js';

const PatientParams = z.object({
  practiceId: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, { error: 'not a practice id' }),
  patientId: z.string().regex(/^[A-Za-z0-9._:-]{1,100}$/, { error: 'not a patient id' }),
});
type PatientParams = z.infer<typeof PatientParams>;

const rows = z.array(z.record(z.string(), z.unknown()));
const PatientExportView = z.object({
  format: z.literal(PATIENT_EXPORT_FORMAT),
  exportedAt: z.string(),
  practiceId: z.string(),
  patientId: z.string().describe('The canonical Patient id'),
  patient: z.record(z.string(), z.unknown()),
  mergedRecords: rows,
  identities: rows.describe('External ids on each link'),
  matchKeys: z.array(z.string()),
  snapshots: rows,
  appointments: rows,
  communications: rows,
  conflicts: rows,
  reviewItems: rows,
  outbox: rows,
  deadLetters: rows,
  inbox: rows.describe('Received messages carrying one of the patient’s identifiers, body as text'),
  activity: rows,
  audit: rows,
});
const counts = z.record(z.string(), z.number());
const PatientEraseView = z.object({
  practiceId: z.string(),
  patientId: z.string(),
  erasedAt: z.string(),
  removed: counts,
  pseudonymised: counts,
  auditEventsKept: z.number().int(),
});

const actorOf = (ctx: RouteContext<PatientParams, unknown, unknown>) => ({
  actor: ctx.auth?.keyId ?? 'anonymous',
  role: ctx.auth?.role ?? null,
  via: 'api',
  requestId: ctx.requestId,
});

export function patientRoutes(deps: { readonly store: Store }): AnyRoute[] {
  const { store } = deps;
  return [
    defineRoute({
      method: 'get',
      path: '/api/v1/practices/:practiceId/patients/:patientId/export',
      summary: 'Everything passerelle holds about one patient, as JSON (RGPD access and portability)',
      description:
        'The canonical record and the records merged into it, external ids per link, match keys, snapshots, appointments and call messages naming the patient, conflicts, review items, outbox rows, dead letters, received messages carrying one of its identifiers, activity and audit events. The read is audited.',
      tags: ['privacy'],
      access: 'integrator',
      scope: { practice: { from: 'params', field: 'practiceId' } },
      params: PatientParams,
      responses: {
        200: { description: 'The export', schema: PatientExportView },
        404: { description: 'No such patient in this practice' },
      },
      handler: async (ctx) => {
        const exported = await exportPatient(
          store,
          ctx.params.practiceId,
          ctx.params.patientId,
          actorOf(ctx),
        );
        ctx.res
          .status(200)
          .set({
            'Cache-Control': 'no-store',
            'Content-Disposition': `attachment; filename="passerelle-patient-${ctx.params.patientId}.json"`,
          })
          .json(exported);
      },
    }),
    defineRoute({
      method: 'post',
      path: '/api/v1/practices/:practiceId/patients/:patientId/erase',
      summary: 'Erase one patient (RGPD erasure): records deleted, appointments pseudonymised, audit kept',
      description:
        'Deletes the patient record (and those merged into it), its external ids, match keys, snapshots, call messages, conflicts, review items, outbox rows, dead letters and the bodies of received messages carrying it; appointments stay for the agenda without the patient. Audit events stay: they name the patient only by its canonical id, which no longer resolves. Refused (409 ERR_PATIENT_ERASE_PENDING) while a change about the patient waits to be delivered.',
      tags: ['privacy'],
      access: 'admin',
      scope: { practice: { from: 'params', field: 'practiceId' } },
      params: PatientParams,
      bodyType: 'none',
      responses: {
        200: {
          description: 'What was removed and pseudonymised, per kind of data',
          schema: PatientEraseView,
        },
        404: { description: 'No such patient in this practice' },
        409: { description: 'Changes about the patient are still waiting to be delivered' },
      },
      handler: async (ctx) => erasePatient(store, ctx.params.practiceId, ctx.params.patientId, actorOf(ctx)),
    }),
  ];
}
