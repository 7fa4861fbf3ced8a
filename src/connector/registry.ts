/**
 * Connectors by name (`link.connector` → definition). The shipped list is
 * src/app/connectors.ts (one line per folder under connectors/); tests build their own
 * registry with test-only connectors.
 */
import { PasserelleError } from '../errors.js';
import type { ResourceKind } from '../model/resources.js';
import type { ConnectorDefinition } from './contract.js';

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
