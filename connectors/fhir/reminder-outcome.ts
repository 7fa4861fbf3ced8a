/**
 * A reminder's outcome as the practice software keeps it (issue 21 point 3): a FHIR R4
 * Communication (https://hl7.org/fhir/R4/communication.html) — "a record of a communication
 * that was made" — from the secretariat to the patient, `about` the appointment reminded,
 * `completed` when the patient was reached (reached, rebooked, declined) and `not-done` with a
 * `statusReason` when not. Its business identifier is passerelle's reminder id, created with
 * If-None-Exist (FHIR R4 http.html#ccreate): a retried write creates nothing twice.
 *
 * Why a Communication and not an Appointment extension: a recall has no appointment, an
 * appointment update would need an If-Match round trip that races the practice's own edits,
 * and a Communication is what FHIR servers already list in the patient's record. The shipped
 * profile lets only the secretariat create Communications, so the poller reading this one
 * back ignores it (`ignored-not-creator`) and it never reaches the secretariat as a message.
 */
import type { Communication } from '@medplum/fhirtypes';

import type { ReminderWriteBack } from '../../src/connector/contract.js';
import { PASSERELLE_FHIR_BASE } from '../../src/model/identifiers.js';

export const REMINDER_IDENTIFIER_SYSTEM = `${PASSERELLE_FHIR_BASE}/reminder`;
export const REMINDER_CATEGORY_SYSTEM = `${PASSERELLE_FHIR_BASE}/CodeSystem/reminder-kind`;
export const REMINDER_OUTCOME_SYSTEM = `${PASSERELLE_FHIR_BASE}/CodeSystem/reminder-outcome`;

export function reminderCommunication(o: ReminderWriteBack): Communication {
  const reached = o.outcome !== 'not-reached';
  return {
    resourceType: 'Communication',
    identifier: [{ system: REMINDER_IDENTIFIER_SYSTEM, value: o.reference }],
    status: reached ? 'completed' : 'not-done',
    ...(!reached && {
      statusReason: {
        coding: [{ system: REMINDER_OUTCOME_SYSTEM, code: o.outcome }],
        text: 'Patient non joint',
      },
    }),
    category: [
      {
        coding: [{ system: REMINDER_CATEGORY_SYSTEM, code: o.kind }],
        text: o.kind === 'reminder' ? 'Rappel de rendez-vous' : 'Relance de suivi',
      },
    ],
    priority: 'routine',
    subject: { reference: `Patient/${o.patientId}` },
    recipient: [{ reference: `Patient/${o.patientId}` }],
    ...(o.appointmentId !== null && { about: [{ reference: `Appointment/${o.appointmentId}` }] }),
    sent: o.at,
    reasonCode: [{ coding: [{ system: REMINDER_OUTCOME_SYSTEM, code: o.outcome }] }],
    payload: [{ contentString: o.text }],
  };
}
