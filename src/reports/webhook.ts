/**
 * The daily digest POSTed to a practice's own webhook (`settings.digestWebhook`), signed like
 * the secretariat platform's webhooks: Standard Webhooks v1.0.0 (standardwebhooks.com) headers
 * `webhook-id` (stable per practice and day, so the receiver can drop a resend),
 * `webhook-timestamp` and `webhook-signature: v1,<base64 HMAC-SHA256 of id.timestamp.body>`,
 * when a `whsec_…` secret is set (stored sealed with the service key, never shown back). A run
 * tries a few times with a doubling wait, then gives up until the next run; the caller records the outcome. Redirects are not followed, and the URL
 * (which may hold a token) never appears in errors or logs.
 */
import { createHash } from 'node:crypto';

import axios from 'axios';
import { z } from 'zod';

import { PasserelleError } from '../errors.js';
import type { SecretBox } from '../security/secrets.js';
import { signWebhook, WEBHOOK_HEADERS, webhookKey } from '../security/webhook-signature.js';
import type { JsonObject } from '../store/types.js';

const WebhookUrl = z.url({ protocol: /^https?$/, error: 'not an http(s) URL' });

/** What the API takes: the secret in clear, sealed before it is stored (see `sealDigestWebhook`). */
export const DigestWebhookInput = z.strictObject({
  url: WebhookUrl,
  /** Standard Webhooks secret (`whsec_` + base64 of 24 to 64 bytes); null removes it, absent keeps the stored one. */
  secret: z.string().nullable().optional(),
  /** As shown by the practice view; ignored, so a settings object read back can be sent again. */
  hasSecret: z.boolean().optional(),
});
/** What the store keeps in `settings.digestWebhook`: the secret sealed with the service key. */
const StoredDigestWebhook = z.strictObject({
  url: WebhookUrl,
  sealedSecret: z.string().optional(),
});
export interface DigestWebhook {
  readonly url: string;
  readonly secret?: string;
}

export const sealContext = (practiceId: string): string => `practice:${practiceId}:digestWebhook`;
const webhookConfigError = (issues: { path: string; message: string }[]) =>
  new PasserelleError('ERR_REPORTS_WEBHOOK_CONFIG', `${issues[0]?.path}: ${issues[0]?.message}`, { issues });

/** Why a `whsec_…` secret is unusable (the secret itself is never repeated), or null. */
function secretProblem(secret: string): string | null {
  try {
    webhookKey(secret);
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

/**
 * The settings to store for a practice: `digestWebhook.secret` (clear text, from the API) is
 * checked and replaced by `sealedSecret`, so viewers never read it and a copied database does
 * not give it away. An absent secret keeps the one already stored; `null` removes it.
 * Throws ERR_VALIDATION naming `body.settings.digestWebhook.*`; nothing is stored then.
 */
export function sealDigestWebhook(
  settings: JsonObject,
  previous: JsonObject | null,
  box: SecretBox,
  practiceId: string,
): JsonObject {
  const raw = settings['digestWebhook'];
  if (raw === undefined || raw === null) return settings;
  const parsed = DigestWebhookInput.safeParse(raw);
  const issues = parsed.success
    ? []
    : parsed.error.issues.map((i) => ({
        path: ['body', 'settings', 'digestWebhook', ...i.path.map(String)].join('.'),
        message: i.message,
      }));
  const problem =
    parsed.success && typeof parsed.data.secret === 'string' ? secretProblem(parsed.data.secret) : null;
  if (problem) issues.push({ path: 'body.settings.digestWebhook.secret', message: problem });
  if (!parsed.success || issues.length > 0)
    throw new PasserelleError('ERR_VALIDATION', `${issues[0]?.path}: ${issues[0]?.message}`, { issues });
  const { url, secret } = parsed.data;
  let sealedSecret: string | undefined;
  if (typeof secret === 'string') sealedSecret = box.seal(secret, sealContext(practiceId));
  else if (secret === undefined) {
    const kept = StoredDigestWebhook.safeParse(previous?.['digestWebhook']);
    if (kept.success) sealedSecret = kept.data.sealedSecret;
  }
  return { ...settings, digestWebhook: { url, ...(sealedSecret !== undefined && { sealedSecret }) } };
}

/** The settings as the API shows them: the sealed secret replaced by `hasSecret`. */
export function digestWebhookView(settings: JsonObject): JsonObject {
  const raw = settings['digestWebhook'];
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return settings;
  const { sealedSecret, secret, ...rest } = raw as JsonObject;
  return {
    ...settings,
    digestWebhook: { ...rest, hasSecret: sealedSecret !== undefined || secret !== undefined },
  };
}

/** The practice's digest webhook with its secret opened: none, one, or why its settings are unusable. */
export function digestWebhookOf(
  settings: JsonObject,
  box: SecretBox,
  practiceId: string,
): { webhook: DigestWebhook | null } | { error: PasserelleError } {
  const raw = settings['digestWebhook'];
  if (raw === undefined || raw === null) return { webhook: null };
  const parsed = StoredDigestWebhook.safeParse(raw);
  if (!parsed.success)
    return {
      error: webhookConfigError(
        parsed.error.issues.map((i) => ({
          path: ['settings', 'digestWebhook', ...i.path.map(String)].join('.'),
          message: i.message,
        })),
      ),
    };
  const { url, sealedSecret } = parsed.data;
  if (sealedSecret === undefined) return { webhook: { url } };
  let secret: string;
  try {
    secret = box.open(sealedSecret, sealContext(practiceId));
  } catch {
    return {
      error: webhookConfigError([
        {
          path: 'settings.digestWebhook.secret',
          message:
            'cannot be decrypted with the configured key (security.encryptionKey changed?); set it again',
        },
      ]),
    };
  }
  const problem = secretProblem(secret);
  if (problem)
    return { error: webhookConfigError([{ path: 'settings.digestWebhook.secret', message: problem }]) };
  return { webhook: { url, secret } };
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

export type PostResult =
  | { readonly ok: true; readonly status: number; readonly attempts: number }
  | { readonly ok: false; readonly error: PasserelleError; readonly attempts: number };

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
export async function postDigest(
  webhook: DigestWebhook,
  body: Buffer,
  options: PostOptions,
): Promise<PostResult> {
  let last: PasserelleError = new PasserelleError(
    'ERR_REPORTS_WEBHOOK_FAILED',
    'digest webhook not attempted',
  );
  for (let attempt = 1; attempt <= options.attempts; attempt++) {
    if (attempt > 1) await wait(options.backoffMs * 2 ** (attempt - 2), options.signal);
    if (options.signal?.aborted)
      return {
        ok: false,
        error: new PasserelleError(
          'ERR_REPORTS_WEBHOOK_FAILED',
          'digest webhook not sent: passerelle is stopping',
        ),
        attempts: attempt - 1,
      };
    const timestamp = Math.floor(options.now() / 1000);
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'passerelle-digest',
      [WEBHOOK_HEADERS.id]: options.id,
      [WEBHOOK_HEADERS.timestamp]: String(timestamp),
    };
    if (webhook.secret !== undefined)
      headers[WEBHOOK_HEADERS.signature] = signWebhook([webhook.secret], options.id, timestamp, body);
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
      last = new PasserelleError('ERR_REPORTS_WEBHOOK_FAILED', `digest webhook answered HTTP ${res.status}`, {
        details: { httpStatus: res.status },
      });
      if (!retryable(res.status)) return { ok: false, error: last, attempts: attempt };
    } catch (e) {
      const code = (e as { code?: string }).code ?? 'ERR_NETWORK';
      last = new PasserelleError(
        'ERR_REPORTS_WEBHOOK_FAILED',
        code === 'ECONNABORTED' || code === 'ETIMEDOUT'
          ? `digest webhook did not answer within ${options.timeoutMs} ms`
          : `digest webhook unreachable (${code})`,
        { details: { cause: code } },
      );
    }
  }
  return { ok: false, error: last, attempts: options.attempts };
}
