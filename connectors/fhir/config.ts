/**
 * A `fhir` link's configuration (link.config, validated before anything starts) and its
 * credentials (link.secrets, decrypted by the runtime into ctx.secrets). Secrets never sit in
 * the config: the config is returned by the admin API, the secrets never are.
 */
import { z } from 'zod';

import { PasserelleError } from '../../src/errors.js';
import { RESOURCE_KINDS, type ResourceKind } from '../../src/model/resources.js';
import type { FhirAuth } from './client/index.js';

/**
 * The order kinds are pulled in: a record's references must be known before it arrives
 * (a PractitionerRole and a Schedule name their Practitioner, a Slot its Schedule, an Appointment its Patient,
 * Practitioner and Slot), else the engine sets it aside (ERR_SYNC_UNKNOWN_REFERENCE).
 */
export const PULL_ORDER: readonly ResourceKind[] = [
  'Practitioner',
  'PractitionerRole',
  'Patient',
  'Schedule',
  'Slot',
  'Appointment',
  'Communication',
];

const uri = z.string().regex(/^\S+$/, { error: 'must be a URI without spaces' });

const AuthConfig = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('none') }),
  /** Password in secrets.password. */
  z.strictObject({ type: z.literal('basic'), username: z.string().min(1) }),
  /** Token in secrets.token. */
  z.strictObject({ type: z.literal('bearer') }),
  /** SMART Backend Services; the private key (PKCS#8 PEM) in secrets.privateKey. */
  z.strictObject({
    type: z.literal('smart-backend'),
    clientId: z.string().min(1),
    keyId: z.string().min(1),
    algorithm: z.enum(['RS384', 'ES384']).default('RS384'),
    scope: z.string().min(1),
    tokenEndpoint: z.url({ protocol: /^https?$/ }).optional(),
    jwksUrl: z.url({ protocol: /^https?$/ }).optional(),
  }),
]);

export const FhirConfig = z.strictObject({
  /** FHIR base, e.g. `https://logiciel.example.fr/fhir/R4`. */
  baseUrl: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }),
  auth: AuthConfig.default({ type: 'none' }),
  /** Per HTTP attempt. */
  timeoutMs: z.number().int().min(100).max(120_000).default(10_000),
  /** Client retries of idempotent requests (429, 5xx, timeouts), Retry-After honoured. */
  retry: z
    .strictObject({
      max: z.number().int().min(0).max(10).default(3),
      baseDelayMs: z.number().int().min(1).max(60_000).default(500),
      maxDelayMs: z.number().int().min(1).max(600_000).default(30_000),
    })
    .default({ max: 3, baseDelayMs: 500, maxDelayMs: 30_000 }),
  /** `_count` of each search page (the FHIR server may answer fewer). */
  pageSize: z.number().int().min(1).max(1000).default(1000),
  /**
   * Each incremental search starts this long before the last `_lastUpdated` taken: a server may
   * commit a resource after another with a later timestamp. Versions already taken are skipped.
   */
  overlapSeconds: z.number().int().min(0).max(3600).default(120),
  /** Kinds pulled, in PULL_ORDER whatever the order given; the profile must read them. */
  kinds: z
    .array(z.enum(RESOURCE_KINDS))
    .min(1)
    .refine((k) => new Set(k).size === k.length, { error: 'lists a kind twice' })
    .default([...PULL_ORDER]),
  /**
   * System of the appointments' business identifier, the key of conditional updates (ANS
   * shared-agenda guide, flow 6b). Default: the profile's `appointmentSystem` constant.
   */
  identifierSystem: uri.optional(),
  /**
   * Deletions: `auto` reads type-level `_history` where the CapabilityStatement offers it, and
   * otherwise (or when the server refuses it) checks the link's known ids for existence every
   * `reconcileMinutes`; `off` polls no deletion (one is then met at passerelle's next write).
   */
  history: z.enum(['auto', 'off']).default('auto'),
  /** Least time between two existence checks of a kind's known ids (0: every round). */
  reconcileMinutes: z.number().int().min(0).max(10_080).default(60),
  /**
   * Subscription (R4 rest-hook) notifications on `POST /hooks/fhir/<link id>`: a hint that
   * triggers a poll. With secrets.subscriptionSecret, the notification must carry it in
   * `header` (the Subscription's channel.header).
   */
  subscription: z
    .strictObject({
      enabled: z.boolean().default(true),
      header: z
        .string()
        .regex(/^[A-Za-z0-9-]{1,64}$/)
        .default('x-passerelle-secret'),
    })
    .default({ enabled: true, header: 'x-passerelle-secret' }),
});
export type FhirConfig = z.infer<typeof FhirConfig>;

export const FhirSecrets = z.strictObject({
  password: z.string().min(1).optional(),
  token: z.string().min(1).optional(),
  privateKey: z.string().min(1).optional(),
  subscriptionSecret: z.string().min(16, { error: 'must be at least 16 characters' }).optional(),
});
export type FhirSecrets = z.infer<typeof FhirSecrets>;

/** The kinds to pull, in dependency order. */
export function pullKinds(config: FhirConfig): ResourceKind[] {
  return PULL_ORDER.filter((k) => config.kinds.includes(k));
}

function credentialsError(linkId: string, path: string, message: string): PasserelleError {
  return new PasserelleError('ERR_FHIR_CREDENTIALS', `link ${linkId}: secrets.${path}: ${message}`, {
    details: { linkId },
    issues: [{ path: `secrets.${path}`, message }],
  });
}

/** Reads the link's secrets and builds the client's auth from them; throws ERR_FHIR_CREDENTIALS. */
export function readSecrets(
  config: FhirConfig,
  secrets: unknown,
  linkId: string,
): { auth: FhirAuth; subscriptionSecret: string | undefined } {
  const parsed = FhirSecrets.safeParse(secrets ?? {});
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw credentialsError(linkId, first?.path.map(String).join('.') ?? '', first?.message ?? 'invalid');
  }
  const s = parsed.data;
  const a = config.auth;
  let auth: FhirAuth;
  switch (a.type) {
    case 'none':
      auth = { type: 'none' };
      break;
    case 'basic':
      if (!s.password) throw credentialsError(linkId, 'password', 'basic authentication needs a password');
      auth = { type: 'basic', username: a.username, password: s.password };
      break;
    case 'bearer':
      if (!s.token) throw credentialsError(linkId, 'token', 'bearer authentication needs a token');
      auth = { type: 'bearer', token: s.token };
      break;
    case 'smart-backend':
      if (!s.privateKey)
        throw credentialsError(
          linkId,
          'privateKey',
          'SMART backend authentication needs a private key (PKCS#8 PEM)',
        );
      auth = {
        type: 'smart-backend',
        clientId: a.clientId,
        keyId: a.keyId,
        algorithm: a.algorithm,
        scope: a.scope,
        privateKey: s.privateKey,
        ...(a.tokenEndpoint && { tokenEndpoint: a.tokenEndpoint }),
        ...(a.jwksUrl && { jwksUrl: a.jwksUrl }),
      };
      break;
    default:
      return a satisfies never;
  }
  return { auth, subscriptionSecret: s.subscriptionSecret };
}
