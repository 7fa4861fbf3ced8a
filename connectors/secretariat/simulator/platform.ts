/**
 * The simulated platform's behaviour, apart from HTTP: what each operation of openapi.yaml does
 * to the state, which rules it checks (If-Match, slot availability, who may write what) and
 * which problem it answers otherwise (RFC 9457).
 */
import type { z } from 'zod';

import {
  AcknowledgeRequest,
  type Appointment,
  AppointmentCreate,
  type AppointmentType,
  AppointmentTypeInput,
  AppointmentUpdate,
  type CallbackRequestBody,
  CallbackRequestCreate,
  CancelRequest,
  type ChangeOrigin,
  type ConsignesBody,
  ConsignesPublish,
  type CoverageBody,
  CoveragePublish,
  type Message,
  MessageCreate,
  MessageUpdate,
  type Patient,
  PatientInput,
  type Practitioner,
  PractitionerInput,
  PROBLEM_TYPE_BASE,
  RefuseRequest,
  ReminderBatch,
  type ReminderBody,
  ReminderOutcomeReport,
  type ResourceOfType,
  type ResourceType,
  type Schedule,
  ScheduleInput,
  type Slot,
  SlotInput,
  type SlotPublicationBody,
  SlotPublish,
} from '../contract.js';
import type { ChangeRecord, SimulatorState } from './state.js';

export class ProblemError extends Error {
  constructor(
    readonly status: number,
    readonly slug: string,
    readonly title: string,
    readonly detail?: string,
    readonly errors?: readonly { pointer: string; detail: string }[],
    readonly headers: Record<string, string> = {},
  ) {
    super(title);
  }

  toProblem(instance: string): Record<string, unknown> {
    return {
      type: `${PROBLEM_TYPE_BASE}${this.slug}`,
      title: this.title,
      status: this.status,
      code: this.slug,
      ...(this.detail !== undefined && { detail: this.detail }),
      instance,
      ...(this.errors && { errors: this.errors }),
    };
  }
}

export interface Reply {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
}

/** Who is calling: passerelle (no agent) or a secretariat agent (X-Agent-Id). */
export interface OperationContext {
  readonly practiceId: string;
  readonly agentId: string | null;
  /** Parsed If-Match version; `undefined` when the header is absent. */
  readonly ifMatch: number | undefined;
  readonly ifNoneMatchAny: boolean;
  /** Who the changes this operation makes are reported as in the feed. */
  readonly origin: ChangeOrigin;
}

const prefixes: Readonly<Record<ResourceType, string>> = {
  practitioner: 'prac',
  'appointment-type': 'type',
  schedule: 'sch',
  slot: 'slot',
  appointment: 'apt',
  patient: 'pat',
  message: 'msg',
};

function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    const errors = parsed.error.issues.map((i) => ({
      pointer: `/${i.path.map(String).join('/')}`,
      detail: i.message,
    }));
    throw new ProblemError(
      422,
      'validation-failed',
      'The request body does not follow the contract',
      `${errors.length} invalid field(s)`,
      errors,
    );
  }
  return parsed.data;
}

const resourceReply = (status: number, r: { version: number }, location?: string): Reply => ({
  status,
  body: r,
  headers: { ETag: `"${r.version}"`, ...(location !== undefined && { Location: location }) },
});

export class Platform {
  constructor(
    private readonly state: SimulatorState,
    readonly now: () => number,
    /**
     * Called after each committed change (the simulator saves the state and queues the webhook;
     * `quiet`: in the feed only, no webhook).
     */
    private readonly onChange: (c: ChangeRecord, quiet?: boolean) => void,
  ) {}

  /** True while a bulk publication writes: its slots go to the feed, not out as one webhook each. */
  private quiet = false;

  private nowIso(): string {
    return new Date(this.now()).toISOString();
  }

  /** Stores a change, saying who made it (the feed's `origin`: integration, agent or platform). */
  private commit<K extends ResourceType>(
    by: Pick<OperationContext, 'practiceId' | 'origin'>,
    type: K,
    record: ResourceOfType[K],
  ): ResourceOfType[K] {
    this.onChange(this.state.put(by.practiceId, type, record, by.origin), this.quiet);
    return record;
  }

  require<K extends ResourceType>(
    practiceId: string,
    type: K,
    id: string,
    pointer?: string,
  ): ResourceOfType[K] {
    const r = this.state.get(practiceId, type, id);
    if (r === undefined) {
      if (pointer !== undefined)
        throw new ProblemError(
          422,
          'unknown-reference',
          'A referenced resource does not exist',
          `no ${type} ${id}`,
          [{ pointer, detail: `no ${type} with this id` }],
        );
      throw new ProblemError(404, 'not-found', 'No such resource', `no ${type} ${id}`);
    }
    return r;
  }

  /** RFC 9110 §13.1.1 If-Match; a PUT or DELETE without it gets 428 (RFC 6585 §3). */
  private checkVersion(ctx: OperationContext, current: { version: number }, required: boolean): void {
    if (ctx.ifMatch === undefined) {
      if (required)
        throw new ProblemError(
          428,
          'precondition-required',
          'If-Match is required for this write',
          'send the ETag you read as If-Match',
        );
      return;
    }
    if (ctx.ifMatch !== current.version) {
      throw new ProblemError(
        412,
        'version-mismatch',
        'The resource changed since you read it',
        `current version is ${current.version}`,
        undefined,
        { ETag: `"${current.version}"` },
      );
    }
  }

  private forbidAgent(ctx: OperationContext, what: string): void {
    if (ctx.agentId !== null)
      throw new ProblemError(
        403,
        'practice-owned',
        'Agents cannot change this resource',
        `${what} belong to the practice and are written by passerelle`,
      );
  }

  private meta(type: ResourceType, previous?: { id: string; version: number }) {
    return {
      id: previous?.id ?? this.state.newId(prefixes[type]),
      version: (previous?.version ?? 0) + 1,
      updatedAt: this.nowIso(),
    };
  }

  // ——— reads ———

  get(ctx: OperationContext, type: ResourceType, id: string): Reply {
    return resourceReply(200, this.require(ctx.practiceId, type, id));
  }

  list(
    ctx: OperationContext,
    type: ResourceType,
    query: Readonly<Record<string, string | undefined>>,
  ): Reply {
    let items: ResourceOfType[ResourceType][] = this.state.list(ctx.practiceId, type);
    if (type === 'slot' || type === 'appointment') {
      const { from, to, practitionerId } = query;
      items = (items as (Slot | Appointment)[]).filter(
        (r) =>
          (practitionerId === undefined || r.practitionerId === practitionerId) &&
          (from === undefined || r.end > from) &&
          (to === undefined || r.start < to),
      );
    }
    return { status: 200, body: { items } };
  }

  // ——— practitioners, appointment types, schedules, slots: written by passerelle for the practice ———

  createPractitioner(ctx: OperationContext, body: unknown): Reply {
    this.forbidAgent(ctx, 'practitioners');
    const input = parseBody(PractitionerInput, body);
    this.uniqueRpps(ctx.practiceId, input.rpps, null);
    const r: Practitioner = { ...this.meta('practitioner'), ...input };
    return resourceReply(201, this.commit(ctx, 'practitioner', r), `/practitioners/${r.id}`);
  }

  updatePractitioner(ctx: OperationContext, id: string, body: unknown): Reply {
    this.forbidAgent(ctx, 'practitioners');
    const current = this.require(ctx.practiceId, 'practitioner', id);
    this.checkVersion(ctx, current, true);
    const input = parseBody(PractitionerInput, body);
    this.uniqueRpps(ctx.practiceId, input.rpps, id);
    return resourceReply(
      200,
      this.commit(ctx, 'practitioner', { ...this.meta('practitioner', current), ...input }),
    );
  }

  private uniqueRpps(practiceId: string, rpps: string, self: string | null): void {
    if (this.state.list(practiceId, 'practitioner').some((p) => p.rpps === rpps && p.id !== self)) {
      throw new ProblemError(409, 'duplicate-rpps', 'Another practitioner has this RPPS number');
    }
  }

  /** PUT on a client-chosen id (the practice's code): If-None-Match: * creates, If-Match replaces (RFC 9110 §13.1). */
  putAppointmentType(ctx: OperationContext, id: string, body: unknown): Reply {
    this.forbidAgent(ctx, 'appointment types and their instructions');
    if (!/^[A-Za-z0-9\-.]{1,64}$/.test(id))
      throw new ProblemError(400, 'bad-id', 'Not a usable id', 'ids are 1-64 of A-Z a-z 0-9 - .');
    const current = this.state.get(ctx.practiceId, 'appointment-type', id);
    if (ctx.ifNoneMatchAny) {
      if (current !== undefined)
        throw new ProblemError(
          412,
          'already-exists',
          'An appointment type with this id exists',
          undefined,
          undefined,
          { ETag: `"${current.version}"` },
        );
    } else {
      if (current === undefined) {
        if (ctx.ifMatch !== undefined)
          throw new ProblemError(412, 'version-mismatch', 'The resource does not exist');
        throw new ProblemError(
          428,
          'precondition-required',
          'Send If-None-Match: * to create or If-Match to replace',
        );
      }
      this.checkVersion(ctx, current, true);
    }
    const input = parseBody(AppointmentTypeInput, body);
    input.practitionerIds.forEach((p, i) =>
      this.require(ctx.practiceId, 'practitioner', p, `/practitionerIds/${i}`),
    );
    const r: AppointmentType = {
      id,
      version: (current?.version ?? 0) + 1,
      updatedAt: this.nowIso(),
      ...input,
    };
    return resourceReply(
      current === undefined ? 201 : 200,
      this.commit(ctx, 'appointment-type', r),
      current === undefined ? `/appointment-types/${id}` : undefined,
    );
  }

  private checkSchedule(practiceId: string, input: z.infer<typeof ScheduleInput>): void {
    this.require(practiceId, 'practitioner', input.practitionerId, '/practitionerId');
    input.appointmentTypes.forEach((t, i) =>
      this.require(
        practiceId,
        'appointment-type',
        t.appointmentTypeId,
        `/appointmentTypes/${i}/appointmentTypeId`,
      ),
    );
  }

  createSchedule(ctx: OperationContext, body: unknown): Reply {
    this.forbidAgent(ctx, 'schedules');
    const input = parseBody(ScheduleInput, body);
    this.checkSchedule(ctx.practiceId, input);
    const r: Schedule = { ...this.meta('schedule'), ...input };
    return resourceReply(201, this.commit(ctx, 'schedule', r), `/schedules/${r.id}`);
  }

  updateSchedule(ctx: OperationContext, id: string, body: unknown): Reply {
    this.forbidAgent(ctx, 'schedules');
    const current = this.require(ctx.practiceId, 'schedule', id);
    this.checkVersion(ctx, current, true);
    const input = parseBody(ScheduleInput, body);
    this.checkSchedule(ctx.practiceId, input);
    return resourceReply(200, this.commit(ctx, 'schedule', { ...this.meta('schedule', current), ...input }));
  }

  private slotOf(ctx: OperationContext, input: z.infer<typeof SlotInput>, previous?: Slot): Slot {
    const schedule = this.require(ctx.practiceId, 'schedule', input.scheduleId, '/scheduleId');
    if (input.end <= input.start)
      throw new ProblemError(
        422,
        'validation-failed',
        'The request body does not follow the contract',
        undefined,
        [{ pointer: '/end', detail: 'must be after start' }],
      );
    return { ...this.meta('slot', previous), ...input, practitionerId: schedule.practitionerId };
  }

  createSlot(ctx: OperationContext, body: unknown): Reply {
    this.forbidAgent(ctx, 'slots');
    const r = this.slotOf(ctx, parseBody(SlotInput, body));
    return resourceReply(201, this.commit(ctx, 'slot', r), `/slots/${r.id}`);
  }

  updateSlot(ctx: OperationContext, id: string, body: unknown): Reply {
    this.forbidAgent(ctx, 'slots');
    const current = this.require(ctx.practiceId, 'slot', id);
    this.checkVersion(ctx, current, true);
    const r = this.slotOf(ctx, parseBody(SlotInput, body), current);
    // The practice blocked or freed the slot: any booking's hold no longer describes it.
    if (r.status !== 'busy') this.state.setHold(ctx.practiceId, id, null);
    return resourceReply(200, this.commit(ctx, 'slot', r));
  }

  deleteSlot(ctx: OperationContext, id: string): Reply {
    this.forbidAgent(ctx, 'slots');
    const current = this.require(ctx.practiceId, 'slot', id);
    this.checkVersion(ctx, current, true);
    const tombstone: Slot = { ...current, version: current.version + 1, updatedAt: this.nowIso() };
    this.state.setHold(ctx.practiceId, id, null);
    this.onChange(this.state.remove(ctx.practiceId, 'slot', tombstone, ctx.origin));
    return { status: 204 };
  }

  // ——— appointments: booked by agents (or by the practice through passerelle) ———

  private checkAppointmentRefs(
    practiceId: string,
    a: {
      practitionerId: string;
      patientId: string | null;
      appointmentTypeId: string | null;
      start: string;
      end: string;
    },
  ): void {
    this.require(practiceId, 'practitioner', a.practitionerId, '/practitionerId');
    if (a.patientId !== null) this.require(practiceId, 'patient', a.patientId, '/patientId');
    if (a.appointmentTypeId !== null)
      this.require(practiceId, 'appointment-type', a.appointmentTypeId, '/appointmentTypeId');
    if (a.end <= a.start)
      throw new ProblemError(
        422,
        'validation-failed',
        'The request body does not follow the contract',
        undefined,
        [{ pointer: '/end', detail: 'must be after start' }],
      );
  }

  /** Takes a slot for an appointment: it must be free (or urgent-only) and belong to the practitioner. */
  private takeSlot(
    ctx: OperationContext,
    slotId: string,
    appointmentId: string,
    practitionerId: string,
  ): void {
    const { practiceId } = ctx;
    const slot = this.require(practiceId, 'slot', slotId, '/slotId');
    if (slot.practitionerId !== practitionerId)
      throw new ProblemError(422, 'slot-mismatch', 'The slot belongs to another practitioner', undefined, [
        { pointer: '/slotId', detail: 'belongs to another practitioner' },
      ]);
    if (slot.status !== 'free' && slot.status !== 'urgent-only') {
      throw new ProblemError(
        409,
        'slot-unavailable',
        'The slot cannot be booked',
        `the slot is ${slot.status}`,
      );
    }
    this.state.setHold(practiceId, slotId, { appointmentId, previous: slot.status });
    this.commit(ctx, 'slot', {
      ...slot,
      status: 'busy',
      version: slot.version + 1,
      updatedAt: this.nowIso(),
    });
  }

  /** Gives a slot back when its appointment moves away, is cancelled or refused, if it still holds it. */
  private releaseSlot(ctx: OperationContext, slotId: string | null, appointmentId: string): void {
    const { practiceId } = ctx;
    if (slotId === null) return;
    const hold = this.state.hold(practiceId, slotId);
    const slot = this.state.get(practiceId, 'slot', slotId);
    if (hold?.appointmentId !== appointmentId) return;
    this.state.setHold(practiceId, slotId, null);
    if (slot !== undefined && slot.status === 'busy')
      this.commit(ctx, 'slot', {
        ...slot,
        status: hold.previous,
        version: slot.version + 1,
        updatedAt: this.nowIso(),
      });
  }

  createAppointment(ctx: OperationContext, body: unknown): Reply {
    const input = parseBody(AppointmentCreate, body);
    if (ctx.agentId !== null && input.bookedBy !== null && input.bookedBy !== ctx.agentId) {
      throw new ProblemError(
        422,
        'validation-failed',
        'The request body does not follow the contract',
        undefined,
        [{ pointer: '/bookedBy', detail: 'must be the calling agent' }],
      );
    }
    this.checkAppointmentRefs(ctx.practiceId, input);
    const m = this.meta('appointment');
    if (input.slotId !== null) this.takeSlot(ctx, input.slotId, m.id, input.practitionerId);
    const r: Appointment = {
      ...m,
      ...input,
      bookedBy: ctx.agentId ?? input.bookedBy,
      status: 'booked',
      cancelReason: null,
      refusal: null,
      createdAt: m.updatedAt,
    };
    return resourceReply(201, this.commit(ctx, 'appointment', r), `/appointments/${r.id}`);
  }

  private openAppointment(ctx: OperationContext, id: string, required: boolean): Appointment {
    const current = this.require(ctx.practiceId, 'appointment', id);
    this.checkVersion(ctx, current, required);
    if (current.status === 'cancelled' || current.status === 'refused') {
      throw new ProblemError(
        409,
        'appointment-closed',
        'The appointment is cancelled or refused',
        `status is ${current.status}`,
      );
    }
    return current;
  }

  updateAppointment(ctx: OperationContext, id: string, body: unknown): Reply {
    const current = this.openAppointment(ctx, id, true);
    const input = parseBody(AppointmentUpdate, body);
    this.checkAppointmentRefs(ctx.practiceId, input);
    if (input.slotId !== current.slotId) {
      this.releaseSlot(ctx, current.slotId, id);
      if (input.slotId !== null) this.takeSlot(ctx, input.slotId, id, input.practitionerId);
    }
    return resourceReply(
      200,
      this.commit(ctx, 'appointment', { ...current, ...this.meta('appointment', current), ...input }),
    );
  }

  cancelAppointment(ctx: OperationContext, id: string, body: unknown): Reply {
    const current = this.openAppointment(ctx, id, false);
    const { reason } = parseBody(CancelRequest, body);
    this.releaseSlot(ctx, current.slotId, id);
    return resourceReply(
      200,
      this.commit(ctx, 'appointment', {
        ...current,
        ...this.meta('appointment', current),
        status: 'cancelled',
        cancelReason: reason,
      }),
    );
  }

  /** passerelle refuses a booking back (design rule 8); the agent sees the reason and calls the patient back. */
  refuseAppointment(ctx: OperationContext, id: string, body: unknown): Reply {
    this.forbidAgent(ctx, 'refusals');
    const current = this.openAppointment(ctx, id, false);
    const refusal = parseBody(RefuseRequest, body);
    this.releaseSlot(ctx, current.slotId, id);
    return resourceReply(
      200,
      this.commit(ctx, 'appointment', {
        ...current,
        ...this.meta('appointment', current),
        status: 'refused',
        refusal,
      }),
    );
  }

  // ——— patients ———

  createPatient(ctx: OperationContext, body: unknown): Reply {
    const input = parseBody(PatientInput, body);
    const r: Patient = { ...this.meta('patient'), ...input };
    return resourceReply(201, this.commit(ctx, 'patient', r), `/patients/${r.id}`);
  }

  updatePatient(ctx: OperationContext, id: string, body: unknown): Reply {
    const current = this.require(ctx.practiceId, 'patient', id);
    this.checkVersion(ctx, current, true);
    const input = parseBody(PatientInput, body);
    // Agents change contact fields only; the identity is the practice's (design: "patient identity").
    if (
      ctx.agentId !== null &&
      JSON.stringify(input.identity) !== JSON.stringify(current.identity) &&
      !current.identity.proposal
    ) {
      throw new ProblemError(403, 'practice-owned', 'Agents cannot change a verified identity');
    }
    return resourceReply(200, this.commit(ctx, 'patient', { ...this.meta('patient', current), ...input }));
  }

  // ——— messages: taken by agents, acknowledged by the practice through passerelle ———

  createMessage(ctx: OperationContext, body: unknown): Reply {
    if (ctx.agentId === null)
      throw new ProblemError(403, 'agent-only', 'Only an agent (X-Agent-Id) takes call messages');
    const input = parseBody(MessageCreate, body);
    if (input.patientId !== null) this.require(ctx.practiceId, 'patient', input.patientId, '/patientId');
    if (input.practitionerId !== null)
      this.require(ctx.practiceId, 'practitioner', input.practitionerId, '/practitionerId');
    const r: Message = {
      ...this.meta('message'),
      ...input,
      agentId: ctx.agentId,
      status: 'new',
      acknowledgedAt: null,
    };
    return resourceReply(201, this.commit(ctx, 'message', r), `/messages/${r.id}`);
  }

  updateMessage(ctx: OperationContext, id: string, body: unknown): Reply {
    if (ctx.agentId === null)
      throw new ProblemError(
        403,
        'agent-only',
        'Only an agent edits call messages; passerelle acknowledges them',
      );
    const current = this.require(ctx.practiceId, 'message', id);
    this.checkVersion(ctx, current, true);
    const input = parseBody(MessageUpdate, body);
    return resourceReply(
      200,
      this.commit(ctx, 'message', { ...current, ...this.meta('message', current), ...input }),
    );
  }

  acknowledgeMessage(ctx: OperationContext, id: string, body: unknown): Reply {
    this.forbidAgent(ctx, 'acknowledgements');
    const current = this.require(ctx.practiceId, 'message', id);
    this.checkVersion(ctx, current, false);
    const { acknowledgedAt } = parseBody(AcknowledgeRequest, body);
    if (current.status === 'acknowledged') return resourceReply(200, current);
    return resourceReply(
      200,
      this.commit(ctx, 'message', {
        ...current,
        ...this.meta('message', current),
        status: 'acknowledged',
        acknowledgedAt,
      }),
    );
  }

  /** passerelle asks the agents to call the practice back (issue 21); agents only read these. */
  createCallbackRequest(ctx: OperationContext, body: unknown): Reply {
    this.forbidAgent(ctx, 'callback requests');
    const input = parseBody(CallbackRequestCreate, body);
    if (input.messageId !== null) this.require(ctx.practiceId, 'message', input.messageId, '/messageId');
    const r: CallbackRequestBody = {
      id: this.state.newId('cb'),
      ...input,
      status: 'open',
      createdAt: this.nowIso(),
    };
    this.state.addCallbackRequest(ctx.practiceId, r);
    return { status: 201, body: r, headers: { Location: `/callback-requests/${r.id}` } };
  }

  /** passerelle publishes the practice's consignes; agents read them (GET). */
  publishConsignes(ctx: OperationContext, body: unknown): Reply {
    this.forbidAgent(ctx, 'consignes');
    const input = parseBody(ConsignesPublish, body);
    const current = this.state.consignes(ctx.practiceId);
    if (current && current.version > input.version)
      throw new ProblemError(409, 'stale-consignes', 'A newer version of the consignes is in force');
    const r: ConsignesBody = { ...input, publishedAt: this.nowIso() };
    this.state.setConsignes(ctx.practiceId, r);
    return { status: 200, body: r };
  }

  /**
   * A whole-document write versioned by the platform (published slots, coverage): If-Match the
   * version in force, If-None-Match: * (or nothing) for the first one.
   */
  private checkDocumentVersion(ctx: OperationContext, current: { version: number } | undefined): void {
    if (current === undefined) {
      if (ctx.ifMatch !== undefined)
        throw new ProblemError(412, 'version-mismatch', 'Nothing was published yet', 'send If-None-Match: *');
      return;
    }
    if (ctx.ifNoneMatchAny)
      throw new ProblemError(
        412,
        'version-mismatch',
        'A publication is already in force',
        `current version is ${current.version}`,
        undefined,
        { ETag: `"${current.version}"` },
      );
    this.checkVersion(ctx, current, true);
  }

  /**
   * passerelle publishes a practitioner's free slots (issue 20). In [from, to) the platform's
   * unbooked slots of that practitioner that it generated itself or that an earlier publication
   * placed are replaced by the published ones: a slot already there (same times and type) is
   * kept, its status changed in place (urgent-only → free at its release); booked slots stay,
   * and no published slot is placed twice on a booked one. Slots passerelle wrote one by one
   * from the practice software stay as they are.
   */
  publishSlots(ctx: OperationContext, practitionerId: string, body: unknown): Reply {
    this.forbidAgent(ctx, 'published slots');
    this.require(ctx.practiceId, 'practitioner', practitionerId);
    const input = parseBody(SlotPublish, body);
    const bad = input.slots.findIndex((x) => x.end <= x.start);
    if (input.to <= input.from || bad >= 0)
      throw new ProblemError(
        422,
        'validation-failed',
        'The request body does not follow the contract',
        undefined,
        [
          bad >= 0
            ? { pointer: `/slots/${bad}/end`, detail: 'must be after start' }
            : { pointer: '/to', detail: 'must be after from' },
        ],
      );
    const previous = this.state.publication(ctx.practiceId, practitionerId);
    this.checkDocumentVersion(ctx, previous?.body);
    const schedule = this.state
      .list(ctx.practiceId, 'schedule')
      .find((x) => x.practitionerId === practitionerId && x.active);
    if (!schedule)
      throw new ProblemError(422, 'no-schedule', 'The practitioner has no active schedule to hold slots');
    // The publisher knows what it published: hundreds of slot webhooks would tell it nothing.
    this.quiet = true;
    try {
      return this.placePublication(ctx, practitionerId, input, previous, schedule.id);
    } finally {
      this.quiet = false;
    }
  }

  private placePublication(
    ctx: OperationContext,
    practitionerId: string,
    input: z.infer<typeof SlotPublish>,
    previous: { body: SlotPublicationBody; slotIds: string[] } | undefined,
    scheduleId: string,
  ): Reply {
    const placed = new Set(previous?.slotIds ?? []);
    const generated = this.state.generatedSlotIds(ctx.practiceId);
    const keyOf = (x: { start: string; end: string; appointmentTypeId?: string | null | undefined }) =>
      `${x.start}|${x.end}|${x.appointmentTypeId ?? ''}`;
    const replaceable = new Map<string, Slot>();
    const stays = new Set<string>();
    let kept = 0;
    for (const slot of this.state.list(ctx.practiceId, 'slot')) {
      if (slot.practitionerId !== practitionerId || slot.start < input.from || slot.start >= input.to)
        continue;
      const ours = placed.has(slot.id) || generated.has(slot.id);
      const unbooked =
        (slot.status === 'free' || slot.status === 'urgent-only') &&
        this.state.hold(ctx.practiceId, slot.id) === undefined;
      if (ours && unbooked) replaceable.set(keyOf(slot), slot);
      else {
        stays.add(keyOf(slot));
        if (ours) kept++;
      }
    }
    const ids: string[] = (previous?.slotIds ?? []).filter((id) => {
      const slot = this.state.get(ctx.practiceId, 'slot', id);
      return (
        slot !== undefined && (slot.start < input.from || slot.start >= input.to || slot.status === 'busy')
      );
    });
    let created = 0;
    let updated = 0;
    for (const want of input.slots) {
      const key = keyOf(want);
      if (stays.has(key)) continue;
      const there = replaceable.get(key);
      if (there) {
        replaceable.delete(key);
        ids.push(there.id);
        if (there.status !== want.status) {
          this.commit(ctx, 'slot', { ...there, ...this.meta('slot', there), status: want.status });
          updated++;
        }
        continue;
      }
      const r: Slot = {
        ...this.meta('slot'),
        scheduleId,
        start: want.start,
        end: want.end,
        status: want.status,
        comment: null,
        appointmentTypeId: want.appointmentTypeId,
        practitionerId,
      };
      this.commit(ctx, 'slot', r);
      ids.push(r.id);
      created++;
    }
    for (const gone of replaceable.values()) {
      const tombstone: Slot = { ...gone, version: gone.version + 1, updatedAt: this.nowIso() };
      this.onChange(this.state.remove(ctx.practiceId, 'slot', tombstone, ctx.origin), true);
    }
    const publication: SlotPublicationBody = {
      practitionerId,
      version: (previous?.body.version ?? 0) + 1,
      from: input.from,
      to: input.to,
      publishedAt: this.nowIso(),
      slots: input.slots.length,
      created,
      updated,
      removed: replaceable.size,
      kept,
    };
    this.state.setPublication(ctx.practiceId, practitionerId, { body: publication, slotIds: ids });
    return resourceReply(200, publication);
  }

  getPublishedSlots(ctx: OperationContext, practitionerId: string): Reply {
    this.require(ctx.practiceId, 'practitioner', practitionerId);
    const current = this.state.publication(ctx.practiceId, practitionerId);
    if (!current) throw new ProblemError(404, 'not-found', 'No slots were published for this practitioner');
    return resourceReply(200, current.body);
  }

  /** passerelle publishes the hours the secretariat covers for the practice (issue 20); agents read them. */
  publishCoverage(ctx: OperationContext, body: unknown): Reply {
    this.forbidAgent(ctx, 'coverage windows');
    const input = parseBody(CoveragePublish, body);
    const current = this.state.coverage(ctx.practiceId);
    this.checkDocumentVersion(ctx, current);
    const r: CoverageBody = { ...input, version: (current?.version ?? 0) + 1, publishedAt: this.nowIso() };
    this.state.setCoverage(ctx.practiceId, r);
    return resourceReply(200, r);
  }

  getCoverage(ctx: OperationContext): Reply {
    const current = this.state.coverage(ctx.practiceId);
    if (!current)
      throw new ProblemError(404, 'not-found', 'No coverage windows were published for this practice');
    return resourceReply(200, current);
  }

  getConsignes(ctx: OperationContext): Reply {
    const current = this.state.consignes(ctx.practiceId);
    if (!current) throw new ProblemError(404, 'not-found', 'No consignes were published for this practice');
    return { status: 200, body: current };
  }

  listCallbackRequests(ctx: OperationContext): Reply {
    return { status: 200, body: { items: this.state.callbackRequests(ctx.practiceId) } };
  }

  /**
   * passerelle hands reminders and recalls (issue 21 point 3): one per reference, so a resend
   * returns the one already held, unchanged (its outcome included).
   */
  handReminders(ctx: OperationContext, body: unknown): Reply {
    this.forbidAgent(ctx, 'reminders');
    const input = parseBody(ReminderBatch, body);
    const held = this.state.reminders(ctx.practiceId);
    const out: ReminderBody[] = [];
    input.items.forEach((item, i) => {
      this.require(ctx.practiceId, 'patient', item.patientId, `/items/${i}/patientId`);
      if (item.appointmentId !== null)
        this.require(ctx.practiceId, 'appointment', item.appointmentId, `/items/${i}/appointmentId`);
      const existing = held.find((r) => r.reference === item.reference);
      if (existing) {
        out.push(existing);
        return;
      }
      const now = this.nowIso();
      const r: ReminderBody = {
        id: this.state.newId('rel'),
        ...item,
        status: 'open',
        outcome: null,
        optOut: false,
        outcomeAt: null,
        createdAt: now,
        updatedAt: now,
      };
      this.state.putReminder(ctx.practiceId, r);
      out.push(r);
    });
    return { status: 200, body: { items: out } };
  }

  /** The practice's reminders, oldest first; `status` and `updatedSince` filter them. */
  listReminders(ctx: OperationContext, query: Record<string, string | undefined>): Reply {
    const since = query['updatedSince'];
    if (since !== undefined && Number.isNaN(Date.parse(since)))
      throw new ProblemError(400, 'bad-query', 'updatedSince is not an instant');
    const items = this.state
      .reminders(ctx.practiceId)
      .filter((r) => query['status'] === undefined || r.status === query['status'])
      .filter((r) => since === undefined || Date.parse(r.updatedAt) >= Date.parse(since));
    return { status: 200, body: { items } };
  }

  /** An agent reports how the call went; the first report stands (409 after). */
  reportReminderOutcome(ctx: OperationContext, id: string, body: unknown): Reply {
    const input = parseBody(ReminderOutcomeReport, body);
    const current = this.state.reminders(ctx.practiceId).find((r) => r.id === id);
    if (!current) throw new ProblemError(404, 'not-found', 'No such reminder');
    if (current.status === 'done')
      throw new ProblemError(409, 'reminder-done', 'An outcome was already reported for this reminder');
    const now = this.nowIso();
    const r: ReminderBody = {
      ...current,
      status: 'done',
      outcome: input.outcome,
      optOut: input.optOut ?? false,
      outcomeAt: now,
      updatedAt: now,
    };
    this.state.putReminder(ctx.practiceId, r);
    return { status: 200, body: r };
  }

  /** The platform marks a new message delivered once a webhook carrying it was acknowledged (2xx). */
  markDelivered(practiceId: string, id: string): void {
    const current = this.state.get(practiceId, 'message', id);
    if (current?.status !== 'new') return;
    this.commit({ practiceId, origin: 'platform' }, 'message', {
      ...current,
      version: current.version + 1,
      updatedAt: this.nowIso(),
      status: 'delivered',
    });
  }
}
