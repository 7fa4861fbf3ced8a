/**
 * Ownership as the sync engine reads it (src/model/ownership.ts: `OwnershipRules`,
 * `withOverrides`). A profile states owners per kind and per field; the plan exposes them in
 * exactly the engine's type so the runtime passes `withOverrides(plan.ownership)` as is.
 *
 * Field paths are the engine's (src/model/fields.ts): a top-level element (`telecom`), a keyed
 * list item (`telecom[system=phone]`, `name[use=official]`, `identifier[system=…]`,
 * `participant[actor=Patient]`, `extension[url=…]`), `start/end` for the time of an
 * appointment or slot, or `*` for every other field of the kind.
 */
import { TIME_FIELD } from '../../model/fields.js';
import type { KindOwnership, Owner, OwnershipRules } from '../../model/ownership.js';
import type { ResourceKind } from '../../model/resources.js';
import type { CompiledPath } from '../run/element-path.js';

export type { KindOwnership, Owner, OwnershipRules };
export { TIME_FIELD };

/** The key of each keyed list (src/model/fields.ts KEYED): one merge field per item. */
export const KEYED_ELEMENTS: Readonly<Record<string, string>> = {
  identifier: 'system',
  telecom: 'system',
  name: 'use',
  address: 'use',
  participant: 'actor',
  extension: 'url',
};

const TIMED: ReadonlySet<string> = new Set(['Appointment', 'Slot']);

/**
 * Checks an ownership field key; returns an error message or undefined. `elements` are the
 * kind's top-level canonical elements.
 */
export function checkOwnershipField(
  kind: ResourceKind,
  key: string,
  elements: ReadonlySet<string>,
): string | undefined {
  if (key === '*') return undefined;
  if (key === TIME_FIELD)
    return TIMED.has(kind) ? undefined : `${TIME_FIELD} applies to Appointment and Slot only`;
  const m = /^([A-Za-z]+)(?:\[([A-Za-z]+)=([^\]]+)\])?$/.exec(key);
  if (!m) return `not an ownership field (an element, element[key=value], ${TIME_FIELD} or *)`;
  const [, element, k] = m as unknown as [string, string, string | undefined];
  if (!elements.has(element) || element === 'resourceType' || element === 'id' || element === 'meta')
    return `unknown field`;
  if (k !== undefined) {
    const expected = KEYED_ELEMENTS[element];
    if (expected === undefined) return `${element} is not a keyed list; use ${element}`;
    if (k !== expected) return `${element} items are keyed by ${expected}: ${element}[${expected}=…]`;
  }
  return undefined;
}

/** The engine field a canonical path falls in: `telecom[system=phone,use=mobile].value` → `telecom[system=phone]`. */
export function ownershipFieldOf(path: CompiledPath): string {
  const first = path.steps[0];
  if (!first) return '*';
  const key = KEYED_ELEMENTS[first.name];
  const cond =
    key === undefined ? undefined : first.conds?.find((c) => c.key.length === 1 && c.key[0]?.name === key);
  return cond ? `${first.name}[${key}=${cond.value}]` : first.name;
}
