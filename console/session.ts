/** Who is signed in, as the API tells it (GET /api/v1/session). */
import { getJson, sendJson, setCsrfToken } from './api.js';

export type Role = 'admin' | 'integrator' | 'viewer';

export interface Session {
  readonly actor: string;
  readonly label: string | null;
  readonly role: Role;
  readonly practiceId: string | null;
  readonly via: 'key' | 'oidc';
  readonly csrfToken?: string;
  readonly idleTimeoutSeconds?: number;
  readonly grants: readonly Role[];
}

export interface SignInOptions {
  readonly oidc: { readonly enabled: boolean; readonly label: string | null };
}

export async function currentSession(): Promise<Session | null> {
  try {
    const s = await getJson<Session>('/api/v1/session', { quietUnauthorized: true });
    setCsrfToken(s.csrfToken ?? null);
    return s;
  } catch {
    return null;
  }
}

export async function signInWithKey(apiKey: string): Promise<Session> {
  const s = await sendJson<Session>('POST', '/api/v1/session', { body: { apiKey }, quietUnauthorized: true });
  setCsrfToken(s.csrfToken ?? null);
  return s;
}

export async function signOut(): Promise<void> {
  try {
    await sendJson('DELETE', '/api/v1/session', { quietUnauthorized: true });
  } finally {
    setCsrfToken(null);
  }
}

export function signInOptions(): Promise<SignInOptions> {
  return getJson<SignInOptions>('/api/v1/session/options', { quietUnauthorized: true });
}

/** What the role may do: the console hides the rest (the API refuses it anyway). */
export function can(session: Session | null, needed: Role): boolean {
  return session?.grants.includes(needed) ?? false;
}
