import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';

import { isMap, isScalar, LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';

import { type ErrorIssue, PasserelleError } from '../errors.js';
import { didYouMean } from '../util/suggest.js';
import { yamlToJs } from '../util/yaml-aliases.js';
import { Config, SECRET_PATHS } from './schema.js';

export const ENV_PREFIX = 'PASSERELLE_';
/** Variables with our prefix that are not config keys. */
// PASSERELLE_DEMO_DIR: where `serve --demo` keeps its data (src/demo), not a config key.
const NON_CONFIG_ENV = new Set(['PASSERELLE_CONFIG', 'PASSERELLE_PG_URL', 'PASSERELLE_DEMO_DIR']);

export interface LoadConfigOptions {
  /** Config file path; else PASSERELLE_CONFIG; else ./passerelle.yaml if it exists; else defaults only. */
  readonly file?: string;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly cwd?: string;
}

export interface LoadedConfig {
  readonly config: Config;
  /** The file read, if any. */
  readonly file: string | undefined;
  /** Environment variables that overrode a key (names only; values may be secrets). */
  readonly envOverrides: readonly string[];
}

type LeafType = 'string' | 'number' | 'integer' | 'boolean';
interface Leaf {
  readonly path: readonly string[];
  readonly type: LeafType;
  readonly env: string;
}

const snake = (s: string) => s.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
export const envName = (path: readonly string[]) => ENV_PREFIX + path.map(snake).join('_');

interface JsonSchemaNode {
  type?: string | string[];
  properties?: Record<string, JsonSchemaNode>;
  enum?: unknown[];
  anyOf?: JsonSchemaNode[];
}

/** Every leaf key of the schema with its type, from the schema's JSON Schema form. */
export function configLeaves(): Leaf[] {
  const root = z.toJSONSchema(Config, { io: 'input', unrepresentable: 'any' }) as JsonSchemaNode;
  const out: Leaf[] = [];
  const walk = (node: JsonSchemaNode, path: string[]) => {
    if (node.properties) {
      for (const [k, child] of Object.entries(node.properties)) walk(child, [...path, k]);
      return;
    }
    const t = Array.isArray(node.type) ? node.type[0] : node.type;
    const type: LeafType = t === 'number' || t === 'integer' || t === 'boolean' ? t : 'string';
    out.push({ path, type, env: envName(path) });
  };
  walk(root, []);
  return out;
}

function coerce(raw: string, type: LeafType): unknown {
  if (type === 'boolean')
    return raw === 'true' || raw === '1' ? true : raw === 'false' || raw === '0' ? false : raw;
  if (type === 'number' || type === 'integer')
    return raw.trim() !== '' && !Number.isNaN(Number(raw)) ? Number(raw) : raw;
  return raw;
}

function setIn(obj: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let cur = obj;
  for (const key of path.slice(0, -1)) {
    const next = cur[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) cur[key] = {};
    cur = cur[key] as Record<string, unknown>;
  }
  cur[path[path.length - 1] as string] = value;
}

function describeValue(path: string, value: unknown): string {
  if (SECRET_PATHS.includes(path)) return '(secret)';
  return JSON.stringify(value);
}

function getIn(obj: unknown, path: readonly PropertyKey[]): unknown {
  let cur = obj;
  for (const k of path) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[k];
  }
  return cur;
}

/**
 * Reads the file, applies environment overrides, validates everything, and either returns a
 * complete config or throws ERR_CONFIG_INVALID listing every problem at once, each naming the
 * key, the value's problem and where it came from (file:line:column or the variable).
 */
export function loadConfig(options: LoadConfigOptions = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const explicit = options.file ?? env['PASSERELLE_CONFIG'];
  const file = explicit
    ? resolve(cwd, explicit)
    : existsSync(resolve(cwd, 'passerelle.yaml'))
      ? resolve(cwd, 'passerelle.yaml')
      : undefined;

  const issues: ErrorIssue[] = [];
  let data: Record<string, unknown> = {};
  const lineCounter = new LineCounter();
  let doc: ReturnType<typeof parseDocument> | undefined;
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new PasserelleError(
        'ERR_CONFIG_FILE_UNREADABLE',
        `cannot read config file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
        { cause: e },
      );
    }
    doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
    for (const err of doc.errors) {
      const pos = lineCounter.linePos(err.pos[0]);
      issues.push({
        path: '(yaml)',
        message: err.message.split('\n')[0] ?? 'YAML syntax error',
        location: `${file}:${pos.line}:${pos.col}`,
      });
    }
    const converted = issues.length === 0 ? yamlToJs(doc) : undefined;
    if (converted && !converted.ok) {
      const pos = lineCounter.linePos(converted.offset);
      issues.push({ path: '(yaml)', message: converted.message, location: `${file}:${pos.line}:${pos.col}` });
    } else if (converted) {
      const js = converted.value;
      if (js !== null && js !== undefined && (typeof js !== 'object' || Array.isArray(js))) {
        issues.push({ path: '(root)', message: 'the config file must be a mapping of keys', location: file });
      } else data = (js ?? {}) as Record<string, unknown>;
    }
  }

  const leaves = configLeaves();
  const byEnv = new Map(leaves.map((l) => [l.env, l]));
  const fromEnv = new Map<string, string>();
  const envOverrides: string[] = [];
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || raw === undefined || NON_CONFIG_ENV.has(name)) continue;
    const isFile = name.endsWith('_FILE') && byEnv.has(name.slice(0, -5));
    const leaf = byEnv.get(isFile ? name.slice(0, -5) : name);
    if (!leaf) {
      issues.push({
        path: name,
        message: `unknown environment variable${didYouMean(name, byEnv.keys())}`,
        location: 'environment',
      });
      continue;
    }
    const dotted = leaf.path.join('.');
    let value = raw;
    if (isFile) {
      if (!SECRET_PATHS.includes(dotted)) {
        issues.push({
          path: name,
          message: `${dotted} is not a secret; set ${leaf.env} directly`,
          location: 'environment',
        });
        continue;
      }
      try {
        value = readFileSync(resolve(cwd, raw), 'utf8').trim();
      } catch (e) {
        issues.push({
          path: name,
          message: `cannot read ${raw}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
          location: 'environment',
        });
        continue;
      }
    }
    setIn(data, leaf.path, coerce(value, leaf.type));
    fromEnv.set(dotted, name);
    envOverrides.push(name);
  }

  const parsed = Config.safeParse(data);
  if (!parsed.success) {
    for (const i of parsed.error.issues) {
      const keys = i.code === 'unrecognized_keys' ? i.keys.map((k) => [...i.path, k]) : [i.path];
      for (const keyPath of keys) {
        const dotted = keyPath.map(String).join('.');
        let message: string;
        if (i.code === 'unrecognized_keys') {
          const parent = getIn(
            z.toJSONSchema(Config, { io: 'input', unrepresentable: 'any' }) as JsonSchemaNode,
            i.path.flatMap((p) => ['properties', p]),
          ) as JsonSchemaNode | undefined;
          message = `unknown key${didYouMean(String(keyPath[keyPath.length - 1]), Object.keys(parent?.properties ?? {}))}`;
        } else {
          const value = getIn(data, keyPath);
          const text = i.message.replace(/^Invalid (input|option): /, '').replace(/, received \w+$/, '');
          message = value === undefined ? text : `${text}, got ${describeValue(dotted, value)}`;
        }
        const envVar = fromEnv.get(dotted);
        let location: string | undefined;
        if (envVar) location = `environment ${envVar}`;
        else if (doc && file) {
          const node = doc.getIn(keyPath, true);
          const pair =
            i.code === 'unrecognized_keys' && isMap(doc.getIn(i.path, true))
              ? (doc.getIn(i.path, true) as { items: { key: unknown }[] }).items.find(
                  (p) => isScalar(p.key) && p.key.value === keyPath[keyPath.length - 1],
                )?.key
              : undefined;
          const range =
            (pair as { range?: [number] } | undefined)?.range ??
            (node as { range?: [number] } | undefined)?.range;
          if (range) {
            const pos = lineCounter.linePos(range[0]);
            location = `${file}:${pos.line}:${pos.col}`;
          } else location = file;
        }
        issues.push({ path: dotted || '(root)', message, ...(location !== undefined && { location }) });
      }
    }
  }

  if (issues.length > 0) {
    const first = issues[0] as ErrorIssue;
    throw new PasserelleError(
      'ERR_CONFIG_INVALID',
      `invalid configuration: ${first.location ? `${first.location} ` : ''}${first.path}: ${first.message}${issues.length > 1 ? ` (and ${issues.length - 1} more)` : ''}`,
      { issues },
    );
  }
  return { config: (parsed as { data: Config }).data, file, envOverrides };
}
