/**
 * Loading a profile: YAML text → schema check → compile, validate-then-apply. Every problem is
 * reported at once as `{ severity, code, path, message, location }` with `location` =
 * `file:line:column` of the offending key or value, e.g.
 *
 *   mappings/x.yaml:42:7 Appointment.fields[3].to: unknown canonical path Appointment.strat (did you mean start?)
 *
 * The YAML position lookup follows src/config/load.ts (yaml `parseDocument` + `LineCounter`).
 */
import { readFileSync } from 'node:fs';

import { isMap, isScalar, LineCounter, type Node, parseDocument } from 'yaml';
import type { z } from 'zod';

import { type ErrorCode, type ErrorIssue, formatIssues, PasserelleError } from '../errors.js';
import { didYouMean } from '../util/suggest.js';
import { yamlToJs } from '../util/yaml-aliases.js';
import { compileProfile, formatProfilePath, type ProfilePath } from './compile.js';
import type { MappingPlan } from './plan.js';
import { MappingProfile, profileJsonSchema } from './schema.js';

export interface MappingIssue extends ErrorIssue {
  readonly severity: 'error' | 'warning';
  readonly code: ErrorCode;
}

export type LoadResult = { readonly ok: true; readonly plan: MappingPlan; readonly warnings: readonly MappingIssue[] } | { readonly ok: false; readonly issues: readonly MappingIssue[] };

export interface LoadOptions {
  /** Name shown in locations (`mappings/x.yaml`); defaults to the file path, or `profile`. */
  readonly label?: string;
}

interface JsonNode {
  properties?: Record<string, JsonNode>;
  items?: JsonNode;
  additionalProperties?: JsonNode | boolean;
  anyOf?: JsonNode[];
  oneOf?: JsonNode[];
}
let jsonSchema: JsonNode | undefined;

/** The keys an object at `path` may have (for "did you mean" on unknown keys). */
function knownKeys(path: readonly PropertyKey[]): string[] {
  jsonSchema ??= profileJsonSchema() as JsonNode;
  let node: JsonNode | undefined = jsonSchema;
  for (const p of path) {
    if (!node) return [];
    const alts: JsonNode[] = [node, ...(node.anyOf ?? []), ...(node.oneOf ?? [])];
    let next: JsonNode | undefined;
    for (const a of alts) {
      if (typeof p === 'number' && a.items) next = a.items;
      else if (typeof p === 'string' && a.properties?.[p]) next = a.properties[p];
      else if (typeof p === 'string' && typeof a.additionalProperties === 'object') next = a.additionalProperties;
      if (next) break;
    }
    node = next;
  }
  const alts = node ? [node, ...(node.anyOf ?? []), ...(node.oneOf ?? [])] : [];
  return alts.flatMap((a) => Object.keys(a.properties ?? {}));
}

function zodMessage(i: z.core.$ZodIssue): string {
  if (i.code === 'invalid_type') return /received undefined/.test(i.message) ? `is required (${i.expected})` : `expected ${i.expected}`;
  if (i.code === 'invalid_value' && 'values' in i) return `must be one of ${i.values.map(String).join(', ')}`;
  if (i.code === 'invalid_union') return 'has the wrong type (see mappings/schema.json)';
  return i.message.replace(/^Invalid (input|option): /, '');
}

/**
 * Parses, checks and compiles a profile from its text. Never throws for a bad profile: the
 * result lists the issues. `source` names the profile in plan.source.
 */
export function loadProfileText(text: string, options: LoadOptions = {}): LoadResult {
  const label = options.label ?? 'profile';
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const issues: MappingIssue[] = [];
  const loc = (offset: number | undefined) => {
    if (offset === undefined) return label;
    const p = lc.linePos(offset);
    return `${label}:${p.line}:${p.col}`;
  };
  // Only the first syntax error: the parser's later ones are usually consequences of it.
  const syntax = doc.errors[0];
  if (syntax) {
    const more = doc.errors.length > 1 ? ` (the ${doc.errors.length - 1} later syntax error${doc.errors.length > 2 ? 's' : ''} may follow from it)` : '';
    issues.push({ severity: 'error', code: 'ERR_MAPPING_YAML', path: '(yaml)', message: `${syntax.message.split('\n')[0] ?? 'YAML syntax error'}${more}`, location: loc(syntax.pos[0]) });
  }
  if (issues.length > 0) return { ok: false, issues };
  const js = yamlToJs(doc);
  if (!js.ok) return { ok: false, issues: [{ severity: 'error', code: 'ERR_MAPPING_YAML', path: '(yaml)', message: js.message, location: loc(js.offset) }] };
  const data = js.value;
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    return { ok: false, issues: [{ severity: 'error', code: 'ERR_MAPPING_YAML', path: '(profile)', message: 'a profile is a mapping of keys (protocol, version, resource sections…)', location: loc(doc.contents?.range?.[0] ?? 0) }] };
  }

  /** Position of the node at `path` (or of its key), else of its closest parent. */
  const locate = (path: readonly PropertyKey[], onKey: boolean): string => {
    for (let n = path.length; n >= 0; n--) {
      const sub = path.slice(0, n);
      if (onKey && n === path.length && n > 0) {
        const parent = doc.getIn(sub.slice(0, -1), true);
        if (isMap(parent)) {
          const pair = parent.items.find((p) => isScalar(p.key) && String(p.key.value) === String(sub[sub.length - 1]));
          const range = (pair?.key as Node | undefined)?.range;
          if (range) return loc(range[0]);
        }
        continue;
      }
      const node = n === 0 ? doc.contents : (doc.getIn(sub, true) as Node | undefined);
      if (node && typeof node === 'object' && 'range' in node && node.range) return loc(node.range[0]);
    }
    return label;
  };

  const parsed = MappingProfile.safeParse(data);
  if (!parsed.success) {
    for (const i of parsed.error.issues) {
      if (i.code === 'unrecognized_keys') {
        for (const key of i.keys) {
          const path = [...i.path, key];
          issues.push({
            severity: 'error',
            code: 'ERR_MAPPING_UNKNOWN_KEY',
            path: formatProfilePath(path as ProfilePath),
            message: `unknown key ${key}${didYouMean(key, knownKeys(i.path))}`,
            location: locate(path, true),
          });
        }
        continue;
      }
      // A record whose key fails its pattern (propertyNames) points at the key.
      const onKey = i.code === 'invalid_key' || (i.code === 'invalid_format' && i.path.length > 0 && String(i.path[i.path.length - 1]).includes('^'));
      issues.push({ severity: 'error', code: 'ERR_MAPPING_SCHEMA', path: formatProfilePath(i.path as ProfilePath), message: zodMessage(i), location: locate(i.path, onKey) });
    }
    return { ok: false, issues };
  }

  const { plan, issues: compileIssues } = compileProfile(parsed.data, text, label);
  for (const i of compileIssues) {
    issues.push({ severity: i.severity, code: i.code, path: formatProfilePath(i.at), message: i.message, location: locate(i.at, i.onKey === true) });
  }
  // File order reads best; issues without a position keep their place at the end.
  const pos = (i: MappingIssue) => {
    const m = /:(\d+):(\d+)$/.exec(i.location ?? '');
    return m ? Number(m[1]) * 100_000 + Number(m[2]) : Number.MAX_SAFE_INTEGER;
  };
  issues.sort((a, b) => pos(a) - pos(b));
  const errors = issues.filter((i) => i.severity === 'error');
  if (!plan || errors.length > 0) return { ok: false, issues };
  return { ok: true, plan, warnings: issues };
}

/** Reads and loads a profile file; a missing file is an ERR_MAPPING_YAML issue. */
export function loadProfile(file: string, options: LoadOptions = {}): LoadResult {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    return { ok: false, issues: [{ severity: 'error', code: 'ERR_MAPPING_YAML', path: '(file)', message: `cannot read the profile: ${(e as NodeJS.ErrnoException).code ?? 'error'}`, location: options.label ?? file }] };
  }
  return loadProfileText(text, { label: options.label ?? file });
}

/** The loaded plan, or ERR_MAPPING_INVALID carrying every issue. */
export function requirePlan(result: LoadResult): MappingPlan {
  if (result.ok) return result.plan;
  const errors = result.issues.filter((i) => i.severity === 'error');
  const first = errors[0] as MappingIssue;
  throw new PasserelleError('ERR_MAPPING_INVALID', `invalid mapping profile: ${formatIssues([first])}${errors.length > 1 ? ` (and ${errors.length - 1} more)` : ''}`, { issues: result.issues });
}
