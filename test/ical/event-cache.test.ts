import { describe, expect, it } from '@jest/globals';

import { EventCache, type EventScopeKey } from '../../src/ical/event-cache.js';

const cab: EventScopeKey = { practiceId: 'cab', privacy: 'busy', zone: 'Europe/Paris', practiceWide: false };
const pr = { id: 'pr', version: 1 };
const pat = { id: 'pat', version: 4 };

describe('event cache', () => {
  it('answers only for the versions of the record, practitioner and patient the text was made from', () => {
    const scope = new EventCache(100).scope(cab);
    scope.set('a', 2, pr, pat, 'text a v2');
    expect(scope.get('a', 2, pr, pat)).toBe('text a v2');
    expect(scope.get('a', 3, pr, pat)).toBeUndefined();
    expect(scope.get('a', 1, pr, pat)).toBeUndefined();
    expect(scope.get('a', 2, { id: 'pr', version: 2 }, pat)).toBeUndefined();
    expect(scope.get('a', 2, { id: 'pr2', version: 1 }, pat)).toBeUndefined();
    expect(scope.get('a', 2, undefined, pat)).toBeUndefined();
    expect(scope.get('a', 2, pr, { id: 'pat', version: 5 })).toBeUndefined();
    expect(scope.get('a', 2, pr, { id: 'pat2', version: 4 })).toBeUndefined();
    expect(scope.get('a', 2, pr, undefined)).toBeUndefined();
    expect(scope.get('b', 2, pr, pat)).toBeUndefined();
  });

  it('replaces a record’s text when its new version is rendered, instead of keeping both', () => {
    const cache = new EventCache(100);
    const scope = cache.scope(cab);
    scope.set('a', 1, undefined, undefined, 'v1');
    scope.set('a', 2, undefined, undefined, 'v2');
    expect(cache.size).toBe(1);
    expect(scope.get('a', 2, undefined, undefined)).toBe('v2');
    expect(scope.get('a', 1, undefined, undefined)).toBeUndefined();
  });

  it('never answers one practice’s, privacy level’s, zone’s or feed kind’s look-up with another’s text', () => {
    const cache = new EventCache(100);
    cache.scope(cab).set('a', 1, undefined, undefined, 'cab busy Paris');
    for (const other of [
      { ...cab, practiceId: 'other' },
      { ...cab, privacy: 'initials' },
      { ...cab, zone: 'Indian/Reunion' },
      { ...cab, zone: null },
      { ...cab, practiceWide: true },
    ])
      expect(cache.scope(other).get('a', 1, undefined, undefined)).toBeUndefined();
    // A practice id that would run into the next field if the parts were only joined.
    cache.scope({ ...cab, practiceId: 'x', privacy: 'busy' }).set('b', 1, undefined, undefined, 'x');
    expect(
      cache.scope({ ...cab, practiceId: 'x","busy', privacy: 'busy' }).get('b', 1, undefined, undefined),
    ).toBeUndefined();
    expect(cache.scope(cab).get('a', 1, undefined, undefined)).toBe('cab busy Paris');
  });

  it('evicts down to its budget, the least recently used scope first and its oldest entries first', () => {
    const cache = new EventCache(4);
    const old = cache.scope({ ...cab, practiceId: 'old' });
    for (const id of ['o1', 'o2', 'o3']) old.set(id, 1, undefined, undefined, id);
    const recent = cache.scope(cab);
    for (const id of ['r1', 'r2', 'r3']) recent.set(id, 1, undefined, undefined, id);
    cache.trim();
    expect(cache.size).toBe(4);
    expect(old.get('o1', 1, undefined, undefined)).toBeUndefined();
    expect(old.get('o2', 1, undefined, undefined)).toBeUndefined();
    expect(old.get('o3', 1, undefined, undefined)).toBe('o3');
    expect(recent.get('r1', 1, undefined, undefined)).toBe('r1');
    // Opening the old scope again makes it the most recent one.
    cache.scope({ ...cab, practiceId: 'old' });
    recent.set('r4', 1, undefined, undefined, 'r4');
    cache.trim();
    expect(cache.size).toBe(4);
    expect(recent.get('r1', 1, undefined, undefined)).toBeUndefined();
    expect(old.get('o3', 1, undefined, undefined)).toBe('o3');
  });

  it('keeps nothing with a budget of 0, and counts nothing a cleared scope still receives', () => {
    const none = new EventCache(0);
    none.scope(cab).set('a', 1, undefined, undefined, 'a');
    expect(none.size).toBe(0);
    expect(none.scope(cab).get('a', 1, undefined, undefined)).toBeUndefined();

    const cache = new EventCache(10);
    const rendering = cache.scope(cab);
    cache.clear();
    rendering.set('a', 1, undefined, undefined, 'a');
    expect(cache.size).toBe(0);
    expect(cache.scope(cab).get('a', 1, undefined, undefined)).toBeUndefined();
  });
});
