import { describe, expect, it } from '@jest/globals';

import { ackMode, acknowledgmentCodes } from '../../../connectors/hl7v2/ack-policy.js';

describe('acknowledgment policy (HL7 v2.5.1 §2.9, tables 0008 and 0155)', () => {
  it('uses original mode only when MSH-15 and MSH-16 are both empty', () => {
    expect(ackMode(undefined, undefined)).toBe('original');
    expect(ackMode('', '')).toBe('original');
    expect(ackMode('AL', undefined)).toBe('enhanced');
    expect(ackMode(undefined, 'NE')).toBe('enhanced');
  });

  it.each([
    ['applied', ['AA']],
    ['error', ['AE']],
    ['reject', ['AR']],
    ['reused', ['AE']],
    ['unavailable', ['AR']],
  ] as const)('answers a %s message in original mode with %j', (verdict, codes) => {
    expect(acknowledgmentCodes(undefined, undefined, verdict)).toEqual(codes);
  });

  it.each([
    // MSH-15, MSH-16, verdict → codes
    ['AL', 'NE', 'applied', ['CA']],
    ['AL', 'NE', 'error', ['CA']],
    ['AL', 'NE', 'reject', ['CR']],
    ['AL', 'NE', 'reused', ['CE']],
    ['AL', 'AL', 'applied', ['CA', 'AA']],
    ['AL', 'AL', 'error', ['CA', 'AE']],
    ['AL', 'AL', 'reject', ['CR']],
    ['NE', 'AL', 'applied', ['AA']],
    ['NE', 'AL', 'error', ['AE']],
    ['NE', 'NE', 'applied', []],
    ['NE', 'NE', 'reject', []],
    ['ER', 'ER', 'applied', []],
    ['ER', 'ER', 'error', ['AE']],
    ['ER', 'ER', 'reject', ['CR']],
    ['SU', 'SU', 'applied', ['CA', 'AA']],
    ['SU', 'SU', 'error', ['CA']],
    ['', 'AL', 'applied', ['AA']],
    ['XX', 'NE', 'applied', ['CA']],
  ] as const)(
    'in enhanced mode, MSH-15 %s / MSH-16 %s, a %s message gets %j',
    (accept, application, verdict, codes) => {
      expect(acknowledgmentCodes(accept, application, verdict)).toEqual(codes);
    },
  );

  it('always answers a message that was not committed, whatever MSH-15 asks, so it is sent again', () => {
    for (const accept of ['AL', 'NE', 'ER', 'SU', ''])
      expect(acknowledgmentCodes(accept, 'AL', 'unavailable')).toEqual(['CE']);
  });
});
