import { describe, expect, it } from '@jest/globals';

import { grantsOf, readCookie } from '../../src/api/session.js';

describe('console session helpers', () => {
  it('reads one cookie out of a Cookie header', () => {
    expect(readCookie('a=1; passerelle_session=abc_DEF-123; b=2', 'passerelle_session')).toBe('abc_DEF-123');
    expect(readCookie('passerelle_session=x', 'passerelle_session')).toBe('x');
    expect(readCookie('other=1', 'passerelle_session')).toBeUndefined();
    expect(readCookie(undefined, 'passerelle_session')).toBeUndefined();
  });

  it('does not take a cookie whose name only ends or starts with the one asked for', () => {
    expect(readCookie('xpasserelle_session=1; passerelle_sessionx=2', 'passerelle_session')).toBeUndefined();
  });

  it('skips a value with characters a cookie may not hold, and takes a later well-formed one', () => {
    expect(readCookie('passerelle_session="quoted"', 'passerelle_session')).toBeUndefined();
    expect(readCookie('passerelle_session=a b; passerelle_session=ok', 'passerelle_session')).toBe('ok');
  });

  it('lists the roles a role includes, highest first', () => {
    expect(grantsOf('admin')).toEqual(['admin', 'integrator', 'viewer']);
    expect(grantsOf('integrator')).toEqual(['integrator', 'viewer']);
    expect(grantsOf('viewer')).toEqual(['viewer']);
  });
});
