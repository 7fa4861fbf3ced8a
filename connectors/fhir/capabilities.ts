/**
 * What a FHIR server says it supports (FHIR R4 capabilitystatement.html), read once per
 * connector from `GET /metadata`: which interactions and search parameters each resource type
 * offers, and whether conditional create/update and versioned updates (If-Match) are honoured.
 */
import type { CapabilityStatement, CapabilityStatementRestResource } from '@medplum/fhirtypes';

/** FHIR R4 type-restful-interaction codes used here. */
export type TypeInteraction =
  'read' | 'vread' | 'update' | 'delete' | 'history-instance' | 'history-type' | 'create' | 'search-type';

export interface ServerCapabilities {
  readonly fhirVersion: string | undefined;
  readonly software: string | undefined;
  /** Whether the server lists the type at all. */
  has(type: string): boolean;
  interaction(type: string, code: TypeInteraction): boolean;
  searchParam(type: string, name: string): boolean;
  /** `conditionalCreate: true` (If-None-Exist honoured). */
  conditionalCreate(type: string): boolean;
  /** `conditionalUpdate: true` (PUT Type?criteria). */
  conditionalUpdate(type: string): boolean;
  /** `versioning: versioned-update`: the server checks If-Match on update (http.html#concurrency). */
  versionedUpdate(type: string): boolean;
  /** A Subscription with a rest-hook channel can be created. */
  restHookSubscriptions(): boolean;
}

export function readCapabilities(cs: CapabilityStatement): ServerCapabilities {
  const server = cs.rest?.find((r) => r.mode === 'server') ?? cs.rest?.[0];
  const byType = new Map<string, CapabilityStatementRestResource>();
  for (const r of server?.resource ?? []) if (r.type) byType.set(r.type, r);
  // Parameters declared for the whole server (rest.searchParam) apply to every type.
  const serverParams = new Set((server?.searchParam ?? []).map((p) => p.name));
  const of = (type: string) => byType.get(type);
  return {
    fhirVersion: cs.fhirVersion,
    software: cs.software
      ? `${cs.software.name ?? ''}${cs.software.version ? ` ${cs.software.version}` : ''}`.trim()
      : undefined,
    has: (type) => byType.has(type),
    interaction: (type, code) => (of(type)?.interaction ?? []).some((i) => i.code === code),
    // Only what the statement lists counts, for the type or for the whole server (rest.searchParam).
    searchParam: (type, name) =>
      (of(type)?.searchParam ?? []).some((p) => p.name === name) ||
      (byType.has(type) && serverParams.has(name)),
    conditionalCreate: (type) => of(type)?.conditionalCreate === true,
    conditionalUpdate: (type) => of(type)?.conditionalUpdate === true,
    versionedUpdate: (type) => of(type)?.versioning === 'versioned-update',
    restHookSubscriptions: () => {
      const s = of('Subscription');
      return s !== undefined && (s.interaction ?? []).some((i) => i.code === 'create');
    },
  };
}
