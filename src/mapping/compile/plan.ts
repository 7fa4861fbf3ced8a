/**
 * A compiled mapping profile: every path parsed and checked, every transform and value map
 * resolved, constants substituted. The engine (protocols/hl7v2.ts, protocols/fhir-r4.ts) only walks this;
 * nothing is parsed or looked up by name per message.
 */
import type { ErrorIssue } from '../../errors.js';
import type { Hl7Path } from '../../hl7/index.js';
import type { ResourceKind } from '../../model/resources.js';
import type { CompiledPath, CompiledStep } from '../run/element-path.js';
import type { Transform } from '../run/transforms.js';
import type { OwnershipRules } from './ownership.js';
import type { AppointmentTypeEntry, Direction, MappingProfile, Protocol } from './schema.js';

export type Scalar = string | number | boolean;

/** Where something is in a profile, for issues: ['Appointment', 'fields', 3, 'to']. */
export type ProfilePath = readonly (string | number)[];

/** A repeating HL7 field's repetition told apart by a value (`PID-3[4.2=<OID>]`, protocols/hl7v2.ts). */
export interface Hl7Selector {
  /** Path of the selector leaf over every repetition (`PID-3[*].4.2`). */
  readonly path: Hl7Path;
  readonly value: string;
  /**
   * Ordered alternatives (`PID-5[7=L|""|*]`): the first repetition matching the first one that
   * any repetition matches; `""` matches an empty value, `*` any repetition. Undefined for a
   * single value. Writing uses the first alternative.
   */
  readonly alternatives?: readonly string[];
  /** The selector's component / sub-component in the repetition: [4, 2]. */
  readonly component: number;
  readonly subcomponent: number | undefined;
}

/** An HL7 path as profiles write it, compiled once into codec paths. */
export interface ProfileHl7Path {
  readonly text: string;
  /** The leaf; with a selector its repetition is `*` (read with getAll). */
  readonly path: Hl7Path;
  readonly selector: Hl7Selector | undefined;
  /** Segment occurrence + field, the unit repetitions are allocated in: `PID[1]-3`. */
  readonly fieldKey: string;
  readonly segment: string;
  /** The leaf at repetition r (index r), built on first use: no path object per read. */
  readonly reps: Hl7Path[];
}

/** A place on the protocol side: an HL7 path, or a FHIR element path. */
export type ProtocolAccessor =
  | { readonly protocol: 'hl7v2'; readonly hl7: ProfileHl7Path; readonly text: string }
  | { readonly protocol: 'fhir-r4'; readonly fhir: CompiledPath; readonly text: string };

export interface CompiledValueMap {
  readonly name: string;
  readonly codes: ReadonlyMap<string, Scalar>;
  /** `codes` by lower-case code: senders write BOOKED, booked and Booked for the same 0278 code. */
  readonly folded: ReadonlyMap<string, Scalar>;
  /** What an unlisted protocol code becomes. */
  readonly unmapped:
    | { readonly kind: 'default'; readonly value: Scalar }
    | { readonly kind: 'error' }
    | { readonly kind: 'keep' };
  readonly outbound: ReadonlyMap<string, string>;
  readonly outboundUnmapped:
    | { readonly kind: 'default'; readonly value: string }
    | { readonly kind: 'error' }
    | { readonly kind: 'keep' };
}

export interface ProtocolSetEntry {
  /** HL7: component / sub-component within the repetition of `from`. */
  readonly component?: number;
  readonly subcomponent?: number;
  /** FHIR: steps relative to the item the last selector of `from` picks. */
  readonly steps?: readonly CompiledStep[];
  readonly value: string;
}

export interface CompiledRule {
  /** `Appointment.fields[3]`, or the rule's name. */
  readonly label: string;
  /** Path of the rule in the profile, for issues: ['Appointment', 'fields', 3]. */
  readonly at: ProfilePath;
  readonly kind: ResourceKind;
  readonly inbound: boolean;
  readonly outbound: boolean;
  /** Inbound: the first with a value; outbound: the first is written. */
  readonly from: readonly ProtocolAccessor[];
  readonly fromText: string | null;
  readonly to: CompiledPath | null;
  /** `to` split at its last selector: the item container, then the value inside it. */
  readonly itemSteps: readonly CompiledStep[];
  readonly valueSteps: readonly CompiledStep[];
  readonly value: Scalar | undefined;
  readonly default: Scalar | undefined;
  readonly map: CompiledValueMap | undefined;
  readonly transforms: readonly Transform[];
  readonly when: { readonly accessor: ProtocolAccessor; readonly values: readonly string[] } | undefined;
  readonly flag: string | undefined;
  readonly set: readonly { readonly steps: readonly CompiledStep[]; readonly value: Scalar }[];
  readonly protocolSet: readonly ProtocolSetEntry[];
  readonly required: boolean;
  /** Per `from` accessor (same index): where the unit of a duration read there is (`units`). */
  readonly units: readonly (ProtocolAccessor | undefined)[];
  /** The canonical leaf is a whole object or list copied as is (FHIR profiles only). */
  readonly structured: boolean;
  /** The profile the rule comes from, when the profile extends another (undefined otherwise). */
  readonly origin: string | undefined;
}

export interface CompiledKind {
  readonly kind: ResourceKind;
  readonly directions: readonly Direction[];
  readonly inbound: boolean;
  readonly outbound: boolean;
  readonly idFrom: readonly ProtocolAccessor[];
  readonly idText: string;
  readonly newId: ProtocolAccessor | undefined;
  /** Outbound: whether a field rule already writes the id path (then the id is not written again). */
  readonly idWrittenByRule: boolean;
  readonly rules: readonly CompiledRule[];
  readonly inboundRules: readonly CompiledRule[];
  readonly outboundRules: readonly CompiledRule[];
}

export interface CompiledInboundMessage {
  readonly type: string;
  readonly records: readonly ResourceKind[];
  readonly deleted: ReadonlySet<ResourceKind>;
  /** Kinds left out (flagged `<kind>-missing`) when the message gives no id for them. */
  readonly optional: ReadonlySet<ResourceKind>;
  readonly set: ReadonlyMap<
    ResourceKind,
    readonly { readonly steps: readonly CompiledStep[]; readonly text: string; readonly value: Scalar }[]
  >;
  readonly supersedes:
    { readonly kind: ResourceKind; readonly from: readonly ProtocolAccessor[] } | undefined;
}

export interface CompiledOutboundKind {
  readonly kind: ResourceKind;
  readonly events: ReadonlyMap<string, string>;
  readonly include: readonly ResourceKind[];
}

export interface Hl7Plan {
  readonly sendingApplication: string;
  readonly sendingFacility: string | undefined;
  readonly receivingApplication: string | undefined;
  readonly receivingFacility: string | undefined;
  readonly charset: string;
  readonly processingId: 'P' | 'T' | 'D';
  readonly segments: ReadonlyMap<string, readonly string[]>;
  readonly inbound: ReadonlyMap<string, CompiledInboundMessage>;
  readonly outbound: ReadonlyMap<ResourceKind, CompiledOutboundKind>;
}

export interface FilterSet {
  readonly include: ReadonlySet<string> | undefined;
  readonly exclude: ReadonlySet<string>;
}

export interface MappingPlan {
  readonly name: string;
  readonly description: string | undefined;
  readonly protocol: Protocol;
  readonly version: string;
  /** SHA-256 of the profile text: versions, caches and audit events name it. */
  readonly hash: string;
  /** Where the profile came from (a file path, `link <id> v<n>`, `request`). */
  readonly source: string;
  /** The profiles this one extends (`extends:`), nearest first; empty for a standalone profile. */
  readonly parents: readonly string[];
  readonly timezone: string | undefined;
  readonly constants: Readonly<Record<string, string>>;
  readonly kinds: Readonly<Partial<Record<ResourceKind, CompiledKind>>>;
  readonly hl7: Hl7Plan | undefined;
  readonly ownership: OwnershipRules;
  readonly filters: {
    readonly practitioners: FilterSet | undefined;
    readonly appointmentTypes: FilterSet | undefined;
  };
  /** The appointment types with their consignes, for the secretariat's catalogue. */
  readonly appointmentTypes: readonly AppointmentTypeEntry[];
  /** Length assumed for an appointment whose end nothing gives (`defaultDurationMinutes`, else the product default). */
  readonly defaultDurationMinutes: number;
  /** Warnings found while compiling (the profile is usable). */
  readonly warnings: readonly ErrorIssue[];
  readonly profile: MappingProfile;
}
