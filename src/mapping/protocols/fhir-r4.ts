/**
 * FHIR R4 ↔ canonical through a compiled plan, and what compiling a fhir-r4 profile checks.
 *
 * Compile: `from` paths are FHIR element paths resolved in the R4 resource of the section's
 * kind; the record id is the logical id unless `id.from` says otherwise; a whole object or list
 * may be copied as is (structured). HL7-only keys (`hl7`, `messages`, `units`, `newId`) are
 * refused.
 *
 * Inbound: the resource type picks the profile section; the record id is the resource's logical
 * id (or `id.from`), its version `meta.versionId` (If-Match on the way back).
 *
 * Outbound: an update starts from the peer's current resource and sets only the elements the
 * profile maps, so whatever the practice software holds that passerelle does not map
 * (narrative, extensions, specialty…) is kept as is, never blanked. A mapped element the
 * canonical side no longer has is removed only when the merge base had it (a real deletion);
 * otherwise the peer's value stays.
 */
import { PasserelleError } from '../../errors.js';
import { Hl7Message } from '../../hl7/index.js';
import { RESOURCE_KINDS, type ResourceKind } from '../../model/resources.js';
import { type ElementNode, fhirCatalogue } from '../compile/catalogue.js';
import type {
  CompiledKind,
  CompiledRule,
  MappingPlan,
  ProfilePath,
  ProtocolAccessor,
  ProtocolSetEntry,
} from '../compile/plan.js';
import {
  applyInbound,
  outboundValue,
  report,
  reportFailure,
  type RunState,
  withCountry,
} from '../run/apply.js';
import { completeEnd } from '../run/appointment-end.js';
import {
  type CompiledPath,
  ensureContainer,
  prune,
  readPath,
  removePath,
  writePath,
} from '../run/element-path.js';
import { keepOtherIdentifiers, type OtherIdentifier } from '../run/other-identifiers.js';
import {
  failedFromCanonical,
  failedToCanonical,
  finishRecords,
  fromCanonicalResult,
  outboundStart,
  toCanonicalResult,
} from '../run/records.js';
import type { FieldReport } from '../run/report.js';
import type {
  CanonicalChange,
  FhirResource,
  FromCanonicalResult,
  MappingContext,
  ToCanonicalResult,
} from '../run/types.js';
import { looksLikeHl7Path } from './hl7v2.js';
import type { CompileContext, LeafCheck, ProtocolCompiler, ProtocolMapping } from './protocol.js';

const DEFAULT_ZONE = 'Europe/Paris';
type Obj = Record<string, unknown>;

/** The FHIR side of an accessor (a fhir-r4 plan holds only those). */
function fhirOf(a: ProtocolAccessor): CompiledPath | undefined {
  return 'fhir' in a ? a.fhir : undefined;
}

function read(resource: unknown, a: ProtocolAccessor): unknown {
  const path = fhirOf(a);
  if (!path) return undefined;
  const v = readPath(resource, path.steps);
  return v === '' || (Array.isArray(v) && v.length === 0) ? undefined : v;
}

function inventory(resource: FhirResource, ck: CompiledKind): FieldReport[] {
  const used = new Set<string>(['resourceType', 'id', 'meta']);
  const note = (a: ProtocolAccessor) => {
    const first = fhirOf(a)?.steps[0];
    if (first) used.add(first.name);
  };
  ck.idFrom.forEach(note);
  for (const r of ck.inboundRules) {
    r.from.forEach(note);
    if (r.when) note(r.when.accessor);
  }
  return Object.keys(resource)
    .filter((k) => !used.has(k) && !k.startsWith('_'))
    .map((k) => ({
      rule: '(not in profile)',
      kind: null,
      protocolPath: k,
      canonicalPath: null,
      status: 'unmapped' as const,
      note: 'present in the resource, not read by the profile',
    }));
}

/** The resource's identifiers as given (system, value, use, type, assigner display). */
function fhirIdentifiers(resource: FhirResource): OtherIdentifier[] {
  const ids = Array.isArray(resource['identifier']) ? (resource['identifier'] as unknown[]) : [];
  const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
  return ids.map((x, i) => {
    const id = (typeof x === 'object' && x !== null ? x : {}) as Obj;
    const type = (typeof id['type'] === 'object' && id['type'] !== null ? id['type'] : undefined) as
      Obj | undefined;
    const coding = Array.isArray(type?.['coding'])
      ? (type['coding'] as Obj[]).map((c) => ({
          system: str(c?.['system']),
          code: str(c?.['code']),
          display: str(c?.['display']),
        }))
      : undefined;
    return {
      system: str(id['system']),
      value: str(id['value']),
      use: str(id['use']),
      ...(type && { type: { ...(coding && { coding }), text: str(type['text']) } }),
      assignerDisplay: str((id['assigner'] as Obj | undefined)?.['display']),
      at: `identifier[${i}]`,
    };
  });
}

export function fhirToCanonical(
  plan: MappingPlan,
  resource: FhirResource,
  ctx: MappingContext = {},
): ToCanonicalResult {
  const type = String(resource.resourceType);
  const ck = (RESOURCE_KINDS as readonly string[]).includes(type)
    ? plan.kinds[type as ResourceKind]
    : undefined;
  if (!ck?.inbound) {
    return failedToCanonical(
      type,
      new PasserelleError(
        'ERR_MAPPING_UNSUPPORTED_MESSAGE',
        `profile ${plan.name} does not map ${type} resources to-canonical`,
        { details: { resourceType: type, profile: plan.name } },
      ),
    );
  }
  const st: RunState = {
    report: [],
    flags: new Set(),
    tctx: { timezone: ctx.timezone ?? plan.timezone ?? DEFAULT_ZONE },
  };
  let externalId: string | undefined;
  for (const a of ck.idFrom) {
    const v = read(resource, a);
    if (typeof v === 'string' && v !== '') {
      externalId = v;
      break;
    }
  }
  st.report.push({
    rule: `${ck.kind}.id`,
    kind: ck.kind,
    protocolPath: ck.idText,
    canonicalPath: 'id',
    status: externalId ? 'mapped' : 'error',
    ...(!externalId && { code: 'ERR_MAPPING_MISSING_ID' as const, note: 'the resource has no id' }),
  });
  const data: Obj = {};
  const kst = withCountry(st, ck.inboundRules, (rule) =>
    rule.from.map((a) => read(resource, a)).find((v) => v !== undefined),
  );
  for (const rule of ck.inboundRules) {
    let raw: unknown;
    let used: string | null = null;
    for (const a of rule.from) {
      raw = read(resource, a);
      if (raw !== undefined) {
        used = a.text;
        break;
      }
    }
    let holds = true;
    if (rule.when) {
      const w = read(resource, rule.when.accessor);
      holds = w !== undefined && rule.when.values.includes(String(w));
    }
    applyInbound(rule, raw, used, holds, data, kst);
  }
  // A practitioner's identifiers in the sender's own systems (its staff numbers) are kept as a patient's are.
  if (ck.kind === 'Patient' || ck.kind === 'Practitioner')
    keepOtherIdentifiers(data, fhirIdentifiers(resource), kst, { byValue: false });
  if (ck.kind === 'Appointment') completeEnd(plan, data, st);
  const meta = resource['meta'] as { versionId?: unknown; lastUpdated?: unknown } | undefined;
  const outcome = externalId
    ? finishRecords(
        plan,
        [
          {
            kind: ck.kind,
            externalId,
            data,
            ...(typeof meta?.versionId === 'string' && { version: meta.versionId }),
            ...(typeof meta?.lastUpdated === 'string' && { updatedAt: meta.lastUpdated }),
          },
        ],
        ctx,
        st.flags,
      )
    : { records: [], issues: [], filtered: [] };
  if (ctx.inventory) st.report.push(...inventory(resource, ck));
  return toCanonicalResult(type, st.report, st.flags, outcome);
}

/**
 * After a mapped value was removed, drops the list item that held it when all the item still
 * holds is what passerelle writes to place such a value (its selector keys and the rule's
 * `protocolSet`): a phone number cleared on the canonical side must not leave a bare
 * `{ system: phone, use: home }` behind (FHIR R4 ContactPoint: a point of contact without its
 * number tells nothing). An item holding anything else (a period, an extension…) is the
 * practice's and stays.
 */
function dropBareItem(out: Obj, path: CompiledPath, rule: CompiledRule): void {
  if (path.itemStep < 0) return;
  const itemSteps = path.steps.slice(0, path.itemStep + 1);
  const conds = itemSteps[itemSteps.length - 1]?.conds;
  if (conds === undefined) return;
  const item = readPath(out, itemSteps);
  if (typeof item !== 'object' || item === null || Array.isArray(item)) return;
  const placing = new Set<string>([
    ...conds.map((c) => c.key[0]?.name ?? ''),
    ...rule.protocolSet.map((ps) => ps.steps?.[0]?.name ?? ''),
  ]);
  if (Object.keys(item).every((k) => placing.has(k))) removePath(out, itemSteps);
}

export function canonicalToFhir(
  plan: MappingPlan,
  change: CanonicalChange,
  ctx: MappingContext = {},
  current?: FhirResource,
): FromCanonicalResult {
  const start = outboundStart(plan, change);
  if ('done' in start) return start.done;
  const { event, kind: ck } = start;
  if (change.op === 'delete') return fromCanonicalResult(event, [], {});
  if (current !== undefined && current.resourceType !== change.kind) {
    return failedFromCanonical(
      event,
      new PasserelleError(
        'ERR_MAPPING_NO_OUTBOUND',
        `the current resource is a ${String(current.resourceType)}, not a ${change.kind}`,
      ),
    );
  }
  const st: RunState = {
    report: [],
    flags: new Set(),
    tctx: { timezone: ctx.timezone ?? plan.timezone ?? DEFAULT_ZONE },
  };
  const out: Obj = current ? structuredClone(current) : { resourceType: change.kind };
  if (change.externalId !== null) out['id'] = change.externalId;
  const base = change.base ?? null;
  for (const rule of ck.outboundRules) {
    const primary = rule.from[0];
    const path = primary && fhirOf(primary);
    if (!primary || !path) continue;
    try {
      const v = outboundValue(rule, change.data, st.tctx);
      if (v === undefined) {
        const hadIt = base !== null && rule.to !== null && readPath(base, rule.to.steps) !== undefined;
        if (hadIt && removePath(out, path.steps)) {
          dropBareItem(out, path, rule);
          report(st, rule, 'mapped', primary.text, { note: 'removed: cleared on the canonical side' });
        } else
          report(st, rule, 'unmapped', primary.text, {
            note: current ? 'no canonical value: peer value kept' : 'no canonical value',
          });
        continue;
      }
      const steps = path.steps;
      const itemSteps = steps.slice(0, path.itemStep + 1);
      const container = itemSteps.length > 0 ? ensureContainer(out, itemSteps) : out;
      writePath(container, steps.slice(path.itemStep + 1), v.value);
      for (const ps of rule.protocolSet) if (ps.steps) writePath(container, ps.steps, ps.value);
      report(st, rule, v.defaulted ? 'defaulted' : 'mapped', primary.text, {
        ...(v.constant && { note: 'constant' }),
      });
    } catch (e) {
      reportFailure(st, rule, e);
    }
  }
  // A new resource is pruned of what writing left empty; a current one is kept byte for byte
  // outside the mapped elements (primitive-extension arrays such as _given may hold nulls).
  const fhir = (current ? out : (prune(out) ?? { resourceType: change.kind })) as FhirResource;
  return fromCanonicalResult(event, st.report, { fhir });
}

// -----------------------------------------------------------------------------------------------
// Compile

class FhirCompiler implements ProtocolCompiler {
  readonly units = false;

  constructor(private readonly cx: CompileContext) {}

  checkVersion(): void {
    const version = this.cx.profile.version;
    if (!/^4\.0(\.[0-9]+)?$/.test(version)) {
      this.cx.error(
        ['version'],
        'ERR_MAPPING_PROTOCOL_MISMATCH',
        `fhir-r4 profiles are for FHIR 4.0.x (R4); version ${version} is not`,
      );
    }
  }

  /** An element path of the R4 resource named like `kind`. */
  path(text: string, kind: ResourceKind, at: ProfilePath): ProtocolAccessor | undefined {
    if (looksLikeHl7Path(text)) {
      this.cx.error(
        at,
        'ERR_MAPPING_PROTOCOL_MISMATCH',
        `${text} is an HL7 path; this profile's protocol is fhir-r4, whose paths are FHIR element paths (e.g. name[use=official].family)`,
      );
      return undefined;
    }
    const resolved = this.cx.elementPath(fhirCatalogue, kind, text, at);
    return resolved ? { protocol: 'fhir-r4', fhir: resolved.path, text } : undefined;
  }

  /** A resource carries objects and lists as the canonical model does: copied whole. */
  checkLeaf(c: LeafCheck): boolean {
    return c.isObject || c.wholeList;
  }

  /** Keys are element paths inside the item the rule's `from` selects (telecom[system=phone] → use). */
  protocolSetEntry(
    key: string,
    value: string,
    primary: ProtocolAccessor,
    kind: ResourceKind,
    at: ProfilePath,
  ): ProtocolSetEntry | undefined {
    const base = this.itemNode(kind, primary);
    const r = base && this.cx.elementPath(fhirCatalogue, kind, this.cx.subst(key, at), at, base);
    return r ? { steps: r.path.steps, value } : undefined;
  }

  private itemNode(kind: ResourceKind, a: ProtocolAccessor): ElementNode | undefined {
    const path = fhirOf(a);
    if (!path) return undefined;
    const steps = path.steps.slice(0, path.itemStep + 1);
    let node = fhirCatalogue.root(kind);
    for (const s of steps) node = node?.children().get(s.name);
    return node;
  }

  newId(_raw: string, _kind: ResourceKind, at: ProfilePath): ProtocolAccessor | undefined {
    this.cx.error(
      at,
      'ERR_MAPPING_PROTOCOL_MISMATCH',
      'newId is for HL7 profiles (FHIR servers assign ids on create)',
    );
    return undefined;
  }

  /** The resource's logical id. */
  defaultId(kind: ResourceKind, at: ProfilePath): ProtocolAccessor | undefined {
    return this.cx.protocolPath('id', kind, at);
  }

  section(): undefined {
    const p = this.cx.profile;
    if (p.hl7)
      this.cx.error(
        ['hl7'],
        'ERR_MAPPING_PROTOCOL_MISMATCH',
        "the hl7 section is for hl7v2 profiles; this profile's protocol is fhir-r4",
        true,
      );
    if (p.messages)
      this.cx.error(
        ['messages'],
        'ERR_MAPPING_PROTOCOL_MISMATCH',
        'messages (trigger events) are for hl7v2 profiles; a fhir-r4 profile maps resources by type',
        true,
      );
    return undefined;
  }
}

export const fhirR4: ProtocolMapping = {
  protocol: 'fhir-r4',
  inputName: 'a FHIR resource',
  compiler: (cx) => new FhirCompiler(cx),
  // Whatever is not a parsed HL7 message is taken for a resource: its resourceType picks the section.
  accepts: (input) => !(input instanceof Hl7Message),
  toCanonical: (plan, input, ctx) => fhirToCanonical(plan, input as FhirResource, ctx),
  fromCanonical: (plan, change, ctx, current) => canonicalToFhir(plan, change, ctx, current),
  outboundKinds: (plan) =>
    new Set(
      Object.values(plan.kinds)
        .filter((k: CompiledKind) => k.outbound)
        .map((k) => k.kind),
    ),
};
