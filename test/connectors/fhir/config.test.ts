/**
 * A fhir link's configuration and credentials: defaults, strictness, and which secret each
 * kind of authentication needs (connectors/fhir/config.ts).
 */
import { describe, expect, it } from '@jest/globals';

import { FhirConfig, pullKinds, readSecrets } from '../../../connectors/fhir/config.js';
import { isPasserelleError, type PasserelleError } from '../../../src/errors.js';

function failure(fn: () => unknown): PasserelleError {
  try {
    fn();
  } catch (e) {
    if (isPasserelleError(e)) return e;
    throw e;
  }
  throw new Error('expected a failure');
}

describe('fhir link configuration', () => {
  it('fills the defaults: no auth, pages of 1000, a two-minute overlap, every kind, deletions from _history or hourly existence checks, notifications on', () => {
    expect(FhirConfig.parse({ baseUrl: 'https://logiciel.example.fr/fhir/R4' })).toEqual({
      baseUrl: 'https://logiciel.example.fr/fhir/R4',
      auth: { type: 'none' },
      timeoutMs: 10_000,
      retry: { max: 3, baseDelayMs: 500, maxDelayMs: 30_000 },
      pageSize: 1000,
      overlapSeconds: 120,
      kinds: [
        'Practitioner',
        'PractitionerRole',
        'Patient',
        'Schedule',
        'Slot',
        'Appointment',
        'Communication',
      ],
      history: 'auto',
      reconcileMinutes: 60,
      subscription: { enabled: true, header: 'x-passerelle-secret' },
    });
  });

  it('refuses unknown keys, pages over 1000, a kind listed twice and a secret in the config', () => {
    const r = FhirConfig.safeParse({
      baseUrl: 'ftp://x',
      pageSize: 5000,
      kinds: ['Patient', 'Patient'],
      auth: { type: 'basic', username: 'u', password: 'p' },
      pagesize: 10,
    });
    expect(r.success).toBe(false);
    const paths = r.success ? [] : r.error.issues.map((i) => i.path.join('.')).sort();
    expect(paths).toEqual(['', 'auth', 'baseUrl', 'kinds', 'pageSize']);
  });

  it('pulls the configured kinds in dependency order whatever order the link lists them in', () => {
    expect(
      pullKinds(
        FhirConfig.parse({ baseUrl: 'http://127.0.0.1/fhir', kinds: ['Appointment', 'Patient', 'Slot'] }),
      ),
    ).toEqual(['Patient', 'Slot', 'Appointment']);
  });

  it('takes each authentication’s secret from the link’s credentials, and names the one missing', () => {
    const basic = FhirConfig.parse({
      baseUrl: 'http://x/fhir',
      auth: { type: 'basic', username: 'cabinet' },
    });
    expect(readSecrets(basic, { password: 'mot-de-passe' }, 'lnk-1').auth).toEqual({
      type: 'basic',
      username: 'cabinet',
      password: 'mot-de-passe',
    });
    const e = failure(() => readSecrets(basic, {}, 'lnk-1'));
    expect([e.code, e.message, e.issues.map((i) => i.path)]).toEqual([
      'ERR_FHIR_CREDENTIALS',
      'link lnk-1: secrets.password: basic authentication needs a password',
      ['secrets.password'],
    ]);
    const smart = FhirConfig.parse({
      baseUrl: 'http://x/fhir',
      auth: { type: 'smart-backend', clientId: 'passerelle', keyId: 'k1', scope: 'system/*.rs' },
    });
    expect(failure(() => readSecrets(smart, { token: 't' }, 'lnk-1')).message).toBe(
      'link lnk-1: secrets.privateKey: SMART backend authentication needs a private key (PKCS#8 PEM)',
    );
    expect(
      readSecrets(smart, { privateKey: 'PEM', subscriptionSecret: 'a-secret-of-16-chars' }, 'lnk-1'),
    ).toEqual({
      auth: {
        type: 'smart-backend',
        clientId: 'passerelle',
        keyId: 'k1',
        algorithm: 'RS384',
        scope: 'system/*.rs',
        privateKey: 'PEM',
      },
      subscriptionSecret: 'a-secret-of-16-chars',
    });
    expect(
      failure(() => readSecrets(basic, { password: 'x', subscriptionSecret: 'court' }, 'lnk-1')).message,
    ).toBe('link lnk-1: secrets.subscriptionSecret: must be at least 16 characters');
  });
});
