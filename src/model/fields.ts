/**
 * Field granularity of the three-way merge. A canonical resource is seen as a map from field
 * path to value: top-level elements are one field each, except arrays whose items have a
 * natural key, which become one field per item so that independent edits do not collide
 * (the secretariat changes the phone, the practice the e-mail: two fields, no conflict).
 *
 * Paths never carry patient data: keys are code systems, uses, URLs and reference types only,
 * so they can be logged and shown in conflict lists.
 */
import { createHash } from 'node:crypto';

import { stableStringify } from '../util/stable-stringify.js';
import type { CanonicalResource, ResourceKind } from './resources.js';

export type FieldPath = string;
/** Ordered: rebuilding keeps the order of keyed array items. */
export type FieldMap = Map<FieldPath, unknown>;

type Item = Record<string, unknown>;

/** `Patient/123` → `Patient`. */
function refType(ref: unknown): string | undefined {
  return typeof ref === 'string' ? /^([A-Z][A-Za-z]+)\//.exec(ref)?.[1] : undefined;
}

/**
 * Keyed arrays and their item key. Items without the key value get `-`; repeats of one key
 * get `#2`, `#3` so nothing is dropped (two phone numbers stay two fields).
 */
const KEYED: Readonly<Record<string, (item: Item) => string>> = {
  identifier: (i) => `system=${String(i['system'] ?? '-')}`,
  telecom: (i) => `system=${String(i['system'] ?? '-')}`,
  name: (i) => `use=${String(i['use'] ?? '-')}`,
  address: (i) => `use=${String(i['use'] ?? '-')}`,
  participant: (i) => `actor=${refType((i['actor'] as Item | undefined)?.['reference']) ?? '-'}`,
  extension: (i) => `url=${String(i['url'] ?? '-')}`,
};

/** Elements that are bookkeeping, not content: never diffed, never hashed. */
const IGNORED = new Set(['resourceType', 'id', 'meta']);

/**
 * Elements that move together. Moving an appointment changes its start and end at once; were
 * they two fields, a merge could pair one side's start with the other side's end.
 */
export const TIME_FIELD = 'start/end';
const GROUPS: Readonly<Record<string, readonly string[]>> = {
  Appointment: ['start', 'end', 'minutesDuration'],
  Slot: ['start', 'end'],
};

/** The elements a path stands for: `start/end` → start, end (and minutesDuration). */
export function groupMembers(kind: string, path: FieldPath): readonly string[] {
  return path === TIME_FIELD ? (GROUPS[kind] ?? []) : [elementOf(path)];
}

/** `telecom[system=phone]` → `telecom`; `status` → `status`. */
export function elementOf(path: FieldPath): string {
  const i = path.indexOf('[');
  return i < 0 ? path : path.slice(0, i);
}

export function flatten(resource: CanonicalResource | Record<string, unknown>): FieldMap {
  const out: FieldMap = new Map();
  const group = GROUPS[String((resource as { resourceType?: unknown }).resourceType)] ?? [];
  const time: Record<string, unknown> = {};
  for (const element of group)
    if ((resource as Record<string, unknown>)[element] !== undefined)
      time[element] = (resource as Record<string, unknown>)[element];
  if (Object.keys(time).length > 0) out.set(TIME_FIELD, time);
  for (const [element, value] of Object.entries(resource)) {
    if (IGNORED.has(element) || value === undefined || group.includes(element)) continue;
    const keyOf = KEYED[element];
    if (keyOf && Array.isArray(value)) {
      const seen = new Map<string, number>();
      for (const item of value as Item[]) {
        const key = keyOf(item);
        const n = (seen.get(key) ?? 0) + 1;
        seen.set(key, n);
        out.set(`${element}[${key}${n > 1 ? `#${n}` : ''}]`, item);
      }
    } else {
      out.set(element, value);
    }
  }
  return out;
}

/** Rebuilds a resource from its fields; keyed array items come back in map order. */
export function unflatten<T extends CanonicalResource>(
  resourceType: ResourceKind,
  id: string,
  fields: FieldMap,
): T {
  const out: Record<string, unknown> = { resourceType, id };
  for (const [path, value] of fields) {
    const element = elementOf(path);
    if (path === TIME_FIELD) Object.assign(out, value);
    else if (element === path) out[element] = value;
    else ((out[element] ??= []) as unknown[]).push(value);
  }
  return out as T;
}

export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return false;
  return stableStringify(a) === stableStringify(b);
}

/** Paths whose value differs between two resources (either may be null: everything differs). */
export function changedPaths(a: FieldMap | null, b: FieldMap | null): FieldPath[] {
  const paths = new Set<FieldPath>([...(a?.keys() ?? []), ...(b?.keys() ?? [])]);
  return [...paths].filter((p) => !sameValue(a?.get(p), b?.get(p)));
}

/**
 * Content hash over fields, independent of key order and of keyed-array item order: two
 * sides holding the same phone and e-mail in a different order hold the same content. This
 * is the hash echo suppression compares (design rule 6).
 */
export function fieldsHash(resource: CanonicalResource | Record<string, unknown>): string {
  const entries = [...flatten(resource)].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return createHash('sha256').update(stableStringify(entries)).digest('hex');
}

/** Canonical form for comparison and storage: our id, no meta. */
export function normalize<T extends CanonicalResource>(resource: T, id: string): T {
  const { meta: _meta, ...rest } = resource as T & { meta?: unknown };
  return { ...rest, id } as T;
}
