/**
 * The secretariat's webhooks, as they arrive on passerelle's `/hooks/secretariat/<linkId>`.
 * Order matters (design rules 1, 2 and the Security section):
 * 1. verify the signature and timestamp on the raw bytes, before any parsing — a forged or
 *    stale delivery is answered 401 and never reaches the engine;
 * 2. parse and map the change; a signed delivery that does not parse is still handed over,
 *    with `error` set, so it is stored and dead-lettered rather than lost;
 * 3. hand it to the engine with the dedupe key `webhook:<webhook-id>` (the engine stores the
 *    key in the same transaction as the effects) and answer 2xx only once that resolved;
 *    a resend of a committed delivery gets the first answer back.
 */
import { createHash } from 'node:crypto';

import type {
  HttpAnswer,
  HttpDelivery,
  InboundHandler,
  InboundMessage,
  IngestOutcome,
} from '../../src/connector/contract.js';
import { isPasserelleError, PasserelleError } from '../../src/errors.js';
import type { Logger } from '../../src/log/logger.js';
import { verifyWebhook, WEBHOOK_RECEIVE_TOLERANCE_SECONDS } from '../../src/security/webhook-signature.js';
import { PROBLEM_TYPE_BASE, WebhookPayload } from './contract.js';
import { changeToRecord, isNews } from './mapping.js';

export interface WebhookReceiverOptions {
  /** Current secret first, then the previous one during a rotation. */
  readonly secrets: readonly string[];
  readonly now: () => number;
  /** The platform practice this link follows; a delivery for another one is invalid. */
  readonly practiceId: string;
  readonly log: Logger;
  /** ±seconds between webhook-timestamp and `now` (default: WEBHOOK_RECEIVE_TOLERANCE_SECONDS, 10 min). */
  readonly toleranceSeconds?: number;
}

/** RFC 9457 problem answer carrying our error code; the message holds no patient data. */
function problem(e: PasserelleError, status: number, headers: Record<string, string> = {}): HttpAnswer {
  return {
    status,
    headers: { 'Content-Type': 'application/problem+json', ...headers },
    body: {
      type: `${PROBLEM_TYPE_BASE}${e.code.toLowerCase().replace(/_/g, '-')}`,
      title: e.message,
      status,
      code: e.code,
    },
  };
}

interface AnswerBody {
  readonly webhookId: string;
  readonly outcome: IngestOutcome['status'] | 'duplicate';
}

export async function receiveWebhook(
  delivery: HttpDelivery,
  handler: InboundHandler,
  options: WebhookReceiverOptions,
): Promise<HttpAnswer> {
  const { log } = options;
  let webhookId: string;
  try {
    ({ id: webhookId } = verifyWebhook(delivery.headers, delivery.body, {
      secrets: options.secrets,
      now: options.now(),
      toleranceSeconds: options.toleranceSeconds ?? WEBHOOK_RECEIVE_TOLERANCE_SECONDS,
    }));
  } catch (e) {
    if (!isPasserelleError(e)) throw e;
    // Refused before parsing: nothing of the body is looked at, stored or logged.
    log.warn('webhook refused', {
      code: e.code,
      bytes: delivery.body.length,
      ...(typeof e.details['webhookId'] === 'string' && { webhookId: e.details['webhookId'] }),
    });
    return problem(e, 401);
  }

  const bodyHash = createHash('sha256').update(delivery.body).digest('hex');
  let messageType = 'secretariat.webhook';
  let records: InboundMessage['records'] = [];
  let error: PasserelleError | undefined;
  try {
    let json: unknown;
    try {
      json = JSON.parse(delivery.body.toString('utf8'));
    } catch (e) {
      throw new PasserelleError('ERR_WEBHOOK_PAYLOAD', 'the webhook body is not JSON', { cause: e });
    }
    const parsed = WebhookPayload.safeParse(json);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => ({
        path: i.path.map(String).join('.'),
        message: i.message,
      }));
      throw new PasserelleError(
        'ERR_WEBHOOK_PAYLOAD',
        `the webhook body is not a change (${issues[0]?.path}: ${issues[0]?.message})`,
        { issues },
      );
    }
    messageType = parsed.data.type;
    if (parsed.data.practiceId !== options.practiceId) {
      throw new PasserelleError(
        'ERR_WEBHOOK_PAYLOAD',
        'the webhook is for another practice than this link follows',
        { details: { webhookId } },
      );
    }
    const record = changeToRecord(parsed.data.data, 'ERR_WEBHOOK_PAYLOAD');
    // Still read (a broken one is dead-lettered), but not handed over when it is not news.
    records = record === null || !isNews(parsed.data.data) ? [] : [record];
  } catch (e) {
    if (!isPasserelleError(e)) throw e;
    error = e;
  }

  const message: InboundMessage = {
    dedupe: { key: `webhook:${webhookId}`, bodyHash, messageType, body: delivery.body },
    records,
    ...(error !== undefined && { error }),
    respond: (outcome) =>
      Buffer.from(JSON.stringify({ webhookId, outcome: outcome.status } satisfies AnswerBody)),
  };

  let result;
  try {
    result = await handler(message);
  } catch (e) {
    // Nothing was committed: a non-2xx makes the platform deliver again (Standard Webhooks, "Deliverability").
    const err = isPasserelleError(e)
      ? e
      : new PasserelleError('ERR_INTERNAL', 'the webhook could not be stored', { cause: e });
    log.error('webhook not stored', { webhookId, messageType, code: err.code });
    return problem(err, 503, { 'Retry-After': String(Math.ceil(err.retryAfterSeconds ?? 30)) });
  }

  let body: AnswerBody = { webhookId, outcome: result.outcome };
  if (result.outcome === 'duplicate' && result.response !== null) {
    try {
      body = JSON.parse(result.response.toString('utf8')) as AnswerBody;
    } catch {
      body = { webhookId, outcome: 'duplicate' };
    }
  }
  log.info('webhook received', {
    webhookId,
    messageType,
    outcome: result.outcome,
    records: records.length,
    ...(error && { code: error.code }),
  });
  // Every committed delivery is acknowledged, the invalid ones too: they wait in dead letters
  // for an operator, and a redelivery would change nothing.
  return { status: 200, headers: { 'Content-Type': 'application/json' }, body };
}
