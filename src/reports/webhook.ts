/**
 * The daily digest POSTed to a practice's own webhook (`settings.digestWebhook`), signed like
 * the secretariat platform's webhooks: Standard Webhooks v1.0.0 (standardwebhooks.com) headers
 * `webhook-id` (stable per practice and day, so the receiver can drop a resend),
 * `webhook-timestamp` and `webhook-signature: v1,<base64 HMAC-SHA256 of id.timestamp.body>`,
 * when a `whsec_…` secret is set. A run tries a few times with a doubling wait, then gives up
 * until the next run; the caller records the outcome. Redirects are not followed, and the URL
 * (which may hold a token) never appears in errors or logs.
 */
import { createHash } from 'node:crypto';

import axios from 'axios';
import { z } from 'zod';

import { signWebhook, webhookKey, WEBHOOK_HEADERS } from '../../connectors/secretariat/webhook-signature.js';
import { PasserelleError } from '../errors.js';
import type { JsonObject } from '../store/types.js';

export const DigestWebhookSettings = z.strictObject({
  url: z.url({ protocol: /^https?$/, error: 'not an http(s) URL' }),
  /** Standard Webhooks secret (`whsec_` + base64 of 24 to 64 bytes); unsigned without it. */
  secret: z.string().optional(),
});
export type DigestWebhook = z.infer<typeof DigestWebhookSettings>;

/** The practice's digest webhook: none, one, or why its settings are unusable. */
export function digestWebhookOf(settings: JsonObject): { webhook: DigestWebhook | null } | { error: PasserelleError } {
  const raw = settings['digestWebhook'];
  if (raw === undefined || raw === null) return { webhook: null };
  const parsed = DigestWebhookSettings.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => ({ path: ['settings', 'digestWebhook', ...i.path.map(String)].join('.'), message: i.message }));
    return { error: new PasserelleError('ERR_REPORTS_WEBHOOK_CONFIG', `${issues[0]?.path}: ${issues[0]?.message}`, { issues }) };
  }
  if (parsed.data.secret !== undefined) {
    try {
      webhookKey(parsed.data.secret);
    } catch (e) {
      const message = (e as Error).message;
      return { error: new PasserelleError('ERR_REPORTS_WEBHOOK_CONFIG', `settings.digestWebhook.secret: ${message}`, { issues: [{ path: 'settings.digestWebhook.secret', message }] }) };
    }
  }
  return { webhook: parsed.data };
}

/** `webhook-id` of a practice's digest of a day: the same on every attempt and every run. */
export function digestWebhookId(practiceId: string, day: string): string {
  return `digest_${createHash('sha256').update(`${practiceId}|${day}`).digest('hex').slice(0, 32)}`;
}

export interface PostOptions {
  readonly id: string;
  readonly now: () => number;
  readonly timeoutMs: number;
  readonly attempts: number;
  readonly backoffMs: number;
  /** Aborts waits and requests (the service is stopping). */
  readonly signal?: AbortSignal;
}

export type PostResult = { readonly ok: true; readonly status: number; readonly attempts: number } | { readonly ok: false; readonly error: PasserelleError; readonly attempts: number };

/** Temporary answers worth another attempt in the same run (RFC 9110 §15.5.9, §15.6; RFC 6585 §4). */
const retryable = (status: number) => status === 408 || status === 429 || status >= 500;

function wait(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** POSTs `body` (the exact bytes signed) to the webhook; never throws. */
export async function postDigest(webhook: DigestWebhook, body: Buffer, options: PostOptions): Promise<PostResult> {
  let last: PasserelleError = new PasserelleError('ERR_REPORTS_WEBHOOK_FAILED', 'digest webhook not attempted');
  for (let attempt = 1; attempt <= options.attempts; attempt++) {
    if (attempt > 1) await wait(options.backoffMs * 2 ** (attempt - 2), options.signal);
    if (options.signal?.aborted) return { ok: false, error: new PasserelleError('ERR_REPORTS_WEBHOOK_FAILED', 'digest webhook not sent: passerelle is stopping'), attempts: attempt - 1 };
    const timestamp = Math.floor(options.now() / 1000);
    const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'passerelle-digest', [WEBHOOK_HEADERS.id]: options.id, [WEBHOOK_HEADERS.timestamp]: String(timestamp) };
    if (webhook.secret !== undefined) headers[WEBHOOK_HEADERS.signature] = signWebhook([webhook.secret], options.id, timestamp, body);
    try {
      const res = await axios.post(webhook.url, body, {
        headers,
        timeout: options.timeoutMs,
        maxRedirects: 0,
        responseType: 'text',
        // The bytes signed are the bytes sent.
        transformRequest: [(data: unknown) => data],
        validateStatus: () => true,
        ...(options.signal && { signal: options.signal }),
      });
      if (res.status >= 200 && res.status < 300) return { ok: true, status: res.status, attempts: attempt };
      last = new PasserelleError('ERR_REPORTS_WEBHOOK_FAILED', `digest webhook answered HTTP ${res.status}`, { details: { httpStatus: res.status } });
      if (!retryable(res.status)) return { ok: false, error: last, attempts: attempt };
    } catch (e) {
      const code = (e as { code?: string }).code ?? 'ERR_NETWORK';
      last = new PasserelleError('ERR_REPORTS_WEBHOOK_FAILED', code === 'ECONNABORTED' || code === 'ETIMEDOUT' ? `digest webhook did not answer within ${options.timeoutMs} ms` : `digest webhook unreachable (${code})`, { details: { cause: code } });
    }
  }
  return { ok: false, error: last, attempts: options.attempts };
}
