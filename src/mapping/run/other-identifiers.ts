/**
 * Identifiers of a patient in systems the profile does not name (issue 18, "keep what real
 * messages carry"): a FHIR identifier of an unknown system, an HL7 PID-3 repetition of an
 * unknown assigning authority. They are kept on the canonical patient as given — system, value,
 * use, type, assigner — never dropped and never a reason to refuse the patient. The INS is the
 * one identifier with French rules: its systems (and anything typed as an INS) are left to the
 * profile's INS rules, which keep it only with a qualified identity (else `ins-not-qualified`),
 * and never stored as another identifier. Nothing is dropped here, so nothing is flagged.
 */
import { isInsSystem, PASSERELLE_FHIR_BASE } from '../../model/identifiers.js';
import type { RunState } from './apply.js';

/** An identifier as the input gives it, before it is checked against what the rules kept. */
export interface OtherIdentifier {
  readonly system: string | undefined;
  readonly value: string | undefined;
  readonly use?: string | undefined;
  readonly type?:
    | {
        readonly coding?: readonly {
          readonly system?: string | undefined;
          readonly code?: string | undefined;
          readonly display?: string | undefined;
        }[];
        readonly text?: string | undefined;
      }
    | undefined;
  readonly assignerDisplay?: string | undefined;
  /** Where it was read (`PID-3[2]`, `identifier[3]`), for the report. */
  readonly at: string;
}

/** The INS arc: any OID under it names an INS (or a mistake), never another identifier. */
const INS_ARC = 'urn:oid:1.2.250.1.213.1.4.';
const INS_TYPE = /^INS(-|$)/i;
const USES: ReadonlySet<string> = new Set(['usual', 'official', 'temp', 'secondary', 'old']);

type Obj = Record<string, unknown>;

function isIns(id: OtherIdentifier): boolean {
  if (id.system !== undefined && (isInsSystem(id.system) || id.system.startsWith(INS_ARC))) return true;
  // Typed as an INS (FR Core fr-core-cs-v2-0203 INS-NIR…, IHE PAM France CX-5 INS) whatever its system.
  return (id.type?.coding ?? []).some((c) => typeof c.code === 'string' && INS_TYPE.test(c.code));
}

/** Adds to `data.identifier` each of `others` the rules did not already keep (same system and value, or the same value when `byValue`). */
export function keepOtherIdentifiers(
  data: Obj,
  others: readonly OtherIdentifier[],
  st: RunState,
  options: { readonly byValue: boolean },
): void {
  const kept = (Array.isArray(data['identifier']) ? data['identifier'] : []) as Obj[];
  const out = [...kept];
  for (const id of others) {
    const value = id.value?.trim();
    if (value === undefined || value === '') continue;
    const system = id.system?.trim();
    if (out.some((k) => k['value'] === value && (options.byValue || k['system'] === system))) continue;
    // The INS rules did not keep it (no qualified identity: flagged ins-not-qualified there, or a
    // profile that takes no INS): never stored as another identifier, which would carry it
    // around the French rules.
    if (isIns(id)) continue;
    if (system === undefined || system === '' || /\s/.test(system)) continue;
    const coding = (id.type?.coding ?? [])
      .filter((c) => typeof c.code === 'string' && c.code !== '')
      .map((c) => ({
        ...(c.system && !/\s/.test(c.system) && { system: c.system }),
        code: c.code as string,
        ...(c.display && { display: c.display }),
      }));
    const item: Obj = {
      system,
      value,
      ...(id.use !== undefined && USES.has(id.use) && { use: id.use }),
      ...((coding.length > 0 || id.type?.text) && {
        type: { ...(coding.length > 0 && { coding }), ...(id.type?.text && { text: id.type.text }) },
      }),
      ...(id.assignerDisplay && { assigner: { display: id.assignerDisplay } }),
    };
    out.push(item);
    st.report.push({
      rule: 'Patient.identifier (other)',
      kind: 'Patient',
      protocolPath: id.at,
      canonicalPath: `identifier[system=${system}]`,
      status: 'mapped',
      note: 'kept as given: a system the profile does not name',
    });
  }
  if (out.length > kept.length) data['identifier'] = out;
}

/** The system of an identifier from its HL7 CX-4 assigning authority (namespace id, universal id, its type). */
export function systemOfAuthority(
  namespace: string | undefined,
  universalId: string | undefined,
  universalIdType: string | undefined,
): string {
  const uid = universalId?.trim();
  const type = universalIdType?.trim().toUpperCase();
  if (uid && (type === 'ISO' || /^[0-2](\.[0-9]+)+$/.test(uid))) return `urn:oid:${uid}`;
  if (uid && (type === 'URI' || /^(urn|https?):/i.test(uid)) && !/\s/.test(uid)) return uid;
  const ns = namespace?.trim() || uid;
  // No universal id: a passerelle naming system per namespace, so two senders' "R1" stay apart
  // from real OIDs while the same namespace always gives the same system.
  return `${PASSERELLE_FHIR_BASE}/NamingSystem/hl7v2-assigning-authority/${ns ? encodeURIComponent(ns) : 'unknown'}`;
}

/** V2 table 0203 (identifier type), where CX-5 codes come from. */
export const V2_0203_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v2-0203';
