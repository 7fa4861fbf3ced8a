/**
 * One-time acknowledgement links for urgent call messages (issue 21 point 2): the escalation
 * notification carries `<publicUrl>/ack/urgent/<token>`, where the token is
 * `base64url(payload).base64url(HMAC-SHA256(payload))` — the same construction as the webhook
 * signatures (./webhook-signature.ts: HMAC-SHA256, constant-time comparison) over a payload
 * naming the message, its practice, a nonce and an expiry. The HMAC key is derived (HKDF) from
 * the service's sealing key, so no new secret is configured; every key of the ring verifies
 * (rotation). Single use is the store's part: the nonce is spent with a compare-and-set.
 */
import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';

import { PasserelleError } from '../errors.js';
import type { Keyring } from './sealing.js';

export interface AckLinkClaims {
  /** The canonical Communication id. */
  readonly communicationId: string;
  readonly practiceId: string;
  readonly nonce: string;
  /** Expiry, Unix milliseconds. */
  readonly expiresAt: number;
}

const keyOf = (raw: Buffer): Buffer =>
  Buffer.from(hkdfSync('sha256', raw, Buffer.alloc(0), 'passerelle urgent ack link v1', 32));

const mac = (key: Buffer, payload: string): Buffer => createHmac('sha256', key).update(payload).digest();

/** A signed token for `claims` under the ring's current key. */
export function signAckLink(keyring: Keyring, claims: AckLinkClaims): string {
  const payload = Buffer.from(
    JSON.stringify({ c: claims.communicationId, p: claims.practiceId, n: claims.nonce, e: claims.expiresAt }),
  ).toString('base64url');
  return `${payload}.${mac(keyOf(keyring.current.raw), payload).toString('base64url')}`;
}

const refused = (why: string) =>
  new PasserelleError('ERR_URGENT_LINK_INVALID', `acknowledgement link refused: ${why}`, {
    details: { reason: why },
  });

/**
 * The claims of a token whose signature holds and which has not expired at `now`; throws
 * ERR_URGENT_LINK_INVALID otherwise (the reason is `tampered` or `expired`, nothing more).
 */
export function verifyAckLink(keyring: Keyring, token: string, now: number): AckLinkClaims {
  const m = /^([A-Za-z0-9_-]{1,1024})\.([A-Za-z0-9_-]{43})$/.exec(token);
  if (!m) throw refused('tampered');
  const [, payload, sig] = m as unknown as [string, string, string];
  const given = Buffer.from(sig, 'base64url');
  const ok = keyring.keys.some((k) => {
    const expected = mac(keyOf(k.raw), payload);
    return expected.length === given.length && timingSafeEqual(expected, given);
  });
  if (!ok) throw refused('tampered');
  let v: { c?: unknown; p?: unknown; n?: unknown; e?: unknown };
  try {
    v = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as typeof v;
  } catch {
    throw refused('tampered');
  }
  if (
    typeof v.c !== 'string' ||
    typeof v.p !== 'string' ||
    typeof v.n !== 'string' ||
    typeof v.e !== 'number'
  )
    throw refused('tampered');
  if (now >= v.e) throw refused('expired');
  return { communicationId: v.c, practiceId: v.p, nonce: v.n, expiresAt: v.e };
}
