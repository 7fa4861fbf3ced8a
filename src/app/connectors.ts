/**
 * The connectors `passerelle serve` ships: one line per protocol folder under connectors/.
 * Adding a protocol is one folder there and one line here.
 */
import fhir from '../../connectors/fhir/index.js';
import hl7v2 from '../../connectors/hl7v2/index.js';
import secretariat from '../../connectors/secretariat/index.js';
import {
  type AnyConnectorDefinition,
  type ConnectorRegistry,
  createRegistry,
} from '../connector/registry.js';

/**
 * The connector definitions `passerelle serve` knows, one per protocol folder under connectors/.
 * Tests that need a test-only connector beside them build
 * `createRegistry([...defaultConnectorDefinitions(), theirs])`.
 */
export function defaultConnectorDefinitions(): AnyConnectorDefinition[] {
  // hl7v2 links translate through their mapping profile (connectors/hl7v2/profile-translator.ts);
  // a link whose profile cannot be loaded is reported failed with ERR_CONNECTOR_CONFIG_INVALID.
  return [
    secretariat as AnyConnectorDefinition,
    fhir as AnyConnectorDefinition,
    hl7v2 as AnyConnectorDefinition,
  ];
}

/** The registry `passerelle serve` uses. */
export function defaultConnectorRegistry(): ConnectorRegistry {
  return createRegistry(defaultConnectorDefinitions());
}
