/**
 * `extends:` — a profile built on another one (docs/mappings.md § Profiles that extend another).
 * The merge runs on the parsed YAML, before the schema check, so a child may be a few lines
 * (no `version`, no `directions`): the merged profile is what the schema and the compiler check.
 *
 * Semantics, from the parent down to the child:
 * - containers merge key by key: the profile itself, resource sections, `constants`,
 *   `valueMaps` (and each map's `codes` and `outbound`), `hl7`, `ownership`, `filters`,
 *   `messages.inbound` / `messages.outbound`; a child key replaces the parent's, and a null
 *   value deletes the inherited key (a code, a constant, a trigger event, a whole section);
 * - entries are replaced whole: a field rule, a trigger event's rule, an appointment type, any
 *   list that is not a rule list (directions, from, records…);
 * - field rules: a child rule replaces in place the inherited rule with the same `name` (a rule
 *   without a name: the same `to`), others are added after the inherited ones; a section's
 *   `remove: [name or to, …]` deletes inherited rules first;
 * - `appointmentTypes` merge by `code`; `{ code: X, remove: true }` deletes one;
 * - the child names itself (`name`); `protocol` must be the parent's.
 *
 * Every merged path keeps its origin (which layer, which path there), so an issue the schema
 * or the compiler finds is reported at the file:line:column of the layer that wrote it.
 */
import type { ErrorCode } from '../../errors.js';
import { RESOURCE_KINDS } from '../../model/resources.js';
import { didYouMean } from '../../util/suggest.js';
import type { ProfilePath } from './compile.js';

/** Parents above a profile at most (a vendor variant of a site variant of a shipped profile…). */
export const EXTENDS_DEPTH_LIMIT = 4;

type Obj = Record<string, unknown>;

export interface Origin {
  /** Index of the layer (0 = the root profile, the last = the profile being loaded). */
  readonly layer: number;
  readonly path: ProfilePath;
}

export interface MergeIssue {
  readonly layer: number;
  readonly at: ProfilePath;
  readonly code: ErrorCode;
  readonly message: string;
  readonly onKey?: boolean;
}

/** A profile's data merged from its layers, and where each part came from. */
export class Composite {
  /** Origins by path (JSON); a path's origin is that of its longest registered prefix. */
  private readonly origins = new Map<string, Origin>();

  constructor(public data: Obj) {
    this.origins.set('[]', { layer: 0, path: [] });
  }

  originOf(path: ProfilePath): Origin {
    for (let n = path.length; n >= 0; n--) {
      const o = this.origins.get(JSON.stringify(path.slice(0, n)));
      if (o) return { layer: o.layer, path: [...o.path, ...path.slice(n)] };
    }
    return { layer: 0, path };
  }

  /** `path` (and everything under it) now comes from `origin`. */
  set(path: ProfilePath, origin: Origin): void {
    const key = JSON.stringify(path);
    const prefix = key.slice(0, -1);
    for (const k of [...this.origins.keys()])
      if (k === key || k.startsWith(`${prefix},`)) this.origins.delete(k);
    this.origins.set(key, origin);
  }
}

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** How a rule is named in messages: its name, else its canonical path, else its protocol path. */
export function ruleKey(rule: unknown): string | undefined {
  if (!isObj(rule)) return undefined;
  for (const k of ['name', 'to', 'from'] as const) {
    const v = rule[k];
    if (typeof v === 'string') return v;
    if (Array.isArray(v) && typeof v[0] === 'string') return v.join(' | ');
  }
  return undefined;
}

/**
 * Whether a child rule replaces an inherited one: same name; or, for a child rule without a
 * name, the same canonical path (`to`); or, for a protocol constant (no name, no to), the same
 * protocol path.
 */
function replaces(child: unknown, inherited: unknown): boolean {
  if (!isObj(child) || !isObj(inherited)) return false;
  if (typeof child.name === 'string') return inherited.name === child.name;
  if (typeof child.to === 'string') return inherited.to === child.to;
  return (
    inherited.to === undefined &&
    inherited.name === undefined &&
    ruleKey(child) !== undefined &&
    ruleKey(inherited) === ruleKey(child)
  );
}

/** Whether `remove: [key]` names this rule: by name, or by canonical path. */
function named(rule: unknown, key: string): boolean {
  return isObj(rule) && (rule.name === key || rule.to === key || ruleKey(rule) === key);
}

/** Keys holding entries replaced whole, below a container merged key by key. */
const ENTRY_CONTAINERS: readonly (readonly string[])[] = [
  ['messages', 'inbound'],
  ['messages', 'outbound'],
];
const KINDS: readonly string[] = RESOURCE_KINDS;

class Merger {
  readonly issues: MergeIssue[] = [];

  constructor(
    readonly into: Composite,
    readonly layer: number,
    /** Per section, the keys of inherited rules the child's `remove:` deletes. */
    readonly removals: ReadonlyMap<string, readonly string[]>,
  ) {}

  error(at: ProfilePath, code: ErrorCode, message: string, onKey = false): void {
    this.issues.push({ layer: this.layer, at, code, message, ...(onKey && { onKey }) });
  }

  /** Merges the child object `child` (at `at` in both) into `base`, key by key. */
  object(base: Obj, child: Obj, at: ProfilePath): Obj {
    const out: Obj = { ...base };
    for (const [key, value] of Object.entries(child)) {
      const path = [...at, key];
      if (value === null) {
        delete out[key];
        this.into.set(path, { layer: this.layer, path });
        continue;
      }
      const inherited = out[key];
      if (at.length === 1 && KINDS.includes(at[0] as string) && key === 'fields')
        out[key] = this.rules(inherited, value, path, this.removals.get(at[0] as string));
      else if (at.length === 0 && key === 'appointmentTypes')
        out[key] = this.appointmentTypes(inherited, value, path);
      else if (
        isObj(inherited) &&
        isObj(value) &&
        !ENTRY_CONTAINERS.some((c) => c.length === at.length && c.every((k, i) => k === at[i]))
      )
        out[key] = this.object(inherited, value, path);
      else {
        out[key] = value;
        this.into.set(path, { layer: this.layer, path });
      }
    }
    // A section that removes rules without adding any.
    const section = at.length === 1 && KINDS.includes(at[0] as string) ? (at[0] as string) : undefined;
    const remove = section === undefined ? undefined : this.removals.get(section);
    if (remove && !('fields' in child) && Array.isArray(out.fields))
      out.fields = this.rules(out.fields, [], [...at, 'fields'], remove);
    return out;
  }

  /**
   * A section's rule list: first the inherited rules `remove` names are deleted, then a child
   * rule replaces the inherited rule of the same key in place, or is appended.
   */
  rules(inherited: unknown, child: unknown, at: ProfilePath, remove: readonly string[] = []): unknown {
    if (!Array.isArray(child) || !Array.isArray(inherited)) {
      this.into.set(at, { layer: this.layer, path: at });
      return child;
    }
    // Each merged rule with its origin, before the indexes are renumbered.
    const merged: { rule: unknown; origin: Origin }[] = inherited.map((rule, i) => ({
      rule,
      origin: this.into.originOf([...at, i]),
    }));
    const keys = () => merged.map((m) => ruleKey(m.rule)).filter((k): k is string => k !== undefined);
    for (const [i, key] of remove.entries()) {
      const matches = merged.filter((m) => named(m.rule, key));
      if (matches.length === 0) {
        this.error(
          [at[0] as string, 'remove', i],
          'ERR_MAPPING_EXTENDS',
          `remove: no inherited ${String(at[0])} rule is named ${key} or writes it${didYouMean(key, keys())}`,
        );
        continue;
      }
      for (const m of matches) merged.splice(merged.indexOf(m), 1);
    }
    child.forEach((rule, i) => {
      const origin = { layer: this.layer, path: [...at, i] };
      const matches = merged.filter((m) => replaces(rule, m.rule));
      if (matches.length > 1) {
        this.error(
          [...at, i],
          'ERR_MAPPING_EXTENDS',
          `${matches.length} inherited ${String(at[0])} rules write ${String(ruleKey(rule))}; name the one to replace (or remove them, then add the rules)`,
        );
        return;
      }
      const match = matches[0];
      if (match) {
        match.rule = rule;
        match.origin = origin;
      } else merged.push({ rule, origin });
    });
    merged.forEach((m, i) => this.into.set([...at, i], m.origin));
    return merged.map((m) => m.rule);
  }

  /** The catalogue: replace by code, `remove: true` deletes, new codes appended. */
  appointmentTypes(inherited: unknown, child: unknown, at: ProfilePath): unknown {
    if (!Array.isArray(child) || !Array.isArray(inherited)) {
      this.into.set(at, { layer: this.layer, path: at });
      return child;
    }
    const merged: { entry: unknown; origin: Origin }[] = inherited.map((entry, i) => ({
      entry,
      origin: this.into.originOf([...at, i]),
    }));
    const codeOf = (e: unknown) => (isObj(e) && typeof e.code === 'string' ? e.code : undefined);
    child.forEach((entry, i) => {
      const code = codeOf(entry);
      const idx = code === undefined ? -1 : merged.findIndex((m) => codeOf(m.entry) === code);
      if (isObj(entry) && entry.remove === true) {
        if (idx < 0)
          this.error(
            [...at, i, 'code'],
            'ERR_MAPPING_EXTENDS',
            `no inherited appointment type has the code ${String(code)}${
              code === undefined
                ? ''
                : didYouMean(
                    code,
                    merged.map((m) => codeOf(m.entry) ?? ''),
                  )
            }`,
          );
        else merged.splice(idx, 1);
        return;
      }
      const origin = { layer: this.layer, path: [...at, i] };
      if (idx >= 0) merged[idx] = { entry, origin };
      else merged.push({ entry, origin });
    });
    merged.forEach((m, i) => this.into.set([...at, i], m.origin));
    return merged.map((m) => m.entry);
  }
}

/** Takes `remove:` out of every section of `data` (a profile's own data), reporting misuse. */
function takeRemovals(
  data: Obj,
  layer: number,
  hasParent: boolean,
  issues: MergeIssue[],
): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const kind of KINDS) {
    const section = data[kind];
    if (!isObj(section) || !('remove' in section)) continue;
    const { remove, ...rest } = section;
    data[kind] = rest;
    if (!hasParent) {
      issues.push({
        layer,
        at: [kind, 'remove'],
        code: 'ERR_MAPPING_EXTENDS',
        message: 'remove deletes inherited rules; this profile extends no other',
        onKey: true,
      });
      continue;
    }
    if (!Array.isArray(remove) || !remove.every((k) => typeof k === 'string')) {
      issues.push({
        layer,
        at: [kind, 'remove'],
        code: 'ERR_MAPPING_SCHEMA',
        message: 'remove is a list of inherited rules, each by its name or its to',
      });
      continue;
    }
    out.set(kind, remove);
  }
  return out;
}

/** The root profile of a chain, as a composite (its own `remove:` keys are errors). */
export function rootComposite(data: Obj): { composite: Composite; issues: MergeIssue[] } {
  const issues: MergeIssue[] = [];
  const own = { ...data };
  delete own.extends;
  takeRemovals(own, 0, false, issues);
  return { composite: new Composite(own), issues };
}

/**
 * Merges layer `layer` (`child`, its `extends` key already read) onto `parent` in place.
 * `parentName` names the parent in messages.
 */
export function mergeChild(parent: Composite, child: Obj, layer: number, parentName: string): MergeIssue[] {
  const issues: MergeIssue[] = [];
  const own: Obj = { ...child };
  delete own.extends;
  const removals = takeRemovals(own, layer, true, issues);
  if (typeof own.name !== 'string')
    issues.push({
      layer,
      at: ['extends'],
      code: 'ERR_MAPPING_EXTENDS',
      message: `a profile that extends ${parentName} needs its own name`,
      onKey: true,
    });
  if (own.protocol !== undefined && own.protocol !== parent.data.protocol) {
    issues.push({
      layer,
      at: ['protocol'],
      code: 'ERR_MAPPING_PROTOCOL_MISMATCH',
      message: `protocol ${String(own.protocol)} differs from ${String(parent.data.protocol)}, the protocol of ${parentName} (a profile extends one of its own protocol)`,
    });
  }
  const m = new Merger(parent, layer, removals);
  const merged = m.object(parent.data, own, []);
  for (const kind of removals.keys()) {
    if (!isObj(parent.data[kind]))
      issues.push({
        layer,
        at: [kind, 'remove'],
        code: 'ERR_MAPPING_EXTENDS',
        message: `${parentName} has no ${kind} rules to remove`,
        onKey: true,
      });
  }
  issues.push(...m.issues);
  parent.data = merged;
  return issues;
}
