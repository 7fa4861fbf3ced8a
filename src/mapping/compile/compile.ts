/**
 * Profile → plan. Runs after the schema check (schema.ts) and checks what a schema cannot:
 * paths exist in the canonical model and in FHIR R4, HL7 paths parse, transforms and value maps
 * are known and fit the element they write, time zones are IANA zones, constants are defined,
 * no two rules write the same place, message rules name kinds the profile maps. Every problem
 * is reported (never only the first), each at its path in the profile, so the loader can add
 * file:line:column. Nothing here runs per message.
 */
import { createHash } from 'node:crypto';

import type { ErrorCode, ErrorIssue } from '../../errors.js';
import { RESOURCE_KINDS, type ResourceKind } from '../../model/resources.js';
import { type Hl7Path, isSupportedHl7Version, resolveCharset } from '../../hl7/index.js';
import { didYouMean } from '../../util/suggest.js';
import { type Catalogue, canonicalCatalogue, type ElementNode, fhirCatalogue, resolvePath } from './catalogue.js';
import { type CompiledPath, type CompiledStep, parseElementPath, PathSyntaxError } from '../run/element-path.js';
import { formatHl7Path, type Hl7Selector, looksLikeHl7Path, parseProfileHl7Path, type ProfileHl7Path } from '../protocols/hl7v2-path.js';
import { checkOwnershipField, type KindOwnership, type OwnershipRules, ownershipFieldOf } from './ownership.js';
import type {
  CompiledInboundMessage,
  CompiledKind,
  CompiledOutboundKind,
  CompiledRule,
  CompiledValueMap,
  FilterSet,
  Hl7Plan,
  MappingPlan,
  ProtocolAccessor,
  ProtocolSetEntry,
  Scalar,
} from './plan.js';
import type { FieldRule, MappingProfile, Owner, Protocol, ResourceSection } from './schema.js';
import { compileTransform, isValidTimeZone, timeZoneNames, type Transform } from '../run/transforms.js';

export type ProfilePath = readonly (string | number)[];

export interface CompileIssue {
  readonly at: ProfilePath;
  readonly code: ErrorCode;
  readonly message: string;
  readonly severity: 'error' | 'warning';
  /** Point at the key rather than its value (unknown keys). */
  readonly onKey?: boolean;
}

/** Events a canonical change can be, per kind (fromCanonical decides which one a change is). */
export const OUTBOUND_EVENTS: Readonly<Record<ResourceKind, readonly string[]>> = {
  Appointment: ['created', 'moved', 'modified', 'cancelled', 'noshow', 'deleted'],
  Patient: ['created', 'updated', 'deleted'],
  Slot: ['blocked', 'freed', 'updated', 'deleted'],
  Communication: ['created', 'updated', 'deleted'],
  Practitioner: ['created', 'updated', 'deleted'],
  Schedule: ['created', 'updated', 'deleted'],
};

const CONST_REF = /\$([A-Za-z][A-Za-z0-9_]*)/g;
const DEFAULT_SEGMENTS: Readonly<Record<string, readonly string[]>> = {
  // HL7 v2.5 ch. 10 SIU_S12 and ch. 3 ADT_A01/ADT_A05, ch. 9 MDM_T02, ch. 7 ORU_R01 (group order).
  SIU: ['SCH', 'TQ1', 'NTE', 'PID', 'PD1', 'PV1', 'PV2', 'OBX', 'DG1', 'RGS', 'AIS', 'AIG', 'AIL', 'AIP'],
  ADT: ['EVN', 'PID', 'PD1', 'ROL', 'NK1', 'PV1', 'PV2', 'MRG', 'ZFD'],
  MDM: ['EVN', 'PID', 'PV1', 'TXA', 'OBX', 'NTE'],
  ORU: ['PID', 'PV1', 'ORC', 'OBR', 'NTE', 'OBX'],
};

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

class Compiler {
  readonly issues: CompileIssue[] = [];
  readonly constants: Record<string, string>;
  readonly protocol: Protocol;
  readonly valueMaps = new Map<string, CompiledValueMap>();
  readonly usedMaps = new Set<string>();
  readonly selectors = new Map<string, Hl7Selector>();
  readonly hl7SelectorPaths = new Map<string, Hl7Path>();
  readonly hl7Paths = new Map<string, ProfileHl7Path>();
  readonly catalogue: Catalogue;

  constructor(
    readonly profile: MappingProfile,
    readonly originOf: ((at: ProfilePath) => string) | undefined,
  ) {
    this.constants = { ...(profile.constants ?? {}) };
    this.protocol = profile.protocol;
    this.catalogue = canonicalCatalogue;
  }

  error(at: ProfilePath, code: ErrorCode, message: string, onKey = false): void {
    this.issues.push({ at, code, message, severity: 'error', ...(onKey && { onKey }) });
  }
  warn(at: ProfilePath, code: ErrorCode, message: string): void {
    this.issues.push({ at, code, message, severity: 'warning' });
  }

  /** `$name` → its constant; unknown names are reported and left as is. */
  subst(text: string, at: ProfilePath): string {
    if (!text.includes('$')) return text;
    return text.replace(CONST_REF, (whole, name: string) => {
      const v = this.constants[name];
      if (v === undefined) {
        this.error(at, 'ERR_MAPPING_UNKNOWN_CONSTANT', `unknown constant $${name}${didYouMean(name, Object.keys(this.constants))}`);
        return whole;
      }
      return v;
    });
  }
  substScalar(v: Scalar, at: ProfilePath): Scalar {
    return typeof v === 'string' ? this.subst(v, at) : v;
  }

  // -------------------------------------------------------------------------------------------
  // Paths

  /** A protocol path of this profile's protocol, for `kind` (FHIR: the R4 resource of that name). */
  protocolPath(raw: string, kind: ResourceKind, at: ProfilePath): ProtocolAccessor | undefined {
    const text = this.subst(raw, at);
    if (this.protocol === 'hl7v2') {
      if (!looksLikeHl7Path(text)) {
        if (/^[a-z]/.test(text)) {
          this.error(at, 'ERR_MAPPING_PROTOCOL_MISMATCH', `${text} is an element path, not an HL7 path (SEG[n]-F[r].C.S such as PID-5[1].1); this profile's protocol is hl7v2`);
        } else {
          this.error(at, 'ERR_MAPPING_BAD_PATH', `${text}: not an HL7 path (SEG[n]-F[r].C.S such as PID-5[1].1, SCH-11.4)`);
        }
        return undefined;
      }
      try {
        // One object per distinct path, selector and selector path: the engine memoizes reads
        // per message by these objects, for every rule sharing them.
        const known = this.hl7Paths.get(text);
        if (known) return { protocol: 'hl7v2', hl7: known, text };
        let parsed = parseProfileHl7Path(text);
        if (parsed.selector) {
          const pathKey = formatHl7Path(parsed.selector.path);
          const selPath = this.hl7SelectorPaths.get(pathKey) ?? parsed.selector.path;
          this.hl7SelectorPaths.set(pathKey, selPath);
          const key = `${pathKey}=${parsed.selector.value}`;
          const shared = this.selectors.get(key) ?? { ...parsed.selector, path: selPath };
          this.selectors.set(key, shared);
          parsed = { ...parsed, selector: shared };
        }
        this.hl7Paths.set(text, parsed);
        return { protocol: 'hl7v2', hl7: parsed, text };
      } catch (e) {
        this.error(at, 'ERR_MAPPING_BAD_PATH', `bad HL7 path ${text}: ${(e as Error).message}`);
        return undefined;
      }
    }
    if (looksLikeHl7Path(text)) {
      this.error(at, 'ERR_MAPPING_PROTOCOL_MISMATCH', `${text} is an HL7 path; this profile's protocol is fhir-r4, whose paths are FHIR element paths (e.g. name[use=official].family)`);
      return undefined;
    }
    const resolved = this.elementPath(fhirCatalogue, kind, text, at);
    return resolved ? { protocol: 'fhir-r4', fhir: resolved.path, text } : undefined;
  }

  elementPath(catalogue: Catalogue, kind: string, text: string, at: ProfilePath, base?: ElementNode): { path: CompiledPath; leaf: ElementNode; item: ElementNode } | undefined {
    let parsed;
    try {
      parsed = parseElementPath(text);
    } catch (e) {
      if (e instanceof PathSyntaxError) {
        this.error(at, 'ERR_MAPPING_BAD_PATH', `bad ${catalogue.label} ${text}: ${e.message}`);
        return undefined;
      }
      throw e;
    }
    const r = resolvePath(catalogue, kind, parsed, base);
    if (!r.ok) {
      this.error(at, 'ERR_MAPPING_UNKNOWN_FIELD', r.message);
      return undefined;
    }
    return { path: r.path, leaf: r.leaf, item: r.item };
  }

  // -------------------------------------------------------------------------------------------
  // Value maps

  valueMap(name: string): void {
    const vm = (this.profile.valueMaps ?? {})[name];
    if (!vm) return;
    const at = ['valueMaps', name];
    const codes = new Map<string, Scalar>();
    for (const [code, v] of Object.entries(vm.codes)) codes.set(this.subst(code, [...at, 'codes', code]), this.substScalar(v, [...at, 'codes', code]));
    let unmapped: CompiledValueMap['unmapped'];
    if (vm.default !== undefined && vm.unmapped !== undefined) {
      this.error([...at, 'unmapped'], 'ERR_MAPPING_VALUE_MAP', `value map ${name} has both default and unmapped; keep one`);
      unmapped = { kind: 'error' };
    } else if (vm.default !== undefined) unmapped = { kind: 'default', value: vm.default };
    else if (vm.unmapped !== undefined) unmapped = { kind: vm.unmapped };
    else {
      this.error(at, 'ERR_MAPPING_VALUE_MAP', `value map ${name} needs default: <value> or unmapped: error (what a code it does not list becomes)`);
      unmapped = { kind: 'error' };
    }
    const outbound = new Map<string, string>();
    for (const [code, v] of codes) if (!outbound.has(String(v))) outbound.set(String(v), code);
    for (const [v, code] of Object.entries(vm.outbound ?? {})) outbound.set(v, code);
    const outboundUnmapped: CompiledValueMap['outboundUnmapped'] =
      vm.outboundDefault !== undefined ? { kind: 'default', value: vm.outboundDefault } : unmapped.kind === 'keep' ? { kind: 'keep' } : { kind: 'error' };
    const folded = new Map<string, Scalar>();
    for (const [code, v] of codes) if (!folded.has(code.toLowerCase())) folded.set(code.toLowerCase(), v);
    this.valueMaps.set(name, { name, codes, folded, unmapped, outbound, outboundUnmapped });
  }

  /** The canonical values a map produces must be allowed by the element it writes. */
  checkMapAgainst(map: CompiledValueMap, leaf: ElementNode, toText: string): void {
    const allowed = leaf.enum;
    const at = ['valueMaps', map.name];
    const check = (v: Scalar, where: ProfilePath) => {
      if (allowed && !allowed.includes(String(v))) {
        this.error(where, 'ERR_MAPPING_VALUE_MAP', `value map ${map.name}: ${String(v)} is not allowed in ${toText} (one of ${allowed.join(', ')})${didYouMean(String(v), allowed)}`);
      } else if (leaf.type === 'number' && typeof v !== 'number') {
        this.error(where, 'ERR_MAPPING_VALUE_MAP', `value map ${map.name}: ${toText} is a number; map to numbers`);
      }
    };
    for (const [code, v] of map.codes) check(v, [...at, 'codes', code]);
    if (map.unmapped.kind === 'default') check(map.unmapped.value, [...at, 'default']);
    for (const [v] of Object.entries(this.profile.valueMaps?.[map.name]?.outbound ?? {})) check(v, [...at, 'outbound', v]);
  }

  // -------------------------------------------------------------------------------------------
  // Rules

  transforms(spec: FieldRule['transform'], at: ProfilePath): Transform[] {
    if (spec === undefined) return [];
    const list = Array.isArray(spec) ? spec : [spec];
    const out: Transform[] = [];
    list.forEach((s, i) => {
      const where = Array.isArray(spec) ? [...at, i] : at;
      const t = compileTransform(this.subst(s, where));
      if (typeof t === 'string') this.error(where, 'ERR_MAPPING_UNKNOWN_TRANSFORM', t);
      else if (t.protocol !== 'any' && t.protocol !== this.protocol) {
        this.error(where, 'ERR_MAPPING_PROTOCOL_MISMATCH', `transform ${t.name} is for ${t.protocol} profiles; this profile's protocol is ${this.protocol}`);
      } else out.push(t);
    });
    return out;
  }

  rule(kind: ResourceKind, section: ResourceSection, rule: FieldRule, index: number): CompiledRule | undefined {
    const at: ProfilePath = [kind, 'fields', index];
    const label = rule.name ?? `${kind}.fields[${index}]`;
    const errorsBefore = this.issues.filter((i) => i.severity === 'error').length;
    const fromList = rule.from === undefined ? [] : Array.isArray(rule.from) ? rule.from : [rule.from];
    const hasFrom = fromList.length > 0;
    const hasTo = rule.to !== undefined;
    if (!hasTo && !(hasFrom && rule.value !== undefined)) {
      this.error(at, 'ERR_MAPPING_SCHEMA', 'a rule needs from and to (a mapping), to and value (a canonical constant), or from and value (a protocol constant)');
      return undefined;
    }
    if (!hasFrom && rule.value === undefined) {
      this.error(at, 'ERR_MAPPING_SCHEMA', 'a rule with to needs from (where the value comes from) or value (a constant)');
      return undefined;
    }
    const dir = rule.direction ?? 'both';
    let inbound = section.directions.includes('to-canonical') && dir !== 'from-canonical';
    let outbound = section.directions.includes('from-canonical') && dir !== 'to-canonical';
    if (!hasTo) inbound = false; // a protocol constant is written outbound only
    if (!hasFrom) outbound = false; // a canonical constant is written inbound only
    if (dir !== 'both' && !section.directions.includes(dir)) {
      this.warn([...at, 'direction'], 'ERR_MAPPING_SCHEMA', `${kind} is not synced ${dir} (directions: ${section.directions.join(', ')}); this rule never applies`);
    }

    const from: ProtocolAccessor[] = [];
    const units: (ProtocolAccessor | undefined)[] = [];
    fromList.forEach((f, i) => {
      const a = this.protocolPath(f, kind, Array.isArray(rule.from) ? [...at, 'from', i] : [...at, 'from']);
      if (!a) return;
      from.push(a);
      const u = rule.units?.[f];
      units.push(u === undefined ? undefined : this.protocolPath(u, kind, [...at, 'units', f]));
    });
    for (const key of Object.keys(rule.units ?? {})) {
      if (!fromList.includes(key)) this.error([...at, 'units', key], 'ERR_MAPPING_SCHEMA', `units names ${key}, which is not one of this rule's from paths (${fromList.join(', ')})`);
    }
    if (rule.units !== undefined && this.protocol !== 'hl7v2') this.error([...at, 'units'], 'ERR_MAPPING_PROTOCOL_MISMATCH', 'units is for HL7 v2 profiles (a duration and its unit in two fields)');

    let to: CompiledPath | null = null;
    let leaf: ElementNode | undefined;
    let item: ElementNode | undefined;
    if (rule.to !== undefined) {
      const r = this.elementPath(this.catalogue, kind, this.subst(rule.to, [...at, 'to']), [...at, 'to']);
      if (r) {
        to = r.path;
        leaf = r.leaf;
        item = r.item;
      }
    }

    const transformErrors = this.issues.length;
    const transforms = this.transforms(rule.transform, [...at, 'transform']);
    // Type checks need the transforms: after a bad one, they would only repeat the problem.
    const transformsOk = this.issues.length === transformErrors;
    let map: CompiledValueMap | undefined;
    if (rule.map !== undefined) {
      map = this.valueMaps.get(rule.map);
      if (!map) this.error([...at, 'map'], 'ERR_MAPPING_VALUE_MAP', `unknown value map ${rule.map}${didYouMean(rule.map, Object.keys(this.profile.valueMaps ?? {}))}`);
      else this.usedMaps.add(rule.map);
    }

    const value = rule.value === undefined ? undefined : this.substScalar(rule.value, [...at, 'value']);
    const dflt = rule.default === undefined ? undefined : this.substScalar(rule.default, [...at, 'default']);

    let structured = false;
    if (to && leaf) {
      const lastStep = to.steps[to.steps.length - 1] as CompiledStep;
      const wholeList = leaf.array && lastStep.index === undefined && lastStep.conds === undefined;
      const isObject = leaf.type === 'object';
      const toText = `${kind}.${to.text}`;
      if (this.protocol === 'hl7v2' && hasFrom && value === undefined) {
        if (isObject) {
          const kids = [...leaf.children().keys()];
          this.error([...at, 'to'], 'ERR_MAPPING_TYPE', `${toText} is ${leaf.reference ? 'a Reference' : 'a group of elements'}; map one of its elements (${kids.map((k) => `${to?.text}.${k}`).slice(0, 4).join(', ')})`);
        } else if (wholeList) {
          this.error([...at, 'to'], 'ERR_MAPPING_TYPE', `${toText} is a list; map one item of it (${to.text}[0])`);
        }
      }
      if (this.protocol === 'fhir-r4') structured = isObject || wholeList;
      if (!isObject && !wholeList) {
        const produces = transforms[transforms.length - 1]?.produces;
        if (this.protocol === 'hl7v2' && hasFrom && !map && value === undefined && transformsOk) {
          if (leaf.type === 'number' && produces !== 'number') this.error([...at, 'to'], 'ERR_MAPPING_TYPE', `${toText} is a number; add transform: integer`);
          if (leaf.format === 'instant' && produces !== 'instant') this.error([...at, 'to'], 'ERR_MAPPING_TYPE', `${toText} is an instant (UTC); add transform: hl7-datetime`);
          if (leaf.format === 'date' && produces !== 'date') this.error([...at, 'to'], 'ERR_MAPPING_TYPE', `${toText} is a date (YYYY-MM-DD); add transform: hl7-date`);
          if (leaf.enum && !map) {
            this.error([...at, 'to'], 'ERR_MAPPING_VALUE_MAP', `${toText} takes one of ${leaf.enum.join(', ')}; translate the protocol codes with a value map (map: …)`);
          }
        }
        if (map) this.checkMapAgainst(map, leaf, toText);
        for (const [v, where] of [
          [value, 'value'],
          [dflt, 'default'],
        ] as const) {
          if (v === undefined) continue;
          if (leaf.enum && !leaf.enum.includes(String(v))) {
            this.error([...at, where], 'ERR_MAPPING_TYPE', `${String(v)} is not allowed in ${toText} (one of ${leaf.enum.join(', ')})${didYouMean(String(v), leaf.enum)}`);
          } else if (leaf.type === 'number' && typeof v !== 'number') this.error([...at, where], 'ERR_MAPPING_TYPE', `${toText} is a number`);
          else if (leaf.type === 'boolean' && typeof v !== 'boolean') this.error([...at, where], 'ERR_MAPPING_TYPE', `${toText} is true or false`);
          else if (leaf.type === 'string' && typeof v !== 'string') this.error([...at, where], 'ERR_MAPPING_TYPE', `${toText} is text; quote the value`);
        }
      }
    }

    let when: CompiledRule['when'];
    if (rule.when) {
      const w = rule.when;
      const values = w.in ?? (w.equals !== undefined ? [w.equals] : []);
      if (values.length === 0 || (w.in !== undefined && w.equals !== undefined)) {
        this.error([...at, 'when'], 'ERR_MAPPING_SCHEMA', 'when needs equals: <value> or in: [<values>] (one of them)');
      }
      const accessor = this.protocolPath(w.path, kind, [...at, 'when', 'path']);
      if (accessor) when = { accessor, values: values.map((v, i) => this.subst(v, [...at, 'when', w.in ? 'in' : 'equals', ...(w.in ? [i] : [])])) };
    }
    if (rule.flag !== undefined && !rule.when) this.warn([...at, 'flag'], 'ERR_MAPPING_SCHEMA', 'flag is raised only when a when condition drops a value; this rule has no when');

    const set: { steps: readonly CompiledStep[]; value: Scalar }[] = [];
    for (const [key, v] of Object.entries(rule.set ?? {})) {
      if (!to || !item) continue;
      const r = this.elementPath(this.catalogue, kind, this.subst(key, [...at, 'set', key]), [...at, 'set', key], item);
      if (!r) continue;
      const val = this.substScalar(v, [...at, 'set', key]);
      if (r.leaf.enum && !r.leaf.enum.includes(String(val))) {
        this.error([...at, 'set', key], 'ERR_MAPPING_TYPE', `${String(val)} is not allowed in ${key} (one of ${r.leaf.enum.join(', ')})${didYouMean(String(val), r.leaf.enum)}`);
      }
      set.push({ steps: r.path.steps, value: val });
    }

    const protocolSet: ProtocolSetEntry[] = [];
    const primary = from[0];
    for (const [key, v] of Object.entries(rule.protocolSet ?? {})) {
      const where = [...at, 'protocolSet', key];
      const val = String(this.substScalar(v, where));
      if (!primary) continue;
      if (primary.protocol === 'hl7v2') {
        const m = /^([0-9]{1,3})(?:\.([0-9]{1,3}))?$/.exec(key);
        if (!m || Number(m[1]) === 0 || m[2] === '0') {
          this.error(where, 'ERR_MAPPING_BAD_PATH', `protocolSet key ${key}: expected a component number, or component.sub-component (e.g. 4.1), in the field of ${primary.text}`);
          continue;
        }
        protocolSet.push({ component: Number(m[1]), ...(m[2] !== undefined && { subcomponent: Number(m[2]) }), value: val });
      } else {
        const base = this.fhirItemNode(kind, primary);
        const r = base && this.elementPath(fhirCatalogue, kind, this.subst(key, where), where, base);
        if (r) protocolSet.push({ steps: r.path.steps, value: val });
      }
    }

    if (this.issues.filter((i) => i.severity === 'error').length > errorsBefore) return undefined;
    const itemStep = to?.itemStep ?? -1;
    return {
      label,
      at,
      kind,
      inbound,
      outbound,
      from,
      fromText: from.length > 0 ? from.map((f) => f.text).join(' | ') : null,
      to,
      itemSteps: to ? to.steps.slice(0, itemStep + 1) : [],
      valueSteps: to ? to.steps.slice(itemStep + 1) : [],
      value,
      default: dflt,
      map,
      transforms,
      when,
      flag: rule.flag,
      set,
      protocolSet,
      required: rule.required === true,
      units,
      structured,
      origin: this.originOf?.(at),
    };
  }

  fhirItemNode(kind: ResourceKind, a: ProtocolAccessor): ElementNode | undefined {
    if (a.protocol !== 'fhir-r4') return undefined;
    const steps = a.fhir.steps.slice(0, a.fhir.itemStep + 1);
    let node = fhirCatalogue.root(kind);
    for (const s of steps) node = node?.children().get(s.name);
    return node;
  }

  kind(kind: ResourceKind, section: ResourceSection): CompiledKind {
    const at: ProfilePath = [kind];
    const rules: CompiledRule[] = [];
    section.fields.forEach((r, i) => {
      const c = this.rule(kind, section, r, i);
      if (c) rules.push(c);
    });

    // Duplicates: one writer per canonical path inbound, per protocol path outbound.
    const inboundWriters = new Map<string, CompiledRule>();
    const outboundWriters = new Map<string, CompiledRule>();
    for (const r of rules) {
      if (r.inbound && r.to && !r.when) {
        const prev = inboundWriters.get(r.to.text);
        if (prev) this.error([...r.at, 'to'], 'ERR_MAPPING_DUPLICATE_RULE', `${kind}.${r.to.text} is already written by ${prev.label}; one rule per canonical path (list several protocol paths in one rule's from)`);
        else inboundWriters.set(r.to.text, r);
      }
      const first = r.from[0];
      if (r.outbound && first) {
        const prev = outboundWriters.get(first.text);
        if (prev) this.error([...r.at, 'from'], 'ERR_MAPPING_DUPLICATE_RULE', `${first.text} is already written by ${prev.label}; one rule per protocol path outbound (add direction: to-canonical to one of them)`);
        else outboundWriters.set(first.text, r);
      }
    }

    const idFrom: ProtocolAccessor[] = [];
    let newId: ProtocolAccessor | undefined;
    if (section.id) {
      const list = Array.isArray(section.id.from) ? section.id.from : [section.id.from];
      list.forEach((f, i) => {
        const a = this.protocolPath(f, kind, Array.isArray(section.id?.from) ? [...at, 'id', 'from', i] : [...at, 'id', 'from']);
        if (a) idFrom.push(a);
      });
      if (section.id.newId !== undefined) {
        if (this.protocol !== 'hl7v2') this.error([...at, 'id', 'newId'], 'ERR_MAPPING_PROTOCOL_MISMATCH', 'newId is for HL7 profiles (FHIR servers assign ids on create)');
        else newId = this.protocolPath(section.id.newId, kind, [...at, 'id', 'newId']);
      }
    } else if (this.protocol === 'hl7v2') {
      this.error(at, 'ERR_MAPPING_SCHEMA', `${kind}: an HL7 profile says where the record id comes from (id: { from: … }, e.g. SCH-2.1)`);
    } else {
      const a = this.protocolPath('id', kind, [...at]);
      if (a) idFrom.push(a);
    }
    const idPath = idFrom[0]?.text;

    const inbound = section.directions.includes('to-canonical');
    const outbound = section.directions.includes('from-canonical');
    return {
      kind,
      directions: section.directions,
      inbound,
      outbound,
      idFrom,
      idText: idFrom.map((a) => a.text).join(' | '),
      newId,
      idWrittenByRule: idPath !== undefined && outboundWriters.has(idPath),
      rules,
      // A rule writing the Reference a selector matches on (participant[actor=Patient].actor.reference)
      // runs before the rules writing beside it, so they find its item instead of creating another.
      inboundRules: rules.filter((r) => r.inbound).sort((a, b) => Number(!writesSelectorReference(a)) - Number(!writesSelectorReference(b))),
      outboundRules: rules.filter((r) => r.outbound),
    };
  }

  ownership(kinds: Partial<Record<ResourceKind, CompiledKind>>): OwnershipRules {
    const out: Partial<Record<ResourceKind, KindOwnership>> = {};
    for (const kind of RESOURCE_KINDS) {
      const section = this.profile[kind];
      if (!section) continue;
      const elements = new Set(this.catalogue.root(kind)?.children().keys() ?? []);
      const fields: Record<string, Owner> = {};
      const setBy = new Map<string, string>();
      for (const [key, owner] of Object.entries(section.ownership?.fields ?? {})) {
        const problem = checkOwnershipField(kind, key, elements);
        if (problem) {
          const element = /^[A-Za-z]+/.exec(key)?.[0] ?? key;
          const hint = problem === 'unknown field' ? didYouMean(element, [...elements].filter((e) => !['resourceType', 'id', 'meta'].includes(e))) : '';
          this.error([kind, 'ownership', 'fields', key], 'ERR_MAPPING_UNKNOWN_FIELD', `ownership of ${kind}.${key}: ${problem}${hint}`, true);
          continue;
        }
        fields[key] = owner;
        setBy.set(key, `${kind}.ownership.fields`);
      }
      section.fields.forEach((r, i) => {
        if (r.owner === undefined) return;
        const compiled = kinds[kind]?.rules.find((c) => c.at[2] === i);
        if (!compiled?.to) return;
        const key = ownershipFieldOf(compiled.to);
        const prev = fields[key];
        if (prev !== undefined && prev !== r.owner) {
          this.error([kind, 'fields', i, 'owner'], 'ERR_MAPPING_DUPLICATE_RULE', `${kind}.${key} is owned by ${prev} in ${setBy.get(key)}; one owner per field`);
          return;
        }
        fields[key] = r.owner;
        setBy.set(key, compiled.label);
      });
      const create = section.ownership?.create;
      if (create !== undefined || Object.keys(fields).length > 0) out[kind] = { ...(create !== undefined && { create }), ...(Object.keys(fields).length > 0 && { fields }) };
    }
    return out;
  }

  hl7(kinds: Partial<Record<ResourceKind, CompiledKind>>): Hl7Plan | undefined {
    const p = this.profile;
    if (this.protocol !== 'hl7v2') {
      if (p.hl7) this.error(['hl7'], 'ERR_MAPPING_PROTOCOL_MISMATCH', 'the hl7 section is for hl7v2 profiles; this profile\'s protocol is fhir-r4', true);
      if (p.messages) this.error(['messages'], 'ERR_MAPPING_PROTOCOL_MISMATCH', 'messages (trigger events) are for hl7v2 profiles; a fhir-r4 profile maps resources by type', true);
      return undefined;
    }
    if (!isSupportedHl7Version(p.version)) this.warn(['version'], 'ERR_MAPPING_SCHEMA', `HL7 version ${p.version} is not one the codec is tested with (2.3, 2.3.1, 2.4, 2.5, 2.5.1)`);
    const settings = p.hl7 ?? {};
    if (settings.charset !== undefined && resolveCharset(settings.charset) === undefined) {
      this.error(['hl7', 'charset'], 'ERR_MAPPING_SCHEMA', `unknown HL7 character set ${settings.charset} (UNICODE UTF-8, 8859/1, 8859/15, ASCII)`);
    }
    const segments = new Map<string, readonly string[]>(Object.entries(DEFAULT_SEGMENTS));
    for (const [code, list] of Object.entries(settings.segments ?? {})) segments.set(code, list);

    const inbound = new Map<string, CompiledInboundMessage>();
    for (const [type, m] of Object.entries(p.messages?.inbound ?? {})) {
      const at: ProfilePath = ['messages', 'inbound', type];
      for (const [i, k] of m.records.entries()) {
        const ck = kinds[k];
        if (!ck) this.error([...at, 'records', i], 'ERR_MAPPING_MESSAGE_RULE', `${type} produces ${k}, but the profile has no ${k} section`);
        else if (!ck.inbound) this.error([...at, 'records', i], 'ERR_MAPPING_MESSAGE_RULE', `${type} produces ${k}, but ${k} is not synced to-canonical (directions: ${ck.directions.join(', ')})`);
      }
      for (const [i, k] of (m.deleted ?? []).entries()) {
        if (!m.records.includes(k)) this.error([...at, 'deleted', i], 'ERR_MAPPING_MESSAGE_RULE', `${type}: deleted lists ${k}, which is not in records`);
      }
      const set = new Map<ResourceKind, { steps: readonly CompiledStep[]; text: string; value: Scalar }[]>();
      for (const [key, v] of Object.entries(m.set ?? {})) {
        const where = [...at, 'set', key];
        const dot = key.indexOf('.');
        const k = key.slice(0, dot) as ResourceKind;
        if (dot < 0 || !m.records.includes(k)) {
          this.error(where, 'ERR_MAPPING_MESSAGE_RULE', `set keys are Kind.path for a kind this message produces (${m.records.join(', ')}), e.g. ${m.records[0]}.status`, true);
          continue;
        }
        const r = this.elementPath(this.catalogue, k, this.subst(key.slice(dot + 1), where), where);
        if (!r) continue;
        const val = this.substScalar(v, where);
        if (r.leaf.enum && !r.leaf.enum.includes(String(val))) {
          this.error(where, 'ERR_MAPPING_TYPE', `${String(val)} is not allowed in ${key} (one of ${r.leaf.enum.join(', ')})${didYouMean(String(val), r.leaf.enum)}`);
          continue;
        }
        set.set(k, [...(set.get(k) ?? []), { steps: r.path.steps, text: key, value: val }]);
      }
      let supersedes: CompiledInboundMessage['supersedes'];
      if (m.supersedes) {
        const list = Array.isArray(m.supersedes.from) ? m.supersedes.from : [m.supersedes.from];
        const from: ProtocolAccessor[] = [];
        list.forEach((f, i) => {
          const a = this.protocolPath(f, m.supersedes?.kind ?? 'Patient', Array.isArray(m.supersedes?.from) ? [...at, 'supersedes', 'from', i] : [...at, 'supersedes', 'from']);
          if (a) from.push(a);
        });
        if (!m.records.includes(m.supersedes.kind)) this.error([...at, 'supersedes', 'kind'], 'ERR_MAPPING_MESSAGE_RULE', `${type}: supersedes ${m.supersedes.kind}, which is not in records`);
        supersedes = { kind: m.supersedes.kind, from };
      }
      for (const [i, k] of (m.optional ?? []).entries()) {
        if (!m.records.includes(k)) this.error([...at, 'optional', i], 'ERR_MAPPING_MESSAGE_RULE', `${type}: optional lists ${k}, which is not in records`);
      }
      inbound.set(type, { type, records: m.records, deleted: new Set(m.deleted ?? []), optional: new Set(m.optional ?? []), set, supersedes });
    }

    const outbound = new Map<ResourceKind, CompiledOutboundKind>();
    for (const [k, o] of Object.entries(p.messages?.outbound ?? {}) as [ResourceKind, NonNullable<NonNullable<MappingProfile['messages']>['outbound']>[ResourceKind]][]) {
      if (!o) continue;
      const at: ProfilePath = ['messages', 'outbound', k];
      const ck = kinds[k];
      if (!ck) this.error(at, 'ERR_MAPPING_MESSAGE_RULE', `outbound messages for ${k}, but the profile has no ${k} section`, true);
      else if (!ck.outbound) this.error(at, 'ERR_MAPPING_MESSAGE_RULE', `outbound messages for ${k}, but ${k} is not synced from-canonical (directions: ${ck.directions.join(', ')})`, true);
      const events = new Map<string, string>();
      for (const [event, type] of Object.entries(o.events)) {
        if (!OUTBOUND_EVENTS[k].includes(event)) {
          this.error([...at, 'events', event], 'ERR_MAPPING_MESSAGE_RULE', `unknown ${k} event ${event}${didYouMean(event, OUTBOUND_EVENTS[k])}; ${k} events: ${OUTBOUND_EVENTS[k].join(', ')}`, true);
          continue;
        }
        events.set(event, type);
      }
      for (const [i, inc] of (o.include ?? []).entries()) {
        if (!kinds[inc]?.outbound) this.error([...at, 'include', i], 'ERR_MAPPING_MESSAGE_RULE', `include ${inc}: the profile does not map ${inc} from-canonical`);
      }
      outbound.set(k, { kind: k, events, include: o.include ?? [] });
    }
    for (const ck of Object.values(kinds)) {
      if (ck.inbound && ![...inbound.values()].some((m) => m.records.includes(ck.kind))) {
        this.warn([ck.kind, 'directions'], 'ERR_MAPPING_MESSAGE_RULE', `${ck.kind} is synced to-canonical but no inbound message (messages.inbound) produces it`);
      }
      // A kind written only inside other kinds' messages (include: the Practitioner in AIP-3) needs no message of its own.
      if (ck.outbound && !outbound.has(ck.kind) && ![...outbound.values()].some((o) => o.include.includes(ck.kind))) {
        this.warn([ck.kind, 'directions'], 'ERR_MAPPING_MESSAGE_RULE', `${ck.kind} is synced from-canonical but messages.outbound names no message for it (nor includes it in one)`);
      }
      for (const r of ck.outboundRules) {
        const seg = r.from[0]?.protocol === 'hl7v2' ? r.from[0].hl7.segment : undefined;
        if (seg === undefined || seg === 'MSH') continue;
        for (const [kindOut, o] of outbound) {
          if (kindOut !== ck.kind && !o.include.includes(ck.kind)) continue;
          for (const type of new Set(o.events.values())) {
            const code = type.slice(0, 3);
            const order = segments.get(code);
            if (order && !order.includes(seg)) {
              this.warn([...r.at, 'from'], 'ERR_MAPPING_MESSAGE_RULE', `segment ${seg} is not in the ${code} segment order (hl7.segments.${code}); it is written after the others`);
            }
          }
        }
      }
    }
    return {
      sendingApplication: settings.sendingApplication ?? 'PASSERELLE',
      sendingFacility: settings.sendingFacility,
      receivingApplication: settings.receivingApplication,
      receivingFacility: settings.receivingFacility,
      charset: settings.charset ?? 'UNICODE UTF-8',
      processingId: settings.processingId ?? 'P',
      segments,
      inbound,
      outbound,
    };
  }
}

function writesSelectorReference(r: CompiledRule): boolean {
  const steps = r.to?.steps ?? [];
  for (let i = 0; i < steps.length; i++) {
    for (const c of steps[i]?.conds ?? []) {
      if (!c.reference) continue;
      const rest = steps.slice(i + 1).map((s) => s.name);
      if (rest.length === c.key.length + 1 && c.key.every((k, j) => k.name === rest[j]) && rest[rest.length - 1] === 'reference') return true;
    }
  }
  return false;
}

function filterSet(f: { include?: string[] | undefined; exclude?: string[] | undefined } | undefined): FilterSet | undefined {
  if (!f) return undefined;
  return { include: f.include ? new Set(f.include) : undefined, exclude: new Set(f.exclude ?? []) };
}

export interface CompileResult {
  readonly plan: MappingPlan | undefined;
  readonly issues: readonly CompileIssue[];
}

export interface CompileOptions {
  /** A profile merged from others (`extends:`): the profile each rule comes from, by its path. */
  readonly originOf?: (at: ProfilePath) => string;
  /** The profiles it extends, nearest first. */
  readonly parents?: readonly string[];
}

/**
 * Compiles a schema-valid profile. `text` is the profile's source (its hash names the version;
 * for a profile that extends others, the texts of all of them); `source` says where it came
 * from. The plan is undefined when any issue is an error.
 */
export function compileProfile(profile: MappingProfile, text: string, source: string, options: CompileOptions = {}): CompileResult {
  const c = new Compiler(profile, options.originOf);
  if (profile.timezone !== undefined && !isValidTimeZone(profile.timezone)) {
    c.error(['timezone'], 'ERR_MAPPING_BAD_TIMEZONE', `not an IANA time zone: ${profile.timezone}${didYouMean(profile.timezone, timeZoneNames())}`);
  }
  if (profile.protocol === 'fhir-r4' && !/^4\.0(\.[0-9]+)?$/.test(profile.version)) {
    c.error(['version'], 'ERR_MAPPING_PROTOCOL_MISMATCH', `fhir-r4 profiles are for FHIR 4.0.x (R4); version ${profile.version} is not`);
  }
  for (const [name, value] of Object.entries(profile.constants ?? {})) {
    if (value.includes('$')) c.error(['constants', name], 'ERR_MAPPING_SCHEMA', 'a constant cannot refer to another constant');
  }
  for (const name of Object.keys(profile.valueMaps ?? {})) c.valueMap(name);

  const kinds: Partial<Record<ResourceKind, CompiledKind>> = {};
  for (const kind of RESOURCE_KINDS) {
    const section = profile[kind];
    if (section) kinds[kind] = c.kind(kind, section);
  }
  if (Object.keys(kinds).length === 0) c.error([], 'ERR_MAPPING_SCHEMA', `the profile maps no resource (add a section for one of ${RESOURCE_KINDS.join(', ')})`);
  for (const name of Object.keys(profile.valueMaps ?? {})) {
    if (!c.usedMaps.has(name)) c.warn(['valueMaps', name], 'ERR_MAPPING_VALUE_MAP', `value map ${name} is not used by any rule`);
  }
  const hl7 = c.hl7(kinds);
  const ownership = c.ownership(kinds);

  const codes = new Set<string>();
  (profile.appointmentTypes ?? []).forEach((t, i) => {
    if (codes.has(t.code)) c.error(['appointmentTypes', i, 'code'], 'ERR_MAPPING_DUPLICATE_RULE', `appointment type ${t.code} is listed twice`);
    codes.add(t.code);
  });
  for (const [i, code] of (profile.filters?.appointmentTypes?.include ?? []).entries()) {
    if (codes.size > 0 && !codes.has(code)) c.warn(['filters', 'appointmentTypes', 'include', i], 'ERR_MAPPING_UNKNOWN_FIELD', `appointment type ${code} is not in appointmentTypes${didYouMean(code, codes)}`);
  }

  const errors = c.issues.some((i) => i.severity === 'error');
  if (errors) return { plan: undefined, issues: c.issues };
  const warnings: ErrorIssue[] = c.issues.map((i) => ({ path: formatProfilePath(i.at), message: i.message, severity: 'warning', code: i.code }));
  const plan: MappingPlan = {
    name: profile.name,
    description: profile.description,
    protocol: profile.protocol,
    version: profile.version,
    hash: sha256(text),
    source,
    parents: options.parents ?? [],
    timezone: profile.timezone,
    constants: c.constants,
    kinds,
    hl7,
    ownership,
    filters: { practitioners: filterSet(profile.filters?.practitioners), appointmentTypes: filterSet(profile.filters?.appointmentTypes) },
    appointmentTypes: profile.appointmentTypes ?? [],
    warnings,
    profile,
  };
  return { plan, issues: c.issues };
}

/** ['Appointment', 'fields', 3, 'to'] → `Appointment.fields[3].to`. */
export function formatProfilePath(at: ProfilePath): string {
  let out = '';
  for (const p of at) out += typeof p === 'number' ? `[${p}]` : out === '' ? p : `.${p}`;
  return out || '(profile)';
}
