/**
 * The secretariat contract's JSON ↔ the canonical model (FHIR R4 subset + FR Core), both ways.
 * References in canonical data use the platform's ids (`Patient/<platform id>`); the engine
 * translates them with the identity map. Nothing here logs or throws patient data: errors name
 * the field, never its value.
 */
import type { ExternalRecord } from '../../src/connector/contract.js';
import { PasserelleError } from '../../src/errors.js';
import {
  EXT,
  FR_IDENTIFIER_TYPE_SYSTEM,
  IDENTIFIER_TYPE,
  IDENTITY_RELIABILITY_SYSTEM,
  IDENTITY_RELIABILITY_URL,
  idnpsFromRpps,
  OID,
  PASSERELLE_FHIR_BASE,
  URGENT_SLOT_CODE,
  V2_0276_SYSTEM,
} from '../../src/model/identifiers.js';
import type * as C from '../../src/model/resources.js';
import type { ResourceKind } from '../../src/model/resources.js';
import type * as P from './contract.js';
import {
  type AppointmentCreate,
  type AppointmentStatus,
  Change,
  EmailAddress,
  INS_TYPES,
  MAX_GIVEN_NAMES,
  MAX_PHONES,
  type Message,
  type MessageCreate,
  type PatientInput,
  PHONE_NUMBER,
  PHONE_USES,
  type PlatformResource,
  type PractitionerInput,
  RELIABILITY,
  RESOURCE_SCHEMAS,
  type ResourceOfType,
  type ResourceType,
  type ScheduleInput,
  type SlotInput,
  type SlotStatus,
} from './contract.js';

/** Appointment types (motifs) by the platform id, which is the practice's code. */
export const APPOINTMENT_TYPE_SYSTEM = `${PASSERELLE_FHIR_BASE}/CodeSystem/secretariat-appointment-type`;
/** Why passerelle refused a booking (Appointment.cancelationReason of a refused booking). */
export const REFUSAL_SYSTEM = `${PASSERELLE_FHIR_BASE}/CodeSystem/booking-refusal`;
/** The secretariat agent who took a call message. */
export const MESSAGE_AGENT_EXT = `${PASSERELLE_FHIR_BASE}/StructureDefinition/secretariat-agent`;

/** Which canonical kind each platform resource maps to; appointment types have none (practice config). */
export const KIND_OF_TYPE: Readonly<Record<ResourceType, ResourceKind | null>> = {
  practitioner: 'Practitioner',
  'appointment-type': null,
  schedule: 'Schedule',
  slot: 'Slot',
  appointment: 'Appointment',
  patient: 'Patient',
  message: 'Communication',
};
/** The platform resource of each kind it holds (practitioner roles: none, see README). */
export const TYPE_OF_KIND: Readonly<Partial<Record<ResourceKind, ResourceType>>> = {
  Practitioner: 'practitioner',
  Schedule: 'schedule',
  Slot: 'slot',
  Appointment: 'appointment',
  Patient: 'patient',
  Communication: 'message',
};

const INS_OID: Readonly<Record<(typeof INS_TYPES)[number], string>> = {
  'INS-NIR': OID.insNir,
  'INS-NIA': OID.insNia,
  'INS-NIR-TEST': OID.insNirTest,
  'INS-NIR-DEMO': OID.insNirDemo,
};

const unsupported = (kind: string, path: string, why: string) =>
  new PasserelleError('ERR_SECRETARIAT_UNSUPPORTED', `${kind}.${path}: ${why}`, { details: { kind, path } });

/** The platform speaks UTC (`…Z`); FHIR instants may carry an offset. Already-UTC values pass unchanged. */
export function utc(instant: string): string {
  return instant.endsWith('Z') ? instant : new Date(instant).toISOString();
}

const metaOf = (r: { version: number; updatedAt: string }): C.Patient['meta'] => ({
  versionId: String(r.version),
  lastUpdated: r.updatedAt,
});
const ref = (type: string, id: string): C.Reference => ({ reference: `${type}/${id}` });
/** `Practitioner/abc` → `abc` when the type matches. */
function idOf(reference: C.Reference | undefined, type: string): string | undefined {
  const r = reference?.reference;
  return r !== undefined && r.startsWith(`${type}/`) ? r.slice(type.length + 1) : undefined;
}
const codeConcept = (system: string, code: string): C.CodeableConcept => ({ coding: [{ system, code }] });
function codeOf(cc: C.CodeableConcept | undefined, preferred: string): string | undefined {
  return cc?.coding?.find((c) => c.system === preferred)?.code ?? cc?.coding?.[0]?.code;
}
function platformIdFromCode(kind: string, path: string, code: string | undefined): string {
  if (code === undefined) throw unsupported(kind, path, 'needs a code');
  if (!/^[A-Za-z0-9\-.]{1,64}$/.test(code))
    throw unsupported(kind, path, 'the code is not usable as a platform id (1-64 of A-Z a-z 0-9 - .)');
  return code;
}

// ——— practitioners ———

export function practitionerToCanonical(p: P.Practitioner): C.Practitioner {
  return {
    resourceType: 'Practitioner',
    id: p.id,
    meta: metaOf(p),
    identifier: [
      {
        use: 'official',
        system: OID.idnps,
        value: idnpsFromRpps(p.rpps),
        type: codeConcept(FR_IDENTIFIER_TYPE_SYSTEM, IDENTIFIER_TYPE.idnps),
      },
    ],
    active: p.active,
    name: [
      {
        use: 'official',
        family: p.family,
        ...(p.given.length > 0 && { given: [...p.given] }),
        ...(p.title !== null && { prefix: [p.title] }),
      },
    ],
    ...(p.phone !== null && { telecom: [{ system: 'phone', value: p.phone, use: 'work' }] }),
  };
}

export function practitionerFromCanonical(p: C.Practitioner): PractitionerInput {
  const idnps = p.identifier?.find((i) => i.system === OID.idnps && /^8\d{11}$/.test(i.value));
  if (!idnps)
    throw unsupported(
      'Practitioner',
      'identifier',
      'needs an RPPS national identifier (IDNPS "8" + 11 digits)',
    );
  const name = p.name?.find((n) => n.use === 'official') ?? p.name?.[0];
  if (!name?.family) throw unsupported('Practitioner', 'name.family', 'is required by the platform');
  const phone = p.telecom?.find((t) => t.system === 'phone');
  return {
    rpps: idnps.value.slice(1),
    family: name.family,
    given: [...(name.given ?? [])],
    title: name.prefix?.[0] ?? null,
    phone: phone?.value ?? null,
    active: p.active ?? true,
  };
}

// ——— schedules ———

export function scheduleToCanonical(s: P.Schedule): C.Schedule {
  const types = s.appointmentTypes.map((t) => codeConcept(APPOINTMENT_TYPE_SYSTEM, t.appointmentTypeId));
  return {
    resourceType: 'Schedule',
    id: s.id,
    meta: metaOf(s),
    active: s.active,
    actor: [ref('Practitioner', s.practitionerId)],
    ...(types.length > 0 && { serviceType: types }),
    ...(s.openingHours.length > 0 && {
      availableTime: s.openingHours.map((h) => ({
        daysOfWeek: [...h.days],
        availableStartTime: h.start,
        availableEndTime: h.end,
      })),
    }),
    ...(s.appointmentTypes.length > 0 && {
      serviceTypeDuration: s.appointmentTypes.map((t) => ({
        serviceType: codeConcept(APPOINTMENT_TYPE_SYSTEM, t.appointmentTypeId),
        minutes: t.durationMinutes,
      })),
    }),
    ...(s.comment !== null && { comment: s.comment }),
  };
}

export function scheduleFromCanonical(s: C.Schedule): ScheduleInput {
  const practitionerId = s.actor.map((a) => idOf(a, 'Practitioner')).find((id) => id !== undefined);
  if (practitionerId === undefined)
    throw unsupported('Schedule', 'actor', 'needs a Practitioner actor known to the platform');
  return {
    practitionerId,
    active: s.active ?? true,
    // The platform keeps minutes only (HH:MM); FHIR allows seconds.
    openingHours: (s.availableTime ?? []).map((t) => ({
      days: [...t.daysOfWeek],
      start: t.availableStartTime.slice(0, 5),
      end: t.availableEndTime.slice(0, 5),
    })),
    appointmentTypes: (s.serviceTypeDuration ?? []).map((d, i) => ({
      appointmentTypeId: platformIdFromCode(
        'Schedule',
        `serviceTypeDuration[${i}].serviceType`,
        codeOf(d.serviceType, APPOINTMENT_TYPE_SYSTEM),
      ),
      durationMinutes: d.minutes,
    })),
    comment: s.comment ?? null,
  };
}

// ——— slots ———

const EMERGENCY = codeConcept(V2_0276_SYSTEM, URGENT_SLOT_CODE);

export function slotToCanonical(s: P.Slot): C.Slot {
  // free → free; busy → busy; blocked (plage bloquée) → busy-unavailable; urgent-only (urgence
  // du jour) → free, reserved to v2-0276 EMERGENCY appointments (FHIR R4 Slot.appointmentType).
  const status: C.Slot['status'] =
    s.status === 'blocked' ? 'busy-unavailable' : s.status === 'busy' ? 'busy' : 'free';
  return {
    resourceType: 'Slot',
    id: s.id,
    meta: metaOf(s),
    schedule: ref('Schedule', s.scheduleId),
    ...(s.status === 'urgent-only' && { appointmentType: EMERGENCY }),
    status,
    start: s.start,
    end: s.end,
    ...(s.comment !== null && { comment: s.comment }),
  };
}

function isEmergency(cc: C.CodeableConcept | undefined): boolean {
  return cc?.coding?.some((c) => c.system === V2_0276_SYSTEM && c.code === URGENT_SLOT_CODE) ?? false;
}

export function slotStatusFromCanonical(s: C.Slot): SlotStatus | 'delete' {
  switch (s.status) {
    case 'free':
      return isEmergency(s.appointmentType) ? 'urgent-only' : 'free';
    case 'busy':
    case 'busy-tentative':
      return 'busy';
    case 'busy-unavailable':
      return 'blocked';
    case 'entered-in-error':
      return 'delete';
    default:
      return s.status satisfies never;
  }
}

export function slotFromCanonical(s: C.Slot): SlotInput {
  const scheduleId = idOf(s.schedule, 'Schedule');
  if (scheduleId === undefined)
    throw unsupported('Slot', 'schedule', 'needs a Schedule known to the platform');
  const status = slotStatusFromCanonical(s);
  if (status === 'delete')
    throw unsupported('Slot', 'status', 'entered-in-error is written as a deletion, not a slot');
  return { scheduleId, start: utc(s.start), end: utc(s.end), status, comment: s.comment ?? null };
}

// ——— appointments ———

export function appointmentToCanonical(a: P.Appointment): C.Appointment {
  const status: C.Appointment['status'] = a.status === 'refused' ? 'cancelled' : a.status;
  const cancelationReason: C.CodeableConcept | undefined =
    a.refusal !== null
      ? { coding: [{ system: REFUSAL_SYSTEM, code: a.refusal.code }], text: a.refusal.message }
      : a.cancelReason !== null
        ? { text: a.cancelReason }
        : undefined;
  return {
    resourceType: 'Appointment',
    id: a.id,
    meta: metaOf(a),
    // FR Core appointment operator: the secretariat agent who booked on the practice's behalf
    // (ANS "Gestion d'agendas partagés", delegated scenario). Agents are not canonical
    // resources, so only the display carries the agent's platform id.
    ...(a.bookedBy !== null && {
      extension: [{ url: EXT.appointmentOperator, valueReference: { display: a.bookedBy } }],
    }),
    status,
    ...(cancelationReason && { cancelationReason }),
    ...(a.appointmentTypeId !== null && {
      serviceType: [codeConcept(APPOINTMENT_TYPE_SYSTEM, a.appointmentTypeId)],
    }),
    start: a.start,
    end: a.end,
    ...(a.slotId !== null && { slot: [ref('Slot', a.slotId)] }),
    created: a.createdAt,
    ...(a.note !== null && { comment: a.note }),
    participant: [
      { actor: ref('Practitioner', a.practitionerId), required: 'required', status: 'accepted' },
      ...(a.patientId !== null
        ? [{ actor: ref('Patient', a.patientId), required: 'required' as const, status: 'accepted' as const }]
        : []),
    ],
  };
}

/** What the platform should hold for a canonical appointment; `push` turns it into PUT, POST or an action. */
export interface AppointmentWrite {
  readonly fields: AppointmentCreate;
  readonly status: AppointmentStatus;
  readonly cancelReason: string | null;
  readonly refusal: { readonly code: string; readonly message: string } | null;
}

function appointmentStatusFromCanonical(a: C.Appointment, refused: boolean): AppointmentStatus {
  switch (a.status) {
    case 'proposed':
    case 'pending':
    case 'waitlist':
    case 'booked':
      return 'booked';
    case 'arrived':
    case 'checked-in':
      return 'arrived';
    case 'fulfilled':
      return 'fulfilled';
    case 'noshow':
      return 'noshow';
    case 'cancelled':
    case 'entered-in-error':
      return refused ? 'refused' : 'cancelled';
    default:
      return a.status satisfies never;
  }
}

export function appointmentFromCanonical(a: C.Appointment): AppointmentWrite {
  const practitionerId = a.participant
    .map((p) => idOf(p.actor, 'Practitioner'))
    .find((id) => id !== undefined);
  if (practitionerId === undefined)
    throw unsupported('Appointment', 'participant', 'needs a Practitioner participant known to the platform');
  if (a.start === undefined || a.end === undefined)
    throw unsupported('Appointment', 'start', 'the platform needs start and end');
  const patientId = a.participant.map((p) => idOf(p.actor, 'Patient')).find((id) => id !== undefined) ?? null;
  const refusalCode = a.cancelationReason?.coding?.find((c) => c.system === REFUSAL_SYSTEM)?.code;
  const operator = a.extension?.find((e) => e.url === EXT.appointmentOperator)?.valueReference?.display;
  const typeCode =
    a.serviceType?.[0] === undefined ? undefined : codeOf(a.serviceType[0], APPOINTMENT_TYPE_SYSTEM);
  const status = appointmentStatusFromCanonical(a, refusalCode !== undefined);
  return {
    fields: {
      practitionerId,
      patientId,
      slotId: a.slot?.map((s) => idOf(s, 'Slot')).find((id) => id !== undefined) ?? null,
      appointmentTypeId:
        typeCode === undefined ? null : platformIdFromCode('Appointment', 'serviceType[0]', typeCode),
      start: utc(a.start),
      end: utc(a.end),
      note: a.comment ?? null,
      bookedBy: operator ?? null,
    },
    status,
    cancelReason:
      status === 'cancelled'
        ? (a.cancelationReason?.text ??
          a.cancelationReason?.coding?.[0]?.display ??
          'cancelled by the practice')
        : null,
    refusal:
      refusalCode !== undefined
        ? { code: refusalCode, message: a.cancelationReason?.text ?? refusalCode }
        : null,
  };
}

// ——— patients ———

function reliabilityOf(p: C.Patient): P.Patient['identity']['reliability'] {
  const ext = p.extension?.find((e) => e.url === IDENTITY_RELIABILITY_URL);
  const code = ext?.extension?.find((e) => e.url === 'identityStatus')?.valueCoding?.code;
  return (RELIABILITY as readonly string[]).includes(code ?? '')
    ? (code as P.Patient['identity']['reliability'])
    : 'VIDE';
}

export function patientToCanonical(p: P.Patient): C.Patient {
  const { identity, contact } = p;
  const telecom: C.ContactPoint[] = [
    ...contact.phones.map((ph) => ({ system: 'phone' as const, value: ph.number, use: ph.use })),
    ...(contact.email !== null ? [{ system: 'email' as const, value: contact.email }] : []),
  ];
  const a = contact.address;
  return {
    resourceType: 'Patient',
    id: p.id,
    meta: metaOf(p),
    extension: [
      // FR Core identity reliability (PID-32 in IHE PAM France).
      {
        url: IDENTITY_RELIABILITY_URL,
        extension: [
          {
            url: 'identityStatus',
            valueCoding: { system: IDENTITY_RELIABILITY_SYSTEM, code: identity.reliability },
          },
        ],
      },
      // An identity an agent typed from a call is a proposal: it came from the secretariat.
      ...(identity.proposal ? [{ url: EXT.origin, valueCode: 'secretariat' }] : []),
    ],
    // The INS is the one official identifier, and travels only with a qualified identity.
    ...(p.ins !== null &&
      identity.reliability === 'VALI' && {
        identifier: [
          {
            use: 'official' as const,
            system: INS_OID[p.ins.type],
            value: p.ins.value,
            type: codeConcept(FR_IDENTIFIER_TYPE_SYSTEM, p.ins.type),
          },
        ],
      }),
    name: [
      { use: 'official', family: identity.family, given: [...identity.given] },
      ...(identity.usedFamily !== null ? [{ use: 'usual' as const, family: identity.usedFamily }] : []),
    ],
    ...(telecom.length > 0 && { telecom }),
    ...(identity.sex !== null && { gender: identity.sex }),
    ...(identity.birthDate !== null && { birthDate: identity.birthDate }),
    ...(a !== null && {
      address: [
        {
          ...(a.lines.length > 0 && { line: [...a.lines] }),
          ...(a.city !== null && { city: a.city }),
          ...(a.postalCode !== null && { postalCode: a.postalCode }),
          ...(a.country !== null && { country: a.country }),
        },
      ],
    }),
  };
}

/** The phones the platform can hold, in the record's order: home, work or mobile (or no use), a number it takes, five at most. */
function platformPhones(p: C.Patient): C.ContactPoint[] {
  return (p.telecom ?? [])
    .filter(
      (t) =>
        t.system === 'phone' &&
        (t.use === undefined || (PHONE_USES as readonly string[]).includes(t.use)) &&
        PHONE_NUMBER.test(t.value),
    )
    .slice(0, MAX_PHONES);
}

export function patientFromCanonical(p: C.Patient): PatientInput {
  const official =
    p.name?.find((n) => n.use === 'official') ?? p.name?.find((n) => n.use !== 'usual') ?? p.name?.[0];
  if (!official?.family || !official.given || official.given.length === 0) {
    throw unsupported('Patient', 'name', 'the platform needs a family name and at least one given name');
  }
  const usual = p.name?.find(
    (n) => n.use === 'usual' && n.family !== undefined && n.family !== official.family,
  );
  const reliability = reliabilityOf(p);
  const insId =
    reliability === 'VALI'
      ? p.identifier?.find((i) => i.use === 'official' && Object.values(INS_OID).includes(i.system))
      : undefined;
  const insType = insId === undefined ? undefined : INS_TYPES.find((t) => INS_OID[t] === insId.system);
  const origin = p.extension?.find((e) => e.url === EXT.origin)?.valueCode;
  const address = p.address?.[0];
  return {
    identity: {
      family: official.family,
      // The platform keeps five given names; the others stay in the canonical record (heldOnPlatform).
      given: official.given.slice(0, MAX_GIVEN_NAMES),
      usedFamily: usual?.family ?? null,
      birthDate: p.birthDate ?? null,
      sex: p.gender ?? null,
      reliability,
      proposal: origin === 'secretariat' && reliability !== 'VALI',
    },
    ins: insId !== undefined && insType !== undefined ? { type: insType, value: insId.value } : null,
    contact: {
      // Only what the contract takes: a number the platform refuses would refuse the whole
      // patient. What is left out stays in the canonical record for the practice's side.
      phones: platformPhones(p).map((t) => ({
        number: t.value,
        use: (t.use ?? 'home') as (typeof PHONE_USES)[number],
      })),
      email:
        p.telecom?.find((t) => t.system === 'email' && EmailAddress.safeParse(t.value).success)?.value ??
        null,
      address:
        address === undefined
          ? null
          : {
              lines: [...(address.line ?? [])],
              postalCode: address.postalCode ?? null,
              city: address.city ?? null,
              country: address.country ?? null,
            },
    },
  };
}

// ——— messages ———

export function messageToCanonical(m: Message): C.Communication {
  return {
    resourceType: 'Communication',
    id: m.id,
    meta: metaOf(m),
    extension: [
      ...(m.callbackNumber !== null ? [{ url: EXT.callbackPhone, valueString: m.callbackNumber }] : []),
      { url: MESSAGE_AGENT_EXT, valueString: m.agentId },
    ],
    // new: taken, not yet delivered; delivered: handed to passerelle; acknowledged: the practice
    // read it. `delivered` is the platform's own bookkeeping of its webhook, not news for the
    // practice: mapped like `new`, so marking it does not send the message to the practice again.
    status: m.status === 'acknowledged' ? 'completed' : 'in-progress',
    priority: m.priority,
    ...(m.patientId !== null && { subject: ref('Patient', m.patientId) }),
    ...(m.practitionerId !== null && { recipient: [ref('Practitioner', m.practitionerId)] }),
    sender: { display: m.callerName },
    sent: m.takenAt,
    ...(m.acknowledgedAt !== null && { received: m.acknowledgedAt }),
    ...(m.reason !== null && { reasonCode: [{ text: m.reason }] }),
    payload: [{ contentString: m.text }],
  };
}

/** The call message a Communication describes (for tests and replays; passerelle only acknowledges). */
export function messageFromCanonical(c: C.Communication): MessageCreate {
  if (c.sent === undefined)
    throw unsupported('Communication', 'sent', 'the platform needs the time the call was taken');
  const caller = c.sender?.display;
  if (caller === undefined || caller === '')
    throw unsupported('Communication', 'sender.display', 'the platform needs the caller');
  return {
    // stat and asap are urgencies too: the platform has two levels.
    priority: c.priority === 'routine' ? 'routine' : 'urgent',
    callerName: caller,
    callbackNumber: c.extension?.find((e) => e.url === EXT.callbackPhone)?.valueString ?? null,
    reason: c.reasonCode?.[0]?.text ?? null,
    text: c.payload.map((p) => p.contentString).join('\n'),
    patientId: idOf(c.subject, 'Patient') ?? null,
    practitionerId: c.recipient?.map((r) => idOf(r, 'Practitioner')).find((id) => id !== undefined) ?? null,
    takenAt: utc(c.sent),
  };
}

// ——— what the platform can hold ———

/** The merge fields (src/model/fields.ts) the platform's appointment and patient carry, as mapped above. */
const HELD_APPOINTMENT: ReadonlySet<string> = new Set([
  'status',
  'cancelationReason',
  'serviceType',
  'start/end',
  'slot',
  'created',
  'comment',
  'participant[actor=Practitioner]',
  'participant[actor=Patient]',
  `extension[url=${EXT.appointmentOperator}]`,
]);
const HELD_PATIENT: ReadonlySet<string> = new Set([
  'gender',
  'birthDate',
  'name[use=official]',
  'name[use=usual]',
  `extension[url=${IDENTITY_RELIABILITY_URL}]`,
  `extension[url=${EXT.origin}]`,
  ...Object.values(INS_OID).map((oid) => `identifier[system=${oid}]`),
]);

/**
 * Whether the platform can hold a canonical field of a record (ConnectorDefinition.holds): a
 * patient's IPP or an appointment's business identifier in the practice software has no place
 * in the contract, so a record coming from the platform without them has not removed them.
 * Practice-owned kinds and call messages are taken whole, as before.
 */
export function heldOnPlatform(kind: ResourceKind, path: string): boolean {
  switch (kind) {
    case 'Appointment':
      return HELD_APPOINTMENT.has(path);
    case 'Patient': {
      // Up to five phones (`#2`…`#5`), one e-mail, and the address. A sixth phone or a second
      // e-mail has no place on the platform: its absence there is not a removal.
      const phone = /^telecom\[system=phone(?:#(\d+))?\]$/.exec(path);
      if (phone) return Number(phone[1] ?? 1) <= MAX_PHONES;
      return HELD_PATIENT.has(path) || path === 'telecom[system=email]' || path.startsWith('address[');
    }
    default:
      return true;
  }
}

/**
 * A canonical record as the platform keeps it (ConnectorDefinition.view): a patient written
 * there and read back loses its title, its given names beyond five, its other name uses and
 * identifiers, the phones and e-mails the contract does not take; an appointment loses its
 * `minutesDuration` (the platform keeps start and end only). Other kinds are kept whole.
 */
export function platformView(record: C.CanonicalResource): C.CanonicalResource {
  if (record.resourceType === 'Appointment') {
    // The duration travels in the `start/end` field group (src/model/fields.ts): left in the
    // merge base (the snapshot of what passerelle wrote, an SIU booking's SCH-11 duration
    // included), it made the platform's unchanged time look changed there, and a practice's
    // move then collided with it (a 412 re-merge opened a start/end conflict for nothing).
    if (record.minutesDuration === undefined) return record;
    const { minutesDuration: _duration, ...kept } = record;
    return kept;
  }
  if (record.resourceType !== 'Patient') return record;
  const input = patientFromCanonical(record);
  return patientToCanonical({ ...input, id: record.id, version: 1, updatedAt: '1970-01-01T00:00:00Z' });
}

// ——— change feed entries ———

export function toCanonical(type: ResourceType, r: PlatformResource): C.CanonicalResource | null {
  switch (type) {
    case 'practitioner':
      return practitionerToCanonical(r as P.Practitioner);
    case 'appointment-type':
      return null;
    case 'schedule':
      return scheduleToCanonical(r as P.Schedule);
    case 'slot':
      return slotToCanonical(r as P.Slot);
    case 'appointment':
      return appointmentToCanonical(r as P.Appointment);
    case 'patient':
      return patientToCanonical(r as P.Patient);
    case 'message':
      return messageToCanonical(r as P.Message);
    default:
      return type satisfies never;
  }
}

/** Reads one resource of the contract; a failure names the field (never its value). */
export function parseResource<K extends ResourceType>(
  type: K,
  data: unknown,
  code: 'ERR_SECRETARIAT_BAD_RESPONSE' | 'ERR_WEBHOOK_PAYLOAD',
): ResourceOfType[K] {
  const parsed = RESOURCE_SCHEMAS[type].safeParse(data);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => ({
      path: `${type}.${i.path.map(String).join('.')}`,
      message: i.message,
    }));
    throw new PasserelleError(
      code,
      `a ${type} does not follow the contract (${issues[0]?.path}: ${issues[0]?.message})`,
      { issues },
    );
  }
  return parsed.data as ResourceOfType[K];
}

/** Reads one change-feed entry (its envelope; `changeToRecord` reads its data). */
export function parseChange(
  entry: unknown,
  code: 'ERR_SECRETARIAT_BAD_RESPONSE' | 'ERR_WEBHOOK_PAYLOAD',
): Change {
  const parsed = Change.safeParse(entry);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => ({
      path: `change.${i.path.map(String).join('.')}`,
      message: i.message,
    }));
    throw new PasserelleError(
      code,
      `a change-feed entry does not follow the contract (${issues[0]?.path}: ${issues[0]?.message})`,
      { issues },
    );
  }
  return parsed.data;
}

/**
 * Whether a feed entry (or webhook) is news for passerelle. Two kinds are not:
 * - its own writes (`origin: integration`): it learnt their ids and versions from the answers,
 *   and a creation seen before that answer was committed would be taken for a new record of the
 *   secretariat's and created a second time (design rule 6, no echoes);
 * - slot changes: slots are the practice's (agents cannot write them: 403 practice-owned). The
 *   platform changes one only to hold it for a booking or give it back, which passerelle learns
 *   as that booking; taken as a slot change it would be refused under the practice's ownership
 *   and pushed back, releasing the hold. A later write to such a slot gets a 412 and merges the
 *   platform's current slot (the dispatcher's re-merge).
 */
export function isNews(change: Pick<Change, 'type' | 'origin'>): boolean {
  return change.origin !== 'integration' && change.type !== 'slot';
}

/** A change-feed entry as the engine wants it, or null for resources with no canonical kind. */
export function changeToRecord(
  change: Change,
  code: 'ERR_SECRETARIAT_BAD_RESPONSE' | 'ERR_WEBHOOK_PAYLOAD',
): ExternalRecord | null {
  const kind = KIND_OF_TYPE[change.type];
  if (kind === null) return null;
  const resource = parseResource(change.type, change.data, code);
  if (resource.id !== change.id)
    throw new PasserelleError(
      code,
      `change #${change.seq} names ${change.type} ${change.id} but carries another id`,
      { details: { seq: change.seq } },
    );
  const data = toCanonical(change.type, resource);
  if (data === null) return null;
  return {
    kind,
    externalId: change.id,
    version: String(change.version),
    updatedAt: resource.updatedAt,
    ...(change.op === 'delete' && { deleted: true }),
    data,
  };
}
