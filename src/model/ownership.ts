/**
 * Who owns which field, as data (design.md, "What moves, and which way"). The defaults are the
 * design table; a link's mapping profile may override any kind or field for its practice.
 *
 * - `practice` / `secretariat`: that side's value wins; a change from the other side alone is
 *   refused and the owner's value is sent back to it.
 * - `last-writer`: the change received last wins, field by field (patient contact details).
 * - `review`: a change from either side alone applies; both sides changing the field
 *   differently opens a conflict that waits for a person (design rule 7).
 *
 * Collisions decided by `practice`, `secretariat` or `last-writer` are still recorded as
 * conflicts, closed at once with the rule that decided, so nothing is overwritten silently.
 */
import { elementOf, type FieldPath, groupMembers } from './fields.js';
import type { LinkRole } from './link-role.js';
import type { ResourceKind } from './resources.js';

export const OWNERS = ['practice', 'secretariat', 'last-writer', 'review'] as const;
export type Owner = (typeof OWNERS)[number];

export interface KindOwnership {
  /** Which sides may create a record of this kind; a creation from another side is ignored. */
  readonly create?: readonly LinkRole[];
  /**
   * Owner per canonical field: an exact path (`telecom[system=phone]`), an element
   * (`telecom`), or `*` for the rest of the kind.
   */
  readonly fields?: Readonly<Record<string, Owner>>;
}

export type OwnershipRules = Readonly<Partial<Record<ResourceKind, KindOwnership>>>;

/** Patient identity is the practice's (FR Core INS rules): identifiers, names, birth date, sex. */
const PATIENT_IDENTITY: Readonly<Record<string, Owner>> = {
  '*': 'practice',
  identifier: 'practice',
  name: 'practice',
  birthDate: 'practice',
  gender: 'practice',
  extension: 'practice',
  active: 'practice',
  link: 'practice',
  telecom: 'last-writer',
  address: 'last-writer',
};

export const defaultOwnership: OwnershipRules = {
  Practitioner: { create: ['practice'], fields: { '*': 'practice' } },
  PractitionerRole: { create: ['practice'], fields: { '*': 'practice' } },
  Schedule: { create: ['practice'], fields: { '*': 'practice' } },
  Slot: { create: ['practice'], fields: { '*': 'practice' } },
  // Both ways; the same appointment moved or re-statused differently on both sides waits.
  Appointment: { create: ['practice', 'secretariat'], fields: { '*': 'review' } },
  // A new patient from the secretariat is a proposal: matched, or created pending review.
  Patient: { create: ['practice', 'secretariat'], fields: PATIENT_IDENTITY },
  // Call messages come from the secretariat; the practice only acknowledges them.
  Communication: {
    create: ['secretariat'],
    fields: { '*': 'secretariat', received: 'practice', status: 'last-writer' },
  },
};

/** Defaults with `override` laid over them, kind by kind and field by field. */
export function withOverrides(
  override: OwnershipRules | undefined,
  base: OwnershipRules = defaultOwnership,
): OwnershipRules {
  if (!override) return base;
  const out: Partial<Record<ResourceKind, KindOwnership>> = { ...base };
  for (const [kind, rules] of Object.entries(override) as [ResourceKind, KindOwnership][]) {
    const b = base[kind] ?? {};
    out[kind] = {
      ...((rules.create ?? b.create) ? { create: rules.create ?? b.create ?? [] } : {}),
      fields: { ...b.fields, ...rules.fields },
    };
  }
  return out;
}

export function ownerOf(rules: OwnershipRules, kind: ResourceKind, path: FieldPath): Owner {
  const fields = rules[kind]?.fields ?? {};
  const exact = fields[path] ?? fields[elementOf(path)];
  if (exact) return exact;
  // `start/end` may be ruled as a whole or through `start`.
  for (const member of groupMembers(kind, path)) if (fields[member]) return fields[member];
  return fields['*'] ?? 'review';
}

export function mayCreate(rules: OwnershipRules, kind: ResourceKind, role: LinkRole): boolean {
  return (rules[kind]?.create ?? ['practice', 'secretariat']).includes(role);
}

export function otherRole(role: LinkRole): LinkRole {
  return role === 'practice' ? 'secretariat' : 'practice';
}
