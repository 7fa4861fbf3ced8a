import { useEffect, useRef, useState } from 'preact/hooks';

import { ApiError } from '../api.js';
import { PageHeader } from '../components/common.js';
import { t } from '../i18n/index.js';
import { type Session, type SignInOptions, signInOptions, signInWithKey } from '../session.js';

/** Sign-in: an API key (exchanged for a session cookie; the key is not kept) or OpenID Connect. */
export function SignIn(props: { onSignedIn: (s: Session) => void; oidcError: string | null }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | null>(
    props.oidcError ? t('connexion.oidcRefuse', { code: props.oidcError }) : null,
  );
  const [busy, setBusy] = useState(false);
  const [options, setOptions] = useState<SignInOptions | null>(null);
  const field = useRef<HTMLInputElement>(null);
  useEffect(() => {
    signInOptions().then(setOptions, () => setOptions(null));
  }, []);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const s = await signInWithKey(key.trim());
      setKey('');
      props.onSignedIn(s);
    } catch (err) {
      setError(
        err instanceof ApiError && err.status === 429 ? t('connexion.tropDEssais') : t('connexion.refusee'),
      );
      field.current?.focus();
    } finally {
      setBusy(false);
    }
  };
  return (
    <main id="contenu" class="sign-in">
      <PageHeader title={t('connexion.titre')} intro={t('connexion.intro')} />
      <form onSubmit={submit} aria-describedby={error ? 'erreur-connexion' : undefined}>
        <label for="cle">{t('connexion.cle')}</label>
        <input
          id="cle"
          ref={field}
          type="password"
          autoComplete="off"
          spellcheck={false}
          required
          value={key}
          aria-describedby="cle-aide"
          onInput={(e) => setKey((e.target as HTMLInputElement).value)}
        />
        <p id="cle-aide" class="help">
          {t('connexion.cleAide')}
        </p>
        {error && (
          <p id="erreur-connexion" class="error-box" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {t('connexion.seConnecter')}
        </button>
      </form>
      {options?.oidc.enabled && (
        <div class="oidc">
          <p>{t('connexion.ou')}</p>
          <a class="button" href="/console/auth/oidc">
            {t('connexion.avecOidc', { fournisseur: options.oidc.label ?? 'OpenID Connect' })}
          </a>
        </div>
      )}
    </main>
  );
}
