/**
 * FHIR R4 Subscription notifications (subscription.html, channel type `rest-hook`) on
 * `POST /hooks/fhir/<link id>`. A notification is a **hint**: it asks the runtime to poll the
 * link now; the poll (and its cursor) stays the one truth (design rule 5), so nothing in the
 * body is trusted, parsed or stored, and a lost notification costs only latency.
 *
 * The server sends the Subscription's `channel.header` values with each notification; with a
 * shared secret configured (secrets.subscriptionSecret), the header named in the link's config
 * must carry it (`<secret>` or `Bearer <secret>`), compared in constant time. Register, on the
 * practice software's server:
 *
 *   { "resourceType": "Subscription", "status": "requested", "reason": "passerelle",
 *     "criteria": "Appointment?", "channel": { "type": "rest-hook",
 *       "endpoint": "<passerelle>/hooks/fhir/<link id>", "payload": "application/fhir+json",
 *       "header": ["X-Passerelle-Secret: <secret>"] } }
 *
 * (one per resource type followed; R4 has one criteria per Subscription).
 */
import { createHash, timingSafeEqual } from 'node:crypto';

import type { HttpAnswer, HttpDelivery } from '../../src/connector/contract.js';
import { PasserelleError } from '../../src/errors.js';
import type { Logger } from '../../src/log/logger.js';

export interface NotificationOptions {
  readonly enabled: boolean;
  /** Lower-case header name carrying the secret. */
  readonly header: string;
  readonly secret: string | undefined;
  readonly requestPoll: (() => void) | undefined;
  readonly log: Logger;
}

const PROBLEM_BASE = 'https://passerelle.fr/problems/';

function problem(e: PasserelleError, status: number): HttpAnswer {
  return {
    status,
    headers: { 'Content-Type': 'application/problem+json' },
    body: {
      type: `${PROBLEM_BASE}${e.code.toLowerCase().replace(/_/g, '-')}`,
      title: e.message,
      status,
      code: e.code,
    },
  };
}

/** Equal strings, in time independent of where they differ (hashes make the lengths equal). */
function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

export function receiveNotification(delivery: HttpDelivery, options: NotificationOptions): HttpAnswer {
  if (!options.enabled) {
    return problem(
      new PasserelleError('ERR_NOT_FOUND', 'this FHIR link does not take Subscription notifications'),
      404,
    );
  }
  if (options.secret !== undefined) {
    const raw = delivery.headers[options.header.toLowerCase()] ?? '';
    const given = raw.replace(/^Bearer\s+/i, '');
    if (!sameSecret(given, options.secret)) {
      options.log.warn('fhir notification refused', {
        code: 'ERR_FHIR_SUBSCRIPTION_SECRET',
        bytes: delivery.body.length,
        header: raw === '' ? 'missing' : 'wrong',
      });
      return problem(
        new PasserelleError(
          'ERR_FHIR_SUBSCRIPTION_SECRET',
          `the notification lacks the link's shared secret in ${options.header}`,
        ),
        401,
      );
    }
  }
  options.requestPoll?.();
  options.log.debug('fhir notification: poll requested', { bytes: delivery.body.length });
  // R4 rest-hook: any 2xx acknowledges; the body is informational.
  return {
    status: 200,
    body: { accepted: true, poll: options.requestPoll !== undefined ? 'requested' : 'scheduled only' },
  };
}
