/** Hostile inputs for the tests of issue 16, point 8 (clean failures). */

/** A YAML alias bomb ("billion laughs"): nine levels of nine aliases each, 9^9 strings once expanded. */
export function aliasBomb(levels = 9): string {
  const lines = ['l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (let i = 1; i < levels; i++)
    lines.push(
      `l${i}: &l${i} [${Array(9)
        .fill(`*l${i - 1}`)
        .join(',')}]`,
    );
  return `${lines.join('\n')}\n`;
}

/** JSON text of `depth` nested objects `{"a": …}` around `leaf`. */
export const nestedJson = (depth: number, leaf = '"x"'): string =>
  `${'{"a":'.repeat(depth)}${leaf}${'}'.repeat(depth)}`;
