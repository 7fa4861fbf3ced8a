/**
 * Feed tokens: create, rotate, revoke, change, list — shared by the admin API and the CLI, each
 * change audited in the same transaction. The secret is returned once, by create and rotate;
 * the store keeps its SHA-256 only.
 */
import { PasserelleError } from '../errors.js';
import type { Store } from '../store/index.js';
import type { IcalPrivacy, IcalToken } from '../store/types.js';
import { generateFeedToken } from './feed-token.js';

const DAY_MS = 86_400_000;

/** Who is acting: an API key (with its role) or the CLI, which has admin rights on the store it opens. */
export interface FeedTokenActor {
  readonly id: string;
  readonly role: 'admin' | 'integrator' | 'viewer' | 'cli';
  readonly via: 'api' | 'cli';
  readonly requestId?: string | null;
}

/** Only an administrator may publish patient details (privacy `full`). */
const mayEnableFull = (actor: FeedTokenActor) => actor.role === 'admin' || actor.role === 'cli';

export type FeedTokenStatus = 'active' | 'revoked' | 'expired';

/**
 * Revoked, past `expiresAt`, or unused for `unusedExpiryDays` (counted from the last fetch, or
 * from creation when it was never fetched). The feed route answers all three like an unknown
 * token.
 */
export function feedTokenStatus(t: IcalToken, nowMs: number): FeedTokenStatus {
  if (t.revokedAt !== null) return 'revoked';
  if (t.expiresAt !== null && Date.parse(t.expiresAt) <= nowMs) return 'expired';
  if (t.unusedExpiryDays !== null) {
    const lastUse = Math.max(Date.parse(t.createdAt), t.lastUsedAt ? Date.parse(t.lastUsedAt) : 0);
    if (lastUse + t.unusedExpiryDays * DAY_MS <= nowMs) return 'expired';
  }
  return 'active';
}

/** A token as the API and the CLI show it: never the secret nor its hash. */
export interface FeedTokenView {
  readonly id: string;
  readonly practiceId: string;
  readonly practitionerId: string | null;
  readonly label: string | null;
  readonly privacy: IcalPrivacy;
  readonly fullAllowed: boolean;
  readonly status: FeedTokenStatus;
  readonly createdBy: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly version: number;
  readonly expiresAt: string | null;
  readonly unusedExpiryDays: number | null;
  readonly lastUsedAt: string | null;
  readonly revokedAt: string | null;
}

export function feedTokenView(t: IcalToken, nowMs: number): FeedTokenView {
  return {
    id: t.id,
    practiceId: t.practiceId,
    practitionerId: t.practitionerId,
    label: t.label,
    privacy: t.privacy,
    fullAllowed: t.fullAllowed,
    status: feedTokenStatus(t, nowMs),
    createdBy: t.createdBy,
    createdAt: t.createdAt,
    updatedAt: t.updatedAt,
    version: t.version,
    expiresAt: t.expiresAt,
    unusedExpiryDays: t.unusedExpiryDays,
    lastUsedAt: t.lastUsedAt,
    revokedAt: t.revokedAt,
  };
}

export interface CreateFeedTokenInput {
  readonly practiceId: string;
  /** Canonical Practitioner id; null or absent for a practice-wide feed. */
  readonly practitionerId?: string | null;
  readonly label?: string | null;
  readonly privacy?: IcalPrivacy;
  readonly expiresAt?: string | null;
  readonly unusedExpiryDays?: number | null;
}

export interface IssuedFeedToken {
  /** The secret, shown once. */
  readonly token: string;
  readonly record: IcalToken;
}

function forbidFull(): PasserelleError {
  return new PasserelleError(
    'ERR_AUTH_FORBIDDEN',
    'only an admin may enable privacy full (patient names, reasons and phones) on a feed',
  );
}

function checkExpiry(expiresAt: string | null | undefined, nowMs: number): void {
  if (expiresAt === undefined || expiresAt === null) return;
  const ms = Date.parse(expiresAt);
  if (Number.isNaN(ms))
    throw new PasserelleError('ERR_VALIDATION', 'expiresAt: not a date-time', {
      issues: [{ path: 'expiresAt', message: 'not a date-time' }],
    });
  if (ms <= nowMs)
    throw new PasserelleError('ERR_VALIDATION', 'expiresAt: is in the past', {
      issues: [{ path: 'expiresAt', message: 'is in the past' }],
    });
}

export async function createFeedToken(
  store: Store,
  input: CreateFeedTokenInput,
  actor: FeedTokenActor,
): Promise<IssuedFeedToken> {
  const privacy = input.privacy ?? 'busy';
  if (privacy === 'full' && !mayEnableFull(actor)) throw forbidFull();
  checkExpiry(input.expiresAt, store.now());
  await store.practices.require(input.practiceId);
  const practitionerId = input.practitionerId ?? null;
  if (practitionerId !== null) {
    const p = await store.resources.get(practitionerId);
    if (!p || p.kind !== 'Practitioner' || p.practiceId !== input.practiceId) {
      throw new PasserelleError(
        'ERR_VALIDATION',
        `practitionerId: no practitioner ${practitionerId} in practice ${input.practiceId}`,
        {
          issues: [
            {
              path: 'practitionerId',
              message: `no practitioner ${practitionerId} in practice ${input.practiceId}`,
            },
          ],
        },
      );
    }
  }
  const { token, hash } = generateFeedToken();
  const record = await store.transaction(async (tx) => {
    const rec = await tx.icalTokens.create({
      tokenHash: hash,
      practiceId: input.practiceId,
      practitionerId,
      label: input.label ?? null,
      privacy,
      fullAllowed: privacy === 'full',
      createdBy: actor.id,
      expiresAt: input.expiresAt ?? null,
      unusedExpiryDays: input.unusedExpiryDays ?? null,
    });
    await tx.audit.append({
      actor: actor.id,
      role: actor.role === 'cli' ? null : actor.role,
      action: 'ical.token.create',
      resourceType: 'IcalToken',
      resourceId: rec.id,
      outcome: 'success',
      requestId: actor.requestId ?? null,
      via: actor.via,
      details: { practiceId: rec.practiceId, practitionerId: rec.practitionerId, privacy: rec.privacy },
    });
    return rec;
  });
  return { token, record };
}

async function requireToken(store: Store, id: string): Promise<IcalToken> {
  const t = await store.icalTokens.get(id);
  if (!t)
    throw new PasserelleError('ERR_NOT_FOUND', `ical token ${id} not found`, { details: { icalToken: id } });
  return t;
}

/** A new secret for the same feed; the old URL answers 404 from the moment this commits. */
export async function rotateFeedToken(
  store: Store,
  id: string,
  actor: FeedTokenActor,
): Promise<IssuedFeedToken> {
  const current = await requireToken(store, id);
  if (current.revokedAt !== null)
    throw new PasserelleError('ERR_CONFLICT', `ical token ${id} is revoked; create a new one`, {
      details: { icalToken: id },
    });
  const { token, hash } = generateFeedToken();
  const record = await store.transaction(async (tx) => {
    const rec = await tx.icalTokens.update(id, { tokenHash: hash });
    await tx.audit.append({
      actor: actor.id,
      role: actor.role === 'cli' ? null : actor.role,
      action: 'ical.token.rotate',
      resourceType: 'IcalToken',
      resourceId: id,
      outcome: 'success',
      requestId: actor.requestId ?? null,
      via: actor.via,
    });
    return rec;
  });
  return { token, record };
}

export async function revokeFeedToken(store: Store, id: string, actor: FeedTokenActor): Promise<IcalToken> {
  await requireToken(store, id);
  return store.transaction(async (tx) => {
    await tx.icalTokens.revoke(id);
    await tx.audit.append({
      actor: actor.id,
      role: actor.role === 'cli' ? null : actor.role,
      action: 'ical.token.revoke',
      resourceType: 'IcalToken',
      resourceId: id,
      outcome: 'success',
      requestId: actor.requestId ?? null,
      via: actor.via,
    });
    return (await tx.icalTokens.get(id)) as IcalToken;
  });
}

export interface FeedTokenPatch {
  readonly privacy?: IcalPrivacy;
  readonly label?: string | null;
  readonly expiresAt?: string | null;
  readonly unusedExpiryDays?: number | null;
}

/**
 * Changes a feed's settings. Moving to `full` needs an admin and is audited as such; moving away
 * from it withdraws the permission, so going back needs an admin again.
 */
export async function updateFeedToken(
  store: Store,
  id: string,
  patch: FeedTokenPatch,
  actor: FeedTokenActor,
): Promise<IcalToken> {
  const current = await requireToken(store, id);
  if (current.revokedAt !== null)
    throw new PasserelleError('ERR_CONFLICT', `ical token ${id} is revoked`, { details: { icalToken: id } });
  const enablingFull = patch.privacy === 'full' && !(current.privacy === 'full' && current.fullAllowed);
  if (enablingFull && !mayEnableFull(actor)) {
    await store.audit.append({
      actor: actor.id,
      role: actor.role === 'cli' ? null : actor.role,
      action: 'ical.token.enable-full',
      resourceType: 'IcalToken',
      resourceId: id,
      outcome: 'denied',
      requestId: actor.requestId ?? null,
      via: actor.via,
    });
    throw forbidFull();
  }
  checkExpiry(patch.expiresAt, store.now());
  return store.transaction(async (tx) => {
    const rec = await tx.icalTokens.update(id, {
      ...(patch.privacy !== undefined && { privacy: patch.privacy, fullAllowed: patch.privacy === 'full' }),
      ...(patch.label !== undefined && { label: patch.label }),
      ...(patch.expiresAt !== undefined && { expiresAt: patch.expiresAt }),
      ...(patch.unusedExpiryDays !== undefined && { unusedExpiryDays: patch.unusedExpiryDays }),
    });
    await tx.audit.append({
      actor: actor.id,
      role: actor.role === 'cli' ? null : actor.role,
      action: enablingFull ? 'ical.token.enable-full' : 'ical.token.update',
      resourceType: 'IcalToken',
      resourceId: id,
      outcome: 'success',
      requestId: actor.requestId ?? null,
      via: actor.via,
      details: {
        fields: Object.keys(patch).filter((k) => patch[k as keyof FeedTokenPatch] !== undefined),
        privacy: rec.privacy,
      },
    });
    return rec;
  });
}
