/**
 * Validation at the edge: every resource read from the practice software is checked against
 * the FR Core rules that decide whether it may cross (INS systems and key, a qualified identity
 * before an INS travels, one `official` identifier, the INS test OIDs only on a link marked as
 * test), then mapped through the link's profile and validated as a canonical record. A resource
 * that fails is refused whole, with every issue as `path: rule` (never a value), and goes to
 * dead letters; nothing of it is applied (design rule 3, "nothing half-applied").
 *
 * An INS without a qualified identity (reliability not VALI) is not a reason to refuse the
 * patient (issue 18, "lenient on structure, strict on identity"): as on the HL7 path (PID-32),
 * the INS is dropped before the profile sees it, so no profile can let it travel, the record is
 * flagged `ins-not-qualified` and the rest of the patient is applied. What stays refused is an
 * INS that would travel and breaks a rule (key, test OID on a normal link, not the one
 * `official` identifier), an unknown OID under the INS arc and an unknown reliability code.
 */
import { createHash } from 'node:crypto';

import { type FhirExtension, readFrScheduleExtensions } from '../../src/agenda/import.js';
import type { ExternalRecord, InboundMessage } from '../../src/connector/contract.js';
import { type ErrorIssue, PasserelleError } from '../../src/errors.js';
import type { MappingPlan } from '../../src/mapping/compile/plan.js';
import { toCanonical } from '../../src/mapping/run/engine.js';
import { canonicalIdFor } from '../../src/mapping/run/records.js';
import type { FhirResource, MappingContext } from '../../src/mapping/run/types.js';
import {
  FR_IDENTIFIER_TYPE_SYSTEM,
  IDENTIFIER_TYPE,
  IDENTITY_RELIABILITY_CODES,
  IDENTITY_RELIABILITY_SYSTEM,
  IDENTITY_RELIABILITY_URL,
  INS_TEST_SYSTEMS,
  isValidNirKey,
  LEGACY_IDENTITY_RELIABILITY_SYSTEM,
  LEGACY_IDENTITY_RELIABILITY_URL,
  OID,
} from '../../src/model/identifiers.js';
import { RESOURCE_KINDS, type ResourceKind } from '../../src/model/resources.js';
import { validateAs } from '../../src/model/validate.js';

/** The INS matricule systems (FR Core Patient identifier slices) and the identifier-type code of each. */
const INS_TYPE_OF_SYSTEM: Readonly<Record<string, string>> = {
  [OID.insNir]: IDENTIFIER_TYPE.insNir,
  [OID.insNia]: IDENTIFIER_TYPE.insNia,
  [OID.insNirTest]: IDENTIFIER_TYPE.insNirTest,
  [OID.insNirDemo]: IDENTIFIER_TYPE.insNirDemo,
};
const INS_SYSTEM_OF_TYPE: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(INS_TYPE_OF_SYSTEM).map(([s, t]) => [t, s]),
);
/** The INS arc: every OID under it names an INS, so an unknown one is a mistake, not another identifier. */
const INS_ARC = 'urn:oid:1.2.250.1.213.1.4.';

/** Kinds whose `entered-in-error` status means the peer withdrew the record: a tombstone. */
const ERROR_STATUS_KINDS: ReadonlySet<string> = new Set(['Appointment', 'Slot', 'Communication']);

type Obj = Record<string, unknown>;
const asObj = (v: unknown): Obj | undefined =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : undefined;
const asArr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

export interface EdgeOptions {
  /** The link is marked as test: the INS test and demo OIDs are accepted. */
  readonly testLink: boolean;
}

/** The identity reliability code of a FHIR Patient (fr-core-identity-reliability → identityStatus), if any. */
function reliabilityOf(patient: Obj): { code: string | undefined; path: string } | undefined {
  const exts = asArr(patient['extension']);
  const i = exts.findIndex((e) => asObj(e)?.['url'] === IDENTITY_RELIABILITY_URL);
  if (i < 0) return undefined;
  const inner = asArr(asObj(exts[i])?.['extension']);
  const j = inner.findIndex((e) => asObj(e)?.['url'] === 'identityStatus');
  const coding = asObj(asObj(inner[j])?.['valueCoding']);
  return {
    code: str(coding?.['code']),
    path: `Patient.extension[${i}].extension[${j < 0 ? 0 : j}].valueCoding.code`,
  };
}

function patientRules(p: Obj, opts: EdgeOptions, issues: ErrorIssue[]): void {
  const ids = asArr(p['identifier']).map((x) => asObj(x) ?? {});
  const reliability = reliabilityOf(p);
  // An INS of an unqualified identity is dropped before mapping: it does not count.
  const dropped = (id: Obj): boolean =>
    reliability?.code !== 'VALI' && INS_TYPE_OF_SYSTEM[str(id['system']) ?? ''] !== undefined;
  const officials = ids.flatMap((id, i) => (id['use'] === 'official' && !dropped(id) ? [i] : []));
  if (officials.length > 1) {
    issues.push({
      path: `Patient.identifier[${officials[1]}].use`,
      message: 'only one official identifier is allowed (FR Core: the INS, when there is one)',
    });
  }
  if (
    reliability?.code !== undefined &&
    !(IDENTITY_RELIABILITY_CODES as readonly string[]).includes(reliability.code)
  ) {
    issues.push({
      path: reliability.path,
      message: `not an identity reliability code (${IDENTITY_RELIABILITY_CODES.join(', ')})`,
    });
  }
  ids.forEach((id, i) => {
    const path = `Patient.identifier[${i}]`;
    const system = str(id['system']);
    const typeCode = asArr(asObj(id['type'])?.['coding'])
      .map((c) => asObj(c) ?? {})
      .find(
        (c) =>
          c['system'] === FR_IDENTIFIER_TYPE_SYSTEM &&
          typeof c['code'] === 'string' &&
          INS_SYSTEM_OF_TYPE[c['code'] as string] !== undefined,
      )?.['code'] as string | undefined;
    const insSystem = system !== undefined && INS_TYPE_OF_SYSTEM[system] !== undefined;
    if (system?.startsWith(INS_ARC) && !insSystem) {
      issues.push({
        path: `${path}.system`,
        message: `not an INS system: FR Core knows ${OID.insNir} (NIR), ${OID.insNia} (NIA), ${OID.insNirTest} (test), ${OID.insNirDemo} (demo)`,
      });
      return;
    }
    if (typeCode !== undefined && system !== INS_SYSTEM_OF_TYPE[typeCode]) {
      issues.push({
        path: `${path}.system`,
        message: `an identifier typed ${typeCode} must have the system ${INS_SYSTEM_OF_TYPE[typeCode]}`,
      });
      return;
    }
    if (!insSystem) return;
    // Not qualified: the INS is dropped (dropUnqualifiedIns), none of its rules apply.
    if (reliability?.code !== 'VALI') return;
    if (INS_TEST_SYSTEMS.includes(system as string) && !opts.testLink) {
      issues.push({
        path: `${path}.system`,
        message: `the INS test/demo OID ${system} is accepted only on a link marked as test`,
      });
    }
    if (id['use'] !== 'official')
      issues.push({ path: `${path}.use`, message: 'the INS must be the official identifier' });
    const value = str(id['value']);
    if (value === undefined || !isValidNirKey(value))
      issues.push({
        path: `${path}.value`,
        message: 'not a valid INS matricule (15 characters with a correct key)',
      });
  });
}

/**
 * The FR Core rules checked on a resource as the practice software sent it (before mapping).
 * Returns every issue; an empty list means the resource may be mapped.
 */
export function edgeIssues(resource: FhirResource, opts: EdgeOptions): ErrorIssue[] {
  const issues: ErrorIssue[] = [];
  const type = resource.resourceType;
  const id = resource['id'];
  if (typeof id !== 'string' || !/^[A-Za-z0-9\-.]{1,64}$/.test(id))
    issues.push({
      path: `${type}.id`,
      message: 'a resource read from the server must have a logical id (1-64 of A-Z a-z 0-9 - .)',
    });
  if (type === 'Patient') patientRules(resource, opts, issues);
  return issues.map((i) => ({ severity: 'error' as const, code: 'ERR_FHIR_EDGE_INVALID', ...i }));
}

function edgeError(type: string, issues: readonly ErrorIssue[]): PasserelleError {
  const first = issues[0];
  return new PasserelleError(
    'ERR_FHIR_EDGE_INVALID',
    `${type} refused at the edge: ${first?.path}: ${first?.message}${issues.length > 1 ? ` (and ${issues.length - 1} more)` : ''}`,
    {
      issues,
      details: { resourceType: type },
    },
  );
}

/** The flag a Patient gets when its INS is dropped for want of a qualified identity (same as the HL7 profiles'). */
export const INS_NOT_QUALIFIED = 'ins-not-qualified';

/**
 * A Patient whose identity reliability is in FR Core's previous extension, with it in the
 * current one: same codes (HL7 table 0445), other URL and slice name. Read as the current one,
 * a qualified identity keeps its INS; unread, the INS would be dropped as unqualified. Other
 * slices (validation date and mode) are kept as they are.
 */
export function currentReliabilityExtension(resource: FhirResource): FhirResource {
  if (resource.resourceType !== 'Patient') return resource;
  const exts = asArr(resource['extension']);
  if (!exts.some((e) => asObj(e)?.['url'] === LEGACY_IDENTITY_RELIABILITY_URL)) return resource;
  // The current extension wins when a sender gives both.
  if (exts.some((e) => asObj(e)?.['url'] === IDENTITY_RELIABILITY_URL)) return resource;
  const extension = exts.map((e) => {
    const ext = asObj(e);
    if (ext?.['url'] !== LEGACY_IDENTITY_RELIABILITY_URL) return e;
    const inner = asArr(ext['extension']).map((x) => {
      const slice = asObj(x);
      if (slice?.['url'] !== 'identityReliability') return x;
      const coding = asObj(slice['valueCoding']);
      const system =
        coding?.['system'] === LEGACY_IDENTITY_RELIABILITY_SYSTEM
          ? IDENTITY_RELIABILITY_SYSTEM
          : coding?.['system'];
      return {
        ...slice,
        url: 'identityStatus',
        ...(coding && { valueCoding: { ...coding, ...(system !== undefined && { system }) } }),
      };
    });
    return { ...ext, url: IDENTITY_RELIABILITY_URL, extension: inner };
  });
  return { ...resource, extension } as FhirResource;
}

/**
 * A Patient whose identity is not qualified (reliability not VALI) without its INS identifiers
 * (FR Core: the INS travels only with a qualified identity), and whether one was dropped.
 */
export function dropUnqualifiedIns(resource: FhirResource): { resource: FhirResource; dropped: boolean } {
  if (resource.resourceType !== 'Patient' || reliabilityOf(resource)?.code === 'VALI')
    return { resource, dropped: false };
  const ids = asArr(resource['identifier']);
  const kept = ids.filter((id) => {
    const system = str(asObj(id)?.['system']);
    return system === undefined || INS_TYPE_OF_SYSTEM[system] === undefined;
  });
  if (kept.length === ids.length) return { resource, dropped: false };
  const { identifier: _dropped, ...rest } = resource;
  return {
    resource: (kept.length > 0 ? { ...rest, identifier: kept } : rest) as FhirResource,
    dropped: true,
  };
}

export type InboundResult =
  /** `record` is null when the profile's filters keep the resource from syncing. */
  | { readonly ok: true; readonly record: ExternalRecord | null; readonly flags: readonly string[] }
  | { readonly ok: false; readonly error: PasserelleError };

/**
 * One resource from the server → one canonical record, or a clear refusal: edge rules, the
 * profile's mapping (engine API: `toCanonical` with `validate: false`), then the canonical
 * model's own rules on the result (`validateAs`, with the link's test flag).
 */
export function mapInbound(plan: MappingPlan, ctx: MappingContext, given: FhirResource): InboundResult {
  const resource = currentReliabilityExtension(given);
  const type = String(resource.resourceType);
  const edge = edgeIssues(resource, { testLink: ctx.testLink === true });
  if (edge.length > 0) return { ok: false, error: edgeError(type, edge) };
  const ins = dropUnqualifiedIns(resource);
  const mapped = toCanonical(plan, ins.resource, { ...ctx, validate: false });
  if (!mapped.ok) {
    return {
      ok: false,
      error:
        mapped.error ??
        new PasserelleError('ERR_MAPPING_RECORD_INVALID', `${type}: the profile could not map it`),
    };
  }
  const flags =
    ins.dropped && !mapped.flags.includes(INS_NOT_QUALIFIED)
      ? [...mapped.flags, INS_NOT_QUALIFIED]
      : mapped.flags;
  const mappedRecord = mapped.records[0];
  if (mappedRecord === undefined) return { ok: true, record: null, flags };
  const recordFlags =
    ins.dropped && !(mappedRecord.flags ?? []).includes(INS_NOT_QUALIFIED)
      ? [...(mappedRecord.flags ?? []), INS_NOT_QUALIFIED]
      : mappedRecord.flags;
  const flagged = recordFlags === undefined ? mappedRecord : { ...mappedRecord, flags: recordFlags };
  const record = withFrScheduleAgenda(flagged, resource);
  const valid = validateAs(record.kind, record.data, { testLink: ctx.testLink === true });
  if (!valid.ok) {
    const issues = valid.issues.map((i) => ({ ...i, code: 'ERR_MAPPING_RECORD_INVALID' }));
    const first = issues[0];
    return {
      ok: false,
      error: new PasserelleError(
        'ERR_MAPPING_RECORD_INVALID',
        `${type} mapped by ${plan.name} breaks the canonical model: ${first?.path}: ${first?.message}${issues.length > 1 ? ` (and ${issues.length - 1} more)` : ''}`,
        { issues, details: { resourceType: type, profile: plan.name } },
      ),
    };
  }
  // entered-in-error: the practice software withdrew it (FHIR R4 workflow: "this instance should not have been part of this record").
  const withdrawn = ERROR_STATUS_KINDS.has(type) && resource['status'] === 'entered-in-error';
  return { ok: true, record: { ...record, data: valid.value, ...(withdrawn && { deleted: true }) }, flags };
}

/** A tombstone for a resource the server deleted (410, or a DELETE entry of `_history`). */
export function deletionRecord(kind: ResourceKind, externalId: string, version?: string): ExternalRecord {
  return {
    kind,
    externalId,
    deleted: true,
    ...(version !== undefined && { version }),
    // The engine keeps what it knew and marks it cancelled / inactive; the data is only a shell.
    data: { resourceType: kind, id: canonicalIdFor(externalId) } as ExternalRecord['data'],
  };
}

/** Whether `type` is a canonical kind. */
export function kindOf(type: string): ResourceKind | undefined {
  return (RESOURCE_KINDS as readonly string[]).includes(type) ? (type as ResourceKind) : undefined;
}

/**
 * How a refused resource is stored: keyed by its id and version, so the same version read
 * again (overlap window, a new round) is a duplicate in the inbox, not a second dead letter.
 */
export function refusedMessage(
  resource: FhirResource,
  error: PasserelleError,
): InboundMessage & { error: PasserelleError } {
  const body = Buffer.from(JSON.stringify(resource));
  const bodyHash = createHash('sha256').update(body).digest('hex');
  const type = String(resource.resourceType).slice(0, 40);
  const id = typeof resource['id'] === 'string' ? resource['id'] : bodyHash.slice(0, 32);
  const version = str(asObj(resource['meta'])?.['versionId']) ?? bodyHash.slice(0, 16);
  return {
    dedupe: {
      key: `fhir:${type}/${id}/_history/${version}`.slice(0, 200),
      bodyHash,
      messageType: `fhir:${type}`,
      body,
    },
    records: [],
    error,
  };
}

/**
 * FrSchedule's opening hours and visit-type durations (FR Core `availabilityTime`,
 * `serviceTypeDuration` extensions; ANS "Gestion d'agendas partagés" flux 2) are nested
 * extensions a field mapping cannot express: read here, at the edge, as the INS reliability
 * extension is, into the canonical Schedule's plain fields (issue 20: rules from the practice
 * software). What the profile already mapped is kept.
 */
function withFrScheduleAgenda(record: ExternalRecord, resource: FhirResource): ExternalRecord {
  if (record.kind !== 'Schedule') return record;
  const read = readFrScheduleExtensions(resource['extension'] as readonly FhirExtension[] | undefined);
  const data = record.data as unknown as Record<string, unknown>;
  const add = {
    ...(read.availabilityTime.length > 0 &&
      data['availabilityTime'] === undefined && {
        availabilityTime: read.availabilityTime,
      }),
    ...(read.serviceTypeDuration.length > 0 &&
      data['serviceTypeDuration'] === undefined && {
        serviceTypeDuration: read.serviceTypeDuration,
      }),
  };
  return Object.keys(add).length === 0
    ? record
    : { ...record, data: { ...data, ...add } as ExternalRecord['data'] };
}
