/**
 * Element paths: how a profile names a place in a canonical resource or a FHIR R4 resource.
 *
 *   step ('.' step)*        step = name | name[index] | name[key=value(,key=value)*]
 *
 * - `start`, `serviceType[0].coding[0].code`: plain elements and list positions.
 * - `name[use=official].family`, `identifier[system=urn:oid:1.2.250.1.213.1.4.8].value`,
 *   `telecom[system=phone,use=mobile].value`: the list item whose keys have these values (the
 *   first one; created with those keys when writing). A key may be dotted (`type.text=x`).
 * - `participant[actor=Patient].actor.reference`: when the key is a Reference, the value is the
 *   referenced type, as in the sync engine's field paths (src/model/fields.ts).
 * - A list without index or selector in the middle of a path means its first item; at the end
 *   of a path it means the whole list.
 *
 * Selector values may contain dots and colons (OIDs, URLs) but not `]` or `,`. Paths are
 * compiled once (compile/compile.ts); the accessors below walk the compiled steps without parsing.
 */

export interface Condition {
  /** Dotted key inside the item, e.g. ['system'] or ['actor']. */
  readonly key: readonly string[];
  readonly value: string;
}

export interface PathStep {
  readonly name: string;
  readonly index?: number;
  readonly conds?: readonly Condition[];
}

export interface ParsedElementPath {
  readonly text: string;
  readonly steps: readonly PathStep[];
}

export class PathSyntaxError extends Error {
  constructor(
    message: string,
    readonly position: number,
  ) {
    super(message);
  }
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Parses an element path; throws PathSyntaxError naming the 1-based position at fault. */
export function parseElementPath(text: string): ParsedElementPath {
  if (text.length === 0) throw new PathSyntaxError('empty path', 1);
  const steps: PathStep[] = [];
  let i = 0;
  while (i <= text.length) {
    const start = i;
    while (i < text.length && text[i] !== '.' && text[i] !== '[') i++;
    const name = text.slice(start, i);
    if (!NAME.test(name))
      throw new PathSyntaxError(
        name === ''
          ? `expected an element name at position ${start + 1}`
          : `'${name}' is not an element name (letters, digits, _)`,
        start + 1,
      );
    let step: PathStep = { name };
    if (text[i] === '[') {
      const close = text.indexOf(']', i);
      if (close < 0) throw new PathSyntaxError(`unclosed '[' at position ${i + 1}`, i + 1);
      const inner = text.slice(i + 1, close);
      if (/^[0-9]+$/.test(inner)) {
        step = { name, index: Number(inner) };
      } else {
        const conds: Condition[] = [];
        for (const part of inner.split(',')) {
          const eq = part.indexOf('=');
          if (eq <= 0)
            throw new PathSyntaxError(
              `selector [${inner}] of ${name}: expected key=value or a list position`,
              i + 2,
            );
          const key = part.slice(0, eq).trim().split('.');
          if (!key.every((k) => NAME.test(k)))
            throw new PathSyntaxError(
              `selector [${inner}] of ${name}: '${part.slice(0, eq)}' is not an element name`,
              i + 2,
            );
          const value = part.slice(eq + 1).trim();
          if (value === '') throw new PathSyntaxError(`selector [${inner}] of ${name}: empty value`, i + 2);
          conds.push({ key, value });
        }
        step = { name, conds };
      }
      i = close + 1;
    }
    steps.push(step);
    if (i === text.length) break;
    if (text[i] !== '.') throw new PathSyntaxError(`unexpected '${text[i]}' at position ${i + 1}`, i + 1);
    i++;
    if (i === text.length) throw new PathSyntaxError('path ends with a dot', i);
  }
  return { text, steps };
}

export function formatStep(s: PathStep): string {
  if (s.index !== undefined) return `${s.name}[${s.index}]`;
  if (s.conds) return `${s.name}[${s.conds.map((c) => `${c.key.join('.')}=${c.value}`).join(',')}]`;
  return s.name;
}

export function formatElementPath(steps: readonly PathStep[]): string {
  return steps.map(formatStep).join('.');
}

/** A step resolved against a catalogue: whether it is a list, and how its selector matches. */
export interface CompiledStep {
  readonly name: string;
  readonly array: boolean;
  readonly index: number | undefined;
  readonly conds: readonly CompiledCondition[] | undefined;
}
export interface CompiledCondition {
  readonly key: readonly CompiledStep[];
  readonly value: string;
  /** The key is a Reference: match on the referenced type (`Patient/…`). */
  readonly reference: boolean;
}

export interface CompiledPath {
  readonly text: string;
  readonly steps: readonly CompiledStep[];
  /** Index of the last step with a selector or index (-1: none): `set` writes beside it. */
  readonly itemStep: number;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function keyValue(item: unknown, key: readonly CompiledStep[]): unknown {
  let v: unknown = item;
  for (const k of key) {
    if (!isObj(v)) return undefined;
    v = v[k.name];
    if (k.array && Array.isArray(v)) v = v[0];
  }
  return v;
}

function matches(item: unknown, conds: readonly CompiledCondition[]): boolean {
  for (const c of conds) {
    const v = keyValue(item, c.key);
    if (c.reference) {
      const ref = isObj(v) ? v['reference'] : undefined;
      if (
        typeof ref !== 'string' ||
        ref.length <= c.value.length ||
        !ref.startsWith(c.value) ||
        ref.charCodeAt(c.value.length) !== 47 /* / */
      )
        return false;
    } else if (v !== c.value) return false;
  }
  return true;
}

/** The value at `path`, or undefined. The last step returns what is there (a list stays a list). */
export function readPath(root: unknown, steps: readonly CompiledStep[]): unknown {
  let cur: unknown = root;
  const last = steps.length - 1;
  for (let i = 0; i <= last; i++) {
    if (!isObj(cur)) return undefined;
    const s = steps[i] as CompiledStep;
    let v = cur[s.name];
    if (s.array && Array.isArray(v)) {
      if (s.index !== undefined) v = v[s.index];
      else if (s.conds !== undefined)
        v = v.find((item) => matches(item, s.conds as readonly CompiledCondition[]));
      else if (i < last) v = v[0];
    }
    if (v === undefined || v === null) return undefined;
    cur = v;
  }
  return cur;
}

function writeKey(item: Obj, key: readonly CompiledStep[], value: string): void {
  let cur = item;
  for (let i = 0; i < key.length; i++) {
    const k = key[i] as CompiledStep;
    const leaf = i === key.length - 1;
    if (k.array) {
      const list = (Array.isArray(cur[k.name]) ? cur[k.name] : (cur[k.name] = [])) as unknown[];
      if (leaf) {
        list[0] = value;
        return;
      }
      if (!isObj(list[0])) list[0] = {};
      cur = list[0] as Obj;
    } else if (leaf) {
      cur[k.name] = value;
    } else {
      if (!isObj(cur[k.name])) cur[k.name] = {};
      cur = cur[k.name] as Obj;
    }
  }
}

/**
 * The object that `steps` designates, created (with the selector's keys) if absent. Used to
 * write a value and its `set` companions into the same list item.
 */
export function ensureContainer(root: Obj, steps: readonly CompiledStep[], end = steps.length): Obj {
  let cur = root;
  for (let i = 0; i < end; i++) {
    const s = steps[i] as CompiledStep;
    if (!s.array) {
      if (!isObj(cur[s.name])) cur[s.name] = {};
      cur = cur[s.name] as Obj;
      continue;
    }
    const list = (Array.isArray(cur[s.name]) ? cur[s.name] : (cur[s.name] = [])) as unknown[];
    let item: unknown;
    if (s.index !== undefined) {
      while (list.length < s.index) list.push({});
      item = list[s.index];
      if (!isObj(item)) item = list[s.index] = {};
    } else if (s.conds !== undefined) {
      item = list.find((x) => matches(x, s.conds as readonly CompiledCondition[]));
      if (item === undefined) {
        const created: Obj = {};
        for (const c of s.conds) if (!c.reference) writeKey(created, c.key, c.value);
        list.push(created);
        item = created;
      }
    } else {
      item = list[0];
      if (!isObj(item)) item = list[0] = {};
    }
    cur = item as Obj;
  }
  return cur;
}

/** Writes `value` at `steps` (a deep copy for objects and lists). */
export function writePath(root: Obj, steps: readonly CompiledStep[], value: unknown): void {
  const last = steps[steps.length - 1] as CompiledStep;
  const parent = ensureContainer(root, steps, steps.length - 1);
  const v = typeof value === 'object' && value !== null ? structuredClone(value) : value;
  if (last.array && (last.index !== undefined || last.conds !== undefined)) {
    const list = (
      Array.isArray(parent[last.name]) ? parent[last.name] : (parent[last.name] = [])
    ) as unknown[];
    if (last.index !== undefined) {
      while (list.length < last.index) list.push(undefined);
      list[last.index] = v;
    } else {
      const at = list.findIndex((x) => matches(x, last.conds as readonly CompiledCondition[]));
      if (at >= 0) list[at] = v;
      else list.push(v);
    }
    return;
  }
  parent[last.name] = v;
}

/** Removes the value at `steps`; returns whether something was there. */
export function removePath(root: Obj, steps: readonly CompiledStep[]): boolean {
  const last = steps[steps.length - 1] as CompiledStep;
  const parent = steps.length === 1 ? root : readPath(root, steps.slice(0, -1));
  if (!isObj(parent)) return false;
  const v = parent[last.name];
  if (v === undefined) return false;
  if (last.array && Array.isArray(v) && (last.index !== undefined || last.conds !== undefined)) {
    const at =
      last.index !== undefined
        ? last.index < v.length
          ? last.index
          : -1
        : v.findIndex((x) => matches(x, last.conds as readonly CompiledCondition[]));
    if (at < 0) return false;
    v.splice(at, 1);
    // FHIR forbids empty arrays (R4 JSON §2.6.2).
    if (v.length === 0) delete parent[last.name];
    return true;
  }
  delete parent[last.name];
  return true;
}

/**
 * Drops what writing may leave behind: empty objects, empty lists, `undefined` list holes.
 * Returns undefined when nothing is left.
 */
export function prune(value: unknown): unknown {
  if (Array.isArray(value)) {
    // In place: mapping output is fresh data, and no copy means no garbage on the hot path.
    let n = 0;
    for (let i = 0; i < value.length; i++) {
      const p = prune(value[i]);
      if (p !== undefined) value[n++] = p;
    }
    value.length = n;
    return n > 0 ? value : undefined;
  }
  if (isObj(value)) {
    let any = false;
    for (const k in value) {
      const p = prune(value[k]);
      if (p === undefined) delete value[k];
      else {
        if (p !== value[k]) value[k] = p;
        any = true;
      }
    }
    return any ? value : undefined;
  }
  return value === '' || value === undefined || value === null ? undefined : value;
}
