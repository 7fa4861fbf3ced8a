import { getSearchParameters } from '@medplum/core';
import type { CapabilityStatement, CapabilityStatementRestResource } from '@medplum/fhirtypes';

/** Search parameter types whose matching @medplum/core implements (search/match.ts). */
export const SUPPORTED_SEARCH_PARAM_TYPES = ['token', 'date', 'string', 'reference', 'uri'] as const;

/** Resource types the peer serves; any other type gets 404 (so Subscription is refused, not stored and ignored). */
export const PEER_RESOURCE_TYPES = [
  'Patient',
  'Practitioner',
  'PractitionerRole',
  'Organization',
  'Location',
  'HealthcareService',
  'Schedule',
  'Slot',
  'Appointment',
  'Communication',
] as const;

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 1000;

export const PEER_DOCUMENTATION = [
  'passerelle test peer: Medplum @medplum/fhir-router 4.5.2 with an in-memory repository.',
  `Search: _count (default ${DEFAULT_PAGE_SIZE}, at most ${MAX_PAGE_SIZE}), paging through Bundle.link next/previous (by _offset),`,
  '_sort on any listed parameter, _total; token, date (eq ne gt lt ge le sa eb ap), string (matches anywhere in the value, case-insensitive),',
  'reference and uri parameters; modifiers :missing and (token) :not. Unsupported: _include, _revinclude, _elements, _summary, chaining, _has,',
  'other modifiers (answered 400 not-supported). Versions: meta.versionId is an opaque id, compared only for equality (ETag W/"<versionId>").',
  'Not supported: batch/transaction, PATCH, type- and system-level _history, Subscription, SMART authorization.',
].join(' ');

/** What the CapabilityStatement lists beyond the defaults (FhirPeerOptions). */
export interface PeerFeatures {
  /** Instance `_history` and vread (default true); false lists neither. */
  readonly history?: boolean;
}

function resourceEntry(type: string, features: PeerFeatures): CapabilityStatementRestResource {
  const history = features.history ?? true;
  const params = getSearchParameters(type) ?? {};
  const searchParam = Object.values(params)
    .filter((p) => (SUPPORTED_SEARCH_PARAM_TYPES as readonly string[]).includes(p.type ?? ''))
    .map((p) => ({ name: p.code ?? '', type: p.type ?? 'token', ...(p.url && { definition: p.url }) }))
    .sort((a, b) => a.name.localeCompare(b.name));
  return {
    type: type as CapabilityStatementRestResource['type'],
    interaction: [
      { code: 'read' },
      ...(history ? [{ code: 'vread' as const }] : []),
      { code: 'update' },
      { code: 'delete' },
      ...(history ? [{ code: 'history-instance' as const }] : []),
      { code: 'create' },
      { code: 'search-type' },
    ],
    // FHIR R4 CapabilityStatement: If-Match honoured on update (versioned-update), update on a
    // new id creates it, If-None-Exist, conditional update and single-match conditional delete.
    versioning: 'versioned-update',
    readHistory: history,
    updateCreate: true,
    conditionalCreate: true,
    conditionalRead: 'not-match',
    conditionalUpdate: true,
    conditionalDelete: 'single',
    referencePolicy: ['literal', 'local'],
    searchParam,
  };
}

/** A CapabilityStatement that lists exactly what the peer answers correctly (each item has a test). */
export function buildCapabilityStatement(
  baseUrl: string,
  resourceTypes: readonly string[],
  now: Date,
  features: PeerFeatures = {},
): CapabilityStatement {
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: now.toISOString(),
    kind: 'instance',
    publisher: 'passerelle',
    software: { name: 'passerelle-fhir-peer (Medplum fhir-router)', version: '4.5.2' },
    implementation: { description: 'passerelle FHIR R4 test peer', url: baseUrl },
    fhirVersion: '4.0.1',
    format: ['json'],
    rest: [
      {
        mode: 'server',
        documentation: PEER_DOCUMENTATION,
        resource: resourceTypes.map((t) => resourceEntry(t, features)),
      },
    ],
  };
}
