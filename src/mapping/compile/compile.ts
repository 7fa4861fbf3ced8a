/**
 * Profile → plan. Runs after the schema check (schema.ts) and checks what a schema cannot:
 * paths exist in the canonical model and in FHIR R4, HL7 paths parse, transforms and value maps
 * are known and fit the element they write, time zones are IANA zones, constants are defined,
 * no two rules write the same place, message rules name kinds the profile maps. Every problem
 * is reported (never only the first), each at its path in the profile, so the loader can add
 * file:line:column. Nothing here runs per message. What depends on the profile's protocol
 * (its paths, ids, leaf checks, the HL7 messages section) is asked of protocols/<protocol>.ts.
 */
import { createHash } from 'node:crypto';

import type { ErrorCode, ErrorIssue } from '../../errors.js';
import { DEFAULT_APPOINTMENT_MINUTES } from '../../model/appointment-end.js';
import { RESOURCE_KINDS, type ResourceKind } from '../../model/resources.js';
import { didYouMean } from '../../util/suggest.js';
import { type CompileContext, type ProtocolCompiler, protocolMapping } from '../protocols/index.js';
import {
  type CompiledPath,
  type CompiledStep,
  parseElementPath,
  PathSyntaxError,
} from '../run/element-path.js';
import { compileTransform, isValidTimeZone, timeZoneNames, type Transform } from '../run/transforms.js';
import { canonicalCatalogue, type Catalogue, type ElementNode, resolvePath } from './catalogue.js';
import {
  checkOwnershipField,
  type KindOwnership,
  ownershipFieldOf,
  type OwnershipRules,
} from './ownership.js';
import type {
  CompiledKind,
  CompiledRule,
  CompiledValueMap,
  FilterSet,
  MappingPlan,
  ProfilePath,
  ProtocolAccessor,
  ProtocolSetEntry,
  Scalar,
} from './plan.js';
import type { FieldRule, MappingProfile, Owner, Protocol, ResourceSection } from './schema.js';

export type { ProfilePath };

export interface CompileIssue {
  readonly at: ProfilePath;
  readonly code: ErrorCode;
  readonly message: string;
  readonly severity: 'error' | 'warning';
  /** Point at the key rather than its value (unknown keys). */
  readonly onKey?: boolean;
}

const CONST_REF = /\$([A-Za-z][A-Za-z0-9_]*)/g;
function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

class Compiler implements CompileContext {
  readonly issues: CompileIssue[] = [];
  readonly constants: Record<string, string>;
  readonly protocol: Protocol;
  readonly valueMaps = new Map<string, CompiledValueMap>();
  readonly usedMaps = new Set<string>();
  readonly catalogue: Catalogue;
  /** What depends on the profile's protocol (protocols/<protocol>.ts). */
  readonly proto: ProtocolCompiler;

  constructor(
    readonly profile: MappingProfile,
    readonly originOf: ((at: ProfilePath) => string) | undefined,
  ) {
    this.constants = { ...(profile.constants ?? {}) };
    this.protocol = profile.protocol;
    this.catalogue = canonicalCatalogue;
    this.proto = protocolMapping(profile.protocol).compiler(this);
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
        this.error(
          at,
          'ERR_MAPPING_UNKNOWN_CONSTANT',
          `unknown constant $${name}${didYouMean(name, Object.keys(this.constants))}`,
        );
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
    return this.proto.path(this.subst(raw, at), kind, at);
  }

  elementPath(
    catalogue: Catalogue,
    kind: string,
    text: string,
    at: ProfilePath,
    base?: ElementNode,
  ): { path: CompiledPath; leaf: ElementNode; item: ElementNode } | undefined {
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
    for (const [code, v] of Object.entries(vm.codes))
      codes.set(this.subst(code, [...at, 'codes', code]), this.substScalar(v, [...at, 'codes', code]));
    let unmapped: CompiledValueMap['unmapped'];
    if (vm.default !== undefined && vm.unmapped !== undefined) {
      this.error(
        [...at, 'unmapped'],
        'ERR_MAPPING_VALUE_MAP',
        `value map ${name} has both default and unmapped; keep one`,
      );
      unmapped = { kind: 'error' };
    } else if (vm.default !== undefined) unmapped = { kind: 'default', value: vm.default };
    else if (vm.unmapped !== undefined) unmapped = { kind: vm.unmapped };
    else {
      this.error(
        at,
        'ERR_MAPPING_VALUE_MAP',
        `value map ${name} needs default: <value> or unmapped: error (what a code it does not list becomes)`,
      );
      unmapped = { kind: 'error' };
    }
    const outbound = new Map<string, string>();
    for (const [code, v] of codes) if (!outbound.has(String(v))) outbound.set(String(v), code);
    for (const [v, code] of Object.entries(vm.outbound ?? {})) outbound.set(v, code);
    const outboundUnmapped: CompiledValueMap['outboundUnmapped'] =
      vm.outboundDefault !== undefined
        ? { kind: 'default', value: vm.outboundDefault }
        : unmapped.kind === 'keep'
          ? { kind: 'keep' }
          : { kind: 'error' };
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
        this.error(
          where,
          'ERR_MAPPING_VALUE_MAP',
          `value map ${map.name}: ${String(v)} is not allowed in ${toText} (one of ${allowed.join(', ')})${didYouMean(String(v), allowed)}`,
        );
      } else if (leaf.type === 'number' && typeof v !== 'number') {
        this.error(
          where,
          'ERR_MAPPING_VALUE_MAP',
          `value map ${map.name}: ${toText} is a number; map to numbers`,
        );
      }
    };
    for (const [code, v] of map.codes) check(v, [...at, 'codes', code]);
    if (map.unmapped.kind === 'default') check(map.unmapped.value, [...at, 'default']);
    for (const [v] of Object.entries(this.profile.valueMaps?.[map.name]?.outbound ?? {}))
      check(v, [...at, 'outbound', v]);
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
        this.error(
          where,
          'ERR_MAPPING_PROTOCOL_MISMATCH',
          `transform ${t.name} is for ${t.protocol} profiles; this profile's protocol is ${this.protocol}`,
        );
      } else out.push(t);
    });
    return out;
  }

  rule(
    kind: ResourceKind,
    section: ResourceSection,
    rule: FieldRule,
    index: number,
  ): CompiledRule | undefined {
    const at: ProfilePath = [kind, 'fields', index];
    const label = rule.name ?? `${kind}.fields[${index}]`;
    const errorsBefore = this.issues.filter((i) => i.severity === 'error').length;
    const fromList = rule.from === undefined ? [] : Array.isArray(rule.from) ? rule.from : [rule.from];
    const hasFrom = fromList.length > 0;
    const hasTo = rule.to !== undefined;
    if (!hasTo && !(hasFrom && rule.value !== undefined)) {
      this.error(
        at,
        'ERR_MAPPING_SCHEMA',
        'a rule needs from and to (a mapping), to and value (a canonical constant), or from and value (a protocol constant)',
      );
      return undefined;
    }
    if (!hasFrom && rule.value === undefined) {
      this.error(
        at,
        'ERR_MAPPING_SCHEMA',
        'a rule with to needs from (where the value comes from) or value (a constant)',
      );
      return undefined;
    }
    const dir = rule.direction ?? 'both';
    let inbound = section.directions.includes('to-canonical') && dir !== 'from-canonical';
    let outbound = section.directions.includes('from-canonical') && dir !== 'to-canonical';
    if (!hasTo) inbound = false; // a protocol constant is written outbound only
    if (!hasFrom) outbound = false; // a canonical constant is written inbound only
    if (dir !== 'both' && !section.directions.includes(dir)) {
      this.warn(
        [...at, 'direction'],
        'ERR_MAPPING_SCHEMA',
        `${kind} is not synced ${dir} (directions: ${section.directions.join(', ')}); this rule never applies`,
      );
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
      if (!fromList.includes(key))
        this.error(
          [...at, 'units', key],
          'ERR_MAPPING_SCHEMA',
          `units names ${key}, which is not one of this rule's from paths (${fromList.join(', ')})`,
        );
    }
    if (rule.units !== undefined && !this.proto.units)
      this.error(
        [...at, 'units'],
        'ERR_MAPPING_PROTOCOL_MISMATCH',
        'units is for HL7 v2 profiles (a duration and its unit in two fields)',
      );

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
      if (!map)
        this.error(
          [...at, 'map'],
          'ERR_MAPPING_VALUE_MAP',
          `unknown value map ${rule.map}${didYouMean(rule.map, Object.keys(this.profile.valueMaps ?? {}))}`,
        );
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
      structured = this.proto.checkLeaf({
        at,
        toText,
        to,
        leaf,
        hasFrom,
        value,
        map,
        transforms,
        transformsOk,
        isObject,
        wholeList,
      });
      if (!isObject && !wholeList) {
        if (map) this.checkMapAgainst(map, leaf, toText);
        for (const [v, where] of [
          [value, 'value'],
          [dflt, 'default'],
        ] as const) {
          if (v === undefined) continue;
          if (leaf.enum && !leaf.enum.includes(String(v))) {
            this.error(
              [...at, where],
              'ERR_MAPPING_TYPE',
              `${String(v)} is not allowed in ${toText} (one of ${leaf.enum.join(', ')})${didYouMean(String(v), leaf.enum)}`,
            );
          } else if (leaf.type === 'number' && typeof v !== 'number')
            this.error([...at, where], 'ERR_MAPPING_TYPE', `${toText} is a number`);
          else if (leaf.type === 'boolean' && typeof v !== 'boolean')
            this.error([...at, where], 'ERR_MAPPING_TYPE', `${toText} is true or false`);
          else if (leaf.type === 'string' && typeof v !== 'string')
            this.error([...at, where], 'ERR_MAPPING_TYPE', `${toText} is text; quote the value`);
        }
      }
    }

    let when: CompiledRule['when'];
    if (rule.when) {
      const w = rule.when;
      const values = w.in ?? (w.equals !== undefined ? [w.equals] : []);
      if (values.length === 0 || (w.in !== undefined && w.equals !== undefined)) {
        this.error(
          [...at, 'when'],
          'ERR_MAPPING_SCHEMA',
          'when needs equals: <value> or in: [<values>] (one of them)',
        );
      }
      const accessor = this.protocolPath(w.path, kind, [...at, 'when', 'path']);
      if (accessor)
        when = {
          accessor,
          values: values.map((v, i) =>
            this.subst(v, [...at, 'when', w.in ? 'in' : 'equals', ...(w.in ? [i] : [])]),
          ),
        };
    }
    if (rule.flag !== undefined && !rule.when)
      this.warn(
        [...at, 'flag'],
        'ERR_MAPPING_SCHEMA',
        'flag is raised only when a when condition drops a value; this rule has no when',
      );

    const set: { steps: readonly CompiledStep[]; value: Scalar }[] = [];
    for (const [key, v] of Object.entries(rule.set ?? {})) {
      if (!to || !item) continue;
      const r = this.elementPath(
        this.catalogue,
        kind,
        this.subst(key, [...at, 'set', key]),
        [...at, 'set', key],
        item,
      );
      if (!r) continue;
      const val = this.substScalar(v, [...at, 'set', key]);
      if (r.leaf.enum && !r.leaf.enum.includes(String(val))) {
        this.error(
          [...at, 'set', key],
          'ERR_MAPPING_TYPE',
          `${String(val)} is not allowed in ${key} (one of ${r.leaf.enum.join(', ')})${didYouMean(String(val), r.leaf.enum)}`,
        );
      }
      set.push({ steps: r.path.steps, value: val });
    }

    const protocolSet: ProtocolSetEntry[] = [];
    const primary = from[0];
    for (const [key, v] of Object.entries(rule.protocolSet ?? {})) {
      const where = [...at, 'protocolSet', key];
      const val = String(this.substScalar(v, where));
      if (!primary) continue;
      const entry = this.proto.protocolSetEntry(key, val, primary, kind, where);
      if (entry) protocolSet.push(entry);
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
        if (prev)
          this.error(
            [...r.at, 'to'],
            'ERR_MAPPING_DUPLICATE_RULE',
            `${kind}.${r.to.text} is already written by ${prev.label}; one rule per canonical path (list several protocol paths in one rule's from)`,
          );
        else inboundWriters.set(r.to.text, r);
      }
      const first = r.from[0];
      if (r.outbound && first) {
        const prev = outboundWriters.get(first.text);
        if (prev)
          this.error(
            [...r.at, 'from'],
            'ERR_MAPPING_DUPLICATE_RULE',
            `${first.text} is already written by ${prev.label}; one rule per protocol path outbound (add direction: to-canonical to one of them)`,
          );
        else outboundWriters.set(first.text, r);
      }
    }

    const idFrom: ProtocolAccessor[] = [];
    let newId: ProtocolAccessor | undefined;
    if (section.id) {
      const list = Array.isArray(section.id.from) ? section.id.from : [section.id.from];
      list.forEach((f, i) => {
        const a = this.protocolPath(
          f,
          kind,
          Array.isArray(section.id?.from) ? [...at, 'id', 'from', i] : [...at, 'id', 'from'],
        );
        if (a) idFrom.push(a);
      });
      if (section.id.newId !== undefined)
        newId = this.proto.newId(section.id.newId, kind, [...at, 'id', 'newId']);
    } else {
      const a = this.proto.defaultId(kind, [...at]);
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
      inboundRules: rules
        .filter((r) => r.inbound)
        .sort((a, b) => Number(!writesSelectorReference(a)) - Number(!writesSelectorReference(b))),
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
          const hint =
            problem === 'unknown field'
              ? didYouMean(
                  element,
                  [...elements].filter((e) => !['resourceType', 'id', 'meta'].includes(e)),
                )
              : '';
          this.error(
            [kind, 'ownership', 'fields', key],
            'ERR_MAPPING_UNKNOWN_FIELD',
            `ownership of ${kind}.${key}: ${problem}${hint}`,
            true,
          );
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
          this.error(
            [kind, 'fields', i, 'owner'],
            'ERR_MAPPING_DUPLICATE_RULE',
            `${kind}.${key} is owned by ${prev} in ${setBy.get(key)}; one owner per field`,
          );
          return;
        }
        fields[key] = r.owner;
        setBy.set(key, compiled.label);
      });
      const create = section.ownership?.create;
      if (create !== undefined || Object.keys(fields).length > 0)
        out[kind] = {
          ...(create !== undefined && { create }),
          ...(Object.keys(fields).length > 0 && { fields }),
        };
    }
    return out;
  }
}

function writesSelectorReference(r: CompiledRule): boolean {
  const steps = r.to?.steps ?? [];
  for (let i = 0; i < steps.length; i++) {
    for (const c of steps[i]?.conds ?? []) {
      if (!c.reference) continue;
      const rest = steps.slice(i + 1).map((s) => s.name);
      if (
        rest.length === c.key.length + 1 &&
        c.key.every((k, j) => k.name === rest[j]) &&
        rest[rest.length - 1] === 'reference'
      )
        return true;
    }
  }
  return false;
}

function filterSet(
  f: { include?: string[] | undefined; exclude?: string[] | undefined } | undefined,
): FilterSet | undefined {
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
export function compileProfile(
  profile: MappingProfile,
  text: string,
  source: string,
  options: CompileOptions = {},
): CompileResult {
  const c = new Compiler(profile, options.originOf);
  if (profile.timezone !== undefined && !isValidTimeZone(profile.timezone)) {
    c.error(
      ['timezone'],
      'ERR_MAPPING_BAD_TIMEZONE',
      `not an IANA time zone: ${profile.timezone}${didYouMean(profile.timezone, timeZoneNames())}`,
    );
  }
  c.proto.checkVersion();
  for (const [name, value] of Object.entries(profile.constants ?? {})) {
    if (value.includes('$'))
      c.error(['constants', name], 'ERR_MAPPING_SCHEMA', 'a constant cannot refer to another constant');
  }
  for (const name of Object.keys(profile.valueMaps ?? {})) c.valueMap(name);

  const kinds: Partial<Record<ResourceKind, CompiledKind>> = {};
  for (const kind of RESOURCE_KINDS) {
    const section = profile[kind];
    if (section) kinds[kind] = c.kind(kind, section);
  }
  if (Object.keys(kinds).length === 0)
    c.error(
      [],
      'ERR_MAPPING_SCHEMA',
      `the profile maps no resource (add a section for one of ${RESOURCE_KINDS.join(', ')})`,
    );
  for (const name of Object.keys(profile.valueMaps ?? {})) {
    if (!c.usedMaps.has(name))
      c.warn(['valueMaps', name], 'ERR_MAPPING_VALUE_MAP', `value map ${name} is not used by any rule`);
  }
  const hl7 = c.proto.section(kinds);
  const ownership = c.ownership(kinds);

  const codes = new Set<string>();
  (profile.appointmentTypes ?? []).forEach((t, i) => {
    if (codes.has(t.code))
      c.error(
        ['appointmentTypes', i, 'code'],
        'ERR_MAPPING_DUPLICATE_RULE',
        `appointment type ${t.code} is listed twice`,
      );
    codes.add(t.code);
  });
  for (const [i, code] of (profile.filters?.appointmentTypes?.include ?? []).entries()) {
    if (codes.size > 0 && !codes.has(code))
      c.warn(
        ['filters', 'appointmentTypes', 'include', i],
        'ERR_MAPPING_UNKNOWN_FIELD',
        `appointment type ${code} is not in appointmentTypes${didYouMean(code, codes)}`,
      );
  }

  const errors = c.issues.some((i) => i.severity === 'error');
  if (errors) return { plan: undefined, issues: c.issues };
  const warnings: ErrorIssue[] = c.issues.map((i) => ({
    path: formatProfilePath(i.at),
    message: i.message,
    severity: 'warning',
    code: i.code,
  }));
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
    filters: {
      practitioners: filterSet(profile.filters?.practitioners),
      appointmentTypes: filterSet(profile.filters?.appointmentTypes),
    },
    appointmentTypes: profile.appointmentTypes ?? [],
    defaultDurationMinutes: profile.defaultDurationMinutes ?? DEFAULT_APPOINTMENT_MINUTES,
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
