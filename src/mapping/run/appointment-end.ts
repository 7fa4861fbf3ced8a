/**
 * The end of an appointment the message or resource gives only partly, for both protocols: an
 * appointment with a start and no end ends `minutesDuration` later (FHIR R4
 * Appointment.minutesDuration; SIU gives the duration in SCH-9/SCH-10, SCH-11.3 or the AIS/AIG/
 * AIL/AIP resource segments rather than an end), else after its appointment type's minutes
 * (`appointmentTypes`), else after the profile's `defaultDurationMinutes` (product default 15):
 * the start is there, so the appointment is kept (issue 18), its end **assumed**, flagged
 * `appointment-end-assumed` with a warning.
 */
import { assumeEnd, END_ASSUMED_FLAG } from '../../model/appointment-end.js';
import type { MappingPlan } from '../compile/plan.js';
import type { RunState } from './apply.js';

export function serviceTypeCode(data: Record<string, unknown>): string | undefined {
  const st = data['serviceType'];
  const coding = Array.isArray(st) ? (st[0] as { coding?: unknown } | undefined)?.coding : undefined;
  const code = Array.isArray(coding) ? (coding[0] as { code?: unknown } | undefined)?.code : undefined;
  return typeof code === 'string' ? code : undefined;
}

export function completeEnd(plan: MappingPlan, data: Record<string, unknown>, st: RunState): void {
  const start = data['start'];
  if (typeof start !== 'string' || data['end'] !== undefined) return;
  let minutes = typeof data['minutesDuration'] === 'number' ? data['minutesDuration'] : undefined;
  let source = 'minutesDuration';
  if (minutes === undefined) {
    const code = serviceTypeCode(data);
    minutes = plan.appointmentTypes.find((t) => t.code === code)?.minutes;
    source = `appointmentTypes[code=${String(code)}].minutes`;
    if (minutes !== undefined) data['minutesDuration'] = minutes;
  }
  if (minutes !== undefined && minutes > 0 && assumeEnd(data, minutes)) {
    st.report.push({
      rule: 'Appointment.end',
      kind: 'Appointment',
      protocolPath: null,
      canonicalPath: 'end',
      status: 'defaulted',
      note: `start + ${source}`,
    });
    return;
  }
  if (!assumeEnd(data, plan.defaultDurationMinutes)) return;
  st.flags.add(END_ASSUMED_FLAG);
  st.report.push({
    rule: 'Appointment.end',
    kind: 'Appointment',
    protocolPath: null,
    canonicalPath: 'end',
    status: 'defaulted',
    code: 'ERR_MAPPING_RECORD_INVALID',
    note: `no end, duration or appointment type duration: end assumed at start + ${plan.defaultDurationMinutes} min (defaultDurationMinutes); flag ${END_ASSUMED_FLAG}`,
  });
}
