/**
 * One answer for every webhook that is not authenticated for a running link: unknown link,
 * unknown connector, a link of another connector, a disabled link, a missing or wrong
 * signature or shared secret. Told apart, they would let anyone probe which link ids exist
 * (`POST /hooks/secretariat/<guess>`: 404 or 401). The details stay in the log.
 *
 * A connector's own 401 or 404 is replaced by this one. Kept as is: ERR_WEBHOOK_TIMESTAMP,
 * which a connector gives only after a signature matched (src/security/webhook-signature.ts),
 * so only the holder of the secret learns it.
 */
import { createHmac, randomBytes } from 'node:crypto';

import type { HttpAnswer } from '../connector/contract.js';

/** Answers for an unknown link cost an HMAC over the body too, as a signature check would. */
const DUMMY_KEY = randomBytes(32);

const REFUSAL_BODY = {
  type: 'https://passerelle.fr/problems/err-webhook-signature',
  title: 'the delivery is not authenticated for this link',
  status: 401,
  code: 'ERR_WEBHOOK_SIGNATURE',
} as const;

export function webhookRefusal(): HttpAnswer {
  return { status: 401, headers: { 'Content-Type': 'application/problem+json' }, body: { ...REFUSAL_BODY } };
}

/** The refusal for a delivery no running link takes, after the work a signature check costs. */
export function refuseUnknownWebhook(body: Buffer): HttpAnswer {
  createHmac('sha256', DUMMY_KEY).update(body).digest();
  return webhookRefusal();
}

/** True for a connector's answer that says "not for you" (bad signature or secret, webhooks off). */
export function isWebhookRefusal(answer: HttpAnswer): boolean {
  if (answer.status === 404) return true;
  if (answer.status !== 401) return false;
  const code =
    typeof answer.body === 'object' && answer.body !== null
      ? (answer.body as { code?: unknown }).code
      : undefined;
  return code !== 'ERR_WEBHOOK_TIMESTAMP';
}
