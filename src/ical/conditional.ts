/**
 * Conditional GET (RFC 9110 §13): a calendar app that already holds the current content gets a
 * 304 without the feed being rendered.
 */

/** RFC 9110 §13.1.2: weak comparison, `*` matches any current representation. */
export function ifNoneMatchMatches(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  const bare = (t: string) => t.trim().replace(/^W\//, '');
  const mine = bare(etag);
  return header.split(',').some((t) => t.trim() === '*' || bare(t) === mine);
}

/**
 * The Last-Modified to send, in whole seconds (HTTP dates have no fraction). Rounded *up*, so a
 * client echoing it in If-Modified-Since covers the change itself; but never later than now,
 * since a change in the current second could still be followed by another in the same second
 * (RFC 9110 §8.8.2.2). In that case the earlier value only costs the client one more 200.
 */
export function lastModifiedSeconds(lastModifiedMs: number, nowMs: number): number {
  return Math.min(Math.ceil(lastModifiedMs / 1000), Math.floor(nowMs / 1000));
}

/** RFC 9110 §13.1.3, evaluated only without If-None-Match (§13.2.2). */
export function notModifiedSince(header: string | undefined, lastModifiedMs: number): boolean {
  if (header === undefined) return false;
  const since = Date.parse(header);
  return !Number.isNaN(since) && lastModifiedMs <= since;
}

/** Whether to answer 304, given the request's validators. */
export function isNotModified(
  headers: { ifNoneMatch?: string | undefined; ifModifiedSince?: string | undefined },
  etag: string,
  lastModifiedMs: number,
): boolean {
  if (headers.ifNoneMatch !== undefined) return ifNoneMatchMatches(headers.ifNoneMatch, etag);
  return notModifiedSince(headers.ifModifiedSince, lastModifiedMs);
}
