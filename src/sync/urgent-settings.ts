/**
 * A practice's urgent-message settings (`settings.urgentAck`, issue 21 point 2), checked and
 * sealed when the practice is written, read by the escalation job:
 * - `delayMinutes` (default 15): how long an urgent message waits for the acknowledgement;
 * - `callbackAfterMinutes` (default 15): how long after the gateway notification the
 *   secretariat is asked to call the practice back;
 * - `linkValidityMinutes` (default 240): how long the one-time acknowledgement link works;
 * - `acceptHl7Ack` (default false): count the practice software's HL7 accept of the message
 *   (MSA-1 AA/CA) as the acknowledgement — the HL7 profiles carry no read receipt, so this says
 *   "the software took it", not "someone read it"; off unless the practice chooses it;
 * - `gateway`: the practice's SMS/e-mail gateway webhook `{ url, secret? }` (step 1), https
 *   unless loopback (src/security/outbound-urls.ts), signed like the digest webhook; the secret
 *   is sealed with the service key and shown back as `hasSecret` only.
 */
import { z } from 'zod';

import { PasserelleError } from '../errors.js';
import { isLoopbackHost } from '../security/outbound-urls.js';
import type { SecretBox } from '../security/secrets.js';
import { webhookKey } from '../security/webhook-signature.js';
import type { JsonObject } from '../store/types.js';

export const URGENT_DEFAULTS = {
  delayMinutes: 15,
  callbackAfterMinutes: 15,
  linkValidityMinutes: 240,
} as const;

const Minutes = z.number().int().min(1).max(1440);
const GatewayUrl = z
  .url({ protocol: /^https?$/, error: 'not an http(s) URL' })
  .refine((u) => u.startsWith('https:') || isLoopbackHost(new URL(u).hostname), {
    error: 'must be https unless the host is loopback (src/security/outbound-urls.ts)',
  });
const Common = {
  delayMinutes: Minutes.optional(),
  callbackAfterMinutes: Minutes.optional(),
  linkValidityMinutes: z.number().int().min(5).max(10080).optional(),
  acceptHl7Ack: z.boolean().optional(),
};
const Input = z.strictObject({
  ...Common,
  gateway: z
    .strictObject({
      url: GatewayUrl,
      secret: z.string().nullable().optional(),
      hasSecret: z.boolean().optional(),
    })
    .nullable()
    .optional(),
});
const Stored = z.strictObject({
  ...Common,
  gateway: z.strictObject({ url: GatewayUrl, sealedSecret: z.string().optional() }).nullable().optional(),
});

export interface UrgentSettings {
  readonly delayMs: number;
  readonly callbackAfterMs: number;
  readonly linkValidityMs: number;
  readonly acceptHl7Ack: boolean;
  readonly gateway: { readonly url: string; readonly secret?: string } | null;
}

const sealContext = (practiceId: string) => `practice:${practiceId}:urgentGateway`;

/**
 * The settings to store: `urgentAck.gateway.secret` (clear, from the API) checked and sealed;
 * absent keeps the stored one, null removes it. Throws ERR_VALIDATION naming
 * `body.settings.urgentAck.*`.
 */
export function sealUrgentSettings(
  settings: JsonObject,
  previous: JsonObject | null,
  box: SecretBox,
  practiceId: string,
): JsonObject {
  const raw = settings['urgentAck'];
  if (raw === undefined || raw === null) return settings;
  const parsed = Input.safeParse(raw);
  const issues = parsed.success
    ? []
    : parsed.error.issues.map((i) => ({
        path: ['body', 'settings', 'urgentAck', ...i.path.map(String)].join('.'),
        message: i.message,
      }));
  const secret = parsed.success ? parsed.data.gateway?.secret : undefined;
  if (typeof secret === 'string') {
    try {
      webhookKey(secret);
    } catch (e) {
      issues.push({ path: 'body.settings.urgentAck.gateway.secret', message: (e as Error).message });
    }
  }
  if (!parsed.success || issues.length > 0)
    throw new PasserelleError('ERR_VALIDATION', `${issues[0]?.path}: ${issues[0]?.message}`, { issues });
  const { gateway, ...rest } = parsed.data;
  if (!gateway) return { ...settings, urgentAck: { ...rest, ...(gateway === null && { gateway: null }) } };
  let sealedSecret: string | undefined;
  if (typeof secret === 'string') sealedSecret = box.seal(secret, sealContext(practiceId));
  else if (secret === undefined) {
    const kept = Stored.safeParse(previous?.['urgentAck']);
    if (kept.success) sealedSecret = kept.data.gateway?.sealedSecret;
  }
  return {
    ...settings,
    urgentAck: {
      ...rest,
      gateway: { url: gateway.url, ...(sealedSecret !== undefined && { sealedSecret }) },
    },
  };
}

/** The settings as the API shows them: the sealed secret replaced by `hasSecret`. */
export function urgentSettingsView(settings: JsonObject): JsonObject {
  const raw = settings['urgentAck'];
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return settings;
  const gateway = (raw as JsonObject)['gateway'];
  if (gateway === null || typeof gateway !== 'object' || Array.isArray(gateway)) return settings;
  const { sealedSecret, secret, ...rest } = gateway as JsonObject;
  return {
    ...settings,
    urgentAck: {
      ...(raw as JsonObject),
      gateway: { ...rest, hasSecret: sealedSecret !== undefined || secret !== undefined },
    },
  };
}

/**
 * The practice's settings with defaults, the gateway secret opened. Unusable stored settings
 * (a key change) give ERR_URGENT_CONFIG; the job then still escalates to the secretariat.
 */
export function urgentSettingsOf(
  settings: JsonObject,
  box: SecretBox,
  practiceId: string,
): { settings: UrgentSettings; error: PasserelleError | null } {
  const parsed = Stored.safeParse(settings['urgentAck'] ?? {});
  const base = {
    delayMs: URGENT_DEFAULTS.delayMinutes * 60_000,
    callbackAfterMs: URGENT_DEFAULTS.callbackAfterMinutes * 60_000,
    linkValidityMs: URGENT_DEFAULTS.linkValidityMinutes * 60_000,
    acceptHl7Ack: false,
    gateway: null,
  };
  if (!parsed.success)
    return {
      settings: base,
      error: new PasserelleError('ERR_URGENT_CONFIG', 'settings.urgentAck is malformed', {
        issues: parsed.error.issues.map((i) => ({
          path: ['settings', 'urgentAck', ...i.path.map(String)].join('.'),
          message: i.message,
        })),
      }),
    };
  const s = parsed.data;
  const out = {
    delayMs: (s.delayMinutes ?? URGENT_DEFAULTS.delayMinutes) * 60_000,
    callbackAfterMs: (s.callbackAfterMinutes ?? URGENT_DEFAULTS.callbackAfterMinutes) * 60_000,
    linkValidityMs: (s.linkValidityMinutes ?? URGENT_DEFAULTS.linkValidityMinutes) * 60_000,
    acceptHl7Ack: s.acceptHl7Ack ?? false,
  };
  if (!s.gateway) return { settings: { ...out, gateway: null }, error: null };
  if (s.gateway.sealedSecret === undefined)
    return { settings: { ...out, gateway: { url: s.gateway.url } }, error: null };
  try {
    const secret = box.open(s.gateway.sealedSecret, sealContext(practiceId));
    return { settings: { ...out, gateway: { url: s.gateway.url, secret } }, error: null };
  } catch {
    return {
      settings: { ...out, gateway: null },
      error: new PasserelleError(
        'ERR_URGENT_CONFIG',
        'settings.urgentAck.gateway.secret cannot be decrypted with the configured key; set it again',
      ),
    };
  }
}
