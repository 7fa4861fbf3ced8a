/**
 * What the compiler and the engine ask of a protocol. One implementation per protocol file
 * (hl7v2.ts, fhir-r4.ts), found by the profile's `protocol` in protocols/index.ts: the
 * compiler and the engine hold no per-protocol branch, and a new protocol is one file and one
 * table line.
 */
import type { ErrorCode } from '../../errors.js';
import type { Hl7Message } from '../../hl7/index.js';
import type { ResourceKind } from '../../model/resources.js';
import type { Catalogue, ElementNode } from '../compile/catalogue.js';
import type {
  CompiledKind,
  CompiledValueMap,
  Hl7Plan,
  MappingPlan,
  ProfilePath,
  ProtocolAccessor,
  ProtocolSetEntry,
  Scalar,
} from '../compile/plan.js';
import type { MappingProfile, Protocol } from '../compile/schema.js';
import type { CompiledPath } from '../run/element-path.js';
import type { Transform } from '../run/transforms.js';
import type {
  CanonicalChange,
  FhirResource,
  FromCanonicalResult,
  MappingContext,
  ToCanonicalResult,
} from '../run/types.js';

/** What toCanonical maps: a parsed HL7 message or a FHIR resource. */
export type MappingInput = Hl7Message | FhirResource;

/** The compiler's services a protocol compiler uses (issues at profile paths, constants, element paths). */
export interface CompileContext {
  readonly profile: MappingProfile;
  /** The canonical model's elements (what `to` paths name). */
  readonly catalogue: Catalogue;
  error(at: ProfilePath, code: ErrorCode, message: string, onKey?: boolean): void;
  warn(at: ProfilePath, code: ErrorCode, message: string): void;
  /** `$name` → its constant. */
  subst(text: string, at: ProfilePath): string;
  substScalar(v: Scalar, at: ProfilePath): Scalar;
  /** An element path resolved in `catalogue` (under `base` when given); reported and undefined when bad. */
  elementPath(
    catalogue: Catalogue,
    kind: string,
    text: string,
    at: ProfilePath,
    base?: ElementNode,
  ): { path: CompiledPath; leaf: ElementNode; item: ElementNode } | undefined;
  /** A protocol path as the profile writes it (constants substituted, then the protocol's `path`). */
  protocolPath(raw: string, kind: ResourceKind, at: ProfilePath): ProtocolAccessor | undefined;
}

/** The canonical leaf a rule writes, and what the rule does with it, for the protocol's checks. */
export interface LeafCheck {
  readonly at: ProfilePath;
  /** `Patient.birthDate`, for messages. */
  readonly toText: string;
  readonly to: CompiledPath;
  readonly leaf: ElementNode;
  readonly hasFrom: boolean;
  readonly value: Scalar | undefined;
  readonly map: CompiledValueMap | undefined;
  readonly transforms: readonly Transform[];
  /** The transforms compiled without issue (type checks after a bad one would only repeat it). */
  readonly transformsOk: boolean;
  readonly isObject: boolean;
  /** `to` names a whole list (no index, no selector on its last step). */
  readonly wholeList: boolean;
}

/** One profile's compilation, protocol side; holds what it shares between paths (interned paths). */
export interface ProtocolCompiler {
  /** Checks made before anything else is compiled (FHIR: the version is R4). */
  checkVersion(): void;
  /** A protocol path (constants already substituted); reported and undefined when bad. */
  path(text: string, kind: ResourceKind, at: ProfilePath): ProtocolAccessor | undefined;
  /** Whether rules may name `units` (a duration and its unit in two fields). */
  readonly units: boolean;
  /** Checks the canonical leaf of a rule; true when the leaf is copied whole (structured). */
  checkLeaf(c: LeafCheck): boolean;
  /** One `protocolSet` entry, relative to the rule's first `from`. */
  protocolSetEntry(
    key: string,
    value: string,
    primary: ProtocolAccessor,
    kind: ResourceKind,
    at: ProfilePath,
  ): ProtocolSetEntry | undefined;
  /** `id.newId` (where a record created from here carries passerelle's id). */
  newId(raw: string, kind: ResourceKind, at: ProfilePath): ProtocolAccessor | undefined;
  /** Where the id comes from when the section has no `id`. */
  defaultId(kind: ResourceKind, at: ProfilePath): ProtocolAccessor | undefined;
  /** The protocol's part of the plan (HL7: messages, MSH settings, segment order), after the kinds. */
  section(kinds: Partial<Record<ResourceKind, CompiledKind>>): Hl7Plan | undefined;
}

export interface ProtocolMapping {
  readonly protocol: Protocol;
  /** What this protocol maps, for a mismatch error: `an HL7 message`. */
  readonly inputName: string;
  compiler(cx: CompileContext): ProtocolCompiler;
  /** Whether `input` is what this protocol maps. */
  accepts(input: MappingInput): boolean;
  /** Called with an input `accepts` took. */
  toCanonical(plan: MappingPlan, input: MappingInput, ctx: MappingContext): ToCanonicalResult;
  /** `current`: the peer's resource an update starts from, where the protocol has one (FHIR). */
  fromCanonical(
    plan: MappingPlan,
    change: CanonicalChange,
    ctx: MappingContext,
    current?: FhirResource,
  ): FromCanonicalResult;
  /** The kinds a canonical change can be rendered for. */
  outboundKinds(plan: MappingPlan): ReadonlySet<ResourceKind>;
}
