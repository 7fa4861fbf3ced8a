/**
 * A small History-API router: console URLs are real addresses (bookmarkable, shareable among
 * staff), every one answered by the same page on the server.
 */
import { useEffect, useState } from 'preact/hooks';

export const BASE = '/console';

export interface Location {
  readonly path: string;
  readonly search: URLSearchParams;
}

function read(): Location {
  const p = window.location.pathname.startsWith(BASE) ? window.location.pathname.slice(BASE.length) : '/';
  return { path: p === '' ? '/' : p, search: new URLSearchParams(window.location.search) };
}

const listeners = new Set<() => void>();

export function navigate(to: string, options: { replace?: boolean } = {}): void {
  const url = to.startsWith(BASE) ? to : `${BASE}${to}`;
  if (options.replace) window.history.replaceState(null, '', url);
  else window.history.pushState(null, '', url);
  for (const l of listeners) l();
}

/** Sets query parameters of the current page (filters) without a new history entry. */
export function setSearch(params: Readonly<Record<string, string | null | undefined>>): void {
  const loc = read();
  for (const [k, v] of Object.entries(params)) {
    if (v === null || v === undefined || v === '') loc.search.delete(k);
    else loc.search.set(k, v);
  }
  const q = loc.search.toString();
  navigate(`${loc.path}${q ? `?${q}` : ''}`, { replace: true });
}

export function useLocation(): Location {
  const [loc, setLoc] = useState(read);
  useEffect(() => {
    const update = () => setLoc(read());
    listeners.add(update);
    window.addEventListener('popstate', update);
    return () => {
      listeners.delete(update);
      window.removeEventListener('popstate', update);
    };
  }, []);
  return loc;
}

/** `/liaisons/:id` against `/liaisons/l1` → { id: 'l1' }; null when it does not match. */
export function match(pattern: string, path: string): Record<string, string> | null {
  const a = pattern.split('/').filter(Boolean);
  const b = path.split('/').filter(Boolean);
  if (a.length !== b.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < a.length; i++) {
    const seg = a[i] as string;
    const val = b[i] as string;
    if (seg.startsWith(':')) params[seg.slice(1)] = decodeURIComponent(val);
    else if (seg !== val) return null;
  }
  return params;
}

/** Same-origin console links are followed without a page load; modified clicks are left alone. */
export function interceptLinks(root: HTMLElement): void {
  root.addEventListener('click', (e) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    const a = (e.target as Element | null)?.closest('a');
    if (!a || a.target || a.hasAttribute('download')) return;
    const href = a.getAttribute('href');
    if (!href?.startsWith(`${BASE}/`) && href !== BASE) return;
    if (href.startsWith(`${BASE}/auth/`)) return;
    e.preventDefault();
    navigate(href);
  });
}
