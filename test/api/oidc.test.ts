import { describe, expect, it } from '@jest/globals';

import { practiceFromClaims, roleFromClaims } from '../../src/api/oidc.js';
import { ConsoleOidcConfig } from '../../src/config/schema.js';

const config = ConsoleOidcConfig.parse({
  issuer: 'https://idp.example',
  clientId: 'passerelle',
  roleClaim: 'roles',
  roleMap: { sec: 'viewer', integ: 'integrator', chef: 'admin' },
  practiceClaim: 'cabinet',
});

describe('OIDC claims → role and practice', () => {
  it('maps a role claim given as a string or a list, the highest mapped value winning', () => {
    expect(roleFromClaims({ roles: 'sec' }, config)).toBe('viewer');
    expect(roleFromClaims({ roles: ['sec', 'autre', 'integ'] }, config)).toBe('integrator');
    expect(roleFromClaims({ roles: ['chef', 'sec'] }, config)).toBe('admin');
  });

  it('refuses an unmapped or missing role claim unless a default role is configured', () => {
    expect(roleFromClaims({ roles: 'stagiaire' }, config)).toBeNull();
    expect(roleFromClaims({}, config)).toBeNull();
    expect(roleFromClaims({ roles: 42 }, config)).toBeNull();
    expect(roleFromClaims({ roles: 'toString' }, config)).toBeNull();
    expect(roleFromClaims({ roles: 'stagiaire' }, { ...config, defaultRole: 'viewer' })).toBe('viewer');
  });

  it('limits to the one practice named, and refuses a missing or ambiguous one below unrestrictedRoles', () => {
    expect(practiceFromClaims({ cabinet: 'cab-1' }, 'viewer', config)).toBe('cab-1');
    expect(practiceFromClaims({ cabinet: ['cab-1'] }, 'viewer', config)).toBe('cab-1');
    expect(practiceFromClaims({ cabinet: ['cab-1', 'cab-2'] }, 'admin', config)).toBeUndefined();
    expect(practiceFromClaims({}, 'viewer', config)).toBeUndefined();
    expect(practiceFromClaims({ cabinet: '' }, 'integrator', config)).toBeUndefined();
    expect(practiceFromClaims({}, 'admin', config)).toBeNull();
  });

  it('limits nobody when no practice claim is configured', () => {
    const { practiceClaim: _unused, ...open } = config;
    expect(practiceFromClaims({ cabinet: 'cab-1' }, 'viewer', open)).toBeNull();
  });

  it('accepts an http issuer only on a loopback address with allowInsecureIssuer', () => {
    const base = { clientId: 'c' };
    expect(ConsoleOidcConfig.safeParse({ ...base, issuer: 'http://idp.example' }).success).toBe(false);
    expect(
      ConsoleOidcConfig.safeParse({ ...base, issuer: 'http://idp.example', allowInsecureIssuer: true })
        .success,
    ).toBe(false);
    expect(ConsoleOidcConfig.safeParse({ ...base, issuer: 'http://127.0.0.1:9000' }).success).toBe(false);
    expect(
      ConsoleOidcConfig.safeParse({ ...base, issuer: 'http://127.0.0.1:9000', allowInsecureIssuer: true })
        .success,
    ).toBe(true);
    expect(
      ConsoleOidcConfig.safeParse({ ...base, issuer: 'https://idp.example', scopes: 'profile' }).success,
    ).toBe(false);
  });
});
