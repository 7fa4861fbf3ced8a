/**
 * References between records travel in each side's own ids (`Patient/<peer id>`); the engine
 * rewrites them to canonical ids on the way in and to the target's ids on the way out, through
 * the identity map. Only kinds the engine syncs are rewritten; other references (Location,
 * RelatedPerson…) pass through untouched.
 */
import { RESOURCE_KINDS, type ResourceKind } from '../model/resources.js';

const REF = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/;
const KINDS: ReadonlySet<string> = new Set(RESOURCE_KINDS);

export interface RecordRef {
  readonly kind: ResourceKind;
  readonly id: string;
}

export function parseRef(reference: unknown): RecordRef | undefined {
  if (typeof reference !== 'string') return undefined;
  const m = REF.exec(reference);
  if (!m || !KINDS.has(m[1] as string)) return undefined;
  return { kind: m[1] as ResourceKind, id: m[2] as string };
}

/** Every synced-kind reference inside a value, depth first. */
export function collectRefs(value: unknown, out: RecordRef[] = []): RecordRef[] {
  if (Array.isArray(value)) for (const v of value) collectRefs(v, out);
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === 'reference') {
        const ref = parseRef(v);
        if (ref) out.push(ref);
      } else collectRefs(v, out);
    }
  }
  return out;
}

function mapRefs(value: unknown, map: ReadonlyMap<string, string>): unknown {
  if (Array.isArray(value)) return value.map((v) => mapRefs(v, map));
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (k === 'reference' && typeof v === 'string') out[k] = map.get(v) ?? v;
    else out[k] = mapRefs(v, map);
  }
  return out;
}

/**
 * Rewrites references with `resolve` (returns the id on the other side, or undefined when
 * unknown). Returns the rewritten value and the references that could not be resolved; those
 * are left as they were.
 */
export async function rewriteRefs<T>(
  value: T,
  resolve: (ref: RecordRef) => Promise<string | undefined>,
): Promise<{ value: T; missing: RecordRef[] }> {
  const refs = collectRefs(value);
  if (refs.length === 0) return { value, missing: [] };
  const map = new Map<string, string>();
  const missing: RecordRef[] = [];
  for (const ref of refs) {
    const key = `${ref.kind}/${ref.id}`;
    if (map.has(key) || missing.some((m) => m.kind === ref.kind && m.id === ref.id)) continue;
    const target = await resolve(ref);
    if (target === undefined) missing.push(ref);
    else map.set(key, `${ref.kind}/${target}`);
  }
  return { value: mapRefs(value, map) as T, missing };
}

/** The first reference of `kind` among `refs` (`participant.actor`, `Schedule.actor`…). */
export function firstRefOf(value: unknown, kind: ResourceKind): string | null {
  return collectRefs(value).find((r) => r.kind === kind)?.id ?? null;
}
