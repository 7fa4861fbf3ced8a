/**
 * Subscription notifications as poll hints (shared secret, constant-time check) and the record
 * of passerelle's own writes that keeps them out of the pull (subscription.ts, own-writes.ts).
 */
import { describe, expect, it } from '@jest/globals';

import { OwnWrites } from '../../../connectors/fhir/own-writes.js';
import { receiveNotification } from '../../../connectors/fhir/subscription.js';
import { silentLogger } from '../../../src/log/logger.js';

const SECRET = 'secret-partage-0123456789';
const delivery = (headers: Record<string, string>) => ({
  headers,
  query: {},
  body: Buffer.from('{"resourceType":"Appointment"}'),
});

describe('Subscription notifications', () => {
  function receive(
    headers: Record<string, string>,
    options: { enabled?: boolean; secret?: string | undefined } = {},
  ) {
    let polls = 0;
    const answer = receiveNotification(delivery(headers), {
      enabled: options.enabled ?? true,
      header: 'x-passerelle-secret',
      secret: 'secret' in options ? options.secret : SECRET,
      requestPoll: () => {
        polls++;
      },
      log: silentLogger,
    });
    return { answer, polls };
  }

  it('asks for a poll when the secret is in the header, as is or as a bearer token', () => {
    expect(receive({ 'x-passerelle-secret': SECRET })).toEqual({
      answer: { status: 200, body: { accepted: true, poll: 'requested' } },
      polls: 1,
    });
    expect(receive({ 'x-passerelle-secret': `Bearer ${SECRET}` }).polls).toBe(1);
  });

  it('refuses a missing or wrong secret with 401 problem+json, and polls nothing', () => {
    for (const headers of [
      {},
      { 'x-passerelle-secret': `${SECRET}x` },
      { authorization: `Bearer ${SECRET}` },
    ]) {
      const { answer, polls } = receive(headers);
      expect([
        answer.status,
        answer.headers?.['Content-Type'],
        (answer.body as { code: string }).code,
        polls,
      ]).toEqual([401, 'application/problem+json', 'ERR_FHIR_SUBSCRIPTION_SECRET', 0]);
    }
  });

  it('takes any notification when the link has no secret, and none when notifications are off', () => {
    expect(receive({}, { secret: undefined }).polls).toBe(1);
    const off = receive({ 'x-passerelle-secret': SECRET }, { enabled: false });
    expect([off.answer.status, off.polls]).toEqual([404, 0]);
  });
});

describe('own writes', () => {
  it('knows the exact versions it wrote, for ten minutes', () => {
    let now = 0;
    const own = new OwnWrites(() => now);
    own.wrote('Appointment', 'a1', 'v2');
    expect([
      own.check('Appointment', 'a1', 'v2', []),
      own.check('Appointment', 'a1', 'v3', []),
      own.check('Patient', 'a1', 'v2', []),
    ]).toEqual(['written', undefined, undefined]);
    now = 10 * 60_000 + 1;
    expect(own.check('Appointment', 'a1', 'v2', [])).toBeUndefined();
  });

  it('knows a creation in flight by its business identifier until it ends', () => {
    const own = new OwnWrites(() => 0);
    own.begin('urn:oid:1.2.250.1.999.1.2|c0ffee');
    own.begin('urn:oid:1.2.250.1.999.1.2|c0ffee');
    const ids = [{ system: 'urn:oid:1.2.250.1.999.1.2', value: 'c0ffee' }];
    expect(own.check('Appointment', 'new-id', 'v1', ids)).toBe('pending');
    own.end('urn:oid:1.2.250.1.999.1.2|c0ffee');
    expect(own.check('Appointment', 'new-id', 'v1', ids)).toBe('pending');
    own.end('urn:oid:1.2.250.1.999.1.2|c0ffee');
    expect(own.check('Appointment', 'new-id', 'v1', ids)).toBeUndefined();
  });
});
