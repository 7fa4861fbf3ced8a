/**
 * Profile filters: which practitioners and which appointment types sync. Practitioners are
 * named by their id on the link's side (the `<id>` of `Practitioner/<id>`); appointment types by
 * their canonical code (serviceType). A record that names no practitioner or no type is not
 * filtered on that criterion: passerelle cannot tell, and dropping it would lose a booking.
 */
import type { CanonicalResource } from '../../model/resources.js';
import type { FilterSet, MappingPlan } from '../compile/plan.js';

function practitionerIds(r: CanonicalResource, externalId: string | undefined): string[] {
  const ids = (refs: readonly (string | undefined)[]) =>
    refs
      .filter((x): x is string => x?.startsWith('Practitioner/') === true)
      .map((x) => x.slice('Practitioner/'.length));
  switch (r.resourceType) {
    case 'Appointment':
      return ids(r.participant.map((p) => p.actor?.reference));
    case 'Schedule':
      return ids(r.actor.map((a) => a.reference));
    case 'Practitioner':
      return [externalId ?? r.id];
    default:
      return [];
  }
}

function typeCodes(r: CanonicalResource): string[] {
  const concepts =
    r.resourceType === 'Appointment' || r.resourceType === 'Slot' || r.resourceType === 'Schedule'
      ? (r.serviceType ?? [])
      : [];
  return concepts.flatMap((c) => (c.coding ?? []).map((x) => x.code));
}

function check(set: FilterSet | undefined, values: readonly string[], what: string): string | undefined {
  if (!set || values.length === 0) return undefined;
  if (values.some((v) => set.exclude.has(v))) return `${what} excluded by the profile's filters`;
  if (set.include && !values.some((v) => set.include?.has(v))) return `${what} not in the profile's filters`;
  return undefined;
}

const PASS = { pass: true } as const;

/** Whether a record syncs under the profile's filters; the reason names the criterion, never a value. */
export function passesFilters(
  plan: MappingPlan,
  record: CanonicalResource,
  externalId?: string,
): { pass: true } | { pass: false; reason: string } {
  if (!plan.filters.practitioners && !plan.filters.appointmentTypes) return PASS;
  const reason =
    check(plan.filters.practitioners, practitionerIds(record, externalId), 'practitioner') ??
    check(plan.filters.appointmentTypes, typeCodes(record), 'appointment type');
  return reason === undefined ? { pass: true } : { pass: false, reason };
}
