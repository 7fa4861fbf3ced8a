import { createHash, randomBytes } from 'node:crypto';

import type { Store } from '../store/index.js';
import type { ApiKey, ApiRole } from '../store/types.js';

/** Keys look like `psk_<43 base64url chars>` (256 bits); only their SHA-256 is stored. */
export const API_KEY_PREFIX = 'psk_';

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export function generateApiKey(): { key: string; prefix: string; hash: string } {
  const key = API_KEY_PREFIX + randomBytes(32).toString('base64url');
  return { key, prefix: key.slice(0, API_KEY_PREFIX.length + 6), hash: hashSecret(key) };
}

export interface CreatedApiKey {
  /** Shown once; never stored. */
  readonly key: string;
  readonly record: ApiKey;
}

export async function createApiKey(
  store: Store,
  input: {
    role: ApiRole;
    label?: string | null;
    practiceId?: string | null;
    createdBy: string;
    via: string;
    requestId?: string | null;
  },
): Promise<CreatedApiKey> {
  const { key, prefix, hash } = generateApiKey();
  const record = await store.transaction(async (tx) => {
    const rec = await tx.apiKeys.create({
      keyHash: hash,
      prefix,
      role: input.role,
      label: input.label ?? null,
      practiceId: input.practiceId ?? null,
      createdBy: input.createdBy,
    });
    await tx.audit.append({
      actor: input.createdBy,
      action: 'apikey.create',
      resourceType: 'ApiKey',
      resourceId: rec.id,
      outcome: 'success',
      via: input.via,
      requestId: input.requestId ?? null,
      details: { role: input.role },
    });
    return rec;
  });
  return { key, record };
}

/** Role order: each role can do everything the roles after it can. */
export const ROLE_RANK: Readonly<Record<ApiRole, number>> = { admin: 3, integrator: 2, viewer: 1 };

export function roleAllows(held: ApiRole, needed: ApiRole): boolean {
  return ROLE_RANK[held] >= ROLE_RANK[needed];
}
