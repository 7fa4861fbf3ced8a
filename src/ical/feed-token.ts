import { createHash, randomBytes } from 'node:crypto';

/**
 * Feed URLs carry the secret, because calendar apps cannot send headers: `ics_` + 43 base64url
 * characters (256 random bits). Only its SHA-256 is stored, so a copy of the database opens no
 * feed. The prefix lets secret scanners recognise a leaked URL.
 */
export const FEED_TOKEN_PREFIX = 'ics_';
const FEED_TOKEN = /^ics_[A-Za-z0-9_-]{43}$/;

export function generateFeedToken(): { token: string; hash: string } {
  const token = FEED_TOKEN_PREFIX + randomBytes(32).toString('base64url');
  return { token, hash: hashFeedToken(token) };
}

export function hashFeedToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Shape check only; a malformed token is answered exactly like an unknown one. */
export function isWellFormedFeedToken(token: string): boolean {
  return FEED_TOKEN.test(token);
}

/** `<base>/ical/<token>.ics` */
export function feedUrl(baseUrl: string, token: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/ical/${token}.ics`;
}
