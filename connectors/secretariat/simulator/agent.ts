/**
 * Plays a secretariat agent through the platform's own HTTP API (with `X-Agent-Id`), as the
 * agents' desk software would: book, move, cancel, record a no-show or an arrival, propose a
 * patient, leave a call message, mark it urgent. For tests and the demo.
 */
import { randomUUID } from 'node:crypto';

import type {
  Appointment,
  Message,
  MessageCreate,
  Patient,
  PatientInput,
  ReminderBody,
  Slot,
} from '../contract.js';

export class AgentRequestError extends Error {
  constructor(
    readonly status: number,
    readonly code: string | undefined,
  ) {
    super(`agent request failed: ${status}${code ? ` ${code}` : ''}`);
  }
}

export interface BookingRequest {
  readonly practitionerId?: string;
  readonly slotId?: string;
  readonly patientId?: string | null;
  readonly start?: string;
  readonly end?: string;
  readonly appointmentTypeId?: string | null;
  readonly note?: string | null;
}

export class SimulatorAgent {
  constructor(
    private readonly baseUrl: string,
    private readonly apiToken: string,
    readonly practiceId: string,
    readonly agentId: string,
  ) {}

  private async call<T>(method: string, path: string, body?: unknown, ifMatch?: number): Promise<T> {
    const res = await fetch(`${this.baseUrl}/v1/practices/${this.practiceId}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${this.apiToken}`,
        'x-agent-id': this.agentId,
        ...(body !== undefined && { 'content-type': 'application/json' }),
        ...(method !== 'GET' && { 'idempotency-key': randomUUID() }),
        ...(ifMatch !== undefined && { 'if-match': `"${ifMatch}"` }),
      },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    if (!res.ok) {
      let code: string | undefined;
      try {
        code = (JSON.parse(text) as { code?: string }).code;
      } catch {
        code = undefined;
      }
      throw new AgentRequestError(res.status, code);
    }
    return (text === '' ? undefined : JSON.parse(text)) as T;
  }

  get<T>(path: string): Promise<T> {
    return this.call<T>('GET', path);
  }

  proposePatient(
    input: Omit<PatientInput, 'identity'> & {
      identity: Omit<PatientInput['identity'], 'proposal' | 'reliability'>;
    },
  ): Promise<Patient> {
    return this.call('POST', '/patients', {
      ...input,
      identity: { ...input.identity, reliability: 'PROV', proposal: true },
    });
  }

  /** Books into a slot (start/end taken from it) or at a free time. */
  async book(req: BookingRequest): Promise<Appointment> {
    let { start, end, practitionerId } = req;
    if (req.slotId !== undefined) {
      const slot = await this.get<Slot>(`/slots/${req.slotId}`);
      start ??= slot.start;
      end ??= slot.end;
      practitionerId ??= slot.practitionerId;
    }
    if (start === undefined || end === undefined || practitionerId === undefined)
      throw new Error('book needs a slot, or a practitioner, start and end');
    return this.call('POST', '/appointments', {
      practitionerId,
      patientId: req.patientId ?? null,
      slotId: req.slotId ?? null,
      appointmentTypeId: req.appointmentTypeId ?? null,
      start,
      end,
      note: req.note ?? null,
      bookedBy: this.agentId,
    });
  }

  private async updateAppointment(
    id: string,
    change: (a: Appointment) => Partial<Appointment>,
  ): Promise<Appointment> {
    const a = await this.get<Appointment>(`/appointments/${id}`);
    const next = { ...a, ...change(a) };
    const status = next.status as 'booked' | 'arrived' | 'fulfilled' | 'noshow';
    return this.call(
      'PUT',
      `/appointments/${id}`,
      {
        practitionerId: next.practitionerId,
        patientId: next.patientId,
        slotId: next.slotId,
        appointmentTypeId: next.appointmentTypeId,
        start: next.start,
        end: next.end,
        note: next.note,
        status,
      },
      a.version,
    );
  }

  /** Moves to another slot (its times) or to explicit times outside any slot. */
  async move(id: string, to: { slotId: string } | { start: string; end: string }): Promise<Appointment> {
    if ('slotId' in to) {
      const slot = await this.get<Slot>(`/slots/${to.slotId}`);
      return this.updateAppointment(id, () => ({
        slotId: slot.id,
        start: slot.start,
        end: slot.end,
        practitionerId: slot.practitionerId,
      }));
    }
    return this.updateAppointment(id, () => ({ slotId: null, start: to.start, end: to.end }));
  }

  cancel(id: string, reason: string): Promise<Appointment> {
    return this.call('POST', `/appointments/${id}/cancel`, { reason });
  }

  noShow(id: string): Promise<Appointment> {
    return this.updateAppointment(id, () => ({ status: 'noshow' }));
  }

  arrived(id: string): Promise<Appointment> {
    return this.updateAppointment(id, () => ({ status: 'arrived' }));
  }

  leaveMessage(input: Partial<MessageCreate> & Pick<MessageCreate, 'callerName' | 'text'>): Promise<Message> {
    return this.call('POST', '/messages', {
      priority: 'routine',
      callbackNumber: null,
      reason: null,
      patientId: null,
      practitionerId: null,
      takenAt: new Date().toISOString(),
      ...input,
    });
  }

  /** The reminders and recalls the agents have to call. */
  async reminders(): Promise<ReminderBody[]> {
    return (await this.call<{ items: ReminderBody[] }>('GET', '/reminders?status=open')).items;
  }

  /** Reports how the call went (and whether the patient asked not to be reminded again). */
  reportReminder(
    id: string,
    outcome: NonNullable<ReminderBody['outcome']>,
    optOut = false,
  ): Promise<ReminderBody> {
    return this.call('POST', `/reminders/${id}/outcome`, { outcome, optOut });
  }

  async markUrgent(messageId: string): Promise<Message> {
    const m = await this.get<Message>(`/messages/${messageId}`);
    return this.call(
      'PUT',
      `/messages/${messageId}`,
      {
        priority: 'urgent',
        callerName: m.callerName,
        callbackNumber: m.callbackNumber,
        reason: m.reason,
        text: m.text,
        patientId: m.patientId,
        practitionerId: m.practitionerId,
      },
      m.version,
    );
  }
}
