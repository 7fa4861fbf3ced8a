/**
 * Connectors by name (`link.connector` → definition): the only list of connectors. The shipped
 * list is src/app/connectors.ts (one line per folder under connectors/); tests build their own
 * registry with test-only connectors. Everything that needs to know which connectors exist
 * (link validation, the CLI's `simulate` and `link test`, the mapping layer's profile table)
 * reads it from here.
 */
import { PasserelleError } from '../errors.js';
import { type Protocol, PROTOCOLS } from '../mapping/compile/schema.js';
import type { ConnectorProfiles } from '../mapping/runtime.js';
import type { ResourceKind } from '../model/resources.js';
import type { ConnectorDefinition } from './contract.js';

/** A definition whatever its config type (config is validated by its own schema at start). */
export type AnyConnectorDefinition = ConnectorDefinition<unknown>;

export interface ConnectorRegistry {
  get(name: string): AnyConnectorDefinition | undefined;
  names(): string[];
  /** The definitions, in the order they were registered. */
  definitions(): readonly AnyConnectorDefinition[];
  /** Whether links using `connector` accept writes of `kind` (unknown connectors: no). */
  canPush(connector: string, kind: ResourceKind): boolean;
  /** What the mapping layer needs of the connectors that take a mapping profile. */
  profiles(): ConnectorProfiles;
}

const isProtocol = (p: string): p is Protocol => (PROTOCOLS as readonly string[]).includes(p);

export function createRegistry(definitions: readonly AnyConnectorDefinition[]): ConnectorRegistry {
  const byName = new Map<string, AnyConnectorDefinition>();
  const profiles = new Map<string, { protocol: Protocol; defaultProfile: string }>();
  for (const d of definitions) {
    if (byName.has(d.name))
      throw new PasserelleError('ERR_CONFIG_INVALID', `two connectors are named ${d.name}`);
    byName.set(d.name, d);
    if (d.defaultProfile !== undefined) {
      if (!isProtocol(d.protocol))
        throw new PasserelleError(
          'ERR_CONFIG_INVALID',
          `connector ${d.name} has a default mapping profile but protocol ${d.protocol} is not a mapping protocol (${PROTOCOLS.join(', ')})`,
        );
      profiles.set(d.name, { protocol: d.protocol, defaultProfile: d.defaultProfile });
    }
  }
  const list = [...byName.values()];
  return {
    get: (name) => byName.get(name),
    names: () => [...byName.keys()].sort(),
    definitions: () => list,
    canPush: (connector, kind) => byName.get(connector)?.capabilities.push.includes(kind) ?? false,
    profiles: () => profiles,
  };
}
