import './styles.css';

import { render } from 'preact';
import { useCallback, useEffect, useMemo, useState } from 'preact/hooks';

import { getJson, setUnauthorizedHandler } from './api.js';
import { ErrorBox, Loading, PageHeader } from './components/common.js';
import { Layout } from './components/layout.js';
import { Ctx, type Practice } from './context.js';
import { closeEvents } from './events.js';
import { t } from './i18n/index.js';
import { SignIn } from './pages/connexion.js';
import { type PageDef, PAGES } from './pages/index.js';
import { BASE, interceptLinks, match, navigate, useLocation } from './router.js';
import { can, currentSession, type Session, signOut } from './session.js';

const PRACTICE_KEY = 'passerelle.cabinet';

function NotFound() {
  return (
    <>
      <PageHeader title={t('commun.pageIntrouvable')} intro={t('commun.pageIntrouvableTexte')} />
      <a href={`${BASE}/`}>{t('commun.retourTableau')}</a>
    </>
  );
}

function findPage(path: string): { page: PageDef; params: Record<string, string> } | null {
  for (const page of PAGES) {
    const params = match(page.path, path);
    if (params) return { page, params };
  }
  return null;
}

function SignedIn(props: { session: Session; onSignOut: () => void }) {
  const { session } = props;
  const loc = useLocation();
  const [practices, setPractices] = useState<readonly Practice[]>([]);
  const [error, setError] = useState<Error | null>(null);
  const [practiceId, setPracticeIdState] = useState<string | null>(
    session.practiceId ?? window.sessionStorage.getItem(PRACTICE_KEY),
  );
  useEffect(() => {
    getJson<{ items: Practice[] } | Practice[]>('/api/v1/practices').then(
      (r) => setPractices(Array.isArray(r) ? r : r.items),
      (e: Error) => setError(e),
    );
  }, []);
  const setPracticeId = useCallback((id: string | null) => {
    if (id) window.sessionStorage.setItem(PRACTICE_KEY, id);
    else window.sessionStorage.removeItem(PRACTICE_KEY);
    setPracticeIdState(id);
  }, []);
  const ctx = useMemo(
    () => ({ session, practices, practiceId: session.practiceId ?? practiceId, setPracticeId }),
    [session, practices, practiceId, setPracticeId],
  );
  const found = findPage(loc.path);
  const allowed = found && can(session, found.page.role) ? found : null;
  const Page = allowed?.page.component;
  return (
    <Ctx.Provider value={ctx}>
      <Layout pages={PAGES} current={allowed?.page ?? null} onSignOut={props.onSignOut}>
        {error && <ErrorBox error={error} />}
        {Page ? <Page params={allowed.params} search={loc.search} /> : <NotFound />}
      </Layout>
    </Ctx.Provider>
  );
}

function App() {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [expired, setExpired] = useState(false);
  const loc = useLocation();
  useEffect(() => {
    currentSession().then(setSession, () => setSession(null));
    setUnauthorizedHandler(() => {
      closeEvents();
      setExpired(true);
      setSession(null);
    });
  }, []);
  if (session === undefined) return <Loading />;
  if (session === null) {
    return (
      <>
        {expired && (
          <p class="error-box" role="alert">
            {t('commun.sessionExpiree')}
          </p>
        )}
        <SignIn
          oidcError={loc.search.get('erreur')}
          onSignedIn={(s) => {
            setExpired(false);
            setSession(s);
            if (loc.path === '/connexion') navigate('/', { replace: true });
          }}
        />
      </>
    );
  }
  return (
    <SignedIn
      session={session}
      onSignOut={() => {
        closeEvents();
        void signOut().finally(() => {
          setSession(null);
          navigate('/connexion');
        });
      }}
    />
  );
}

const root = document.getElementById('app');
if (root) {
  root.textContent = '';
  interceptLinks(root);
  render(<App />, root);
}
