import { describe, expect, it } from '@jest/globals';

import fhir from '../../connectors/fhir/index.js';
import secretariat from '../../connectors/secretariat/index.js';
import { isLoopbackHost, outboundUrlIssues, PLAIN_HTTP_REFUSED } from '../../src/security/outbound-urls.js';

const live = { isTest: false };

describe('outbound connector URLs', () => {
  it('takes localhost, 127.0.0.0/8 and ::1 as loopback, and nothing else', () => {
    for (const url of [
      'http://localhost:8080/',
      'http://127.0.0.1/',
      'http://127.12.0.9:1/',
      'http://[::1]:9/',
      'http://[::ffff:127.0.0.1]/',
      'http://0x7f.1/',
    ]) {
      expect([url, isLoopbackHost(new URL(url).hostname)]).toEqual([url, true]);
    }
    for (const url of [
      'http://10.0.0.1/',
      'http://128.0.0.1/',
      'http://[::2]/',
      'http://localhost.example.fr/',
      'http://plateforme.example.fr/',
      'http://[::ffff:10.0.0.1]/',
    ]) {
      expect([url, isLoopbackHost(new URL(url).hostname)]).toEqual([url, false]);
    }
  });

  it('refuses plain http to a remote host on a live link, naming the config path', () => {
    expect(outboundUrlIssues([{ path: 'baseUrl', url: 'http://plateforme.example.fr/api' }], live)).toEqual([
      { path: 'config.baseUrl', message: PLAIN_HTTP_REFUSED },
    ]);
    expect(PLAIN_HTTP_REFUSED).toBe('must be https unless the link is a test link or the host is loopback');
  });

  it('allows https anywhere, http on loopback, and http anywhere on a test link', () => {
    expect(outboundUrlIssues([{ path: 'baseUrl', url: 'https://plateforme.example.fr/api' }], live)).toEqual(
      [],
    );
    expect(outboundUrlIssues([{ path: 'baseUrl', url: 'http://127.0.0.1:4010' }], live)).toEqual([]);
    expect(
      outboundUrlIssues([{ path: 'baseUrl', url: 'http://plateforme.example.fr/api' }], { isTest: true }),
    ).toEqual([]);
  });

  it('is declared by the secretariat and FHIR connectors for every URL they send to', () => {
    const sec = secretariat.configSchema.parse({
      baseUrl: 'http://plateforme.example.fr',
      platformPracticeId: 'cab-1',
    });
    expect(secretariat.outboundUrls?.(sec)).toEqual([
      { path: 'baseUrl', url: 'http://plateforme.example.fr' },
    ]);
    const f = fhir.configSchema.parse({
      baseUrl: 'http://logiciel.example.fr/fhir',
      auth: {
        type: 'smart-backend',
        clientId: 'c',
        keyId: 'k',
        scope: 'system/*.read',
        tokenEndpoint: 'http://auth.example.fr/token',
        jwksUrl: 'https://auth.example.fr/jwks',
      },
    });
    expect(outboundUrlIssues(fhir.outboundUrls?.(f) ?? [], live).map((i) => i.path)).toEqual([
      'config.baseUrl',
      'config.auth.tokenEndpoint',
    ]);
  });
});
