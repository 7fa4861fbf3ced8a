/**
 * Which plan a link runs: its active custom version (PUT /api/v1/links/:id/mapping) if it has
 * one, else the shipped profile its `profile` names (mappings/<name>.yaml), else the
 * connector's default profile. Plans are compiled once per profile text (keyed by hash) and
 * reused; a profile is validated before it is stored, so an active version always compiles.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { PasserelleError } from '../errors.js';
import type { Store } from '../store/index.js';
import type { Link } from '../store/types.js';
import { didYouMean } from '../util/suggest.js';
import { loadProfileText, requirePlan } from './compile/loader.js';
import type { MappingPlan } from './compile/plan.js';
import type { Protocol } from './compile/schema.js';
import { mappingsDir, shippedProfileNames } from './compile/shipped.js';
import type { MappingContext } from './run/types.js';

/** What the mapping layer needs of a connector that translates through a mapping profile. */
export interface ConnectorProfile {
  /** The protocol its links' profiles must have. */
  readonly protocol: Protocol;
  /** The shipped profile a link runs when its `profile` is null. */
  readonly defaultProfile: string;
}

/**
 * Connector name → its profiles' protocol and default profile. The connectors are above this
 * layer: the app hands the table over, built from the connector registry (registry.profiles()).
 * A connector absent from it takes no mapping profile.
 */
export type ConnectorProfiles = ReadonlyMap<string, ConnectorProfile>;

export { mappingsDir, shippedProfileNames } from './compile/shipped.js';

const plans = new Map<string, MappingPlan>();
const PLAN_CACHE_LIMIT = 500;

/** Compiles (or reuses) the plan of a profile text; throws ERR_MAPPING_INVALID. */
export function planFromText(text: string, label: string): MappingPlan {
  const hash = createHash('sha256').update(text).digest('hex');
  const cached = plans.get(hash);
  if (cached) return cached;
  const plan = requirePlan(loadProfileText(text, { label }));
  if (plans.size >= PLAN_CACHE_LIMIT) plans.clear();
  plans.set(hash, plan);
  return plan;
}

/** The text of a shipped profile; ERR_NOT_FOUND with a suggestion for an unknown name. */
export function shippedProfileText(name: string): string {
  const names = shippedProfileNames();
  if (!names.includes(name))
    throw new PasserelleError(
      'ERR_NOT_FOUND',
      `no shipped mapping profile ${name}${didYouMean(name, names)}; shipped: ${names.join(', ')}`,
      { details: { profile: name } },
    );
  return readFileSync(join(mappingsDir(), `${name}.yaml`), 'utf8');
}

export function shippedPlan(name: string): MappingPlan {
  return planFromText(shippedProfileText(name), `mappings/${name}.yaml`);
}

export interface ActivePlan {
  readonly plan: MappingPlan;
  /** `custom`: a version stored for the link; `shipped`: mappings/<name>.yaml. */
  readonly source: 'custom' | 'shipped';
  /** The stored version, or null for a shipped profile. */
  readonly version: number | null;
  readonly hash: string;
  /** What toCanonical / fromCanonical need about the link: its practice's zone, test flag. */
  readonly context: MappingContext;
}

/** The name of the shipped profile a link runs when it has no custom version. */
export function shippedProfileOf(link: Link, profiles: ConnectorProfiles): string {
  const name = link.profile ?? profiles.get(link.connector)?.defaultProfile;
  if (!name)
    throw new PasserelleError('ERR_NOT_FOUND', `link ${link.id} (${link.connector}) has no mapping profile`, {
      details: { linkId: link.id },
    });
  return name;
}

/** The plan a link runs now, with its mapping context. */
export async function getActivePlan(
  store: Store,
  linkId: string,
  profiles: ConnectorProfiles,
): Promise<ActivePlan> {
  const link = await store.links.require(linkId);
  const practice = await store.practices.require(link.practiceId);
  const context: MappingContext = { timezone: practice.timezone, testLink: link.isTest };
  const custom = await store.mappingProfiles.active(linkId);
  if (custom) {
    const plan = planFromText(custom.yaml, `link ${linkId} v${custom.version}`);
    return { plan, source: 'custom', version: custom.version, hash: custom.hash, context };
  }
  const plan = shippedPlan(shippedProfileOf(link, profiles));
  return { plan, source: 'shipped', version: null, hash: plan.hash, context };
}

export interface MappingChange {
  readonly linkId: string;
  readonly version: number;
  readonly hash: string;
}
const listeners = new Set<(change: MappingChange) => void>();

/**
 * Calls `fn` after a link's profile changed in this process (PUT or rollback committed).
 * Components that keep a plan in memory reload it with getActivePlan; other processes sharing
 * a PostgreSQL store see the change on their next getActivePlan. Returns the unsubscribe.
 */
export function onMappingChange(fn: (change: MappingChange) => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export function notifyMappingChange(change: MappingChange): void {
  for (const fn of listeners) fn(change);
}
