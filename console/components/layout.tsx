import type { ComponentChildren } from 'preact';

import { useConsole } from '../context.js';
import { useOnline } from '../events.js';
import { t } from '../i18n/index.js';
import type { PageDef } from '../pages/types.js';
import { BASE } from '../router.js';
import { can } from '../session.js';

export function Layout(props: {
  pages: readonly PageDef[];
  current: PageDef | null;
  onSignOut: () => void;
  children: ComponentChildren;
}) {
  const { session, practices, practiceId, setPracticeId } = useConsole();
  const online = useOnline();
  const nav = props.pages.filter((p) => p.nav && can(session, p.role));
  return (
    <div class="shell">
      <a class="skip" href="#contenu">
        {t('commun.allerAuContenu')}
      </a>
      <header class="top">
        <a class="brand" href={`${BASE}/`}>
          {t('commun.produit')} <span>{t('commun.console')}</span>
        </a>
        <div class="practice">
          <label for="cabinet">{t('commun.cabinet')}</label>
          <select
            id="cabinet"
            value={practiceId ?? ''}
            disabled={session.practiceId !== null}
            onChange={(e) => setPracticeId((e.target as HTMLSelectElement).value || null)}
          >
            {session.practiceId === null && <option value="">{t('commun.tousLesCabinets')}</option>}
            {practices.map((p) => (
              <option key={p.id} value={p.id}>
                {p.name}
              </option>
            ))}
          </select>
        </div>
        <div class="who">
          <span>
            {t('commun.connecteEnTantQue', {
              label: session.label ?? session.actor,
              role: t(`commun.roles.${session.role}`),
            })}
          </span>
          <button type="button" class="link" onClick={props.onSignOut}>
            {t('commun.deconnexion')}
          </button>
        </div>
      </header>
      <nav aria-label={t('commun.navigation')} class="side">
        <ul>
          {nav.map((p) => (
            <li key={p.path}>
              <a href={`${BASE}${p.path}`} aria-current={props.current === p ? 'page' : undefined}>
                {t(p.title)}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <main id="contenu" tabIndex={-1}>
        {!online && (
          <p class="offline" role="status">
            {t('commun.horsLigne')}
          </p>
        )}
        {props.children}
      </main>
    </div>
  );
}
