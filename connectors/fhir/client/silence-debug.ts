import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

export interface DebugModule {
  disable(): string | undefined;
  enable(namespaces: string): void;
}

// `debug` reads DEBUG once, when it is loaded. This module is imported before fhir-kit-client,
// so excluding its namespaces here keeps them off whatever DEBUG said (side effect on purpose).
const requested = process.env['DEBUG'];
if (requested && !requested.includes('-fhir-kit-client:*'))
  process.env['DEBUG'] = `${requested},-fhir-kit-client:*`;

/**
 * fhir-kit-client logs every request URL and header set, and every error with its body,
 * through `debug` namespaces `fhir-kit-client:*` whenever DEBUG enables them
 * (shared/libraries.md §2). Search URLs hold patient data and headers hold tokens, so those
 * namespaces are switched off here (at each client's creation, in case something re-enabled
 * them), keeping whatever else DEBUG enables. Returns the `debug` instance it silenced.
 */
export function silenceFhirKitDebug(): DebugModule | undefined {
  const require = createRequire(import.meta.url);
  // fhir-kit-client is ESM-only with an `import`-only export map, so locate its folder by hand
  // and load the `debug` instance it uses (its own nested copy, else the hoisted one).
  const dirs = require.resolve.paths('fhir-kit-client') ?? [];
  const home = dirs.find((d) => existsSync(join(d, 'fhir-kit-client', 'package.json')));
  if (home === undefined) return undefined;
  const nested = join(home, 'fhir-kit-client', 'node_modules', 'debug');
  const dir = existsSync(join(nested, 'package.json')) ? nested : join(home, 'debug');
  const debug = require(dir) as DebugModule;
  const current = debug.disable();
  const kept = (typeof current === 'string' ? current : (process.env['DEBUG'] ?? ''))
    .split(/[\s,]+/)
    .filter((ns) => ns && !ns.startsWith('fhir-kit-client'))
    .concat('-fhir-kit-client:*');
  debug.enable(kept.join(','));
  return debug;
}
