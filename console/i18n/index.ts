/**
 * One message catalogue per language (French today), split by page so each page's strings sit
 * together. Every string the console shows comes from here: another language is one more folder.
 */
import { fr } from './fr/index.js';

export type Catalogue = typeof fr;
type Leaves<T, P extends string = ''> = {
  [K in keyof T & string]: T[K] extends string ? `${P}${K}` : Leaves<T[K], `${P}${K}.`>;
}[keyof T & string];
export type MessageKey = Leaves<Catalogue>;

const catalogue: Catalogue = fr;

function lookup(key: string): string {
  let node: unknown = catalogue;
  for (const part of key.split('.')) node = (node as Record<string, unknown> | undefined)?.[part];
  return typeof node === 'string' ? node : key;
}

/** `t('tableau.lienEnEchec', { raison })`: `{raison}` in the message is replaced. */
export function t(key: MessageKey, params?: Readonly<Record<string, string | number>>): string {
  const text = lookup(key);
  if (!params) return text;
  return text.replace(/\{(\w+)\}/g, (m, name: string) => {
    const v = params[name];
    return v === undefined ? m : typeof v === 'number' ? formatNumber(v) : v;
  });
}

export const LOCALE = 'fr-FR';
export const TIME_ZONE = 'Europe/Paris';

export function formatNumber(n: number): string {
  return n.toLocaleString(LOCALE);
}

/** Date and time in the practice's zone (France), as staff read it: « 07/12/2026 09:40 ». */
export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(LOCALE, {
    timeZone: TIME_ZONE,
    day: '2-digit',
    month: '2-digit',
    year: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
  });
}

/** « 3 min », « 2 h 05 », « 4 j »: how long ago or how late, for lags and ages. */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return '—';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ${String(Math.round((s % 3600) / 60)).padStart(2, '0')}`;
  return `${Math.round(s / 86_400)} j`;
}
