/**
 * What an agent's desk software does on the secretariat platform that `SimulatorAgent` does not
 * offer, through the platform's own HTTP API (bearer token, X-Agent-Id, If-Match,
 * Idempotency-Key): change a patient's contact details, change an appointment. For the e2e scenarios and the integration tests.
 */
import { randomUUID } from 'node:crypto';

import type { Appointment, Patient } from '../../connectors/secretariat/contract.js';
import type { SecretariatSimulator } from '../../connectors/secretariat/simulator/index.js';

/** An agent edits the patient's contact details as the platform holds them now (GET, change, PUT with If-Match). */
export async function agentEditsContact(
  sim: SecretariatSimulator,
  patientId: string,
  change: (c: Patient['contact']) => Patient['contact'],
  agentId = 'agent-e2e',
): Promise<Patient> {
  const base = `${sim.url}/v1/practices/${sim.practiceId}/patients/${patientId}`;
  const headers = { authorization: `Bearer ${sim.apiToken}`, 'x-agent-id': agentId };
  const read = await fetch(base, { headers });
  if (!read.ok) throw new Error(`reading patient ${patientId} on the platform: HTTP ${read.status}`);
  const current = (await read.json()) as Patient;
  const res = await fetch(base, {
    method: 'PUT',
    headers: {
      ...headers,
      'content-type': 'application/json',
      'if-match': `"${current.version}"`,
      'idempotency-key': randomUUID(),
    },
    body: JSON.stringify({ identity: current.identity, ins: current.ins, contact: change(current.contact) }),
  });
  const body = await res.text();
  if (!res.ok)
    throw new Error(`an agent's edit of patient ${patientId} was refused: HTTP ${res.status} ${body}`);
  return JSON.parse(body) as Patient;
}

/**
 * An agent changes an appointment as the platform holds it now (GET, change, PUT with If-Match);
 * the idempotency key names the version changed, so a retried PUT is not a second change.
 */
export async function agentEditsAppointment(
  sim: SecretariatSimulator,
  id: string,
  change: (a: Appointment) => Partial<Appointment>,
  agentId = 'agent-e2e',
): Promise<void> {
  const url = `${sim.url}/v1/practices/${sim.practiceId}/appointments/${id}`;
  const headers = { authorization: `Bearer ${sim.apiToken}`, 'x-agent-id': agentId };
  const current = (await (await fetch(url, { headers })).json()) as Appointment;
  const next = { ...current, ...change(current) };
  const res = await fetch(url, {
    method: 'PUT',
    headers: {
      ...headers,
      'content-type': 'application/json',
      'if-match': `"${current.version}"`,
      'idempotency-key': `agent-${id}-${current.version}`,
    },
    body: JSON.stringify({
      practitionerId: next.practitionerId,
      patientId: next.patientId,
      slotId: next.slotId,
      appointmentTypeId: next.appointmentTypeId,
      start: next.start,
      end: next.end,
      note: next.note,
      status: next.status,
    }),
  });
  if (!res.ok) throw new Error(`agent PUT appointment ${id}: ${res.status} ${await res.text()}`);
}
