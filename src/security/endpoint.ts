/**
 * A link's sealed secrets (tokens, passwords, HMAC keys) were given for one endpoint. Whoever
 * may edit a link must not be able to point it elsewhere and let the service hand those
 * secrets to a server of their choosing (issue 16): when the endpoint changes, the secrets go
 * unless the same request supplies them again.
 */

/** Config keys that say where the link connects or listens (URLs, hosts, ports, TLS names). */
const ENDPOINT_KEY = /(url|uri|endpoint|host|hostname|port|servername)$/i;

/** Every endpoint-bearing leaf of a link's config, by its dotted path. */
export function endpointOf(config: unknown, prefix = 'config'): Map<string, string> {
  const found = new Map<string, string>();
  const walk = (value: unknown, path: string, key: string) => {
    if (value !== null && typeof value === 'object') {
      for (const [k, v] of Object.entries(value as Record<string, unknown>))
        walk(v, Array.isArray(value) ? `${path}[${k}]` : `${path}.${k}`, Array.isArray(value) ? key : k);
      return;
    }
    if (ENDPOINT_KEY.test(key) && value !== undefined) found.set(path, JSON.stringify(value));
  };
  walk(config, prefix, '');
  return found;
}

/** The endpoint paths whose value differs between two configs (added, removed or changed), sorted. */
export function endpointChanges(before: unknown, after: unknown): string[] {
  const a = endpointOf(before);
  const b = endpointOf(after);
  const paths = new Set([...a.keys(), ...b.keys()]);
  return [...paths].filter((p) => a.get(p) !== b.get(p)).sort();
}
