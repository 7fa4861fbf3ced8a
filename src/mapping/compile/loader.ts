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
import { dirname, join, resolve as resolvePath } from 'node:path';

import { isMap, isScalar, LineCounter, type Node, parseDocument } from 'yaml';
import type { z } from 'zod';

import { type ErrorCode, type ErrorIssue, formatIssues, PasserelleError } from '../../errors.js';
import { didYouMean } from '../../util/suggest.js';
import { yamlToJs } from '../../util/yaml-aliases.js';
import { compileProfile, formatProfilePath, type ProfilePath } from './compile.js';
import {
  type Composite,
  EXTENDS_DEPTH_LIMIT,
  mergeChild,
  type MergeIssue,
  rootComposite,
} from './extends.js';
import type { MappingPlan } from './plan.js';
import { MappingProfile, profileJsonSchema } from './schema.js';
import { mappingsDir, shippedProfileNames } from './shipped.js';

export interface MappingIssue extends ErrorIssue {
  readonly severity: 'error' | 'warning';
  readonly code: ErrorCode;
}

export type LoadResult =
  | { readonly ok: true; readonly plan: MappingPlan; readonly warnings: readonly MappingIssue[] }
  | { readonly ok: false; readonly issues: readonly MappingIssue[] };

export interface LoadOptions {
  /** Name shown in locations (`mappings/x.yaml`); defaults to the file path, or `profile`. */
  readonly label?: string;
  /**
   * Folder a relative `extends: ./site.yaml` resolves against (loadProfile: the file's folder).
   * Without one (a profile given as text through the API), only shipped profiles can be extended.
   */
  readonly baseDir?: string;
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
      else if (typeof p === 'string' && typeof a.additionalProperties === 'object')
        next = a.additionalProperties;
      if (next) break;
    }
    node = next;
  }
  const alts = node ? [node, ...(node.anyOf ?? []), ...(node.oneOf ?? [])] : [];
  return alts.flatMap((a) => Object.keys(a.properties ?? {}));
}

function zodMessage(i: z.core.$ZodIssue): string {
  if (i.code === 'invalid_type')
    return /received undefined/.test(i.message) ? `is required (${i.expected})` : `expected ${i.expected}`;
  if (i.code === 'invalid_value' && 'values' in i) return `must be one of ${i.values.map(String).join(', ')}`;
  if (i.code === 'invalid_union') return 'has the wrong type (see mappings/schema.json)';
  return i.message.replace(/^Invalid (input|option): /, '');
}

type Obj = Record<string, unknown>;

/** One profile text of a chain: its data and how to find a path in it. */
interface Layer {
  readonly label: string;
  readonly text: string;
  readonly data: Obj;
  /** Folder its relative `extends: ./x.yaml` resolves against; undefined for text (API). */
  readonly baseDir: string | undefined;
  /** Position of the node at `path` (or of its key), else of its closest parent. */
  readonly locate: (path: readonly PropertyKey[], onKey: boolean) => string;
}

function parseLayer(
  text: string,
  label: string,
  baseDir: string | undefined,
): { ok: true; layer: Layer } | { ok: false; issues: MappingIssue[] } {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const loc = (offset: number | undefined) => {
    if (offset === undefined) return label;
    const p = lc.linePos(offset);
    return `${label}:${p.line}:${p.col}`;
  };
  // Only the first syntax error: the parser's later ones are usually consequences of it.
  const syntax = doc.errors[0];
  if (syntax) {
    const more =
      doc.errors.length > 1
        ? ` (the ${doc.errors.length - 1} later syntax error${doc.errors.length > 2 ? 's' : ''} may follow from it)`
        : '';
    return {
      ok: false,
      issues: [
        {
          severity: 'error',
          code: 'ERR_MAPPING_YAML',
          path: '(yaml)',
          message: `${syntax.message.split('\n')[0] ?? 'YAML syntax error'}${more}`,
          location: loc(syntax.pos[0]),
        },
      ],
    };
  }
  const js = yamlToJs(doc);
  if (!js.ok)
    return {
      ok: false,
      issues: [
        {
          severity: 'error',
          code: 'ERR_MAPPING_YAML',
          path: '(yaml)',
          message: js.message,
          location: loc(js.offset),
        },
      ],
    };
  const data = js.value;
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    return {
      ok: false,
      issues: [
        {
          severity: 'error',
          code: 'ERR_MAPPING_YAML',
          path: '(profile)',
          message: 'a profile is a mapping of keys (protocol, version, resource sections…)',
          location: loc(doc.contents?.range?.[0] ?? 0),
        },
      ],
    };
  }
  const locate = (path: readonly PropertyKey[], onKey: boolean): string => {
    for (let n = path.length; n >= 0; n--) {
      const sub = path.slice(0, n);
      if (onKey && n === path.length && n > 0) {
        const parent = doc.getIn(sub.slice(0, -1), true);
        if (isMap(parent)) {
          const pair = parent.items.find(
            (p) => isScalar(p.key) && String(p.key.value) === String(sub[sub.length - 1]),
          );
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
  return { ok: true, layer: { label, text, data: data as Obj, baseDir, locate } };
}

/** A profile and the profiles it extends, merged; undefined when any layer is unusable. */
interface Chain {
  /** Root first; the last is the profile being loaded. */
  readonly layers: readonly Layer[];
  readonly composite: Composite;
}

/** Where `extends: <ref>` points: a shipped profile by name, or a file beside the child. */
function resolveParent(
  ref: string,
  child: Layer,
): { ok: true; id: string; text: string; label: string; baseDir: string } | { ok: false; message: string } {
  if (/\.ya?ml$/.test(ref) || ref.includes('/')) {
    if (child.baseDir === undefined)
      return {
        ok: false,
        message: `${ref}: a profile given as text (stored through the API) extends a shipped profile, by name (${shippedProfileNames().join(', ')})`,
      };
    const file = resolvePath(child.baseDir, ref);
    try {
      // Named as the child is (mappings/examples/x.yaml + ../site.yaml → mappings/site.yaml).
      return {
        ok: true,
        id: file,
        text: readFileSync(file, 'utf8'),
        label: join(dirname(child.label), ref),
        baseDir: dirname(file),
      };
    } catch (e) {
      return {
        ok: false,
        message: `cannot read the parent profile ${ref}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
      };
    }
  }
  const names = shippedProfileNames();
  if (!names.includes(ref))
    return {
      ok: false,
      message: `unknown parent profile ${ref}${didYouMean(ref, names)}; shipped profiles: ${names.join(', ')}; or a file such as ./${ref}.yaml`,
    };
  const file = join(mappingsDir(), `${ref}.yaml`);
  return {
    ok: true,
    id: file,
    text: readFileSync(file, 'utf8'),
    label: `mappings/${ref}.yaml`,
    baseDir: mappingsDir(),
  };
}

/**
 * Loads `layer` and, recursively, what it extends. `chain` holds the ids (file paths) of the
 * children already being loaded, the nearest last, for cycles and the depth limit.
 */
function loadChain(
  layer: Layer,
  id: string,
  chain: readonly { id: string; label: string }[],
  issues: MappingIssue[],
): Chain | undefined {
  const ref = layer.data.extends;
  const issue = (i: MergeIssue, layers: readonly Layer[]): MappingIssue => ({
    severity: 'error',
    code: i.code,
    path: formatProfilePath(i.at),
    message: i.message,
    location: (layers[i.layer] ?? layer).locate(i.at, i.onKey === true),
  });
  if (ref === undefined) {
    const root = rootComposite(layer.data);
    issues.push(...root.issues.map((i) => issue(i, [layer])));
    return root.issues.length > 0 ? undefined : { layers: [layer], composite: root.composite };
  }
  const refuse = (code: ErrorCode, message: string) => {
    issues.push({
      severity: 'error',
      code,
      path: 'extends',
      message,
      location: layer.locate(['extends'], false),
    });
    return undefined;
  };
  if (typeof ref !== 'string' || ref === '')
    return refuse(
      'ERR_MAPPING_SCHEMA',
      'extends is the name of a shipped profile or a profile file (./site.yaml)',
    );
  const parent = resolveParent(ref, layer);
  if (!parent.ok) return refuse('ERR_MAPPING_EXTENDS', parent.message);
  const here = [...chain, { id, label: layer.label }];
  const seen = here.findIndex((c) => c.id === parent.id);
  if (seen >= 0)
    return refuse(
      'ERR_MAPPING_EXTENDS',
      `extends cycle: ${[...here.slice(seen).map((c) => c.label), parent.label].join(' → ')}`,
    );
  if (here.length > EXTENDS_DEPTH_LIMIT)
    return refuse(
      'ERR_MAPPING_EXTENDS',
      `extends goes more than ${EXTENDS_DEPTH_LIMIT} profiles deep: ${[...here.map((c) => c.label), parent.label].join(' → ')}`,
    );
  const parsed = parseLayer(parent.text, parent.label, parent.baseDir);
  if (!parsed.ok) {
    issues.push(...parsed.issues);
    if (chain.length > 0) return undefined;
    return refuse(
      'ERR_MAPPING_EXTENDS',
      `the parent profile ${ref} is invalid (its issues are listed with it)`,
    );
  }
  const before = issues.length;
  const up = loadChain(parsed.layer, parent.id, here, issues);
  if (!up) {
    // Said once, by the profile being loaded; each parent's own issues are listed with it.
    if (issues.length === before || chain.length > 0) return undefined;
    return refuse(
      'ERR_MAPPING_EXTENDS',
      `the parent profile ${ref} is invalid (its issues are listed with it)`,
    );
  }
  const layers = [...up.layers, layer];
  const parentName = typeof up.composite.data.name === 'string' ? up.composite.data.name : ref;
  const merged = mergeChild(up.composite, layer.data, layers.length - 1, parentName);
  issues.push(...merged.map((i) => issue(i, layers)));
  return merged.length > 0 ? undefined : { layers, composite: up.composite };
}

/**
 * Parses, checks and compiles a profile from its text, with the profiles it extends. Never
 * throws for a bad profile: the result lists the issues, each in the file that has it.
 */
export function loadProfileText(text: string, options: LoadOptions = {}): LoadResult {
  return loadText(text, options, `(text) ${options.label ?? 'profile'}`);
}

/** `id` names the text in the extends chain (its file path), for cycles. */
function loadText(text: string, options: LoadOptions, id: string): LoadResult {
  const label = options.label ?? 'profile';
  const first = parseLayer(text, label, options.baseDir);
  if (!first.ok) return { ok: false, issues: first.issues };
  const issues: MappingIssue[] = [];
  const chain = loadChain(first.layer, id, [], issues);
  if (!chain) return { ok: false, issues: sortIssues(issues, [label]) };
  const { layers, composite } = chain;
  const labels = layers.map((l) => l.label).reverse();
  /** Where an issue at a path of the merged profile is, in the file that wrote it. */
  const locate = (path: readonly PropertyKey[], onKey: boolean): string => {
    const o = composite.originOf(path as ProfilePath);
    return (layers[o.layer] ?? first.layer).locate(o.path, onKey);
  };

  const parsed = MappingProfile.safeParse(composite.data);
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
      const onKey =
        i.code === 'invalid_key' ||
        (i.code === 'invalid_format' && i.path.length > 0 && String(i.path[i.path.length - 1]).includes('^'));
      issues.push({
        severity: 'error',
        code: 'ERR_MAPPING_SCHEMA',
        path: formatProfilePath(i.path as ProfilePath),
        message: zodMessage(i),
        location: locate(i.path, onKey),
      });
    }
    return { ok: false, issues: sortIssues(issues, labels) };
  }

  const layerName = (l: Layer) => (typeof l.data.name === 'string' ? l.data.name : l.label);
  const composed = layers.length > 1;
  // A profile that extends others is versioned by all their texts: a parent's change is its change.
  const hashed = composed ? layers.map((l) => l.text).join('\n---\n') : text;
  const { plan, issues: compileIssues } = compileProfile(parsed.data, hashed, label, {
    ...(composed && {
      originOf: (at: ProfilePath) => layerName(layers[composite.originOf(at).layer] ?? first.layer),
      parents: layers.slice(0, -1).map(layerName).reverse(),
    }),
  });
  for (const i of compileIssues) {
    issues.push({
      severity: i.severity,
      code: i.code,
      path: formatProfilePath(i.at),
      message: i.message,
      location: locate(i.at, i.onKey === true),
    });
  }
  const sorted = sortIssues(issues, labels);
  const errors = sorted.filter((i) => i.severity === 'error');
  if (!plan || errors.length > 0) return { ok: false, issues: sorted };
  return { ok: true, plan, warnings: sorted };
}

/** The profile's own file first, then its parents'; file order within each. */
function sortIssues(issues: readonly MappingIssue[], labels: readonly string[]): MappingIssue[] {
  const pos = (i: MappingIssue) => {
    const m = /^(.*):(\d+):(\d+)$/.exec(i.location ?? '');
    if (!m) return Number.MAX_SAFE_INTEGER;
    const file = labels.indexOf(m[1] as string);
    return (file < 0 ? labels.length : file) * 1e11 + Number(m[2]) * 100_000 + Number(m[3]);
  };
  // Issues without a position keep their place at the end (the sort is stable).
  return [...issues].sort((a, b) => pos(a) - pos(b));
}

/** Reads and loads a profile file; a missing file is an ERR_MAPPING_YAML issue. */
export function loadProfile(file: string, options: LoadOptions = {}): LoadResult {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    return {
      ok: false,
      issues: [
        {
          severity: 'error',
          code: 'ERR_MAPPING_YAML',
          path: '(file)',
          message: `cannot read the profile: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
          location: options.label ?? file,
        },
      ],
    };
  }
  return loadText(
    text,
    { label: options.label ?? file, baseDir: options.baseDir ?? dirname(resolvePath(file)) },
    resolvePath(file),
  );
}

/** The loaded plan, or ERR_MAPPING_INVALID carrying every issue. */
export function requirePlan(result: LoadResult): MappingPlan {
  if (result.ok) return result.plan;
  const errors = result.issues.filter((i) => i.severity === 'error');
  const first = errors[0] as MappingIssue;
  throw new PasserelleError(
    'ERR_MAPPING_INVALID',
    `invalid mapping profile: ${formatIssues([first])}${errors.length > 1 ? ` (and ${errors.length - 1} more)` : ''}`,
    { issues: result.issues },
  );
}
