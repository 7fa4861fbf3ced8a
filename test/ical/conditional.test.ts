import { describe, expect, it } from '@jest/globals';

import {
  ifNoneMatchMatches,
  isNotModified,
  lastModifiedSeconds,
  notModifiedSince,
} from '../../src/ical/conditional.js';

describe('conditional GET (RFC 9110 §13)', () => {
  const etag = 'W/"42-abc"';

  it('matches If-None-Match weakly, in a list, or with *', () => {
    expect(ifNoneMatchMatches('W/"42-abc"', etag)).toBe(true);
    expect(ifNoneMatchMatches('"42-abc"', etag)).toBe(true);
    expect(ifNoneMatchMatches('"1-x", W/"42-abc"', etag)).toBe(true);
    expect(ifNoneMatchMatches('*', etag)).toBe(true);
    expect(ifNoneMatchMatches('W/"43-abc"', etag)).toBe(false);
    expect(ifNoneMatchMatches(undefined, etag)).toBe(false);
  });

  it('rounds Last-Modified up to the second, but never past now', () => {
    expect(lastModifiedSeconds(10_200, 60_000)).toBe(11);
    expect(lastModifiedSeconds(10_200, 10_500)).toBe(10);
    expect(lastModifiedSeconds(10_000, 10_000)).toBe(10);
  });

  it('answers If-Modified-Since only when the change is covered by the date given', () => {
    const lm = 10_200;
    expect(notModifiedSince(new Date(11_000).toUTCString(), lm)).toBe(true);
    expect(notModifiedSince(new Date(10_000).toUTCString(), lm)).toBe(false);
    expect(notModifiedSince('not a date', lm)).toBe(false);
  });

  it('ignores If-Modified-Since when If-None-Match is present (§13.2.2)', () => {
    expect(
      isNotModified(
        { ifNoneMatch: 'W/"1-old"', ifModifiedSince: new Date(99_000).toUTCString() },
        etag,
        10_200,
      ),
    ).toBe(false);
    expect(isNotModified({ ifModifiedSince: new Date(99_000).toUTCString() }, etag, 10_200)).toBe(true);
    expect(isNotModified({}, etag, 10_200)).toBe(false);
  });
});
