import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';

import { ApiError, forbiddenKey, isStale } from '../api.js';
import { t } from '../i18n/index.js';

export function PageHeader(props: { title: string; intro?: string; children?: ComponentChildren }) {
  const h1 = useRef<HTMLHeadingElement>(null);
  // Focus moves to the new page's title, so keyboard and screen-reader users know where they are.
  useEffect(() => {
    document.title = `${props.title} — passerelle`;
    h1.current?.focus();
  }, [props.title]);
  return (
    <header class="page-header">
      <h1 tabIndex={-1} ref={h1}>
        {props.title}
      </h1>
      {props.intro && <p class="intro">{props.intro}</p>}
      {props.children && <div class="page-actions">{props.children}</div>}
    </header>
  );
}

export function Loading() {
  return (
    <p class="loading" role="status">
      {t('commun.chargement')}
    </p>
  );
}

/** An API error as staff can act on it: the message, the field paths, a retry. */
export function ErrorBox(props: { error: Error; retry?: () => void }) {
  const e = props.error;
  const message =
    e instanceof ApiError && e.status === 403
      ? t(forbiddenKey(e))
      : isStale(e)
        ? t('commun.modifieAilleurs')
        : e.message || t('commun.erreur');
  return (
    <div class="error-box" role="alert">
      <p>
        <strong>{t('commun.erreur')}</strong> {message}
        {e instanceof ApiError && <span class="code"> ({e.code})</span>}
      </p>
      {e instanceof ApiError && e.issues.length > 0 && (
        <ul>
          {e.issues.map((i) => (
            <li key={`${i.path}:${i.message}`}>
              <code>{i.path}</code> : {i.message}
            </li>
          ))}
        </ul>
      )}
      {props.retry && (
        <button type="button" onClick={props.retry}>
          {t('commun.reessayer')}
        </button>
      )}
    </div>
  );
}

export type Tone = 'ok' | 'warn' | 'bad' | 'neutral';

export function Badge(props: { tone: Tone; children: ComponentChildren }) {
  return <span class={`badge badge-${props.tone}`}>{props.children}</span>;
}
