/**
 * The mapping profile format (`mappings/*.yaml`), as zod schemas. One schema language: the
 * loader validates with these, TypeScript types come from them, and `mappings/schema.json`
 * (for editors, via `# yaml-language-server: $schema=./schema.json`) is generated from them
 * with `z.toJSONSchema` — a test keeps the committed file equal to the generated one.
 *
 * Every object is strict: an unknown key is an error, never ignored (a typo such as `tranform`
 * would otherwise silently drop a transform). What the schema cannot say (paths exist, value
 * maps are complete, transforms are known, zones are valid) the compiler checks (compile.ts).
 * docs/mappings.md explains every key.
 */
import { z } from 'zod';

import { type Owner, OWNERS } from '../../model/ownership.js';
import { RESOURCE_KINDS } from '../../model/resources.js';

export const PROTOCOLS = ['fhir-r4', 'hl7v2'] as const;
export type Protocol = (typeof PROTOCOLS)[number];

/** `to-canonical`: protocol → canonical (inbound); `from-canonical`: canonical → protocol (outbound). */
export const DIRECTIONS = ['to-canonical', 'from-canonical'] as const;
export type Direction = (typeof DIRECTIONS)[number];

/** Who wins a field: the sync engine's owners (src/model/ownership.ts). */
export { type Owner, OWNERS };
export const LINK_ROLES_FOR_CREATE = ['practice', 'secretariat'] as const;

const Kind = z.enum(RESOURCE_KINDS);
const Scalar = z.union([z.string(), z.number(), z.boolean()]);
const Name = z.string().regex(/^[a-z][a-z0-9-]*$/, {
  error: 'lower-case letters, digits and dashes, starting with a letter (e.g. appointment-status)',
});
const ProfileName = z.string().regex(/^[a-z][a-z0-9.-]*$/, {
  error: 'lower-case letters, digits, dots and dashes, starting with a letter (e.g. hl7v2-generic-2.5)',
});
const ConstantName = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9_]*$/, { error: 'letters, digits and _, starting with a letter' });
const PathList = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);
/** `SIU^S12`, `ADT^A28`, `MDM^T02`. */
export const MESSAGE_TYPE = /^[A-Z][A-Z0-9]{2}\^[A-Z0-9]{3}$/;
const MessageType = z.string().regex(MESSAGE_TYPE, { error: 'not a message type such as SIU^S12' });

/** A condition on the input: the rule applies only when the value at `path` is one of the values. */
const When = z.strictObject({
  path: z.string().min(1).describe('Protocol path read on input (HL7 path or FHIR element path).'),
  equals: z.string().optional().describe('The value must equal this.'),
  in: z.array(z.string()).min(1).optional().describe('The value must be one of these.'),
});

export const FieldRule = z
  .strictObject({
    name: z.string().min(1).optional().describe('A label for reports (defaults to Kind.fields[i]).'),
    from: PathList.optional().describe(
      'Protocol path(s): HL7 `SEG[n]-F[r].C.S` (a repetition may be chosen by value: `PID-3[4.2=$ippOid].1`) or a FHIR element path. Several: inbound takes the first with a value, outbound writes them all.',
    ),
    to: z
      .string()
      .min(1)
      .optional()
      .describe(
        'Canonical path, e.g. `start`, `name[use=official].family`, `identifier[system=$ippSystem].value`.',
      ),
    value: Scalar.optional().describe('A constant: written to `to` inbound and/or to `from` outbound.'),
    default: Scalar.optional().describe('Written to `to` when the protocol has no value (inbound).'),
    map: Name.optional().describe('Name of a value map (valueMaps) translating codes.'),
    transform: z
      .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
      .optional()
      .describe(
        'Transform(s) applied in order inbound, in reverse order outbound: trim, upper, lower, hl7-datetime, hl7-date, fhir-instant, phone-e164[:national], email, integer, hl7-duration, street-line, xtn-number, prefix:<text>, reference:<Type>.',
      ),
    direction: z
      .enum(['both', ...DIRECTIONS])
      .optional()
      .describe('Which way the rule applies (default both, within the resource directions).'),
    when: When.optional().describe('Inbound only: apply the rule only when this protocol condition holds.'),
    flag: z
      .string()
      .regex(/^[a-z][a-z0-9-]*$/)
      .optional()
      .describe('Flag raised when `when` drops a value that was present (e.g. ins-not-qualified).'),
    set: z
      .record(z.string(), Scalar)
      .optional()
      .describe(
        'Canonical constants written beside the value, relative to the item the last selector of `to` picks (e.g. use, type.coding[0].code).',
      ),
    protocolSet: z
      .record(z.string(), Scalar)
      .optional()
      .describe(
        'Protocol constants written beside the value outbound, relative to the field/repetition of `from` (HL7: `4.1`, `5`) or the item the last selector picks (FHIR).',
      ),
    required: z.boolean().optional().describe('Inbound: a missing value is an error.'),
    units: z
      .record(z.string(), z.string())
      .optional()
      .describe(
        'HL7 inbound, with transform hl7-duration: for a `from` path holding a duration, the path of its unit (SCH-9: SCH-10.1, AIS-7: AIS-8.1); minutes when the unit is absent.',
      ),
    owner: z.enum(OWNERS).optional().describe('Ownership of the canonical field this rule writes.'),
  })
  .describe('One field rule between the protocol side and the canonical side.');

export const ResourceSection = z.strictObject({
  directions: z.array(z.enum(DIRECTIONS)).min(1).describe('Which ways this kind is synced.'),
  id: z
    .strictObject({
      from: PathList.describe(
        'Protocol path(s) of the record id on the peer; inbound takes the first with a value.',
      ),
      newId: z
        .string()
        .min(1)
        .optional()
        .describe(
          "HL7 outbound: where a record the peer has no id for yet carries passerelle's id (e.g. SCH-1.1, the placer id).",
        ),
    })
    .optional()
    .describe("Where the record's externalId comes from (FHIR: the resource id by default)."),
  fields: z.array(FieldRule).default([]).describe('Field rules.'),
  ownership: z
    .strictObject({
      create: z
        .array(z.enum(LINK_ROLES_FOR_CREATE))
        .optional()
        .describe('Which sides may create a record of this kind.'),
      fields: z
        .record(z.string(), z.enum(OWNERS))
        .optional()
        .describe(
          'Owner per canonical field: an element (telecom), a keyed item (telecom[system=phone]), start/end, or * for the rest.',
        ),
    })
    .optional(),
});

export const ValueMap = z.strictObject({
  description: z.string().optional(),
  codes: z.record(z.string(), Scalar).describe('Protocol code → canonical value.'),
  default: Scalar.optional().describe('Canonical value for a protocol code not listed.'),
  unmapped: z
    .enum(['error', 'keep'])
    .optional()
    .describe(
      'What an unlisted code does when there is no default: error (ERR_MAPPING_UNMAPPED_CODE) or keep it as is.',
    ),
  outbound: z
    .record(z.string(), z.string())
    .optional()
    .describe('Canonical value → protocol code, where the inverse of `codes` is not what to send.'),
  outboundDefault: z.string().optional().describe('Protocol code for a canonical value with no entry.'),
});

const InboundMessage = z.strictObject({
  records: z.array(Kind).min(1).describe('Records produced, from the resource rules of each kind.'),
  set: z
    .record(z.string(), Scalar)
    .optional()
    .describe('Canonical constants for this event: `Appointment.status: cancelled`.'),
  deleted: z
    .array(Kind)
    .optional()
    .describe('Kinds produced as tombstones (deleted: true), e.g. Appointment for SIU^S17.'),
  optional: z
    .array(Kind)
    .optional()
    .describe(
      'Kinds the message may lack: one without an id is left out, the message flagged <kind>-missing with a warning, and the rest applied (the practitioner of an SIU).',
    ),
  supersedes: z
    .strictObject({
      kind: Kind,
      from: PathList.describe('Protocol path(s) of the superseded ids (ADT^A40 MRG-1).'),
    })
    .optional()
    .describe('Ids the record replaces (merge, identifier change).'),
});

const OutboundKind = z.strictObject({
  events: z
    .record(z.string(), MessageType)
    .describe(
      'Event → message type: Appointment created/moved/modified/cancelled/noshow/deleted; Patient created/updated; Slot blocked/freed/updated/deleted; Communication created/updated; Practitioner, Schedule created/updated.',
    ),
  include: z
    .array(Kind)
    .optional()
    .describe('Related records rendered in the same message (the Patient of an appointment → PID).'),
});

export const Hl7Settings = z.strictObject({
  sendingApplication: z.string().min(1).optional(),
  sendingFacility: z.string().min(1).optional(),
  receivingApplication: z.string().min(1).optional(),
  receivingFacility: z.string().min(1).optional(),
  charset: z
    .string()
    .min(1)
    .optional()
    .describe('Outbound character set (MSH-18 name), default UNICODE UTF-8.'),
  processingId: z.enum(['P', 'T', 'D']).optional(),
  segments: z
    .record(z.string().regex(/^[A-Z][A-Z0-9]{2}$/), z.array(z.string().regex(/^[A-Z][A-Z0-9]{2}$/)).min(1))
    .optional()
    .describe(
      'Outbound segment order per message code (after MSH), e.g. SIU: [SCH, TQ1, NTE, PID, RGS, AIS, AIP].',
    ),
});

const FilterList = z.strictObject({
  include: z.array(z.string().min(1)).optional(),
  exclude: z.array(z.string().min(1)).optional(),
});

export const AppointmentTypeEntry = z.strictObject({
  code: z.string().min(1).describe('Canonical appointment type code (serviceType).'),
  display: z.string().min(1),
  minutes: z.number().int().positive().optional(),
  instructions: z
    .string()
    .optional()
    .describe('Consignes: what the secretariat agent must ask or say for this type.'),
});

export const MappingProfile = z
  .strictObject({
    name: ProfileName.describe('Profile name; shipped profiles are mappings/<name>.yaml.'),
    extends: z
      .string()
      .min(1)
      .optional()
      .describe(
        'A shipped profile name (hl7v2-generic-2.5) or a profile file relative to this one (./site.yaml) whose rules this profile inherits and overrides (docs/mappings.md § Profiles that extend another).',
      ),
    description: z.string().optional(),
    protocol: z.enum(PROTOCOLS),
    version: z.string().min(1).describe('Protocol version: 2.5, 2.5.1… for HL7 v2; 4.0.1 for FHIR R4.'),
    timezone: z
      .string()
      .optional()
      .describe('IANA zone used when the link gives none (default Europe/Paris).'),
    constants: z
      .record(ConstantName, z.string())
      .optional()
      .describe('Named values usable as $name in paths, selectors and values.'),
    valueMaps: z.record(Name, ValueMap).optional(),
    hl7: Hl7Settings.optional(),
    messages: z
      .strictObject({
        inbound: z.record(MessageType, InboundMessage).optional(),
        outbound: z.partialRecord(Kind, OutboundKind).optional(),
      })
      .optional()
      .describe(
        'HL7 only: which trigger events are accepted and what they produce; which message a canonical change sends.',
      ),
    Patient: ResourceSection.optional(),
    Practitioner: ResourceSection.optional(),
    PractitionerRole: ResourceSection.optional(),
    Schedule: ResourceSection.optional(),
    Slot: ResourceSection.optional(),
    Appointment: ResourceSection.optional(),
    Communication: ResourceSection.optional(),
    filters: z
      .strictObject({
        practitioners: FilterList.optional().describe(
          'Practitioner ids on the peer (as in Practitioner/<id> references).',
        ),
        appointmentTypes: FilterList.optional().describe('Canonical appointment type codes.'),
      })
      .optional(),
    appointmentTypes: z
      .array(AppointmentTypeEntry)
      .optional()
      .describe('The catalogue passed to the secretariat with its consignes.'),
    defaultDurationMinutes: z
      .number()
      .int()
      .min(1)
      .max(1440)
      .optional()
      .describe(
        'Length assumed for an appointment whose end nothing gives (no end, duration or appointment type minutes): it is kept with end = start + this, flagged appointment-end-assumed (default 15).',
      ),
  })
  .describe('A passerelle mapping profile (docs/mappings.md).');

export type MappingProfile = z.infer<typeof MappingProfile>;
export type FieldRule = z.infer<typeof FieldRule>;
export type ResourceSection = z.infer<typeof ResourceSection>;
export type ValueMap = z.infer<typeof ValueMap>;
export type AppointmentTypeEntry = z.infer<typeof AppointmentTypeEntry>;

/** The JSON Schema committed as mappings/schema.json. */
export function profileJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(MappingProfile, { io: 'input', target: 'draft-2020-12' }) as Record<
    string,
    unknown
  >;
  return {
    ...schema,
    $id: 'https://passerelle.fr/schemas/mapping-profile.json',
    title: 'passerelle mapping profile',
  };
}
