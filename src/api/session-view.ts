/**
 * What the console reads about who is signed in (GET/POST /api/v1/session) and how it may sign
 * in (GET /api/v1/session/options). Types only, so the console can `import type` them.
 */
import type { ApiRole } from '../store/types.js';

export interface SessionView {
  /** The audit trail's actor: the API key id, or `oidc:<issuer host>:<sub>`. */
  readonly actor: string;
  /** The key's label or the OIDC user's name (or e-mail). */
  readonly label: string | null;
  readonly role: ApiRole;
  /** The practice the caller is limited to, or null. */
  readonly practiceId: string | null;
  readonly via: 'key' | 'oidc';
  /** Cookie sessions only: send it back as the X-CSRF-Token header on every POST/PUT/PATCH/DELETE. */
  readonly csrfToken?: string;
  /** Cookie sessions only: the session ends after this long without a request. */
  readonly idleTimeoutSeconds?: number;
  /** Cookie sessions only: when the session ends however active (ISO 8601). */
  readonly expiresAt?: string;
  /** The roles this role includes (its own first), e.g. admin → admin, integrator, viewer. */
  readonly grants: readonly ApiRole[];
}

export interface SessionOptionsView {
  readonly oidc: {
    readonly enabled: boolean;
    /** The sign-in button's text ("Pro Santé Connect"); null when OIDC is off. */
    readonly label: string | null;
  };
}
