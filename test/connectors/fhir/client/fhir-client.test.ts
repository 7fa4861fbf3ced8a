/**
 * Unit tests of the FHIR client against a scripted peer (nock): OperationOutcome parsing,
 * auth flows (basic, bearer, SMART Backend Services) and paging.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { Bundle, Patient } from '@medplum/fhirtypes';
import { Client } from 'fhir-kit-client';
import { type CryptoKey, decodeProtectedHeader, exportPKCS8, generateKeyPair, jwtVerify } from 'jose';
import nock from 'nock';

import { createFhirClient, type FhirClientOptions } from '../../../../connectors/fhir/client/index.js';
import { silenceFhirKitDebug } from '../../../../connectors/fhir/client/silence-debug.js';
import { isPasserelleError, type PasserelleError } from '../../../../src/errors.js';
import { testClock } from '../../../helpers/stores.js';

const ORIGIN = 'http://fhir.test';
const BASE = `${ORIGIN}/fhir/R4`;
const JSON_HEADERS = { 'content-type': 'application/fhir+json' };

function client(overrides: Partial<FhirClientOptions> = {}) {
  return createFhirClient({ baseUrl: BASE, retry: { max: 0 }, sleep: async () => undefined, ...overrides });
}

async function failure(p: Promise<unknown>): Promise<PasserelleError> {
  try {
    await p;
  } catch (e) {
    if (isPasserelleError(e)) return e;
    throw e;
  }
  throw new Error('expected a failure');
}

const patient: Patient = { resourceType: 'Patient', id: 'p1', meta: { versionId: '3' } };

beforeAll(() => {
  nock.disableNetConnect();
});
// nock patches Node's http/fetch for the whole jest worker: undo it so later test files in
// the same worker reach their real servers on 127.0.0.1.
afterAll(() => {
  nock.cleanAll();
  nock.enableNetConnect();
  nock.restore();
});
afterEach(() => {
  const pending = nock.pendingMocks();
  nock.cleanAll();
  expect(pending).toEqual([]);
});

describe('OperationOutcome errors', () => {
  it('turns an OperationOutcome into a typed error carrying issue codes and scrubbed diagnostics, never patient data', async () => {
    nock(ORIGIN)
      .get('/fhir/R4/Patient/p1')
      .reply(
        422,
        {
          resourceType: 'OperationOutcome',
          issue: [
            {
              severity: 'error',
              code: 'invalid',
              diagnostics: 'Patient NIR 285037511234544 tel 06 12 34 56 78 born 1985-03-14 rejected',
            },
            { severity: 'error', code: 'business-rule', details: { text: 'Slot already booked' } },
          ],
        },
        JSON_HEADERS,
      );
    const e = await failure(client().read('Patient', 'p1'));
    expect(e.code).toBe('ERR_FHIR_OPERATION_OUTCOME');
    expect(e.retryable).toBe(false);
    expect(e.details).toMatchObject({
      httpStatus: 422,
      interaction: 'read',
      resourceType: 'Patient',
      issueCodes: ['invalid', 'business-rule'],
    });
    expect(e.message).toContain('FHIR read Patient failed: HTTP 422 (invalid: Patient NIR [REDACTED]');
    expect(e.message).toContain('business-rule: Slot already booked');
    for (const leak of ['285037511234544', '06 12 34 56 78', '1985-03-14'])
      expect(JSON.stringify({ m: e.message, d: e.details, i: e.issues })).not.toContain(leak);
  });

  it('keeps the search URL and its values out of the error message', async () => {
    nock(ORIGIN)
      .get('/fhir/R4/Patient')
      .query({ family: 'SECRETNAME' })
      .reply(
        400,
        {
          resourceType: 'OperationOutcome',
          issue: [{ severity: 'error', code: 'invalid', diagnostics: 'bad' }],
        },
        JSON_HEADERS,
      );
    const e = await failure(client().search('Patient', { family: 'SECRETNAME' }));
    expect(e.message).toBe('FHIR search Patient failed: HTTP 400 (invalid: bad)');
  });

  it('maps an HTML 502 to a retryable ERR_FHIR_HTTP and a 2xx that is not JSON to ERR_FHIR_RESPONSE_INVALID', async () => {
    nock(ORIGIN)
      .get('/fhir/R4/Patient/p1')
      .reply(502, '<html>Bad gateway</html>', { 'content-type': 'text/html' });
    const e = await failure(client().read('Patient', 'p1'));
    expect(e.code).toBe('ERR_FHIR_HTTP');
    expect(e.retryable).toBe(true);
    expect(e.message).toBe('FHIR read Patient failed: HTTP 502');
    nock(ORIGIN).get('/fhir/R4/Patient/p1').reply(200, 'not json');
    expect((await failure(client().read('Patient', 'p1'))).code).toBe('ERR_FHIR_RESPONSE_INVALID');
  });

  it('refuses ids that are not FHIR ids before sending anything', async () => {
    expect((await failure(Promise.resolve().then(() => client().read('Patient', '../metadata')))).code).toBe(
      'ERR_VALIDATION',
    );
  });

  it('keeps fhir-kit-client debug output (URLs, headers) off even when DEBUG enables it', async () => {
    const debug = silenceFhirKitDebug();
    expect(debug).toBeDefined();
    const writes: string[] = [];
    const spy = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      writes.push(String(chunk));
      return true;
    });
    try {
      // Control: with the namespace on, fhir-kit-client itself prints the URL.
      debug?.enable('fhir-kit-client:*');
      nock(ORIGIN)
        .get('/fhir/R4/Patient')
        .query(true)
        .reply(200, { resourceType: 'Bundle', type: 'searchset' }, JSON_HEADERS)
        .persist();
      await new Client({ baseUrl: BASE }).search({
        resourceType: 'Patient',
        searchParams: { family: 'SECRETNAME' },
      });
      expect(writes.join('')).toContain('SECRETNAME');
      writes.length = 0;
      debug?.enable('fhir-kit-client:*');
      await client().search('Patient', { family: 'SECRETNAME' });
      expect(writes.join('')).toBe('');
    } finally {
      spy.mockRestore();
      debug?.disable();
    }
  });
});

describe('auth', () => {
  it('sends HTTP Basic credentials', async () => {
    nock(ORIGIN, {
      reqheaders: { authorization: `Basic ${Buffer.from('cabinet:s3cret').toString('base64')}` },
    })
      .get('/fhir/R4/Patient/p1')
      .reply(200, patient, JSON_HEADERS);
    expect(
      (
        await client({ auth: { type: 'basic', username: 'cabinet', password: 's3cret' } }).read(
          'Patient',
          'p1',
        )
      ).resource.id,
    ).toBe('p1');
  });

  it('sends a fixed bearer token and does not retry a 401 with it', async () => {
    nock(ORIGIN, { reqheaders: { authorization: 'Bearer fixed' } })
      .get('/fhir/R4/Patient/p1')
      .reply(
        401,
        { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'login' }] },
        JSON_HEADERS,
      );
    const e = await failure(client({ auth: { type: 'bearer', token: 'fixed' } }).read('Patient', 'p1'));
    expect(e.code).toBe('ERR_FHIR_AUTH');
  });

  it('asks a bearer token function again after a 401 and retries once', async () => {
    const tokens = ['old', 'new'];
    const token = jest.fn(async () => tokens.shift() ?? 'none');
    nock(ORIGIN, { reqheaders: { authorization: 'Bearer old' } })
      .get('/fhir/R4/Patient/p1')
      .reply(401);
    nock(ORIGIN, { reqheaders: { authorization: 'Bearer new' } })
      .get('/fhir/R4/Patient/p1')
      .reply(200, patient, JSON_HEADERS);
    expect((await client({ auth: { type: 'bearer', token } }).read('Patient', 'p1')).status).toBe(200);
    expect(token).toHaveBeenCalledTimes(2);
  });

  describe('SMART Backend Services', () => {
    let privatePem: string;
    let publicKey: CryptoKey;

    beforeAll(async () => {
      const pair = await generateKeyPair('RS384', { extractable: true });
      privatePem = await exportPKCS8(pair.privateKey);
      publicKey = pair.publicKey;
    });

    const smart = (extra: Record<string, unknown> = {}) =>
      ({
        type: 'smart-backend',
        clientId: 'passerelle-test',
        privateKey: privatePem,
        keyId: 'key-1',
        scope: 'system/Patient.rs',
        ...extra,
      }) as const;

    function tokenEndpoint(assertions: string[], token: string, expiresIn = 300) {
      return nock('http://auth.test')
        .post('/token', (body: Record<string, string>) => {
          if (body['grant_type'] !== 'client_credentials' || body['scope'] !== 'system/Patient.rs')
            return false;
          if (body['client_assertion_type'] !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer')
            return false;
          assertions.push(body['client_assertion'] as string);
          return true;
        })
        .reply(200, {
          access_token: token,
          token_type: 'bearer',
          expires_in: expiresIn,
          scope: 'system/Patient.rs',
        });
    }

    it('discovers the token endpoint, signs a private_key_jwt assertion and caches the token until it expires', async () => {
      const clock = testClock();
      const assertions: string[] = [];
      nock(ORIGIN)
        .get('/fhir/R4/.well-known/smart-configuration')
        .reply(200, {
          token_endpoint: 'http://auth.test/token',
          token_endpoint_auth_methods_supported: ['private_key_jwt'],
        });
      tokenEndpoint(assertions, 'tok-1');
      nock(ORIGIN, { reqheaders: { authorization: 'Bearer tok-1' } })
        .get('/fhir/R4/Patient/p1')
        .times(2)
        .reply(200, patient, JSON_HEADERS);
      const c = client({ auth: smart(), now: clock });
      await c.read('Patient', 'p1');
      clock.advance(200_000);
      await c.read('Patient', 'p1');
      expect(assertions).toHaveLength(1);

      const { payload } = await jwtVerify(assertions[0] as string, publicKey, {
        issuer: 'passerelle-test',
        subject: 'passerelle-test',
        audience: 'http://auth.test/token',
        currentDate: new Date(clock()),
      });
      expect(decodeProtectedHeader(assertions[0] as string)).toEqual({
        alg: 'RS384',
        kid: 'key-1',
        typ: 'JWT',
      });
      expect(typeof payload.jti).toBe('string');
      expect(
        (payload.exp as number) - Math.floor(Date.parse('2026-11-23T09:00:00.000Z') / 1000),
      ).toBeLessThanOrEqual(300);

      // Past expiry (less the safety margin) a new token is requested; discovery is not repeated.
      clock.advance(80_000);
      tokenEndpoint(assertions, 'tok-2');
      nock(ORIGIN, { reqheaders: { authorization: 'Bearer tok-2' } })
        .get('/fhir/R4/Patient/p1')
        .reply(200, patient, JSON_HEADERS);
      await c.read('Patient', 'p1');
      expect(assertions).toHaveLength(2);
      expect(assertions[1]).not.toBe(assertions[0]);
    });

    it('fetches a fresh token after a 401 and retries the request once', async () => {
      const assertions: string[] = [];
      tokenEndpoint(assertions, 'revoked');
      tokenEndpoint(assertions, 'fresh');
      nock(ORIGIN, { reqheaders: { authorization: 'Bearer revoked' } })
        .get('/fhir/R4/Patient/p1')
        .reply(401);
      nock(ORIGIN, { reqheaders: { authorization: 'Bearer fresh' } })
        .get('/fhir/R4/Patient/p1')
        .reply(200, patient, JSON_HEADERS);
      const r = await client({ auth: smart({ tokenEndpoint: 'http://auth.test/token' }) }).read(
        'Patient',
        'p1',
      );
      expect(r.status).toBe(200);
      expect(assertions).toHaveLength(2);
    });

    it('reports a refused client as ERR_FHIR_AUTH with the OAuth error code, not its description', async () => {
      nock('http://auth.test')
        .post('/token')
        .reply(400, { error: 'invalid_client', error_description: 'key for Jeanne FICTIVE unknown' });
      const e = await failure(
        client({ auth: smart({ tokenEndpoint: 'http://auth.test/token' }) }).read('Patient', 'p1'),
      );
      expect(e.code).toBe('ERR_FHIR_AUTH');
      expect(e.message).toBe('SMART token request failed: HTTP 400 (invalid_client)');
      expect(e.details).toMatchObject({ httpStatus: 400, oauthError: 'invalid_client' });
    });

    it('signs with ES384 keys too', async () => {
      const pair = await generateKeyPair('ES384', { extractable: true });
      const assertions: string[] = [];
      tokenEndpoint(assertions, 'tok-ec');
      nock(ORIGIN, { reqheaders: { authorization: 'Bearer tok-ec' } })
        .get('/fhir/R4/Patient/p1')
        .reply(200, patient, JSON_HEADERS);
      await client({
        auth: smart({
          tokenEndpoint: 'http://auth.test/token',
          privateKey: await exportPKCS8(pair.privateKey),
          algorithm: 'ES384',
        }),
      }).read('Patient', 'p1');
      await jwtVerify(assertions[0] as string, pair.publicKey, { audience: 'http://auth.test/token' });
    });
  });
});

describe('paging', () => {
  function page(n: number, next?: string): Bundle<Patient> {
    return {
      resourceType: 'Bundle',
      type: 'searchset',
      total: 5,
      link: [
        { relation: 'self', url: `${BASE}/Patient?page=${n}` },
        ...(next ? [{ relation: 'next', url: next }] : []),
      ],
      entry: [
        { resource: { resourceType: 'Patient', id: `p${n}a` }, search: { mode: 'match' } },
        ...(n < 3
          ? [
              {
                resource: { resourceType: 'Patient' as const, id: `p${n}b` },
                search: { mode: 'match' as const },
              },
            ]
          : []),
      ],
    };
  }

  it('follows link[next] over three pages and stops on the last', async () => {
    nock(ORIGIN)
      .get('/fhir/R4/Patient')
      .query({ _count: '2' })
      .reply(200, page(1, `${BASE}/Patient?_count=2&_offset=2`), JSON_HEADERS);
    nock(ORIGIN)
      .get('/fhir/R4/Patient')
      .query({ _count: '2', _offset: '2' })
      .reply(200, page(2, `${BASE}/Patient?_count=2&_offset=4`), JSON_HEADERS);
    nock(ORIGIN)
      .get('/fhir/R4/Patient')
      .query({ _count: '2', _offset: '4' })
      .reply(200, page(3), JSON_HEADERS);
    const all = await client().searchAll<Patient>('Patient', { _count: 2 });
    expect(all.map((p) => p.id)).toEqual(['p1a', 'p1b', 'p2a', 'p2b', 'p3a']);
  });

  it('stops after maxPages', async () => {
    nock(ORIGIN)
      .get('/fhir/R4/Patient')
      .query(true)
      .reply(200, page(1, `${BASE}/Patient?_offset=2`), JSON_HEADERS);
    const pages: Bundle[] = [];
    for await (const b of client().pages('Patient', {}, { maxPages: 1 })) pages.push(b);
    expect(pages).toHaveLength(1);
  });

  it('refuses to follow a next link to another origin, where our credentials would go', async () => {
    nock(ORIGIN)
      .get('/fhir/R4/Patient')
      .reply(200, page(1, 'http://elsewhere.test/fhir/Patient?page=2'), JSON_HEADERS);
    const e = await failure(client({ auth: { type: 'bearer', token: 't' } }).searchAll('Patient'));
    expect(e.code).toBe('ERR_FHIR_RESPONSE_INVALID');
    expect(e.message).not.toContain('elsewhere');
  });
});
