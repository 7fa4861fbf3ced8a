/**
 * Webhook signatures as the Standard Webhooks specification (v1.0.0, standardwebhooks.com,
 * "Signature scheme" and "Webhook headers") defines them, used by the platform to sign and by
 * the connector to verify:
 * - headers `webhook-id`, `webhook-timestamp` (Unix seconds), `webhook-signature`;
 * - signed content `{webhook-id}.{webhook-timestamp}.{raw body}`, HMAC-SHA256, base64, as `v1,<sig>`;
 * - several space-separated signatures during a secret rotation; any one matching suffices;
 * - secrets serialised as `whsec_` + base64 of 24 to 64 random bytes.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

import { PasserelleError } from '../errors.js';

export const WEBHOOK_HEADERS = {
  id: 'webhook-id',
  timestamp: 'webhook-timestamp',
  signature: 'webhook-signature',
} as const;
/** Standard Webhooks' recommended tolerance: ±5 minutes between the sender's and our clock. */
export const WEBHOOK_TOLERANCE_SECONDS = 5 * 60;
/**
 * How far an instance's own wall clock may be off real time (docs/cluster.md: the cluster is
 * proven with instances 5 minutes behind and ahead; leases and job claims do not read it).
 */
export const INSTANCE_CLOCK_SKEW_SECONDS = 5 * 60;
/**
 * What passerelle accepts from a platform: the sender's ±5 minutes plus the receiving
 * instance's own ±5 minutes, so a genuine delivery is not refused by whichever instance the
 * balancer picks. Replays inside the window are caught by the webhook id, kept in the shared
 * inbox for good (docs/security.md, "Webhook windows and replays").
 */
export const WEBHOOK_RECEIVE_TOLERANCE_SECONDS = WEBHOOK_TOLERANCE_SECONDS + INSTANCE_CLOCK_SKEW_SECONDS;
const SECRET_PREFIX = 'whsec_';
/** The id is part of the signed content, delimited by full stops: it must not contain one (spec, "Signature scheme"). */
const WEBHOOK_ID = /^[A-Za-z0-9_-]{1,128}$/;

/** Decodes a `whsec_…` secret into its key bytes, or throws ERR_SECRETARIAT_CREDENTIALS. */
export function webhookKey(secret: string): Buffer {
  if (!secret.startsWith(SECRET_PREFIX)) {
    throw new PasserelleError(
      'ERR_SECRETARIAT_CREDENTIALS',
      'a webhook secret must look like whsec_<base64> (Standard Webhooks secret serialisation)',
    );
  }
  const b64 = secret.slice(SECRET_PREFIX.length);
  const key = Buffer.from(b64, 'base64');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || key.length < 24 || key.length > 64) {
    throw new PasserelleError(
      'ERR_SECRETARIAT_CREDENTIALS',
      'a webhook secret must hold 24 to 64 bytes of base64 after whsec_',
    );
  }
  return key;
}

/** A new random secret (32 bytes) in the Standard Webhooks serialisation. */
export function generateWebhookSecret(): string {
  return `${SECRET_PREFIX}${randomBytes(32).toString('base64')}`;
}

function hmac(key: Buffer, id: string, timestamp: number, body: Buffer): Buffer {
  return createHmac('sha256', key).update(`${id}.${timestamp}.`).update(body).digest();
}

/** The `webhook-signature` header value: one `v1,<base64>` per secret, space-separated. */
export function signWebhook(secrets: readonly string[], id: string, timestamp: number, body: Buffer): string {
  if (!WEBHOOK_ID.test(id))
    throw new PasserelleError('ERR_WEBHOOK_SIGNATURE', 'a webhook id must be 1-128 of A-Z a-z 0-9 _ -');
  return secrets.map((s) => `v1,${hmac(webhookKey(s), id, timestamp, body).toString('base64')}`).join(' ');
}

export interface VerifiedDelivery {
  readonly id: string;
  readonly timestamp: number;
}

export interface VerifyOptions {
  /** Current secret first, then the previous one while a rotation is in progress. */
  readonly secrets: readonly string[];
  /** Milliseconds since the epoch. */
  readonly now: number;
  readonly toleranceSeconds?: number;
}

function header(headers: Readonly<Record<string, string | undefined>>, name: string): string | undefined {
  const direct = headers[name];
  if (direct !== undefined) return direct;
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
  return key === undefined ? undefined : headers[key];
}

/**
 * Checks a delivery on its raw bytes, before anything parses them. Throws ERR_WEBHOOK_SIGNATURE
 * (headers missing or malformed, no signature matching any secret) or ERR_WEBHOOK_TIMESTAMP
 * (authentic but outside the tolerance: a replay or a badly skewed clock). The signature is
 * checked first so that only authentic deliveries learn about the timestamp rule.
 */
export function verifyWebhook(
  headers: Readonly<Record<string, string | undefined>>,
  body: Buffer,
  options: VerifyOptions,
): VerifiedDelivery {
  const id = header(headers, WEBHOOK_HEADERS.id);
  const ts = header(headers, WEBHOOK_HEADERS.timestamp);
  const sig = header(headers, WEBHOOK_HEADERS.signature);
  if (id === undefined || ts === undefined || sig === undefined) {
    throw new PasserelleError(
      'ERR_WEBHOOK_SIGNATURE',
      'webhook-id, webhook-timestamp and webhook-signature headers are required',
    );
  }
  if (!WEBHOOK_ID.test(id)) throw new PasserelleError('ERR_WEBHOOK_SIGNATURE', 'webhook-id is malformed');
  if (!/^\d{1,12}$/.test(ts))
    throw new PasserelleError('ERR_WEBHOOK_SIGNATURE', 'webhook-timestamp must be Unix seconds');
  const timestamp = Number(ts);
  if (options.secrets.length === 0)
    throw new PasserelleError('ERR_WEBHOOK_SIGNATURE', 'no webhook secret is configured for this link');

  const expected = options.secrets.map((s) => hmac(webhookKey(s), id, timestamp, body));
  let matched = false;
  for (const versioned of sig.split(' ')) {
    const comma = versioned.indexOf(',');
    if (comma < 0 || versioned.slice(0, comma) !== 'v1') continue;
    const given = Buffer.from(versioned.slice(comma + 1), 'base64');
    // timingSafeEqual needs equal lengths; the length of a SHA-256 MAC is public anyway.
    for (const e of expected) if (given.length === e.length && timingSafeEqual(given, e)) matched = true;
  }
  if (!matched)
    throw new PasserelleError('ERR_WEBHOOK_SIGNATURE', 'no webhook signature matches a configured secret');

  const tolerance = options.toleranceSeconds ?? WEBHOOK_TOLERANCE_SECONDS;
  const skew = Math.floor(options.now / 1000) - timestamp;
  if (Math.abs(skew) > tolerance) {
    throw new PasserelleError(
      'ERR_WEBHOOK_TIMESTAMP',
      `webhook timestamp is ${Math.abs(skew)} s ${skew > 0 ? 'old' : 'in the future'}, beyond the ±${tolerance} s tolerance`,
      {
        details: { webhookId: id, skewSeconds: skew },
      },
    );
  }
  return { id, timestamp };
}
