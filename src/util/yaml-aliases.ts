/**
 * YAML documents to plain values with aliases bounded. An alias bomb ("billion laughs": anchors
 * whose aliases nest, each level multiplying the size) makes `toJS` build, or the code walking
 * its result visit, exponentially many nodes. The `yaml` package refuses such a document when
 * `maxAliasCount` is exceeded (its `Alias.resolve`), but throws a bare ReferenceError without a
 * position; this module turns that, and an alias to no anchor, into a message and the offset of
 * the alias that tripped it, for the file:line:column of config and mapping-profile errors.
 */
import { type Document, isAlias, isCollection, isPair, type Node, visit } from 'yaml';

/** The `yaml` package's own default; a hand-written profile or config uses a handful at most. */
export const YAML_MAX_ALIAS_COUNT = 100;

export type YamlToJsResult =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly message: string; readonly offset: number };

/** `doc.toJS()` with aliases limited; a refusal names the alias at fault and where it is. */
export function yamlToJs(doc: Document, maxAliasCount = YAML_MAX_ALIAS_COUNT): YamlToJsResult {
  try {
    return { ok: true, value: doc.toJS({ maxAliasCount }) };
  } catch (e) {
    if (!(e instanceof ReferenceError)) throw e;
    return { ok: false, ...culprit(doc, maxAliasCount) };
  }
}

interface AnchorUse {
  count: number;
  aliasCount: number;
}

/**
 * Replays, in document order, the count `yaml` keeps per anchor (uses so far × how many
 * aliases one use expands to) and returns the first alias past the limit, or the first alias
 * whose anchor is not defined before it.
 */
function culprit(doc: Document, max: number): { message: string; offset: number } {
  const uses = new Map<Node, AnchorUse>();
  const expansion = (node: unknown): number => {
    if (isAlias(node)) {
      const source = node.resolve(doc);
      const use = source ? uses.get(source) : undefined;
      return use ? use.count * use.aliasCount : 0;
    }
    if (isCollection(node)) return Math.max(0, ...node.items.map(expansion));
    if (isPair(node)) return Math.max(expansion(node.key), expansion(node.value));
    return 1;
  };
  let found: { message: string; offset: number } | undefined;
  visit(doc, {
    Alias(_key, alias) {
      const offset = alias.range?.[0] ?? 0;
      const source = alias.resolve(doc);
      if (!source) {
        found = {
          message: `alias *${alias.source} refers to no anchor &${alias.source} defined before it`,
          offset,
        };
        return visit.BREAK;
      }
      const use = uses.get(source) ?? { count: 0, aliasCount: 0 };
      uses.set(source, use);
      use.count += 1;
      if (use.aliasCount === 0) use.aliasCount = expansion(source);
      if (use.count * use.aliasCount > max) {
        found = {
          message: `too many aliases: *${alias.source} here would expand past ${max} aliased nodes (an alias bomb); write the values out instead`,
          offset,
        };
        return visit.BREAK;
      }
      return undefined;
    },
  });
  return found ?? { message: `aliases expand past ${max} nodes`, offset: doc.contents?.range?.[0] ?? 0 };
}
