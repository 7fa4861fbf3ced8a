import { createHmac } from 'node:crypto';

import { describe, expect, it } from '@jest/globals';

import { isPasserelleError } from '../../src/errors.js';
import {
  generateWebhookSecret,
  signWebhook,
  verifyWebhook,
  webhookKey,
} from '../../src/security/webhook-signature.js';

const NOW = Date.parse('2026-11-23T09:00:00Z');
const TS = Math.floor(NOW / 1000);
// 32 bytes of 0x01..0x20, serialised as Standard Webhooks does (whsec_ + base64).
const KEY = Buffer.from(Array.from({ length: 32 }, (_, i) => i + 1));
const SECRET = `whsec_${KEY.toString('base64')}`;
const OLD_SECRET = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
const BODY = Buffer.from('{"type":"appointment.upsert","data":{"id":"apt-1"}}');

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return isPasserelleError(e) ? e.code : 'not a PasserelleError';
  }
  return undefined;
}

describe('Standard Webhooks signatures', () => {
  it('signs "{id}.{timestamp}.{body}" with HMAC-SHA256 keyed by the base64-decoded secret, as v1,<base64>', () => {
    const expected = createHmac('sha256', KEY).update(`evt_1.${TS}.${BODY.toString()}`).digest('base64');
    expect(signWebhook([SECRET], 'evt_1', TS, BODY)).toBe(`v1,${expected}`);
  });

  it('sends one signature per active secret, space-separated, during a rotation', () => {
    const header = signWebhook([SECRET, OLD_SECRET], 'evt_1', TS, BODY);
    expect(header.split(' ')).toHaveLength(2);
    expect(header.split(' ').every((s) => s.startsWith('v1,'))).toBe(true);
  });

  it('accepts a delivery signed with the current secret', () => {
    const headers = {
      'webhook-id': 'evt_1',
      'webhook-timestamp': String(TS),
      'webhook-signature': signWebhook([SECRET], 'evt_1', TS, BODY),
    };
    expect(verifyWebhook(headers, BODY, { secrets: [SECRET], now: NOW })).toEqual({
      id: 'evt_1',
      timestamp: TS,
    });
  });

  it('accepts a delivery signed only with the previous secret while both are configured', () => {
    const headers = {
      'webhook-id': 'evt_1',
      'webhook-timestamp': String(TS),
      'webhook-signature': signWebhook([OLD_SECRET], 'evt_1', TS, BODY),
    };
    expect(verifyWebhook(headers, BODY, { secrets: [SECRET, OLD_SECRET], now: NOW }).id).toBe('evt_1');
    expect(codeOf(() => verifyWebhook(headers, BODY, { secrets: [SECRET], now: NOW }))).toBe(
      'ERR_WEBHOOK_SIGNATURE',
    );
  });

  it('reads header names case-insensitively and skips signatures of unknown versions', () => {
    const sig = signWebhook([SECRET], 'evt_1', TS, BODY);
    const headers = {
      'Webhook-Id': 'evt_1',
      'Webhook-Timestamp': String(TS),
      'Webhook-Signature': `v1a,AAAA ${sig}`,
    };
    expect(verifyWebhook(headers, BODY, { secrets: [SECRET], now: NOW }).id).toBe('evt_1');
  });

  it('refuses a body changed by one byte, a changed id, and a changed timestamp', () => {
    const sig = signWebhook([SECRET], 'evt_1', TS, BODY);
    const tampered = Buffer.from(BODY);
    tampered[5] = tampered[5] === 0x41 ? 0x42 : 0x41;
    expect(
      codeOf(() =>
        verifyWebhook(
          { 'webhook-id': 'evt_1', 'webhook-timestamp': String(TS), 'webhook-signature': sig },
          tampered,
          { secrets: [SECRET], now: NOW },
        ),
      ),
    ).toBe('ERR_WEBHOOK_SIGNATURE');
    expect(
      codeOf(() =>
        verifyWebhook(
          { 'webhook-id': 'evt_2', 'webhook-timestamp': String(TS), 'webhook-signature': sig },
          BODY,
          { secrets: [SECRET], now: NOW },
        ),
      ),
    ).toBe('ERR_WEBHOOK_SIGNATURE');
    expect(
      codeOf(() =>
        verifyWebhook(
          { 'webhook-id': 'evt_1', 'webhook-timestamp': String(TS + 1), 'webhook-signature': sig },
          BODY,
          { secrets: [SECRET], now: NOW },
        ),
      ),
    ).toBe('ERR_WEBHOOK_SIGNATURE');
  });

  it('refuses missing headers, a malformed id or timestamp, and a truncated signature', () => {
    const sig = signWebhook([SECRET], 'evt_1', TS, BODY);
    const ok = { 'webhook-id': 'evt_1', 'webhook-timestamp': String(TS), 'webhook-signature': sig };
    const opts = { secrets: [SECRET], now: NOW };
    expect(codeOf(() => verifyWebhook({ ...ok, 'webhook-signature': undefined }, BODY, opts))).toBe(
      'ERR_WEBHOOK_SIGNATURE',
    );
    expect(codeOf(() => verifyWebhook({ ...ok, 'webhook-id': 'evt.1' }, BODY, opts))).toBe(
      'ERR_WEBHOOK_SIGNATURE',
    );
    expect(
      codeOf(() => verifyWebhook({ ...ok, 'webhook-timestamp': '2026-11-23T09:00:00Z' }, BODY, opts)),
    ).toBe('ERR_WEBHOOK_SIGNATURE');
    expect(codeOf(() => verifyWebhook({ ...ok, 'webhook-signature': sig.slice(0, -8) }, BODY, opts))).toBe(
      'ERR_WEBHOOK_SIGNATURE',
    );
    expect(codeOf(() => verifyWebhook(ok, BODY, { secrets: [], now: NOW }))).toBe('ERR_WEBHOOK_SIGNATURE');
  });

  it('accepts timestamps within ±5 minutes and refuses authentic deliveries beyond, either way', () => {
    const at = (ts: number) => ({
      'webhook-id': 'evt_1',
      'webhook-timestamp': String(ts),
      'webhook-signature': signWebhook([SECRET], 'evt_1', ts, BODY),
    });
    expect(verifyWebhook(at(TS - 300), BODY, { secrets: [SECRET], now: NOW }).timestamp).toBe(TS - 300);
    expect(verifyWebhook(at(TS + 300), BODY, { secrets: [SECRET], now: NOW }).timestamp).toBe(TS + 300);
    expect(codeOf(() => verifyWebhook(at(TS - 301), BODY, { secrets: [SECRET], now: NOW }))).toBe(
      'ERR_WEBHOOK_TIMESTAMP',
    );
    expect(codeOf(() => verifyWebhook(at(TS + 301), BODY, { secrets: [SECRET], now: NOW }))).toBe(
      'ERR_WEBHOOK_TIMESTAMP',
    );
  });

  it('checks the signature before the timestamp, so a forged stale delivery learns nothing about the clock', () => {
    const headers = {
      'webhook-id': 'evt_1',
      'webhook-timestamp': String(TS - 3600),
      'webhook-signature': 'v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=',
    };
    expect(codeOf(() => verifyWebhook(headers, BODY, { secrets: [SECRET], now: NOW }))).toBe(
      'ERR_WEBHOOK_SIGNATURE',
    );
  });

  it('accepts only whsec_ secrets of 24 to 64 bytes, and generates 32-byte ones', () => {
    expect(webhookKey(generateWebhookSecret())).toHaveLength(32);
    expect(codeOf(() => webhookKey('plain-text-secret'))).toBe('ERR_SECRETARIAT_CREDENTIALS');
    expect(codeOf(() => webhookKey(`whsec_${Buffer.alloc(16).toString('base64')}`))).toBe(
      'ERR_SECRETARIAT_CREDENTIALS',
    );
    expect(codeOf(() => webhookKey('whsec_not base64!'))).toBe('ERR_SECRETARIAT_CREDENTIALS');
  });
});
