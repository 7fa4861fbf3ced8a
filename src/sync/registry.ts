/**
 * Connectors by name (`link.connector` → definition). Each protocol folder under connectors/
 * adds one line to `defaultConnectorRegistry` (secretariat, fhir, hl7v2); tests build their
 * own registry with test-only connectors.
 */
import fhir from '../../connectors/fhir/index.js';
import hl7v2 from '../../connectors/hl7v2/index.js';
import secretariat from '../../connectors/secretariat/index.js';
import { PasserelleError } from '../errors.js';
import type { ResourceKind } from '../model/resources.js';
import type { ConnectorDefinition } from './connector.js';

/** A definition whatever its config type (config is validated by its own schema at start). */
export type AnyConnectorDefinition = ConnectorDefinition<unknown>;

export interface ConnectorRegistry {
  get(name: string): AnyConnectorDefinition | undefined;
  names(): string[];
  /** Whether links using `connector` accept writes of `kind` (unknown connectors: no). */
  canPush(connector: string, kind: ResourceKind): boolean;
}

export function createRegistry(definitions: readonly AnyConnectorDefinition[]): ConnectorRegistry {
  const byName = new Map<string, AnyConnectorDefinition>();
  for (const d of definitions) {
    if (byName.has(d.name)) throw new PasserelleError('ERR_CONFIG_INVALID', `two connectors are named ${d.name}`);
    byName.set(d.name, d);
  }
  return {
    get: (name) => byName.get(name),
    names: () => [...byName.keys()].sort(),
    canPush: (connector, kind) => byName.get(connector)?.capabilities.push.includes(kind) ?? false,
  };
}

/**
 * The connector definitions `passerelle serve` knows, one per protocol folder under connectors/.
 * Tests that need a test-only connector beside them build
 * `createRegistry([...defaultConnectorDefinitions(), theirs])`.
 */
export function defaultConnectorDefinitions(): AnyConnectorDefinition[] {
  // hl7v2 links translate through their mapping profile (connectors/hl7v2/profile-translator.ts);
  // a link whose profile cannot be loaded is reported failed with ERR_CONNECTOR_CONFIG_INVALID.
  return [secretariat as AnyConnectorDefinition, fhir as AnyConnectorDefinition, hl7v2 as AnyConnectorDefinition];
}

/** The registry `passerelle serve` uses. */
export function defaultConnectorRegistry(): ConnectorRegistry {
  return createRegistry(defaultConnectorDefinitions());
}
