import { describe, expect, it } from '@jest/globals';

import { endpointChanges } from '../../src/security/endpoint.js';

describe('a link endpoint change', () => {
  it('is seen in a base URL, a token endpoint, an MLLP host or port, wherever they sit', () => {
    expect(
      endpointChanges({ baseUrl: 'https://a.example/fhir' }, { baseUrl: 'https://b.example/fhir' }),
    ).toEqual(['config.baseUrl']);
    expect(
      endpointChanges({ auth: { tokenEndpoint: 'https://a/t' } }, { auth: { tokenEndpoint: 'https://b/t' } }),
    ).toEqual(['config.auth.tokenEndpoint']);
    expect(
      endpointChanges(
        { mllp: { send: { host: 'h', port: 2575 } } },
        { mllp: { send: { host: 'h', port: 2576 } } },
      ),
    ).toEqual(['config.mllp.send.port']);
  });

  it('counts an endpoint added or removed', () => {
    expect(endpointChanges({}, { baseUrl: 'https://b' })).toEqual(['config.baseUrl']);
    expect(endpointChanges({ baseUrl: 'https://b' }, {})).toEqual(['config.baseUrl']);
  });

  it('ignores settings that do not say where the link connects', () => {
    expect(
      endpointChanges(
        { baseUrl: 'https://a', pageSize: 50, practitioners: ['x'] },
        { baseUrl: 'https://a', pageSize: 100, practitioners: ['y'] },
      ),
    ).toEqual([]);
  });
});
