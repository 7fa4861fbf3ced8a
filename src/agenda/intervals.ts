/** Half-open intervals of epoch milliseconds, [start, end). */
export interface Interval {
  readonly start: number;
  readonly end: number;
}

export const overlaps = (a: Interval, b: Interval): boolean => a.start < b.end && b.start < a.end;
export const contains = (outer: Interval, inner: Interval): boolean =>
  outer.start <= inner.start && inner.end <= outer.end;

/** Sorted, merged (touching intervals joined), empty ones dropped. */
export function union(list: readonly Interval[]): Interval[] {
  const sorted = list.filter((i) => i.start < i.end).sort((a, b) => a.start - b.start || a.end - b.end);
  const out: Interval[] = [];
  for (const i of sorted) {
    const last = out[out.length - 1];
    if (last && i.start <= last.end)
      out[out.length - 1] = { start: last.start, end: Math.max(last.end, i.end) };
    else out.push({ start: i.start, end: i.end });
  }
  return out;
}

/** `from` minus every interval of `cut` (`cut` sorted and merged). */
export function subtract(from: Interval, cut: readonly Interval[]): Interval[] {
  const out: Interval[] = [];
  let cursor = from.start;
  for (const c of cut) {
    if (c.end <= cursor) continue;
    if (c.start >= from.end) break;
    if (c.start > cursor) out.push({ start: cursor, end: c.start });
    cursor = Math.max(cursor, c.end);
  }
  if (cursor < from.end) out.push({ start: cursor, end: from.end });
  return out;
}

/** Index of the first interval of a sorted, merged list that ends after `t` (binary search). */
export function firstEndingAfter(list: readonly Interval[], t: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((list[mid] as Interval).end <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The first interval of a sorted, merged list overlapping `i`, if any. */
export function firstOverlap(list: readonly Interval[], i: Interval): Interval | undefined {
  const k = firstEndingAfter(list, i.start);
  const c = list[k];
  return c !== undefined && c.start < i.end ? c : undefined;
}
